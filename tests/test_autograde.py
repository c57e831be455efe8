"""The sample bank (tests/submissions/) graded for real, twice, into a real gradebook, in the sandbox.

Per assignment: a fresh course directory in tmp (this repository's nbgrader_config.py, source/
and release/; its own gradebook.db and exchange; a kernel's memory capped at `BANK_MEMORY_LIMIT`), the assignment registered with
``nbgrader generate_assignment`` (`graders.author.build.release`), every sample submitted under
its own student id, then graded twice: first by our runner (`graders.runner.batch.autograde`),
then again by stock ``nbgrader autograde --force`` (two processes, half of them each), which
grades through the same sandboxed kernel: every attack, every sample that a limit, a death, a
clash or a corrupt file cuts short, and the course's answers (`on_every_route`); the honest
variations of a step are judged by the same verdict on both routes, and graded by the runner.
After each pass every sample it graded must score exactly its expectation per graded cell, read
back from the gradebook, and what each run says of a sample (the runner's Outcome, or the notes
read from stock nbgrader's autograded notebook) must say what happened. `generate_feedback` must
then write an HTML report per graded student.

One class of tests per assignment (`Bank`): `make test` (--dist loadscope) grades each bank on a
worker of its own.

The submission with a cell that never ends is graded in a call of its own with a short
per-cell timeout (COURSE_CELL_TIMEOUT), so that no other sample runs under that timeout.

Slow: about 65 notebooks, the attacks and edge cases twice (see tests/submissions/ for the bank).
"""

from __future__ import annotations

import html
import json
import math
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest
from observed import cell_text, processes_with
from submissions import Sample, full_marks, graded_cells, manual_cells, released_course, samples
from submissions.attacks import BANK_MEMORY_LIMIT, MARKER

from graders.author.build import nbgrader_env
from graders.runner import batch as ag
from graders.runner.gradebook import NBGRADER, Recorder, generate_feedback

pytestmark = pytest.mark.slow

HANGING = "hanging"  # graded alone, under HANG_TIMEOUT
HANG_TIMEOUT = 10  # seconds one cell may run while the hanging sample is graded
BUDGET = 600  # seconds one pass over an assignment's bank may take (the stalling attack sleeps an hour)
PASSES = 2
TOLERANCE = 1e-6


#: The honest samples that stock nbgrader grades too (`on_every_route`).
ON_EVERY_ROUTE = ("reference", "reference_routes", "unfilled")


def on_every_route(sample: Sample) -> bool:
    """Whether the stock pass grades `sample` too: an attack on the grader, a sample that a limit, a death, a clash, a
    timeout or a corrupt file cuts short, and the course's answers, their routes and the unfilled release. The bank's
    honest variations of a step are judged by the same verdict on both routes (`graders.runner.verdict` decides every
    hidden test in the grading process), so our runner's pass grades them, and the stock pass does not again."""
    return sample.hostile or sample.name in ON_EVERY_ROUTE or sample.kind != "fills" or sample.outcome != "graded" or not sample.graded


@dataclass
class Pass:
    samples: list[Sample]  # those this pass graded
    outcomes: dict[str, ag.Outcome]
    scores: dict[str, dict[str, tuple[float, float]]]
    manual: dict[str, dict[str, bool]]  # student -> grade id -> needs manual grade
    seconds: float


@dataclass
class Graded:
    assignment: str
    course: Path
    bank: list[Sample]
    passes: list[Pass] = field(default_factory=list)
    feedback: object = None

    def sample(self, name: str) -> Sample:
        return next(s for s in self.bank if s.name == name)


def manual_flags(course: Path, assignment: str) -> dict[str, dict[str, bool]]:
    with Recorder(course).gradebook() as gb:
        return {
            s.student.id: {g.name: bool(g.needs_manual_grade) for nb in s.notebooks for g in nb.grades}
            for s in gb.find_assignment(assignment).submissions
        }


