"""The committed notebooks, executed for real in the `tf-pytorch-course` kernel (issue 3's guards).

* every release notebook, placeholders unfilled, runs top to bottom without an error output in
  any cell (the execution does not allow errors): each self-check cell writes one ✗ message to
  stderr naming its step and saying it is not written yet; the guarded cells say they stopped;
* every source notebook runs top to bottom and passes all its own tests, hidden ones included:
  no error, nothing on stderr, full marks by nbgrader's rule (`nbgrader.utils.determine_grade`),
  the results cell's partial credit equal to its points;
* `graders.report.check_notebook` / `format_reports` (``python -m graders check NOTEBOOK``):
  every step 0 with a message on the release, full marks on the source;
* ``nbgrader validate`` on the release fails with one message per step (it passes on the
  source: tests/test_build.py checks that).

Each notebook runs once per session, on a temp copy, through `check_notebook` itself (its
NotebookClient is swapped for one that keeps the executed notebook and allows no error); the
executed notebook is shared by every test. ``nbgrader validate`` runs once for all the release
notebooks, in the background while the notebooks execute.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbgrader import utils

from graders import report
from graders.author import build
from graders.check.kernel.startup import KERNEL_NAME, install_kernel
from graders.check.shared.checks import STEPS, step_label

pytestmark = pytest.mark.slow

REPO = build.REPO
ASSIGNMENTS = build.assignments()
COMPARISON = "framework_comparison"
# graders.check.comparison.ComparisonChecks.STEPS (not imported here: it imports TensorFlow and PyTorch)
COMPARISON_STEPS = ("weights_to_torch", "weights_to_keras", "same_logits", "pad_batch", "static_bag", "dynamic_bag")
CELL_TIMEOUT = 600  # seconds per cell (training on a loaded 2-core machine)
NOT_WRITTEN = re.compile(r"not (implemented|written) yet")


def expected_steps(assignment: str) -> tuple[str, ...]:
    return COMPARISON_STEPS if assignment == COMPARISON else STEPS


def label(assignment: str, step: str) -> str:
    """How the messages name a step: 'step 3 (build_model)', 'results', or the comparison step's name."""
    return step if assignment == COMPARISON else step_label(step)


def autograded_cells(notebook) -> list:
    """The autograded test cells, in order (what nbgrader scores automatically)."""
    return [c for c in notebook.cells if c.cell_type == "code" and utils.is_grade(c) and not utils.is_solution(c)]


def step_of(cell) -> str:
    grade_id = cell.metadata.nbgrader["grade_id"]
    assert grade_id.endswith("_tests"), grade_id
    return grade_id[: -len("_tests")]


def cell_name(cell) -> str:
    return cell.metadata.get("nbgrader", {}).get("grade_id") or cell.get("id") or "?"


def streams(cell, name: str) -> str:
    return "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == name)


def errors(notebook) -> list[str]:
    return [
        f"{cell_name(c)}: {o.ename}: {o.evalue}"
        for c in notebook.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "error"
    ]


