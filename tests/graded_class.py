"""A graded class built directly, without a grading kernel: autograded notebooks and a real nbgrader gradebook.

What `python -m graders report` reads, made the way grading makes it, in a fraction of a second per student:

* the assignment is registered in a real gradebook (SQLite, `nbgrader.api.Gradebook`) by nbgrader's own
  preprocessors, run in-process on the source notebook as ``nbgrader generate_assignment`` runs them
  (`register`): notebooks, grade cells, solution cells, source cells;
* each `Student` gets ``autograded/<student>/<a>/<a>.ipynb``: the release notebook with the student's code in
  its solution cells, the test cells restored with their hidden tests, and in every code cell the outputs
  that grading writes: ✓ lines on stdout, ✗ lines on stderr and a `CheckFailed` error (the lines of real runs
  of the sample bank, `FAILED`), limits (`KernelDied`, `CellTimeoutError`), the whole-pipeline cell's loss plot
  (rendered as ``check.plot_losses`` renders it, from a known history) and the results line; nbclient's
  timestamps in the cells' metadata, as stock nbgrader keeps them;
* the gradebook gets the student, the submission, a grade per graded cell (``auto_score``, manual grading
  pending for written answers) and the comments nbgrader writes (`write_student`).

`torch_class()` is the class of tests/test_class_report.py: the sample bank's broken submissions with the
messages their real grading printed, known copies at known steps, independent correct solutions, and the
students the report must account for (corrupt, unreadable, not yet graded, no submission).
`generated_class(n)` is the benchmark's class of `n` students.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import io
import re
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path

import nbformat
import numpy as np
import submissions.torch_pipeline as T
from submissions import REPO, fill, reference_fills, release_notebook, samples, source_notebook, swap

A = "torch_pipeline"
STEPS = ("download", "load_and_preprocess", "build_model", "make_loss_and_optimizer", "accuracy", "train", "report")
REFERENCE_ACCURACY = 0.95  # graders/check/trusted/references.json: torch on digits, held-out
NOT_IMPLEMENTED = "step {n} ({step}): not implemented yet: replace `raise NotImplementedError()` in the cell of step {n} ({step})."

# What the reference's real run printed in each test cell (public ✓ line, hidden ✓ line): torch_pipeline on digits.
PASSED = {
    "download": ("4 uint8 arrays (1257, 8, 8), (1257,), (360, 8, 8), (360,)", "x_train exact; y_train exact; x_test exact; y_test exact"),
    "load_and_preprocess": (
        "x of a batch (32, 64); x float32; x in [0, 1]; y of a batch (32,); y int64; y in 0..9; train 1131 + validation 126 = 1257; test 360",
        "train + validation holds the right images and labels; test holds the right images and labels; train reshuffled each epoch",
    ),
    "build_model": ("MLP; logits (32, 10); logits float32; logits finite; raw logits; 9,610 trainable parameters",
                    "logits for 7 images (7, 10); logits depend on the input; untrained loss 2.328 ≈ ln(10)"),
    "make_loss_and_optimizer": ("loss on a fixed batch 2.3280 matches; Adam",
                                "108 losses; loss 2.197 -> 0.298 ██▇▆▅▅▄▃▃▂▂▂▂▂▁▁▁▁▁▁▁▁▁▁; test accuracy after 108 steps with "
                                "your loss and optimizer 0.9472"),
    "accuracy": ("15 examples, 9 right, 2 ties: 0.6", "7 examples, none right: 0; 4 examples, all right: 1; 1000 random examples: 0.097"),
    "train": ("108 losses; one loss per step; loss 2.176 -> 0.319 █▇▇▆▅▅▄▃▃▂▂▂▂▂▂▁▁▁▁▁▁▁▁▁",
              "test accuracy after your 108 training steps 0.9472"),
    "report": ("train_accuracy 0.9443, test_accuracy 0.9472", "with other splits: train_accuracy 0.9472, test_accuracy 0.8968"),
}

# What real grading of the sample bank (tests/submissions/torch_pipeline.py) printed in each cell that lost points:
# the ✗ lines of the public check (stderr) and the hidden test's error, as (kind, ...) outputs.
LOOK_SHAPE = "Look at: the size of the last layer: num_classes outputs."
LOOK_ACCURACY = "Look at: the argmax over the classes (axis 1) compared with the labels, averaged over the rows."
LOOK_TRAIN = "Look at: optimizer.zero_grad(), forward, loss, loss.backward(), optimizer.step(), in that order, every batch."
LOOK_REPORT = "Look at: which split is evaluated, and weighting by batch size: every example counts once."
LOGITS = ("step 3 (build_model): logits — expected raw logits (no log_softmax: the loss applies it), found log-probabilities: "
          "the exp of every row sums to 1. Look at: forward returns the last nn.Linear's output, with no F.softmax or "
          "F.log_softmax; the loss of step 4 (nn.CrossEntropyLoss, F.cross_entropy) applies log_softmax itself.")
NLL = ("step 4 (make_loss_and_optimizer): loss on a fixed batch — expected 2.3280, found 0.0046. Look at: your loss expects "
       "log-probabilities (as nll_loss does): given the log-probabilities of these logits it gives the cross-entropy, "
       "2.3280. But the model of the contract gives raw logits (step 3), on which it gives 0.0046: the loss must take raw "
       "logits, as nn.CrossEntropyLoss() and F.cross_entropy do (F.nll_loss would need F.log_softmax first).")
FLOAT_ACCURACY = ("step 5 (accuracy): accuracy type — expected a scalar tensor (torch.Tensor), found float. Look at: return "
                  "the tensor itself, not .item() or float(...): the contract's report calls .item() on it.")


def checks_failed(public: list[str], hidden: list[str] | None = None) -> list[tuple]:
    """A test cell whose checks failed: the public ✗ lines on stderr, then the hidden test's CheckFailed (all lines)."""
    outputs = [("stderr", "".join(f"✗ {line}\n" for line in public))] if public else []
    return outputs + [("error", "CheckFailed", "\n".join(public + (hidden or [])))]