def grade_with_runner(course: Path, assignment: str, bank: list[Sample]) -> Pass:
    start = time.perf_counter()
    names = [s.name for s in bank]
    outcomes = ag.autograde(course, assignment, [n for n in names if n != HANGING], jobs=2)
    if HANGING in names:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("COURSE_CELL_TIMEOUT", str(HANG_TIMEOUT))
            outcomes += ag.autograde(course, assignment, [HANGING], jobs=1)
    return finished(course, assignment, bank, {o.student: o for o in outcomes}, start)


def grade_with_stock_nbgrader(course: Path, assignment: str, bank: list[Sample]) -> Pass:
    """``nbgrader autograde --force`` as a TA types it, in two processes of half the class each (the samples
    `on_every_route`), and beside them a third for the hanging sample alone, under the short cell timeout (it sleeps
    through most of it). Outcomes are read from the autograded notebooks."""
    start = time.perf_counter()
    bank = [s for s in bank if on_every_route(s)]
    names = [s.name for s in bank if s.name != HANGING]
    runs = [(names[0::2], {}), (names[1::2], {})]
    if HANGING in [s.name for s in bank]:
        runs.append(([HANGING], {"COURSE_CELL_TIMEOUT": str(HANG_TIMEOUT)}))
    everyone = set(os.listdir(course / "submitted"))
    processes = [_stock_autograde(course, assignment, everyone - set(students), env) for students, env in runs]
    for process in processes:
        process.wait()
    outcomes = {s.name: stock_outcome(course, assignment, s.name) for s in bank}
    return finished(course, assignment, bank, outcomes, start)


def _stock_autograde(course: Path, assignment: str, excluded: set[str], env: dict) -> subprocess.Popen:
    command = [*NBGRADER, "autograde", assignment, "--force", f"--CourseDirectory.student_id_exclude={','.join(sorted(excluded))}"]
    log = open(course / f"stock-{len(excluded)}-{time.monotonic_ns()}.log", "w")
    return subprocess.Popen(command, cwd=course, env=nbgrader_env() | env, stdout=log, stderr=subprocess.STDOUT)


def stock_outcome(course: Path, assignment: str, student: str) -> ag.Outcome:
    """What stock nbgrader did with a submission, read from its autograded notebook (none: not graded)."""
    path = course / "autograded" / student / assignment / f"{assignment}.ipynb"
    if not path.is_file():
        return ag.Outcome(student, False, "stock nbgrader wrote no autograded notebook", 0.0)
    notes = ag.notes({assignment: nbformat.read(path, as_version=4)})
    return ag.Outcome(student, True, "; ".join(["graded", *notes]), 0.0)


def finished(course: Path, assignment: str, bank: list[Sample], outcomes: dict[str, ag.Outcome], start: float) -> Pass:
    seconds = time.perf_counter() - start
    return Pass(bank, outcomes, ag.scores(course, assignment), manual_flags(course, assignment), seconds)


def grade_bank(assignment: str, tmp_path_factory) -> Graded:
    """The assignment's bank submitted to a fresh course, graded by our runner, then by stock nbgrader, each kernel
    under the bank's memory cap (`BANK_MEMORY_LIMIT`)."""
    tmp = tmp_path_factory.mktemp(assignment)
    course = released_course(tmp / "course", assignment)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("NBGRADER_EXCHANGE", str(tmp / "exchange"))
        env.setenv("COURSE_MEMORY_LIMIT", BANK_MEMORY_LIMIT)
        bank = samples(assignment)
        for sample in bank:
            sample.submit(course, assignment)
        result = Graded(assignment, course, bank)
        result.passes.append(grade_with_runner(course, assignment, bank))
        result.passes.append(grade_with_stock_nbgrader(course, assignment, bank))
        result.feedback = generate_feedback(course, assignment)
    report_times(result)
    return result


