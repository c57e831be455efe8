"""The students' install, for real: the wheel of ``python -m graders student-wheel`` in a fresh venv without `solutions`.

The venv (tests/student_env.py) reuses this venv's third-party packages through a .pth file; the
editable install of this checkout (`course`, `graders`, `solutions`) does not leak in: the tests
check that. Every notebook runs in that venv's kernel, each
release notebook filled with the course's solution code (`submissions.Sample.notebook`): the
self-checks pass on the student's own steps. A torch notebook whose build_model raises shows
the ✗ of step 3, and "fix step 3 first" in the steps whose checks build a model with it.

Slow: five notebooks (two at a time, one kernel each), about 40 s on two cores.
"""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbgrader import utils
from student_env import KERNEL, WHEEL, StudentEnv, make_student_env
from submissions import ASSIGNMENTS, Sample, reference_cell, swap
from test_staff_wheel import tracked

from graders.author.student import PACKAGES

pytestmark = pytest.mark.slow

BROKEN = "torch_pipeline_broken"  # build_model raises AttributeError
PROBE = "import importlib.util, sys\nprint(sys.executable, importlib.util.find_spec('solutions'))"
# The notebook argv[1] run in place in the kernel argv[2], errors allowed. Its sockets are files beside it: two kernels
# started at once over TCP can be handed the same free port, and one dies before it answers (jupyter/jupyter_client#154).
EXECUTE = """
import sys, nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
path, kernel = sys.argv[1:]
notebook = nbformat.read(path, as_version=4)
manager = AsyncKernelManager(kernel_name=kernel, transport="ipc", ip=f"{path}.kernel")
NotebookClient(notebook, km=manager, timeout=600, allow_errors=True, resources={"metadata": {"path": "."}}).execute()
nbformat.write(notebook, path)
"""


@pytest.fixture(scope="module")
def student(tmp_path_factory) -> StudentEnv:
    return make_student_env(tmp_path_factory.mktemp("student"))


@pytest.fixture(scope="module")
def executed(student: StudentEnv) -> dict[str, nbformat.NotebookNode]:
    """Every assignment's filled release notebook, and BROKEN, run in the student venv's kernel."""
    folder = student.root / "notebooks"
    folder.mkdir()
    notebooks = {assignment: Sample("student").notebook(assignment) for assignment in ASSIGNMENTS}
    broken = swap(reference_cell("torch_pipeline", "build_model"), "nn.Linear(input_dim", "nn.Linera(input_dim")
    notebooks[BROKEN] = Sample("broken", {"build_model": broken}).notebook("torch_pipeline")
    for name, notebook in notebooks.items():
        notebook.cells.append(nbformat.v4.new_code_cell(PROBE))
        nbformat.write(notebook, folder / f"{name}.ipynb")
    pending = list(notebooks)
    while pending:  # two at a time: one per core
        running = [
            (name, subprocess.Popen([str(student.python), "-c", EXECUTE, f"{name}.ipynb", KERNEL], cwd=folder, env=student.env,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
            for name in pending[:2]
        ]
        pending = pending[2:]
        for name, process in running:
            log = process.communicate(timeout=900)[0]
            shown = log if len(log) <= 6000 else f"{log[:3000]}\n[...]\n{log[-3000:]}"  # the kernel's own error comes first
            assert process.returncode == 0, f"{name}: exit {process.returncode}\n{shown}"
    return {name: nbformat.read(folder / f"{name}.ipynb", as_version=4) for name in notebooks}


def streams(cell, name: str) -> str:
    return "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == name)


def graded_cells(notebook) -> dict[str, nbformat.NotebookNode]:
    """grade id -> autograded test cell."""
    return {
        c.metadata.nbgrader["grade_id"]: c
        for c in notebook.cells
        if c.cell_type == "code" and utils.is_grade(c) and not utils.is_solution(c)
    }


def test_the_student_env_has_no_reference(student: StudentEnv):
    for module in ("solutions", "solutions.torch_pipeline", "graders.author", "graders.runner", "graders.check.trusted.holdout", "graders.check.trusted.inputs",
                   "graders.check.trusted.comparison_inputs"):
        done = student.run("-c", f"import {module}", check=False)
        assert done.returncode == 1 and "ModuleNotFoundError" in done.stderr, (module, done.stderr)
    found = student.run("-c", "import graders.check.notebook, torch, tensorflow; print(graders.check.notebook.__file__)").stdout
    assert Path(found.strip()).is_relative_to(student.venv), found
    argv = student.run("-c", f"from jupyter_client.kernelspec import KernelSpecManager as K; print(K().get_kernel_spec({KERNEL!r}).argv[0])")
    assert argv.stdout.strip() == str(student.python)


def test_the_wheel_holds_no_staff_only_module(student: StudentEnv):
    """The modules that compute the checks' inputs and answers stay with the graders; the judges' self-checks read what
    was made when the wheel was built, and the data files of the packages it ships."""
    names = set(zipfile.ZipFile(student.root / "dist" / WHEEL).namelist())
    data = {name for name in tracked() if not name.endswith(".py") and name.rpartition("/")[0].replace("/", ".") in PACKAGES}
    assert data and data <= names, sorted(data - names)
    assert not names & {"graders/check/trusted/inputs.py", "graders/check/trusted/holdout.py", "graders/check/trusted/comparison_inputs.py"}, sorted(names)
    assert {"graders/check/trusted/judge.py", "graders/check/trusted/comparison_judge.py", "graders/check/trusted/check_inputs/comparison-pad_batch.expected.npz"} <= names
    found = student.run("-c", "import graders.check.trusted.comparison_judge as judge; print(hasattr(judge, 'ComparisonCase'), hasattr(judge, 'pad'))")
    assert found.stdout == "True False\n", found.stdout


def test_staff_commands_say_they_are_not_installed(student: StudentEnv):
    done = student.run("-m", "graders", "build", check=False)
    assert done.returncode == 2
    assert done.stderr == "error: `python -m graders build` is for teaching staff: it is not part of the student install\n"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_self_check_passes_on_the_students_own_steps(executed, student, assignment):
    notebook = executed[assignment]
    errors = [f"{o.ename}: {o.evalue}" for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    assert streams(notebook.cells[-1], "stdout") == f"{student.python} None\n"  # the kernel is the venv's, without solutions
    for grade_id, cell in graded_cells(notebook).items():
        assert streams(cell, "stderr") == "", (grade_id, streams(cell, "stderr"))
        assert streams(cell, "stdout").startswith("✓ "), (grade_id, streams(cell, "stdout"))


def test_a_broken_step_fails_alone_the_later_steps_are_checked_on_the_courses_inputs(executed):
    cells = graded_cells(executed[BROKEN])
    out = {grade_id.removesuffix("_tests"): streams(cell, "stdout") for grade_id, cell in cells.items()}
    err = {grade_id.removesuffix("_tests"): streams(cell, "stderr") for grade_id, cell in cells.items()}
    assert all(out[step].startswith("✓ ") and not err[step] for step in ("download", "load_and_preprocess", "accuracy"))
    assert err["build_model"].startswith("✗ step 3 (build_model): your build_model(64, num_classes=10, hidden_units=128, seed=0) "
                                         "raised AttributeError: module 'torch.nn' has no attribute 'Linera'"), err
    for step, number in (("make_loss_and_optimizer", 4), ("train", 6), ("report", 7)):  # no reference here either
        assert out[step].startswith(f"✓ step {number} ({step}): ") and not err[step], (out[step], err[step])
    assert "the whole-pipeline cell did not produce a trained model" in err["results"]