def results_line(accuracy: float) -> list[tuple]:
    earned = points(accuracy)
    return [
        ("stdout", f"results: held-out accuracy {accuracy:.4f} (reference {REFERENCE_ACCURACY:.4f}) earns {earned:g} of 3 points\n"),
        ("result", repr(float(earned))),
    ]


def points(accuracy: float) -> float:
    from graders.check.shared.checks.accuracy import points_for

    return points_for(accuracy, REFERENCE_ACCURACY, 3)


NO_MODEL = checks_failed(["results: the whole-pipeline cell did not produce a trained model; fix the steps above first."])
NOT_WRITTEN = [("stderr", "✗ the whole pipeline stopped: a function it needs is not written yet. Fill in the cells above, "
                          "then re-run this cell.\n")]


def wrong_classes(classes: int) -> dict:
    return {
        "build_model_tests": checks_failed([f"step 3 (build_model): logits shape — expected (32, 10), found (32, {classes}). {LOOK_SHAPE}"]),
        "pipeline": [("stdout", f"parameters: {9610 + 129 * (classes - 10):,}\n"),
                     ("stderr", f"✗ the whole pipeline stopped in step 6 (train): IndexError: Target {min(classes, 9)} is out of "
                                "bounds (in train, line 10: `value = loss(model(x), y)`; the cell's line 9: `history = "
                                "train(model, loss, optimizer, splits.train, epochs=HP.epochs)`). Fix step 3 (build_model), "
                                "whose check failed above, then re-run this cell.\n")],
        "results_tests": checks_failed([f"results: the trained model could not be evaluated (logits on the held-out images shape — "
                                        f"expected (180, 10), found (180, {classes})); the whole-pipeline cell did not produce a "
                                        "usable trained model: fix the steps above first."]),
    }


def diverging(found: float) -> dict:
    return {"make_loss_and_optimizer_tests": [
        ("stdout", "✓ step 4 (make_loss_and_optimizer): loss on a fixed batch 2.3280 matches; Adam\n"),
        ("error", "CheckFailed", "step 4 (make_loss_and_optimizer): test accuracy after 108 steps with your loss and optimizer — "
                                 f"expected at least 0.90, found {found:.4f}. Look at: the optimizer (Adam, at the learning_rate "
                                 "argument), the loss (cross-entropy on logits), the parameters it updates."),
    ]}


def died(cell: str, later: tuple[str, ...]) -> dict:
    why = f"the kernel died in cell {cell} (exit code 1)"
    return {cell: [("error", "KernelDied", why)]} | {c: [("error", "KernelDied", f"not run: {why}")] for c in later}


