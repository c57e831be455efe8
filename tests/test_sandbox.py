"""The grading sandbox, from the inside: small notebooks executed by `SandboxedExecute` in the real
grading kernel (bubblewrap, a cgroup), as every grading run executes them.

Each test runs a few cells that try what a hostile submission would, and reads what the cells
printed (the sandbox's view) and what the host sees afterwards. Limits are set small, so that
each test takes a few seconds.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from observed import cell_text, processes_with
from traitlets.config import Config

from graders.check.kernel.startup import GRADING_KERNEL_NAME
from graders.runner import sandbox
from graders.runner.execute import SandboxedExecute, stopped_notes
from graders.runner.sandbox import MiB, problems

pytestmark = pytest.mark.slow
REFERENCE = Path(__file__).resolve().parents[1] / "solutions" / "torch_pipeline.py"  # the grader's checkout


@pytest.fixture(scope="module", autouse=True)
def sandbox_works():
    assert not problems(), f"the grading sandbox cannot run here: {problems()} (make test installs bubblewrap)"


def run(cells: list[str], workdir: Path, execute: dict | None = None, **provisioner) -> nbformat.NotebookNode:
    """`cells` executed in the grading kernel, working in `workdir`; the notebook with its outputs."""
    config = Config(
        {
            "Execute": {"kernel_name": GRADING_KERNEL_NAME, "timeout": 60, "iopub_timeout": 5, **(execute or {})},
            "SandboxProvisioner": provisioner,
        }
    )
    notebook = new_notebook(cells=[new_code_cell(source) for source in cells])
    workdir.mkdir(parents=True, exist_ok=True)
    SandboxedExecute(config=config).preprocess(notebook, {"metadata": {"path": str(workdir)}})
    return notebook


def text(cell) -> str:
    return cell_text(cell).strip()


def outside_address() -> str:
    """An address of this machine's that is not loopback (the interface a packet out would take), else 127.0.0.2."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))  # no packet is sent: this picks the route
            return probe.getsockname()[0]
        except OSError:
            return "127.0.0.2"


@pytest.fixture
def reach(tmp_path, monkeypatch):
    """What a kernel working in a course's autograded folder can reach: `run_reach(**provisioner)` runs the cells and
    returns what each printed: the course, classmates and the reference answers in the grader's checkout, a server on
    the host's loopback and one on another address of the host, the grader's secrets in the environment."""
    course = tmp_path / "course"
    (course / "submitted" / "classmate" / "a").mkdir(parents=True)
    (course / "submitted" / "classmate" / "a" / "a.ipynb").write_text("{}")
    (course / "gradebook.db").write_text("the gradebook")
    workdir = course / "autograded" / "student" / "a"  # where stock nbgrader runs a submission
    monkeypatch.setenv("COURSE_DB_URL", "postgresql://grader:secret@db/course")  # a secret of the grader's
    servers = [socket.socket(), socket.socket()]
    for server, address in zip(servers, ("127.0.0.1", outside_address())):
        server.bind((address, 0))
        server.listen()
    (local, local_port), (outside, outside_port) = (server.getsockname() for server in servers)

    def run_reach(extra_cells=(), **provisioner) -> list[str]:
        cells = [
            f"import os; print(os.path.exists({str(course / 'gradebook.db')!r}), sorted(os.listdir({str(course)!r})))",
            f"print(os.path.exists({str(course / 'submitted')!r}), os.path.exists({str(REFERENCE)!r}))",
            f"import socket; print(socket.socket().connect_ex(({local!r}, {local_port})) != 0)",
            f"s = socket.socket(); s.settimeout(5); print(s.connect_ex(({outside!r}, {outside_port})) != 0)",
            "print('COURSE_DB_URL' in os.environ)",
            *extra_cells,
        ]
        return [text(cell) for cell in run(cells, workdir, **provisioner).cells]

    yield run_reach
    for server in servers:
        server.close()


def test_the_course_the_host_and_the_network_are_out_of_reach(reach, tmp_path):
    cells = reach([
        "open('/usr/lib/evil', 'w')",
        "open('answer.txt', 'w').write('mine'); open('/tmp/scratch', 'w').write('private'); print('written')",
        "print(os.getuid(), socket.gethostname())",
        "print(open('/proc/self/status').read().split('CapEff:')[1].split()[0])",
    ])
    assert cells[0].startswith("FileNotFoundError"), cells[0]  # the course is not there at all, the submission's folder included
    assert cells[1] == "False False", cells[1]  # nor other students' folders, nor the course's reference answers
    assert cells[2] == "True", cells[2]  # the host's loopback server cannot be reached
    assert cells[3] == "True", cells[3]  # nor a server on another address of the host's
    assert cells[4] == "False", cells[4]  # no secret came in
    assert "Read-only file system" in cells[5], cells[5]
    assert cells[6] == "written" and not (tmp_path / "course" / "autograded" / "student" / "a" / "answer.txt").exists()
    assert not Path("/tmp/scratch").exists()  # its /tmp was its own
    assert cells[7].endswith("grading"), cells[7]
    assert cells[8] == "0000000000000000", cells[8]  # no capabilities