# ---- the kernel ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def course_kernel(tmp_path_factory):
    """The `tf-pytorch-course` kernel: the installed one (`python -m graders install-kernel`), else
    one installed for this module under a temp prefix (JUPYTER_PATH points there meanwhile)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(KERNEL_NAME)
    except NoSuchKernel:
        pass
    else:
        yield KERNEL_NAME
        return
    prefix = tmp_path_factory.mktemp("kernel-prefix")
    install_kernel(prefix=prefix)
    jupyter_path = [str(prefix / "share" / "jupyter"), os.environ.get("JUPYTER_PATH", "")]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", os.pathsep.join(filter(None, jupyter_path)))
        yield KERNEL_NAME


# ---- one execution per notebook ------------------------------------------------------------------


@dataclass
class Run:
    """A notebook executed by `report.check_notebook`: the executed notebook and its reports."""

    path: Path  # the temp copy that ran
    notebook: nbformat.NotebookNode  # with outputs
    reports: list[report.StepReport]


def execute(kind: str, assignment: str, folder: Path) -> Run:
    """Copy the committed notebook to `folder` and run `check_notebook` on it; no cell may raise."""
    committed = build.source_notebook(assignment) if kind == "source" else build.release_notebook(assignment)
    path = folder / committed.name
    shutil.copy(committed, path)
    executed = []

    class Recording(report.NotebookClient):
        def __init__(self, nb, *args, **kwargs):
            kwargs["allow_errors"] = False  # an error in any cell stops the run: CellExecutionError
            super().__init__(nb, *args, **kwargs)
            executed.append(nb)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(report, "NotebookClient", Recording)
        reports = report.check_notebook(path, timeout=CELL_TIMEOUT)
    assert len(executed) == 1, "check_notebook no longer runs the notebook with report.NotebookClient: update execute()"
    return Run(path, executed[0], reports)


@pytest.fixture(scope="module")
def executed(tmp_path_factory, course_kernel):
    """executed(kind, assignment) -> Run, each notebook executed at most once in the session."""
    from nbclient.exceptions import CellExecutionError

    cache: dict[tuple[str, str], Run | str] = {}

    def get(kind: str, assignment: str) -> Run:
        key = (kind, assignment)
        if key not in cache:
            try:
                cache[key] = execute(kind, assignment, tmp_path_factory.mktemp(f"{kind}-{assignment}"))
            except CellExecutionError as error:  # remembered: not executed again by the next test
                cache[key] = f"{kind}/{assignment}/{assignment}.ipynb raised in a cell:\n{report.ANSI.sub('', str(error))}"
        found = cache[key]
        if isinstance(found, str):
            pytest.fail(found, pytrace=False)
        return found

    return get


# ---- nbgrader validate, once, in the background ------------------------------------------------------


class Validation:
    """``nbgrader validate`` on temp copies of every release notebook, in a temp course (one process)."""

    def __init__(self, root: Path):
        self.root = root
        shutil.copy(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
        self.notebooks = []
        for assignment in ASSIGNMENTS:
            target = build.release_notebook(assignment, root)
            target.parent.mkdir(parents=True)
            shutil.copy(build.release_notebook(assignment), target)
            self.notebooks.append(target.relative_to(root))
        env = build.nbgrader_env()
        env.pop("NBGRADER_EXCHANGE", None)
        self.out, self.err = open(root / "validate.out", "w+"), open(root / "validate.err", "w+")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nbgrader", "validate", *map(str, self.notebooks)],
            cwd=root, env=env, stdout=self.out, stderr=self.err, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        self._sections = None

    def sections(self) -> dict[str, str]:
        """Assignment -> what nbgrader printed for its notebook (it prints one report per notebook, in order)."""
        if self._sections is None:
            try:
                returncode = self.process.wait(timeout=900)
            except subprocess.TimeoutExpired:
                self.stop()
                pytest.fail("nbgrader validate took more than 900 s")
            self.out.seek(0)
            self.err.seek(0)
            out, err = self.out.read(), self.err.read()
            assert returncode == 0, f"nbgrader validate exited {returncode}:\n{err[-3000:]}"
            starts = [m.start() for m in re.finditer(r"^(VALIDATION FAILED ON|Success!)", out, re.M)]
            assert len(starts) == len(ASSIGNMENTS), f"expected one report per notebook:\n{out}\n{err[-3000:]}"
            bounds = zip(starts, starts[1:] + [len(out)])
            self._sections = {a: out[s:e] for a, (s, e) in zip(ASSIGNMENTS, bounds)}
        return self._sections

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.out.close()
        self.err.close()


@pytest.fixture(scope="module", autouse=True)
def release_validation(request, tmp_path_factory, course_kernel):
    """Started before the first test of the module when a selected test needs it, so it overlaps
    with the notebook executions (2 cores); None when no selected test needs it."""
    wanted = any("release_validation" in getattr(item, "fixturenames", ()) and item.module is request.module
                 for item in request.session.items)
    if not wanted:
        yield None
        return
    validation = Validation(tmp_path_factory.mktemp("validate-course"))
    yield validation
    validation.stop()


# ---- the release: unfilled, it runs and says what is missing ---------------------------------------


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_runs_and_each_self_check_names_its_step(assignment, executed):
    run = executed("release", assignment)
    assert errors(run.notebook) == []
    cells = autograded_cells(run.notebook)
    assert tuple(step_of(c) for c in cells) == expected_steps(assignment)
    for cell in cells:
        step = step_of(cell)
        stderr = streams(cell, "stderr")
        lines = stderr.splitlines()
        assert len(lines) == 1, f"{step}: one ✗ message expected on stderr, found {stderr!r}"
        message = lines[0]
        assert message.startswith(f"✗ {label(assignment, step)}: "), message
        if step == "results":
            assert "did not produce a trained model" in message, message
        else:
            assert NOT_WRITTEN.search(message), message
        assert utils.determine_grade(cell) == (0, float(cell.metadata.nbgrader["points"]))


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_test_cells_show_no_value(assignment, executed):
    """A test cell's displayed value is nbgrader's partial credit: the self-checks display none."""
    run = executed("release", assignment)
    for cell in autograded_cells(run.notebook):
        values = [o.data.get("text/plain") for o in cell.outputs if o.output_type == "execute_result"]
        assert values == [], f"{cell_name(cell)} displays {values}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_guarded_cells_stop_with_one_line(assignment, executed):
    """The cells that use the student's functions outside the self-checks (the whole pipeline, the
    comparison's demonstrations) catch the error: one ✗ line on stderr, no traceback."""
    run = executed("release", assignment)
    tests = {id(c) for c in autograded_cells(run.notebook)}
    guarded = [c for c in run.notebook.cells if c.cell_type == "code" and id(c) not in tests and streams(c, "stderr")]
    assert guarded, "an unfilled notebook stops somewhere outside the self-checks"
    for cell in guarded:
        assert "check.guard(" in cell.source, f"{cell_name(cell)} wrote to stderr outside a guard"
        lines = streams(cell, "stderr").splitlines()
        assert len(lines) == 1 and lines[0].startswith("✗ ") and " stopped" in lines[0], lines


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_guard_message_says_what_is_missing(assignment, executed):
    """A guarded cell that stopped on an unwritten function says so, not 'NotImplementedError: .'."""
    run = executed("release", assignment)
    tests = {id(c) for c in autograded_cells(run.notebook)}
    for cell in run.notebook.cells:
        if cell.cell_type == "code" and id(cell) not in tests and streams(cell, "stderr"):
            message = streams(cell, "stderr").strip()
            assert NOT_WRITTEN.search(message) and not re.search(r"\w: \.", message), message


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_check_notebook_on_release_reports_every_step_missing(assignment, executed):
    run = executed("release", assignment)
    cells = autograded_cells(run.notebook)
    assert [r.grade_id for r in run.reports] == [c.metadata.nbgrader["grade_id"] for c in cells]
    for r, cell in zip(run.reports, cells):
        step = step_of(cell)
        assert (r.score, r.max_score) == (0, float(cell.metadata.nbgrader["points"])), r
        assert not r.passed
        assert r.message == streams(cell, "stderr").strip() and r.message.startswith(f"✗ {label(assignment, step)}: ")
    table = report.format_reports(run.reports)
    available = sum(r.max_score for r in run.reports)
    for r in run.reports:
        assert re.search(rf"^✗ {re.escape(r.grade_id)} +0 / {r.max_score:g}$", table, re.M), table
        assert f"    {r.message}" in table
    assert table.splitlines()[-1].startswith(f"total: 0 / {available:g} points"), table