FAILED: dict[str, dict[str, list[tuple]]] = {
    "download_flattened": {"download_tests": checks_failed(["step 1 (download): x_train dimensions — expected (N, H, W), found (1257, 64)."])},
    "test_split_from_train": {"load_and_preprocess_tests": checks_failed(
        ["step 2 (load_and_preprocess): test examples — expected 360, found 1257. Look at: the test split: every test image, once."],
        ["step 2 (load_and_preprocess): test examples — expected 360, found 1257."])},
    "nine_classes": wrong_classes(9),
    "learning_rate_50": diverging(0.1194),
    "accuracy_off_by_one": {"accuracy_tests": checks_failed(
        [f"step 5 (accuracy): accuracy on 15 examples, 9 right, 2 ties — expected 0.6, found 0. {LOOK_ACCURACY}"],
        [f"step 5 (accuracy): accuracy on 4 examples, all right — expected 1, found 0. {LOOK_ACCURACY}",
         f"step 5 (accuracy): accuracy on 1000 random examples — expected 0.097, found 0.091. {LOOK_ACCURACY}"])},
    "no_optimizer_step": {"train_tests": checks_failed(
        ["step 6 (train): training loss falls (mean of the last 10 steps < 0.5 × mean of the first 10) — expected below 1.152, "
         f"found 2.305 -> 2.316 ▄▂▆▆▆█▁▆▅▆▄▇▄▅▄▅▃▆▄▂▇▃▆▆. {LOOK_TRAIN}"],
        [f"step 6 (train): test accuracy after your 108 training steps — expected at least 0.90, found 0.1028. {LOOK_TRAIN}"])},
    "report_swapped": {"report_tests": checks_failed(
        [f"step 7 (report): train_accuracy — expected 0.9443 (the grader's own evaluation), found 0.9472. {LOOK_REPORT}"],
        [f"step 7 (report): with other splits: train_accuracy — expected 0.9472 (the grader's own evaluation), found 0.8968. {LOOK_REPORT}"])},
    "reference_routes": {  # as grading now says it: the reference is not in the grading kernel
        "build_model_tests": checks_failed([
            "step 3 (build_model): your build_model(64, num_classes=10, hidden_units=128, seed=0) raised AttributeError: "
            "'StepChecks' object has no attribute 'reference' (in build_model, line 2: `return check.reference.build_model("
            "input_dim, num_classes, hidden_units, seed)`). Look at: the cell of step 3 (build_model)."]),
        "accuracy_tests": checks_failed([
            "step 5 (accuracy): your accuracy on 15 examples, 9 right, 2 ties raised ModuleNotFoundError: No module named "
            "'solutions' (in accuracy, line 5: `return importlib.import_module(\"sol\" + \"utions.torch_pipeline\").accuracy("
            "logits, labels)`). Look at: the cell of step 5 (accuracy)."]),
        "train_tests": checks_failed([
            "step 6 (train): the function train — expected a function, found nothing. Look at: run the cell of step 6 (train) first."]),
        "results_tests": checks_failed(["results: the whole-pipeline cell did not produce a trained model; fix the steps above first."]),
    },
    "examples_mnist": {
        "build_model_tests": checks_failed([LOGITS]),
        "make_loss_and_optimizer_tests": checks_failed([NLL]),
        "accuracy_tests": checks_failed([FLOAT_ACCURACY]),
    },
    "batches_without_len": {"pipeline": [
        ("stdout", "parameters: 9,610\n"),
        ("stderr", "✗ the whole pipeline stopped in step 6 (train): TypeError: object of type 'Batches' has no len() (in train, "
                   "line 5: `steps = epochs * len(batches)`; the cell's line 9: `history = train(model, loss, optimizer, "
                   "splits.train, epochs=HP.epochs)`). Each step passes on the course's inputs, but together they fail here: "
                   "step 2 (load_and_preprocess) and step 6 (train) clash (with the course's load_and_preprocess in place of "
                   "yours, your train runs). Look at what your load_and_preprocess hands your train.\n")]},
    "kernel_exit": died("accuracy", ("accuracy_tests", "train", "train_tests", "report", "report_tests", "pipeline", "results_tests")),
    "hanging": {
        "train": [("error", "KeyboardInterrupt", ""), ("error", "CellTimeoutError", "")],
        "train_tests": [("error", "NameError", "name 'train' is not defined")],
        "pipeline": [("stdout", "parameters: 9,610\n"),
                     ("stderr", "✗ the whole pipeline stopped: NameError: name 'train' is not defined. Fix the step(s) whose "
                                "self-check failed above, then re-run this cell.\n")],
    },
}
FAILED["eleven_classes"] = wrong_classes(11)  # a classmate's own variant of nine_classes: one message group with it
FAILED["learning_rate_20"] = diverging(0.0972)


# -- students ------------------------------------------------------------------------------------------------
@dataclass
class Student:
    """One student of a generated class: what they handed in and what grading printed.

    fills      solution grade id -> the cell's code (absent: the release's stub, left as handed out)
    outputs    test cell grade id, a solution grade id, or "pipeline" -> the cell's outputs (absent: what a pass prints)
    scores     test cell -> points earned (absent: full points, or 0 when `outputs` holds a failure)
    history    the loss of every training step that the whole-pipeline cell plots (None: no plot)
    accuracy   the held-out accuracy of the trained model (None: no usable model)
    kind       "graded" | "corrupt" (its submitted JSON cut short: 0 everywhere, no autograded notebook) |
               "unreadable" (its autograded notebook cut short) | "no autograded" (gradebook rows, no notebook) |
               "submitted" (in submitted/, not graded yet) | "roster" (on the roster, nothing handed in)
    timed      whether the cells carry nbclient's timestamps (stock nbgrader, formgrader) or not (our runner's replay)
    answers    written answer grade id -> the student's answer (assignments with written answers)
    """

    name: str
    fills: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, list[tuple]] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)
    history: np.ndarray | None = None
    accuracy: float | None = None
    kind: str = "graded"
    timed: bool = True
    answers: dict[str, str] = field(default_factory=dict)
    seconds: float = 5.0