def test_control_without_the_sandbox_the_same_cells_reach_all_of_it(reach, monkeypatch):
    """The control of the test above: bubblewrap reported missing, the kernel runs unisolated (``unsafe_no_sandbox``)."""
    monkeypatch.setattr(sandbox, "problems", lambda: {"isolation": "switched off for a control run"})
    cells = reach(unsafe_no_sandbox=True)
    assert cells[0] == "True ['autograded', 'gradebook.db', 'submitted']", cells[0]
    assert cells[1] == "True True", cells[1]
    assert cells[2] == "False", cells[2]  # the host's loopback server answers
    assert cells[3] == "False", cells[3]  # and the one on another address
    assert cells[4] == "True", cells[4]


def test_everything_a_submission_starts_ends_with_its_notebook(tmp_path):
    marker = f"leftover-{uuid.uuid4().hex}"
    notebook = run(
        [
            "import subprocess, sys",
            # inherits the kernel's output; a daemon in a session of its own; both would outlive a plain kernel
            f"subprocess.Popen(['sleep', '3600', '{marker}'])",
            f"subprocess.Popen(['setsid', 'sh', '-c', 'sleep 3600 {marker}'], start_new_session=True); print('started')",
        ],
        tmp_path / "work",
    )
    assert text(notebook.cells[2]) == "started"
    assert processes_with(marker) == []


def test_memory_limit_keeps_the_cells_that_completed(tmp_path):
    notebook = run(
        ["x = 21", "hog = bytearray(2 * 1024**3); hog[::4096] = b'x' * len(hog[::4096])", "print(x * 2)"],
        tmp_path / "work",
        memory_limit=512 * MiB,
    )
    first, hog, after = notebook.cells
    assert first.outputs == [] and first.execution_count == 1
    assert text(hog) == "SubmissionLimitExceeded: memory limit (512 MiB) exceeded in cell number 2"
    assert text(after) == "SubmissionLimitExceeded: not run: memory limit (512 MiB) exceeded in cell number 2"
    assert stopped_notes(notebook, "x.ipynb") == ["memory limit (512 MiB) exceeded in cell number 2 of x.ipynb"]


def test_a_fork_bomb_meets_the_process_limit(tmp_path):
    marker = f"bomb-{uuid.uuid4().hex}"
    notebook = run(
        ["import os, time", f"while True:\n    if os.fork() == 0:\n        os.execvp('sleep', ['sleep', '3600', '{marker}'])", "print('after')"],
        tmp_path / "work",
        process_limit=64,
    )
    assert "process limit (64 tasks) exceeded in cell number 2" in text(notebook.cells[1]), text(notebook.cells[1])
    assert text(notebook.cells[2]).startswith("SubmissionLimitExceeded: not run")
    assert processes_with(marker) == []


def test_a_file_over_the_size_cap_is_cut_off_at_the_cap(tmp_path):
    cells = ["open('big.bin', 'wb').write(bytes(3 << 20))", "import os; print(os.path.getsize('big.bin'))"]
    capped = [text(cell) for cell in run(cells, tmp_path / "capped", file_size_limit=MiB).cells]
    assert capped[0].startswith("OSError: [Errno 27] File too large"), capped[0]
    assert capped[1] == str(MiB), capped[1]
    # the control: under the default cap (1 GiB) the same file is written whole
    assert [text(cell) for cell in run(cells, tmp_path / "default").cells] == [str(3 << 20), str(3 << 20)]


def test_an_output_flood_of_small_messages_is_stopped_by_the_count(tmp_path):
    """3 MB in messages of 10 kB each, far under the frame cap: only the byte count stops them."""
    flood = "for _ in range(300):\n    print('x' * 10_000, flush=True)\nprint('ran to its end')"
    (cell,) = run([flood], tmp_path / "work", execute={"output_limit": MiB}).cells
    assert text(cell).endswith("SubmissionLimitExceeded: output limit (1 MiB) exceeded in cell number 1"), text(cell)[-300:]
    assert "ran to its end" not in text(cell), "the flood printed to its end: the byte count did not stop it"
    assert len(text(cell)) < 2 * MiB, f"{len(text(cell))} characters of output kept under a cap of 1 MiB"


def test_one_message_over_the_cap_is_refused_unread(tmp_path):
    """One stdout message of 2 MB under a cap of 1 MiB: refused whole, none of it read into the notebook (the frame cap
    refuses it first; the byte count would too, so this test needs both off to fail)."""
    (cell,) = run(["print('x' * 2_000_000, flush=True)"], tmp_path / "work", execute={"output_limit": MiB}).cells
    assert text(cell) == "SubmissionLimitExceeded: output limit (1 MiB) exceeded in cell number 1", text(cell)[-300:]