def report_times(result: Graded) -> None:
    """Seconds per notebook and per pass (shown with -s, and in the failure report)."""
    lines = [f"[{result.assignment}] {len(result.bank)} samples"]
    for number, grading in enumerate(result.passes, 1):
        each = ", ".join(f"{o.student} {o.seconds:.0f}s" for o in grading.outcomes.values())
        lines.append(f"  pass {number}: {grading.seconds:.0f} s in all; {each}")
    print("\n".join(lines))


# Reading the autograded notebooks ----------------------------------------------------------------
def autograded_outputs(course: Path, assignment: str, student: str) -> dict[str, str]:
    """grade id -> the text its test cell printed, in the autograded notebook."""
    path = course / "autograded" / student / assignment / f"{assignment}.ipynb"
    return {gid: cell_text(cell) for gid, cell in graded_cells(nbformat.read(path, as_version=4)).items()}


def why(course: Path, assignment: str, student: str, grade_id: str) -> str:
    try:
        text = autograded_outputs(course, assignment, student).get(grade_id, "")
    except FileNotFoundError:
        return "(no autograded notebook)"
    return " | ".join(line.strip() for line in text.strip().splitlines()[-4:])[:600]


#: What a report line says when grading was cut short or left something out: a sample must name it to meet it.
INTERRUPTED = re.compile(r"exceeded in cell|the kernel died|ran past the per-cell time limit|not read \(|grading job failed")


def says(message: str, outcome: str) -> bool:
    """Whether a report line says `outcome`: the plain "graded" only when nothing cut grading short (a correct sample
    that hits a limit fails it); any other outcome, by the text it names."""
    if outcome == "graded":
        return message.startswith("graded") and not INTERRUPTED.search(message)
    return outcome in message