def curve(seed: int, start: float = 2.3, end: float = 0.03, steps: int = 720) -> np.ndarray:
    """A loss history like the course's: down from about ln(10) to `end`, with minibatch noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(steps)
    clean = end + (start - end) * np.exp(-t / 55.0)
    return np.maximum(clean * (1 + 0.35 * rng.standard_normal(steps) * (clean / start) ** 0.3), end / 3)


def flat(seed: int, level: float = 2.31, steps: int = 720) -> np.ndarray:
    return level + 0.02 * np.random.default_rng(seed).standard_normal(steps)


def exploding(seed: int, steps: int = 720) -> np.ndarray:
    values = np.full(steps, 2.3e3) * (1 + 0.01 * np.random.default_rng(seed).standard_normal(steps))
    values[1:12] = np.geomspace(1.7e6, 3e3, 11)
    values[0] = 2.3
    return values


CURVES = 3  # distinct curves of the reference-trained samples: seeded, the course's pipelines train alike
NO_PLOT = ("unfilled", "kernel_exit", "hanging", "nine_classes", "batches_without_len")  # stopped before plot_losses


def bank_student(name: str, seed: int) -> Student:
    """A sample of the bank (tests/submissions/torch_pipeline.py) as grading left it: its code, its expected points,
    the messages real grading printed (`FAILED`), its loss curve and held-out accuracy."""
    sample = next(s for s in samples(A) if s.name == name)
    fills = (reference_fills(A) if sample.base == "reference" else {}) | sample.fills
    student = Student(name, fills, copy.deepcopy(FAILED.get(name, {})))
    student.scores = {gid: float(points) for gid, points in sample.expected.items() if points is not None}
    if sample.expected.get("results_tests") == 0:
        student.accuracy = 0.1056 if name in ("no_optimizer_step", "batches_without_len") else (0.1278 if "learning_rate" in name else None)
    else:
        student.accuracy = 0.95
    student.history = {"no_optimizer_step": flat(seed), "learning_rate_50": exploding(seed)}.get(name, curve(seed % CURVES))
    if name in NO_PLOT:
        student.history = None
    if name == "unfilled":
        student.outputs = {f"{s}_tests": checks_failed([NOT_IMPLEMENTED.format(n=i + 1, step=s)]) for i, s in enumerate(STEPS)}
        student.outputs |= {"pipeline": NOT_WRITTEN, "results_tests": NO_MODEL}
    return student


# The copies: each a classmate's step (or the reference's), changed the way copies are changed.
def renamed(source: str, names: dict[str, str]) -> str:
    """`source` with each of `names` replaced where it is a name of its own (not an attribute): renamed variables."""
    for old, new in names.items():
        source = re.sub(rf"(?<![.\w]){re.escape(old)}\b", new, source)
    return source


def reordered(source: str) -> str:
    """`source` with its top-level definitions in reverse order (imports first) and each class's methods too."""
    blocks, current = [], []
    for line in source.strip("\n").split("\n"):
        if line and not line[0].isspace() and current and not current[-1].startswith("@"):
            blocks.append(current)
            current = []
        current.append(line)
    blocks.append(current)
    imports = [b for b in blocks if b[0].startswith(("import ", "from "))]
    others = [_methods_reversed(b) for b in blocks if b not in imports][::-1]
    return "\n\n\n".join("\n".join(line for line in block).strip("\n") for block in imports + others) + "\n"


def _methods_reversed(block: list[str]) -> list[str]:
    if not block[0].startswith("class "):
        return block
    head, methods = [block[0]], []
    for line in block[1:]:
        if line.startswith("    def "):
            methods.append([])
        (methods[-1] if methods else head).append(line)
    methods = [[*method[: max(i for i, line in enumerate(method) if line.strip()) + 1], ""] for method in methods[::-1]]
    return head + [line for method in methods for line in method][:-1]


def recommented(source: str) -> str:
    """`source` with comments added, blank lines between its statements, and its indentation kept."""
    lines = []
    for number, line in enumerate(source.strip("\n").split("\n")):
        stripped = line.strip()
        if stripped.startswith("#"):
            continue  # the original comments go
        if number and stripped and not stripped.startswith(("def ", "return", ")")) and number % 3 == 0:
            lines.append("")
        indent = line[: len(line) - len(line.lstrip())]
        if number % 4 == 1 and stripped:
            lines.append(f"{indent}# {stripped.split('(')[0].split('=')[0].strip()} comes next")
        lines.append(line.rstrip() + ("  # as in the notes" if number % 5 == 2 and stripped and not stripped.endswith(":") else ""))
    return "\n".join(lines) + "\n"