def test_a_submission_has_a_time_limit_of_its_own(tmp_path):
    notebook = run(["x = 1", "import time; time.sleep(600)", "print(x)"], tmp_path / "work", submission_timeout=4)
    assert text(notebook.cells[1]) == (
        "SubmissionLimitExceeded: time limit (4 s) for the submission exceeded in cell number 2"
    )
    assert text(notebook.cells[2]).startswith("SubmissionLimitExceeded: not run")


def test_a_cell_that_ignores_the_interrupt_is_stopped(tmp_path):
    notebook = run(
        ["import time", "while True:\n    try:\n        time.sleep(600)\n    except KeyboardInterrupt:\n        pass", "print('after')"],
        tmp_path / "work",
        execute={"timeout": 2, "iopub_timeout": 2},
    )
    assert "SubmissionLimitExceeded: per-cell time limit (2 s) exceeded in cell number 2" in text(notebook.cells[1])
    assert text(notebook.cells[2]).startswith("SubmissionLimitExceeded: not run")


def test_an_interrupted_cell_lets_the_next_ones_run(tmp_path):
    notebook = run(["import time; time.sleep(600)", "print('after')"], tmp_path / "work", execute={"timeout": 2})
    assert "CellTimeoutError" in text(notebook.cells[0])
    assert text(notebook.cells[1]) == "after"  # the interrupt, sent by message, reached the sandboxed kernel


def test_a_kernel_that_exits_is_reported(tmp_path):
    notebook = run(["x = 1", "import os; os._exit(3)", "print(x)"], tmp_path / "work")
    assert text(notebook.cells[1]) == "KernelDied: the kernel died in cell number 2 (exit code 3)"
    assert text(notebook.cells[2]) == "KernelDied: not run: the kernel died in cell number 2 (exit code 3)"


def test_grading_refuses_without_the_sandbox_unless_told(tmp_path):
    """With bubblewrap missing, nothing runs; --unsafe-no-sandbox runs anyway, saying so."""
    script = (
        "import sys; from pathlib import Path; from graders.runner.jobs import GradingJob, run_job;"
        "from nbformat.v4 import new_notebook, new_code_cell; import nbformat;"
        "nb = nbformat.writes(new_notebook(cells=[new_code_cell('print(6 * 7)')]));"
        f"config = {{'Execute': {{'kernel_name': {GRADING_KERNEL_NAME!r}}},"
        " 'SandboxProvisioner': {'unsafe_no_sandbox': sys.argv[1] == 'unsafe'}};"
        "result = run_job(GradingJob('a', 's', {'a': nb}, config=config));"
        "print(nbformat.reads(result.notebooks['a'], 4).cells[0].outputs[0].text)"
    )
    env = {**os.environ, "COURSE_BWRAP": str(tmp_path / "no-bwrap-here")}
    refused = subprocess.run([sys.executable, "-c", script, "safe"], capture_output=True, text=True, env=env)
    assert refused.returncode != 0
    assert "refusing to run student code without the grading sandbox: bubblewrap is not installed" in refused.stderr
    assert "--unsafe-no-sandbox" in refused.stderr
    unsafe = subprocess.run([sys.executable, "-c", script, "unsafe"], capture_output=True, text=True, env=env)
    assert unsafe.returncode == 0, unsafe.stderr
    assert unsafe.stdout.strip() == "42"
    assert "UNSAFE: grading student code without a full sandbox" in unsafe.stderr


def test_what_it_may_read_can_live_in_tmp(tmp_path, monkeypatch):
    """The private /tmp does not hide what the sandbox binds there: here the dataset cache, as a fresh
    clone's virtual environment in /tmp would be."""
    cache = tmp_path / "data-cache"
    cache.mkdir()
    (cache / "README").write_text("cached data")
    monkeypatch.setenv("COURSE_DATA_DIR", str(cache))
    notebook = run([f"print(open({str(cache / 'README')!r}).read())"], tmp_path / "work")
    assert text(notebook.cells[0]) == "cached data"


def test_the_reference_answers_are_out_of_reach(tmp_path, monkeypatch):
    """No check needs `solutions`, and the grading kernel cannot import or read it: not the repository's copy,
    nor a copy inside a folder the sandbox binds (here the dataset cache, as site-packages would hold an install)."""
    import solutions

    repository_copy = Path(solutions.__file__).with_name("torch_pipeline.py")
    cache = tmp_path / "data-cache"
    (cache / "solutions").mkdir(parents=True)
    (cache / "solutions" / "torch_pipeline.py").write_text("ANSWERS = 42\n")
    (cache / "README").write_text("cached data")
    monkeypatch.setenv("COURSE_DATA_DIR", str(cache))
    notebook = run(
        [
            "import importlib.util, graders.check.notebook, course; print(importlib.util.find_spec('solutions'))",
            f"import os; print(os.path.exists({str(repository_copy)!r}), os.listdir({str(cache / 'solutions')!r}))",
            f"print(open({str(cache / 'README')!r}).read())",
        ],
        tmp_path / "work",
    )
    assert text(notebook.cells[0]) == "None"  # the course's packages import; the reference does not
    assert text(notebook.cells[1]) == "False []"
    assert text(notebook.cells[2]) == "cached data"  # the folder around it is still there