# ---- the source: runs and passes everything -------------------------------------------------------------


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_source_runs_and_passes_all_its_tests(assignment, executed):
    run = executed("source", assignment)
    assert errors(run.notebook) == []
    noisy = {cell_name(c): streams(c, "stderr") for c in run.notebook.cells if c.cell_type == "code" and streams(c, "stderr")}
    assert noisy == {}, "nothing may reach stderr (nbgrader gives 0 points to a test cell that writes there)"
    cells = autograded_cells(run.notebook)
    assert tuple(step_of(c) for c in cells) == expected_steps(assignment)
    for cell in cells:
        points = float(cell.metadata.nbgrader["points"])
        assert utils.determine_grade(cell) == (points, points), cell_name(cell)
        # the hidden tests ran, and passed
        assert "(public and hidden checks)" in streams(cell, "stdout") or step_of(cell) == "results", cell_name(cell)
    for cell in run.notebook.cells:  # written answers: left to the graders (None), not 0
        if cell.cell_type == "markdown" and utils.is_grade(cell):
            assert utils.determine_grade(cell) == (None, float(cell.metadata.nbgrader["points"]))


@pytest.mark.parametrize("assignment", [a for a in ASSIGNMENTS if a != COMPARISON])
def test_source_results_cell_scores_full_points(assignment, executed):
    """The results cell's value is its partial credit: the reference model earns every point."""
    run = executed("source", assignment)
    (cell,) = [c for c in autograded_cells(run.notebook) if step_of(c) == "results"]
    points = float(cell.metadata.nbgrader["points"])
    results = [o for o in cell.outputs if o.output_type == "execute_result"]
    assert len(results) == 1, cell.outputs
    assert float(results[0].data["text/plain"]) == points
    assert utils.get_partial_grade(results[0], points) == points
    assert f"earns {points:g} of {points:g} points" in streams(cell, "stdout")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_check_notebook_on_source_gives_full_marks(assignment, executed):
    run = executed("source", assignment)
    cells = autograded_cells(run.notebook)
    assert [r.grade_id for r in run.reports] == [c.metadata.nbgrader["grade_id"] for c in cells]
    assert all(r.passed and r.score == r.max_score == float(c.metadata.nbgrader["points"]) for r, c in zip(run.reports, cells))
    table = report.format_reports(run.reports)
    available = sum(r.max_score for r in run.reports)
    assert "✗" not in table
    assert table.splitlines()[-1].startswith(f"total: {available:g} / {available:g} points"), table