RENAMED_TRAIN = renamed(T.FUNCTIONAL_ADAM["train"], {
    "device": "dev", "history": "seen", "steps": "total", "iterator": "it", "x": "inputs", "y": "targets",
    "batch_loss": "step_loss"})
REORDERED_BUILD = reordered(T.EXAMPLES_MNIST["build_model"])
RECOMMENTED_LOAD = recommented(T.SEQUENTIAL_SGD["load_and_preprocess"])


def renamed_reference_report() -> str:
    """The reference's report with its names changed: what a student who found the reference would hand in."""
    return renamed(reference_fills(A)["report"], {"device": "where", "evaluate": "score_on", "batches": "loader",
                                                   "correct": "right", "x": "xb", "y": "yb"})


# (student, copied from, step): the known copies of `torch_class`
COPIES = [
    ("ben", "ada", "train"),  # renamed variables
    ("dan", "cleo", "build_model"),  # functions and methods reordered
    ("eve", "ben", "load_and_preprocess"),  # comments and whitespace changed
    ("fay", "reference", "report"),  # copied from the reference, renamed
]
INDEPENDENT = ("ada", "ben", "cleo", "dan", "eve", "fay", "gus", "hal")


def _own(name: str, fills: dict[str, str], seed: int, failed: dict | None = None, accuracy: float = 0.95) -> Student:
    """A student whose cells are `fills` (the rest left as released): the unwritten steps fail as not implemented,
    and the pipeline stops before it plots."""
    outputs = dict(failed or {})
    for i, step in enumerate(STEPS):
        if step not in fills:
            outputs[f"{step}_tests"] = checks_failed([NOT_IMPLEMENTED.format(n=i + 1, step=step)])
    complete = all(step in fills for step in STEPS)
    if not complete:
        outputs |= {"pipeline": NOT_WRITTEN, "results_tests": NO_MODEL}
    return Student(name, {k: v.strip("\n") for k, v in fills.items()}, outputs,
                   history=curve(seed) if complete else None, accuracy=accuracy if complete else None)


def torch_class() -> list[Student]:
    """The test class of torch_pipeline: see the module's docstring and tests/test_class_report.py."""
    bank = ["reference", "download_flattened", "test_split_from_train", "nine_classes", "learning_rate_50", "accuracy_off_by_one",
            "no_optimizer_step", "report_swapped", "reference_routes", "batches_without_len", "unfilled", "kernel_exit", "hanging"]
    students = [bank_student(name, seed) for seed, name in enumerate(bank)]
    eleven = bank_student("nine_classes", 40)
    eleven.name, eleven.outputs, eleven.history = "eleven_classes", copy.deepcopy(FAILED["eleven_classes"]), None
    eleven.fills = dict(eleven.fills, build_model=swap(reference_fills(A)["build_model"], "MLP(input_dim, num_classes, hidden_units)",
                                                       "MLP(input_dim, 11, hidden_units)"))
    twenty = bank_student("learning_rate_50", 41)
    twenty.name, twenty.outputs = "learning_rate_20", copy.deepcopy(FAILED["learning_rate_20"])
    twenty.fills = dict(twenty.fills, make_loss_and_optimizer=swap(reference_fills(A)["make_loss_and_optimizer"], "lr=learning_rate", "lr=20.0"))
    twenty.accuracy = 0.1722
    students += [eleven, twenty]

    sgd, adam, mnist, manual = T.SEQUENTIAL_SGD, T.FUNCTIONAL_ADAM, T.EXAMPLES_MNIST, T.CROSS_ENTROPY_MANUAL_BATCHES
    examples_failed = copy.deepcopy(FAILED["examples_mnist"])
    students += [
        _own("ada", {k: adam[k] for k in ("download", "build_model", "make_loss_and_optimizer", "accuracy", "train", "report")}, 50),
        _own("ben", {k: sgd[k] for k in ("load_and_preprocess", "build_model", "make_loss_and_optimizer", "accuracy", "report")}
             | {"train": RENAMED_TRAIN}, 51),
        _own("cleo", {k: mnist[k] for k in ("build_model", "make_loss_and_optimizer", "accuracy", "train", "report")}, 52,
             failed=examples_failed),
        _own("dan", {"build_model": REORDERED_BUILD, "load_and_preprocess": manual["load_and_preprocess"],
                     "make_loss_and_optimizer": manual["make_loss_and_optimizer"], "report": manual["report"]}, 53,
             failed={"build_model_tests": checks_failed([LOGITS])}),
        _own("eve", {"load_and_preprocess": RECOMMENTED_LOAD}, 54),
        _own("fay", {"report": renamed_reference_report()}, 55),
        _own("gus", {}, 56),  # both hand in the release as it was: they share its given code, nothing else
        _own("hal", {}, 57),
    ]
    students += [
        Student("corrupt", kind="corrupt"),
        Student("ivan", kind="unreadable", fills=dict(reference_fills(A)), history=curve(0), accuracy=0.95),
        Student("jo", kind="no autograded", fills=dict(reference_fills(A))),
        Student("kim", kind="submitted", fills=dict(reference_fills(A))),
        Student("lee", kind="roster"),
    ]
    for student in students:
        student.timed = student.name not in ("gus", "hal")  # graded by our runner, whose replay keeps no timestamps
    return students


