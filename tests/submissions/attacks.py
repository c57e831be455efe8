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


def _with(grade_id: str, attack: str) -> dict[str, str]:
    """The reference's cell `grade_id` with `attack` run first."""
    return {grade_id: attack.strip("\n") + "\n\n\n" + reference_cell(A, grade_id)}


def _stopped_at(cell: str, limit: str) -> str:
    return f"{limit} exceeded in cell {cell} of {A}.ipynb"


LOST_FROM_ACCURACY = {"accuracy_tests": 0, "train_tests": 0, "report_tests": 0, "results_tests": 0}

ATTACKS = [
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