# The tests -----------------------------------------------------------------------------------------
class Bank:
    """The bank's tests of one assignment (`assignment`), whose samples the class-scoped `graded` grades twice. One
    class per assignment: `make test` (pytest-xdist, --dist loadscope) grades each on a worker of its own."""

    assignment: str

    @pytest.fixture(scope="class")
    @classmethod
    def graded(cls, tmp_path_factory) -> Graded:
        return grade_bank(cls.assignment, tmp_path_factory)

    @pytest.mark.parametrize("number", range(1, PASSES + 1))
    def test_every_sample_gets_its_expected_score(self, graded: Graded, number: int):
        grading = graded.passes[number - 1]
        manual = set(manual_cells(graded.assignment))
        wrong = []
        for sample in grading.samples:
            found = grading.scores.get(sample.name)
            if found is None:
                wrong.append(f"{sample.name}: not in the gradebook")
                continue
            assert set(found) == set(sample.expected), (sample.name, sorted(found), sorted(sample.expected))
            for grade_id, expected in sample.expected.items():
                score, _ = found[grade_id]
                if grade_id in manual and expected is None:
                    if not grading.manual[sample.name][grade_id]:
                        wrong.append(f"{sample.name}: {grade_id} is not left for manual grading (score {score:g})")
                elif expected is None or not math.isclose(score, expected, abs_tol=TOLERANCE):
                    outcome = grading.outcomes[sample.name]
                    reason = why(graded.course, graded.assignment, sample.name, grade_id)
                    wrong.append(
                        f"{sample.name}: {grade_id} expected {expected}, got {score:g}  <- outcome {outcome.graded} "
                        f"{outcome.message!r} ({outcome.seconds:.0f} s); the autograded cell now shows: {reason}"
                    )
        assert not wrong, f"pass {number} of {graded.assignment}:\n" + "\n".join(wrong)

    @pytest.mark.parametrize("number", range(1, PASSES + 1))
    def test_outcomes_say_what_happened(self, graded: Graded, number: int):
        """The runner's Outcome says it; stock nbgrader's autograded notebook says the same, except that
        stock nbgrader leaves no trace of a submission it could not read."""
        grading = graded.passes[number - 1]
        outcomes = grading.outcomes
        assert sorted(outcomes) == sorted(s.name for s in grading.samples)
        stock = number == 2
        wrong = [
            f"{s.name}: graded={outcomes[s.name].graded} {outcomes[s.name].message!r}; expected graded={s.graded} "
            f"and a message containing {s.outcome!r}" + (", and no limit, death or skipped file" if s.outcome == "graded" else "")
            for s in grading.samples
            if outcomes[s.name].graded != s.graded
            or (not says(outcomes[s.name].message, s.outcome) and not (stock and not s.graded))
        ]
        assert not wrong, "\n".join(wrong)

    @pytest.mark.parametrize("number", range(1, PASSES + 1))
    def test_a_pipeline_that_stops_after_green_steps_says_they_clash(self, graded: Graded, number: int):
        """A sample whose step checks all earn full marks, but whose whole pipeline stops, is told that the steps
        pass alone and fail together, never to fix a check that passed."""
        top = full_marks(graded.assignment)
        steps = [grade_id for grade_id in top if grade_id.endswith("_tests") and grade_id != "results_tests"]
        grading = graded.passes[number - 1]
        green = [s for s in grading.samples if s.kind == "fills" and all(s.expected.get(g) == top[g] for g in steps)]
        outcomes = grading.outcomes
        stopped = [s.name for s in green if "the whole pipeline stopped" in outcomes[s.name].message]
        unexplained = [
            f"{name}: {outcomes[name].message!r}"
            for name in stopped
            if "together they fail here" not in outcomes[name].message or "whose self-check failed" in outcomes[name].message
        ]
        assert not unexplained, "\n".join(unexplained)
        if graded.assignment in ("tf2_pipeline", "torch_pipeline"):  # the bank holds a clash in each
            assert stopped, f"no sample of {graded.assignment} stops its pipeline after green steps"

    def test_unfilled_release_says_not_implemented_for_every_step(self, graded: Graded):
        outputs = autograded_outputs(graded.course, graded.assignment, "unfilled")
        manual = set(manual_cells(graded.assignment))
        for grade_id, text in outputs.items():
            if grade_id in manual:
                continue
            step = grade_id.removesuffix("_tests")
            if step == "results":
                assert "did not produce a trained model" in text, text
            else:  # the self-check's one ✗ line names the step and says the stub is still there
                first = text.strip().splitlines()[0]
                assert first.startswith("✗") and step in first, (grade_id, text)
                assert "not implemented" in first or "not written yet" in first, (grade_id, text)
                assert "NotImplementedError" in first, (grade_id, text)

    @pytest.mark.parametrize("number", range(1, PASSES + 1))
    def test_the_batch_keeps_its_time_budget(self, graded: Graded, number: int):
        assert graded.passes[number - 1].seconds < BUDGET, f"pass {number} of {graded.assignment} took too long"

    def test_feedback_for_every_graded_student(self, graded: Graded):
        """An HTML report per graded student, showing each failed step's ✗ message as the autograded notebook has it."""
        assert graded.feedback.returncode == 0, graded.feedback.stdout + graded.feedback.stderr
        shown = 0
        for sample in graded.bank:
            path = graded.course / "feedback" / sample.name / graded.assignment / f"{graded.assignment}.html"
            if not sample.graded:
                continue
            assert path.is_file(), path
            page = html.unescape(path.read_text(encoding="utf-8"))
            outputs = autograded_outputs(graded.course, graded.assignment, sample.name)
            for grade_id, points in sample.expected.items():
                failures = [line for line in outputs[grade_id].splitlines() if line.startswith("✗")]
                if points == 0 and failures:
                    shown_text = failures[0].split("\x1b")[0]  # up to any ANSI colour code (Keras puts some in errors)
                    assert shown_text in page, (sample.name, grade_id, failures[0])
                    shown += 1
        assert shown, "no failure message was checked"

    def test_gradebook_holds_every_sample_once(self, graded: Graded):
        with Recorder(graded.course).gradebook() as gb:
            students = sorted(s.student.id for s in gb.find_assignment(graded.assignment).submissions)
        assert students == sorted(s.name for s in graded.bank)

    def test_bank_files_are_valid(self, graded: Graded):
        """The submitted notebooks are what the bank says (valid JSON, except the corrupt one)."""
        for sample in graded.bank:
            path = graded.course / "submitted" / sample.name / graded.assignment / f"{graded.assignment}.ipynb"
            text = path.read_text(encoding="utf-8")
            if sample.kind == "corrupt":
                with pytest.raises(json.JSONDecodeError):
                    json.loads(text)
            else:
                nbformat.validate(nbformat.reads(text, as_version=4))