def expected_failures(student: Student) -> set[str]:
    """The test cells that `student` lost points at."""
    failed = {cell for cell, outputs in student.outputs.items()
              if cell.endswith("_tests") and any(kind in ("stderr", "error") for kind, *_ in outputs)}
    failed |= {cell for cell, score in student.scores.items() if score < MAX_POINTS.get(cell, 0)}
    return failed


MAX_POINTS = {"download_tests": 1, "load_and_preprocess_tests": 3, "build_model_tests": 2, "make_loss_and_optimizer_tests": 2,
              "accuracy_tests": 1, "train_tests": 3, "report_tests": 1, "results_tests": 3}


def generated_class(n: int, seed: int = 0) -> list[Student]:
    """`n` students for the benchmark: the bank's correct and broken samples in turn, each with its own curve."""
    mix = ["reference", "download_flattened", "nine_classes", "learning_rate_50", "accuracy_off_by_one", "no_optimizer_step",
           "report_swapped", "unfilled", "kernel_exit"]
    own = [("ada", T.FUNCTIONAL_ADAM), ("ben", T.SEQUENTIAL_SGD), ("cleo", T.EXAMPLES_MNIST)]
    students = []
    for number in range(n):
        if number % 4 == 3:  # every fourth: code of their own (independent solutions and their copies)
            name, fills = own[number % 3]
            student = _own(name, {k: v for k, v in fills.items() if k in STEPS}, seed + number,
                           failed=copy.deepcopy(FAILED["examples_mnist"]) if name == "cleo" else None)
        else:
            student = bank_student(mix[number % len(mix)], seed + number)
        student.name = f"student-{number:04d}"
        students.append(student)
    return students


# -- written answers: framework_comparison -------------------------------------------------------------------
C = "framework_comparison"

REWORDED_DEBUGGING = """
in TF1 printing the mean only shows a symbolic tensor, with a shape like (?, 4). To see numbers I have to
fetch it: session.run(mean, feed_dict=...), or add tf.print to the graph!  Shape errors show up when the graph
is built or later inside session.run, pointing at a node -- far from my Python line. In PyTorch, forward is
normal Python on real tensors; I can print(means[0].shape) or stop in pdb, and a shape error is raised at the
exact line with the actual shapes, which makes the bug much easier to find. I would use pdb.
"""

OWN_ANSWERS = {
    "q_variable_length": """
A static graph wants one shape for the whole batch, known when the graph is made. Lists of different lengths
do not fit, so every row gets zeros appended up to the longest one. The zeros are not words: a 0/1 weight per
position keeps them out of both the sum and the divisor, so averaging gives what the eager loop gives.
""",
    "q_debugging": """
With TF1 I add tf.print ops, or fetch the intermediate node in the same run call; an error names a graph op,
and I then search for the Python line that made it. With PyTorch I set a breakpoint inside forward and look at
the tensors directly; the traceback points at my own line.
""",
    "q_rebuild_cost": """
My measurements: a fresh tf.function trace per batch cost about ten milliseconds, the forward pass itself a
fraction of one, so retracing dominated. Eager PyTorch pays a little Python per step but never retraces. Fixing
the signature (None in the shapes) made TensorFlow trace only once.
""",
}


