"""Hidden tests decided in the grading process: the kernel hands back values, the grader judges them.

A graded test cell's hidden section holds one call, read here as data and never run in the kernel:

    ### BEGIN HIDDEN TESTS
    grade("torch", "digits", "train", train)      # kind, dataset, step, the notebook's objects
    ### END HIDDEN TESTS

`SandboxedExecute` (graders/runner/execute.py) hands such a cell to `judge_cell` instead of the
kernel. The grader writes the step's inputs (data: `graders.check.trusted.judge` for the pipelines,
`graders.check.trusted.comparison_judge` for the comparison) into the submission's working folder, has the
kernel run the probe on them (`graders.check.kernel.probe.run`: the student's function called, only its
outputs saved), reads the outputs back without following links or unpickling anything, judges
them here and writes the cell's outputs itself: the ✓ line, or the ✗ lines and an error output (0
points), and for the results cell the points as the cell's value (nbgrader's partial credit).
The cell's source, restored from the gradebook by nbgrader, is the only thing read from the notebook;
nothing runs in the kernel under the graded cell's index, and nothing the kernel sends afterwards
reaches the graded cell's outputs (`graders.runner.execute.SandboxedExecute`).
"""

from __future__ import annotations

import ast
import contextlib
import functools
import os
import re
import secrets
import textwrap
from dataclasses import dataclass

from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_output

from graders.check.shared.ast_lock import AST_LOCK
from graders.check.shared.checks import CheckFailed, step_label
from graders.check.shared.exercises import exercise
from graders.check.shared.observation import Observation, ObservationError, arrays_to_bytes, create_new, read_open, write_new
from graders.check.shared.protocol import PIPELINE_KIT
from graders.check.trusted.judge import place_files
from graders.runner.errors import DIED_ERROR, LIMIT_ERROR, TIMEOUT_ERROR

HIDDEN_SECTION = re.compile(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", re.S)
CHECK_FAILED = "CheckFailed"


@dataclass(frozen=True)
class HiddenCall:
    """A hidden test's call: `grade(kind, dataset, step, *names, points=...)`."""

    kind: str
    dataset: str | None
    step: str
    names: tuple[str, ...]
    points: float | None = None

    @classmethod
    def parse(cls, source: str) -> HiddenCall | None:
        """The `grade(...)` call of a test cell's hidden section; None when there is none."""
        match = HIDDEN_SECTION.search(source)
        if not match:
            return None
        try:
            with AST_LOCK:
                tree = ast.parse(textwrap.dedent(match.group(1)))
        except SyntaxError:
            return None
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "grade":
                try:
                    kind, dataset, step = (ast.literal_eval(argument) for argument in node.args[:3])
                    names = tuple(argument.id for argument in node.args[3:])
                    points = {k.arg: ast.literal_eval(k.value) for k in node.keywords}.get("points")
                except (ValueError, AttributeError, TypeError):
                    return None
                call = cls(kind, dataset, step, names, points)
                return call if call.known() else None
        return None

    def known(self) -> bool:
        """Whether the grader has checks for this kind, dataset and step (a cell a student made up names others)."""
        found = exercise(self.kind)
        return found is not None and found.knows(self.dataset, self.step)


@functools.cache  # one per (kind, dataset) in this process: the data is read once
def checker(kind: str, dataset: str | None):
    """The grader's side of `kind`'s checks on `dataset`: inputs, model files and verdicts."""
    return exercise(kind).case(kind, dataset)


def failure_outputs(failures: list[CheckFailed]) -> list[NotebookNode]:
    """What a failed hidden test shows: its ✗ lines on stderr, as a self-check prints them, then an error output
    (which nbgrader scores 0) holding the same message, with no stack of the grader's."""
    combined = CheckFailed.combine(failures)
    lines = "".join(f"✗ {line}\n" for line in combined.message.splitlines())
    return [
        new_output("stream", name="stderr", text=lines),
        new_output("error", ename=CHECK_FAILED, evalue=combined.message, traceback=[f"{CHECK_FAILED}: a hidden test failed (the ✗ lines above)"]),
    ]


class GraderFiles:
    """Files the grader puts into the kernel's working folder, each created anew (never through a link, never over a file
    that is there: `write_new`, `create_new`) and all removed when the `with` block ends."""

    def __init__(self, folder: str):
        self.folder, self.names = folder, []

    def __enter__(self) -> GraderFiles:
        self.directory = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY)
        return self

    def write(self, name: str, data: bytes) -> None:
        self.names.append(name)
        write_new(self.directory, name, data)

    def create(self, name: str) -> int:
        """The empty file `name` for the kernel to write into; the descriptor the grader reads it through."""
        self.names.append(name)
        return create_new(self.directory, name)

    def __exit__(self, *exc) -> None:
        for name in self.names:
            with contextlib.suppress(OSError):
                os.unlink(name, dir_fd=self.directory)
        os.close(self.directory)