# ---- nbgrader validate on the release ------------------------------------------------------------------


def validate_blocks(section: str) -> list[tuple[str, str]]:
    """(cell source, error) of each "The following cell failed" block, de-indented."""
    blocks = []
    for part in section.split("The following cell failed:")[1:]:
        source, _, error = part.partition("The error was:")
        strip = lambda text: "\n".join(line.strip() for line in text.strip("=\n ").splitlines()).strip()
        blocks.append((strip(source), strip(error.split("=" * 20)[0])))
    return blocks


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_nbgrader_validate_fails_on_release_with_one_message_per_step(assignment, release_validation):
    section = release_validation.sections()[assignment]
    release = nbformat.read(build.release_notebook(assignment), as_version=4)
    steps = expected_steps(assignment)
    answers = [c for c in release.cells if c.cell_type == "markdown" and utils.is_grade(c)]
    assert section.startswith(f"VALIDATION FAILED ON {len(steps) + len(answers)} CELL(S)!"), section
    blocks = validate_blocks(section)
    code = [(source, error) for source, error in blocks if source.startswith("check.")]
    assert len(code) == len(steps) and len(blocks) == len(steps) + len(answers), section
    for step, (source, error) in zip(steps, code):
        call = "check.public_results(model)" if step == "results" else f'check.public("{step}"'
        assert source.startswith(call), (step, source)
        assert error.startswith(f"✗ {label(assignment, step)}: "), (step, error)
        assert "Traceback" not in error
    for source, error in blocks:
        if not source.startswith("check."):
            assert "YOUR ANSWER HERE" in source and error == "You did not provide a response.", (source, error)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_nbgrader_validate_message_says_what_is_missing(assignment, release_validation):
    """nbgrader validate cuts each error line at 90 columns: what is missing must come first."""
    section = release_validation.sections()[assignment]
    for source, error in validate_blocks(section):
        if source.startswith("check.public("):
            assert NOT_WRITTEN.search(error), error