def comparison_class() -> list[Student]:
    """framework_comparison, code left as released: ann answers as the bank's plausible student does; bob answers only
    the second question, ann's answer reworded (case, punctuation, line breaks, one sentence more); cat writes her
    own three; dee answers only the third, with the model answer in capitals."""
    from submissions import replace_region
    from submissions.framework_comparison import ANSWERS

    questions = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source_notebook(C).cells
                 if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("solution")}
    model = {gid: source.split("### BEGIN SOLUTION", 1)[1].split("### END SOLUTION", 1)[0] for gid, source in questions.items()}

    def answered(name: str, answers: dict[str, str]) -> Student:
        tests = [c.metadata["nbgrader"]["grade_id"] for c in source_notebook(C).cells
                 if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")]
        outputs = {gid: checks_failed([f"{gid.removesuffix('_tests')}: not implemented yet: replace "
                                       f"`raise NotImplementedError()` in its cell."]) for gid in tests}
        return Student(name, outputs=outputs, answers={gid: replace_region(questions[gid], text) for gid, text in answers.items()})

    return [
        answered("ann", ANSWERS),
        answered("bob", {"q_debugging": REWORDED_DEBUGGING}),
        answered("cat", OWN_ANSWERS),
        answered("dee", {"q_rebuild_cost": model["q_rebuild_cost"].replace("**", "").upper()}),
    ]


# -- the course ------------------------------------------------------------------------------------------
def new_course(root: Path, *assignments: str) -> Path:
    """A course directory at `root`: this repository's nbgrader_config.py, the assignments' source and release."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    for assignment in assignments:
        for folder in ("source", "release"):
            shutil.copytree(REPO / folder / assignment, root / folder / assignment, dirs_exist_ok=True)
    return root


def register(course: Path, assignment: str) -> None:
    """Record the assignment in the course's gradebook as ``nbgrader generate_assignment`` does: its own
    preprocessors (lock, clear solutions, checksums, save cells), in this process."""
    from nbgrader.api import Gradebook
    from nbgrader.preprocessors import ClearSolutions, ComputeChecksums, LockCells, SaveCells

    from graders.runner.gradebook import Recorder, quiet_sqlalchemy

    recorder = Recorder(course)
    with _alembic_in_process(), quiet_sqlalchemy(), Gradebook(recorder.coursedir.db_url) as gb:
        gb.update_or_create_assignment(assignment)
    for path in sorted((course / "source" / assignment).glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        resources = {"nbgrader": {"db_url": recorder.coursedir.db_url, "assignment": assignment, "notebook": path.stem}}
        with quiet_sqlalchemy():
            for step in (LockCells, ClearSolutions, ComputeChecksums, SaveCells):
                notebook, resources = step(config=recorder.config).preprocess(notebook, resources)


@contextlib.contextmanager
def _alembic_in_process():
    """nbgrader stamps a new gradebook with the schema version that the `alembic` command prints (a second Python
    on PATH, seconds); the same head, asked of alembic in this process."""
    from unittest import mock

    import nbgrader.api as api
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(Path(api.__file__).with_name("alembic")))
    head = ScriptDirectory.from_config(config).get_heads()[0]
    with mock.patch.object(api, "get_alembic_version", lambda: head):
        yield


def write_class(course: Path, assignment: str, students: list[Student]) -> None:
    """Every student's files and gradebook rows (one gradebook session for the class)."""
    from nbgrader.api import Gradebook

    from graders.runner.gradebook import Recorder, quiet_sqlalchemy

    recorder = Recorder(course)
    with quiet_sqlalchemy(), Gradebook(recorder.coursedir.db_url) as gb:
        for number, student in enumerate(students):
            write_student(course, assignment, student, gb, number)


def write_student(course: Path, assignment: str, student: Student, gb, number: int = 0) -> None:
    """The student's submitted and autograded notebooks and their gradebook rows, as `student.kind` says."""
    if student.kind == "roster":
        gb.update_or_create_student(student.name)
        return
    notebook = autograded_notebook(assignment, student, number)
    text = nbformat.writes(notebook)
    folder = f"{student.name}/{assignment}/{assignment}.ipynb"
    submitted = course / "submitted" / folder
    submitted.parent.mkdir(parents=True, exist_ok=True)
    submitted.write_text(text[: len(text) // 2] if student.kind == "corrupt" else text, encoding="utf-8")
    if student.kind == "submitted":
        return
    gb.update_or_create_student(student.name)
    submission = gb.update_or_create_submission(assignment, student.name, timestamp=datetime(2026, 11, 20, 12, number % 60))
    cells = {c.metadata.nbgrader["grade_id"]: c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id")}
    for nb in submission.notebooks:
        for grade in nb.grades:
            if student.kind == "corrupt":
                grade.auto_score, grade.needs_manual_grade = 0.0, False
            elif cells[grade.name].cell_type == "markdown":
                grade.auto_score, grade.needs_manual_grade = None, True
            else:
                grade.auto_score, grade.needs_manual_grade = score(student, grade.name, grade.max_score), False
        for comment in nb.comments:
            unchanged = student.kind != "corrupt" and comment.name not in student.fills and comment.name not in student.answers
            comment.auto_comment = "No response." if unchanged else None
    gb.db.commit()
    if student.kind in ("corrupt", "no autograded"):
        return
    autograded = course / "autograded" / folder
    autograded.parent.mkdir(parents=True, exist_ok=True)
    autograded.write_text(text[: len(text) // 3] if student.kind == "unreadable" else text, encoding="utf-8")


def score(student: Student, grade_id: str, max_score: float) -> float:
    if grade_id in student.scores:
        return student.scores[grade_id]
    failed = any(kind in ("stderr", "error") for kind, *_ in student.outputs.get(grade_id, []))
    if grade_id == "results_tests" and student.accuracy is not None and not failed:
        return points(student.accuracy)
    return 0.0 if failed else float(max_score)


# -- the autograded notebook --------------------------------------------------------------------------------
def autograded_notebook(assignment: str, student: Student, number: int = 0) -> nbformat.NotebookNode:
    """The release with the student's cells, the test cells restored, and what grading wrote into every code cell."""
    notebook = fill(release_notebook(assignment), dict(student.fills.items()))
    source = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source_notebook(assignment).cells
              if c.metadata.get("nbgrader", {}).get("grade")}
    clock = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc) + timedelta(minutes=number)
    spans = _spans(student, sum(c.cell_type == "code" for c in notebook.cells))
    count = 0
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        grade_id = meta.get("grade_id", "")
        if cell.cell_type == "markdown":
            if grade_id in student.answers:
                cell.source = student.answers[grade_id]
            continue
        if meta.get("grade") and grade_id in source:
            cell.source = source[grade_id]  # nbgrader restores the test cells, hidden tests included
        count += 1
        pipeline = ".plot_losses(" in cell.source
        key = "pipeline" if pipeline else grade_id
        if count == 1 and assignment == A:
            outputs = [("stdout", "Checks ready: framework torch, device cpu, dataset digits\n"),
                       ("result", "Hyperparameters(hidden_units=128, learning_rate=0.003, batch_size=32, epochs=20, "
                                  "validation_size=0.1, seed=0)")]
        elif key in student.outputs:
            outputs = student.outputs[key]
        elif pipeline:
            outputs = _pipeline_outputs(student)
        elif meta.get("grade") and grade_id == "results_tests":
            outputs = results_line(student.accuracy) if student.accuracy is not None else NO_MODEL
        elif meta.get("grade") and grade_id.removesuffix("_tests") in PASSED:
            step = grade_id.removesuffix("_tests")
            n, (public, hidden) = STEPS.index(step) + 1, PASSED[step]
            outputs = [("stdout", f"✓ step {n} ({step}): {public}\n✓ step {n} ({step}) (public and hidden checks): {public}; {hidden}\n")]
        elif meta.get("grade"):
            outputs = [("stdout", f"✓ {grade_id.removesuffix('_tests')}: every check passed\n")]
        else:
            outputs = []
        cell.outputs = [_output(o, count) for o in outputs]
        cell.execution_count = count
        if student.timed:
            start = clock + timedelta(seconds=sum(spans[: count - 1]))
            end = start + timedelta(seconds=spans[count - 1])
            cell.metadata["execution"] = {
                "iopub.execute_input": _iso(start + timedelta(milliseconds=1)), "iopub.status.busy": _iso(start),
                "iopub.status.idle": _iso(end + timedelta(milliseconds=1)), "shell.execute_reply": _iso(end),
            }
    return notebook


def _spans(student: Student, cells: int) -> list[float]:
    """Seconds of each code cell: the setup cell, the checks, the pipeline's training, adding up to `seconds`."""
    weights = np.ones(cells)
    weights[0], weights[-2] = 4.0, 6.0
    return list(weights / weights.sum() * student.seconds)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _pipeline_outputs(student: Student) -> list[tuple]:
    if student.history is None:
        return NOT_WRITTEN
    return [("stdout", "parameters: 9,610\n"), ("plot", student.history),
            ("stdout", f"train accuracy 0.9982   test accuracy {min(student.accuracy or 0.97, 0.9667):.4f}\n")]


def _output(spec: tuple, count: int) -> nbformat.NotebookNode:
    from nbformat.v4 import new_output

    kind, *rest = spec
    if kind in ("stdout", "stderr"):
        return new_output("stream", name=kind, text=rest[0])
    if kind == "error":
        ename, evalue = rest
        shown = [f"\x1b[0;31m{ename}\x1b[0m: a hidden test failed"] + [f"✗ {line}" for line in evalue.splitlines()] \
            if ename == "CheckFailed" else [f"{ename}: {evalue}"]
        return new_output("error", ename=ename, evalue=evalue, traceback=shown)
    if kind == "result":
        return new_output("execute_result", data={"text/plain": rest[0]}, execution_count=count)
    if kind == "plot":
        return new_output("display_data", data={"image/png": loss_plot(tuple(np.round(rest[0], 6))),
                                                 "text/plain": "<Figure size 700x350 with 1 Axes>"})
    raise ValueError(f"unknown output {kind!r}")


@cache
def loss_plot(history: tuple[float, ...], framework: str = "torch", dataset: str = "digits") -> str:
    """The PNG (base64) that ``check.plot_losses(history)`` shows in a notebook: its figure, drawn by the inline
    backend's defaults (100 dpi, bbox_inches="tight")."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 3.5))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    values = list(history)
    axes.plot(range(1, len(values) + 1), values, linewidth=1)
    axes.set(xlabel="training step", ylabel="loss", title=f"Training loss ({framework}, {dataset})")
    axes.grid(alpha=0.3)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def graded_course(root: Path, students: list[Student], assignment: str = A) -> Path:
    """A course at `root` with `assignment` registered and `students` graded; returns the course directory."""
    course = new_course(root, assignment)
    register(course, assignment)
    write_class(course, assignment, students)
    return course