def judge_cell(run_cell, call: HiddenCall, cell: NotebookNode, index: int, resources: dict) -> bool:
    """Decide the hidden test `cell` here: probe in the kernel (through `run_cell`, the executor's), judge here; whether
    it passed.

    `run_cell(cell)` executes a code cell in the submission's kernel, aside from the notebook's cells (and raises as
    the executor does when the kernel dies or ignores an interrupt). The cell's outputs are replaced by the verdict.
    The grader creates the observation file before the probe and reads the file it created, through its own
    descriptor: a file the kernel puts in its place, before or after, is never read.
    """
    folder = str(resources.get("working_folder") or resources.get("metadata", {}).get("path") or os.getcwd())
    case = checker(call.kind, call.dataset)
    inputs = case.inputs(call.step, hidden=True)
    token = secrets.token_hex(8)
    names = (f".grader-in-{token}.npz", f".grader-out-{token}.npz")
    with GraderFiles(folder) as files:
        given = inputs | place_files(case.files(call.step, hidden=True), folder, f".grader-{token}-", files.write)
        files.write(names[0], arrays_to_bytes(given))
        output = files.create(names[1])
        probe_cell = new_code_cell(_probe_source(call, *(os.path.join(folder, name) for name in names)))
        try:
            run_cell(probe_cell)
            try:
                observation = read_open(output)
            except ObservationError as error:
                observation = _unreadable(call.step, str(error), probe_cell)
        finally:
            os.close(output)
    cell.outputs = _verdict_outputs(case, call, inputs, observation) + _stopped(probe_cell)
    return not _failed(cell)


@contextlib.contextmanager
def pipeline_kit(folder: str, kind: str, dataset: str | None, verdicts: dict[str, bool]):
    """The grader's kit beside the whole-pipeline cell while it runs (`graders.check.shared.protocol.PIPELINE_KIT`): the verdicts it
    decided, and the course's results of steps 2 and 3 as data, for the cell's explanation when it stops (nothing
    for an exercise without one)."""
    kit = checker(kind, dataset).explanation_kit(verdicts)
    if kit is None:
        yield
        return
    arrays, models = kit
    with GraderFiles(folder) as files:
        arrays |= place_files(models, folder, f".grader-kit-{secrets.token_hex(8)}-", files.write)
        files.write(PIPELINE_KIT, arrays_to_bytes(arrays))
        yield


def _probe_source(call: HiddenCall, inputs_path: str, output_path: str) -> str:
    return (
        f"__import__('graders.check.kernel.probe', fromlist=['run']).run({call.kind!r}, {call.step!r}, {list(call.names)!r}, "
        f"{inputs_path!r}, {output_path!r})"
    )


def _unreadable(step: str, why: str, probe_cell: NotebookNode) -> Observation:
    """The observation of a probe that handed nothing usable back: a failure that says why."""
    errors = [f"{o.get('ename')}: {o.get('evalue')}" for o in probe_cell.get("outputs", []) if o.get("output_type") == "error"]
    what = f"the grader could not read what your code gave ({errors[0] if errors else why})"
    observation = Observation()
    observation.failed("probe", CheckFailed(what, hint=f"the cell of {step_label(step)}; run the notebook from its first cell", step=step))
    observation.stopped = {"key": "probe"}
    return observation


def _verdict_outputs(case, call: HiddenCall, inputs: dict, observation: Observation) -> list[NotebookNode]:
    if call.step == "results":
        try:
            earned, line = case.score_results(observation, call.points or 0.0)
        except CheckFailed as failure:
            return failure_outputs([failure])
        return [
            new_output("stream", name="stdout", text=line + "\n"),
            new_output("execute_result", data={"text/plain": repr(earned)}, execution_count=None),
        ]
    verdict = case.judge(call.step, inputs, observation, hidden=True)
    if verdict.failures:
        return failure_outputs(verdict.failures)
    from graders.check.trusted.judge import passed_line

    return [new_output("stream", name="stdout", text=passed_line(verdict, hidden=True) + "\n")]


def _stopped(probe_cell: NotebookNode) -> list[NotebookNode]:
    """The probe's own error outputs that say a limit stopped it (the per-cell timeout), for the batch's notes."""

    return [o for o in probe_cell.get("outputs", []) if o.get("output_type") == "error" and o.get("ename") in (TIMEOUT_ERROR, LIMIT_ERROR, DIED_ERROR)]


def _failed(cell: NotebookNode) -> bool:
    return any(o.get("output_type") == "error" for o in cell.outputs)