class TestTf1Pipeline(Bank):
    assignment = "tf1_pipeline"


class TestTf2Pipeline(Bank):
    assignment = "tf2_pipeline"


class TestTorchPipeline(Bank):
    assignment = "torch_pipeline"  # the bank's attacks and its hanging sample

    def test_no_process_outlives_the_batch(self, graded: Graded):
        """Every process an attack started carries MARKER (only this bank's attacks start any, so another bank grading
        beside it on the other worker cannot be mistaken for them); none may be left after grading."""
        assert [s.name for s in graded.bank if any(MARKER in source for source in s.fills.values())], "no attack starts a process"
        assert processes_with(MARKER) == []

    def test_hanging_cell_is_stopped_by_the_timeout(self, graded: Graded):
        path = graded.course / "autograded" / HANGING / graded.assignment / f"{graded.assignment}.ipynb"
        cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nbformat.read(path, as_version=4).cells}
        hung = [gid for gid, c in cells.items() if "while True" in c.source]
        assert len(hung) == 1, hung
        assert "CellTimeoutError" in cell_text(cells[hung[0]]), cell_text(cells[hung[0]])

    def test_the_class_report_reads_the_class_graded_here(self, graded: Graded):
        """`python -m graders report` on the bank's torch class, graded for real above (last by stock nbgrader): the figures
        it reads are what grading wrote, so a change in the grader's messages cannot leave the report's tests green."""
        from graders.review.gather import read_class
        from graders.review.struggles import failure_groups, pipeline_groups, results_scale, step_figures

        command = [sys.executable, "-m", "graders", "report", graded.assignment, "--root", str(graded.course)]
        done = subprocess.run(command, cwd=graded.course, env=nbgrader_env(), capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        assert (graded.course / "reports" / f"{graded.assignment}.html").is_file()
        graded_class = read_class(graded.course, graded.assignment)
        scores = graded.passes[-1].scores
        assert {s.student: s.score for s in graded_class.submissions.values() if s.grades} == pytest.approx(
            {student: sum(score for score, _ in cells.values()) for student, cells in scores.items()})
        figures = {f.cell.name: f for f in step_figures(graded_class)}
        for grade_id, figure in figures.items():  # each step's pass count, as the gradebook has it
            assert figure.passed == sum(cells[grade_id][0] >= cells[grade_id][1] for cells in scores.values()), grade_id
        # the real failure message of a sample, grouped under its step; the real guard line of the clash
        assert any("learning_rate_50" in group.students and "one step of your optimizer" in group.pattern
                   for group in failure_groups(graded_class, "make_loss_and_optimizer_tests"))
        assert any("batches_without_len" in group.students and "clash" in group.pattern for group in pipeline_groups(graded_class))
        assert results_scale(graded_class).reference is not None
        assert graded_class.submissions["reference"].accuracy is not None


class TestFrameworkComparison(Bank):
    assignment = "framework_comparison"  # the one with written answers

    def test_written_answers_are_left_for_manual_grading(self, graded: Graded):
        manual = manual_cells(graded.assignment)
        assert manual, "framework_comparison asks for written answers"
        for number, grading in enumerate(graded.passes, 1):
            for sample in grading.samples:
                for gid in manual:
                    left = grading.manual[sample.name][gid]
                    assert left == (sample.expected[gid] is None), (number, sample.name, gid, left)
