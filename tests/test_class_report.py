"""`python -m graders report ASSIGNMENT`: the class report, on a class graded without a kernel (tests/graded_class.py).

One course for the module: torch_pipeline graded for 28 students (the sample bank's broken submissions with the
messages their real grading printed, four known copies, independent correct solutions, two students who handed
in the release as it was, and the students the report must account for: a corrupt submission, an unreadable
autograded notebook, a missing one, one submitted and not graded, one on the roster only); framework_comparison
with written answers; tf2_pipeline released and not graded; tf1_pipeline not released at all.
"""

from __future__ import annotations

import csv
import hashlib
import html
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import graded_class as G
import numpy as np
import pytest

from graders.cli import main
from graders.review import page, write_report
from graders.review.gather import failure_lines, read_class
from graders.review.losses import EXPOSED_MIME, digitise, read_history
from graders.review.similarity import REFERENCE, Settings, compare_step, find_similar, prose
from graders.review.struggles import class_curves, failure_groups, pattern, pipeline_groups, results_scale, step_figures


@dataclass
class Course:
    root: Path
    students: dict[str, G.Student]


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Course:
    students = G.torch_class()
    root = G.graded_course(tmp_path_factory.mktemp("class") / "course", students)
    G.new_course(root, "tf2_pipeline", "tf1_pipeline", G.C)
    G.register(root, "tf2_pipeline")  # released, nothing graded
    G.register(root, G.C)
    G.write_class(root, G.C, G.comparison_class())
    return Course(root, {s.name: s for s in students})


@pytest.fixture(scope="module")
def graded(course):
    return read_class(course.root, G.A)


@pytest.fixture(scope="module")
def similar(graded):
    return {step.step: step for step in find_similar(graded)}


@pytest.fixture(scope="module")
def report(course):
    return write_report(course.root, G.A, csv=course.root / "pairs.csv")


def flagged(step) -> set[frozenset]:
    return {frozenset((p.a, p.b)) for p in step.pairs}


# -- similarity --------------------------------------------------------------------------------------------
def test_known_copies_are_found_at_the_step_they_copied(similar):
    for student, source, step in G.COPIES:  # renamed variables, reordered functions, comments and whitespace, the reference
        assert frozenset((student, source)) in flagged(similar[step]), f"{student} copied {step} from {source}"
        pair = next(p for p in similar[step].pairs if {p.a, p.b} == {student, source})
        marked_a, marked_b = pair.marked()
        assert pair.figure >= 0.9 and "<mark>" in marked_a and "<mark>" in marked_b


def test_independent_solutions_and_the_given_code_alone_are_not_flagged(similar):
    """ada, ben, cleo and dan write the steps their own way (the bank's sequential, functional and tutorial
    variants); gus and hal hand in the release as it was: they share its given code and nothing else."""
    copies = {(frozenset((a, b)), step) for a, b, step in G.COPIES}
    independent = set(G.INDEPENDENT) | {REFERENCE}
    for name, step in similar.items():
        for pair in step.pairs:
            if {pair.a, pair.b} <= independent:
                assert (frozenset((pair.a, pair.b)), name) in copies, f"{pair.a} / {pair.b} flagged at {name}: {pair.figure:.2f}"
            assert not {pair.a, pair.b} & {"gus", "hal"}, f"{pair.a} / {pair.b} flagged at {name}"
    assert similar["train"].documents < len(G.torch_class())  # released stubs are boilerplate: not even compared


def test_the_prefilter_drops_no_pair_that_an_exact_comparison_would_flag(graded):
    """Only pairs that share enough fingerprints are compared exactly: on this class, comparing every pair gives
    the same flags."""
    for step, kind in graded.solution_kinds.items():
        texts = {s.student: s.code.get(step) for s in graded.submissions.values() if s.code.get(step)}
        texts[REFERENCE] = graded.reference_code[step]
        fast = compare_step(step, kind, texts, graded.boilerplate[step], Settings())
        every = compare_step(step, kind, texts, graded.boilerplate[step], Settings(prefilter=0.0))
        assert flagged(fast) == flagged(every), step
        assert fast.compared <= every.compared


def test_written_answers_copied_from_a_classmate_or_the_model_answer_are_found(course):
    results = {step.step: step for step in find_similar(read_class(course.root, G.C))}
    assert flagged(results["q_debugging"]) == {frozenset(("ann", "bob"))}  # reworded, recased, a sentence added
    assert flagged(results["q_rebuild_cost"]) == {frozenset(("dee", REFERENCE))}  # the model answer in capitals
    assert not flagged(results["q_variable_length"])
    assert not any(results[step].pairs for step, kind in read_class(course.root, G.C).solution_kinds.items() if kind == "code")


def test_earlier_terms_are_compared_with_every_student(course, graded, tmp_path):
    earlier = tmp_path / "2025" / "zed" / G.A
    earlier.mkdir(parents=True)
    shutil.copy(course.root / "autograded" / "ada" / G.A / f"{G.A}.ipynb", earlier / f"{G.A}.ipynb")
    results = {step.step: step for step in find_similar(graded, tmp_path)}
    old = "earlier term: 2025/zed/torch_pipeline"
    assert {frozenset(("ada", old)), frozenset(("ben", old))} <= flagged(results["train"])
    assert not any(old in pair and REFERENCE in pair for step in results.values() for pair in flagged(step))


def test_a_students_code_is_shown_as_text_never_as_markup():
    code = 'def report(model, splits):\n    note = "</pre><script>alert(1)</script>"\n' + "    total = model(splits) * 2\n" * 8
    step = compare_step("report", "code", {"ann": code, "bob": code.replace("total", "value")}, [], Settings())
    shown = page._pair("pair", step.pairs[0])
    assert "<script>" not in shown and "&lt;script&gt;" in shown and "<mark>" in shown


def test_prose_keeps_the_words_and_where_they_were():
    words, positions = prose("**Model answer.** In TF1,\n`print(mean)`")
    assert words == "model answer in tf1 print mean"
    assert [("**Model answer.** In TF1,\n`print(mean)`")[i] for i in positions[:5]] == list("Model")


def test_the_csv_has_one_row_per_pair_and_step(report, course, similar):
    rows = list(csv.DictReader((course.root / "pairs.csv").open()))
    assert len(rows) == sum(len(step.pairs) for step in similar.values())
    assert {"student_a": "fay", "student_b": REFERENCE, "step": "report"}.items() <= next(
        r for r in rows if r["student_a"] == "fay" and r["student_b"] == REFERENCE).items()
    assert all(0.75 <= float(r["match"]) <= 1.0 for r in rows)


# -- where the class struggles ----------------------------------------------------------------------------------
def test_failure_groups_count_exactly_the_known_failures(course, graded):
    read = {s.student for s in graded.submissions.values() if s.read}
    for cell in graded.test_cells:
        groups = failure_groups(graded, cell.name)
        found = {student for group in groups for student in group.students}
        expected = {name for name in read if cell.name in G.expected_failures(course.students[name])}
        assert found == expected, cell.name
    by_pattern = {(cell.name, g.pattern): set(g.students) for cell in graded.test_cells for g in failure_groups(graded, cell.name)}
    shape = "step 3 (build_model): logits shape — expected (#, #), found (#, #). Look at: the size of the last layer: num_classes outputs."
    assert by_pattern[("build_model_tests", shape)] == {"nine_classes", "eleven_classes"}  # (32, 9) and (32, 11): one group
    assert by_pattern[("build_model_tests", pattern(G.LOGITS))] == {"cleo", "dan"}
    diverging = [students for (cell, text), students in by_pattern.items()
                 if cell == "make_loss_and_optimizer_tests" and "test accuracy after # steps" in text]
    assert diverging == [{"learning_rate_50", "learning_rate_20"}]
    unwritten = pattern(G.NOT_IMPLEMENTED.format(n=6, step="train"))
    assert by_pattern[("train_tests", unwritten)] == {"unfilled", "dan", "eve", "fay", "gus", "hal"}
    assert by_pattern[("accuracy_tests", "KernelDied: not run: the kernel died in cell accuracy (exit code #)")] == {"kernel_exit"}
    assert by_pattern[("train_tests", "NameError: name 'train' is not defined")] == {"hanging"}
    # the hidden test's line that is the public line without its hint is the same failure, not a second group
    assert [g.count for g in failure_groups(graded, "load_and_preprocess_tests") if "test examples" in g.pattern] == [1]
    stops = {g.pattern: set(g.students) for g in pipeline_groups(graded)}
    assert any("clash" in text and students == {"batches_without_len"} for text, students in stops.items())


def test_a_cells_failures_are_read_from_stderr_its_error_or_else_its_stdout():
    """As graders.report.cell_message reads them: the public ✗ lines and the hidden test's CheckFailed (each failure
    once), a hidden test that writes its error alone, any other error's first line, and a results line."""
    both = {"outputs": [_stream("stderr", "✗ step 3 (build_model): a.\n"),
                        _error("CheckFailed", "step 3 (build_model): a.\nstep 3 (build_model): b.")]}
    alone = {"outputs": [_error("CheckFailed", "step 6 (train): c.\nstep 6 (train): d.")]}
    other = {"outputs": [_error("InvalidArgumentError", "\n  logits and labels must be broadcastable\n\t [[node x]]")]}
    results = {"outputs": [_stream("stdout", "~ results: ...\nresults: held-out accuracy 0.1 (reference 0.95) earns 0 of 3 points\n")]}
    assert failure_lines(both) == ["step 3 (build_model): a.", "step 3 (build_model): b."]
    assert failure_lines(alone) == ["step 6 (train): c.", "step 6 (train): d."]
    assert failure_lines(other) == ["InvalidArgumentError: logits and labels must be broadcastable"]
    assert failure_lines(results) == ["results: held-out accuracy 0.1 (reference 0.95) earns 0 of 3 points"]


def _stream(name: str, text: str) -> dict:
    return {"output_type": "stream", "name": name, "text": text}


def _error(ename: str, evalue: str) -> dict:
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": []}


def test_points_per_step_follow_the_gradebook(course, graded):
    figures = {f.cell.name: f for f in step_figures(graded)}
    assert [f.cell.step for f in figures.values()] == [*G.STEPS, "results"]
    for name, f in figures.items():
        scored = [s for s in graded.submissions.values() if name in s.grades]
        assert f.graded == len(scored) == 26
        assert f.passed == sum(s.grades[name].score >= f.cell.max_score for s in scored)
    assert graded.submissions["reference"].score == 16 and graded.submissions["unfilled"].score == 0
    assert graded.submissions["learning_rate_50"].score == 11


def test_results_against_the_reference_and_the_scale(graded):
    scale = results_scale(graded)
    assert (scale.reference, scale.full, scale.floor) == (pytest.approx(0.944444), pytest.approx(0.924444), 0.5)  # references.json
    assert "references.json (torch, digits)" in scale.source
    accuracies = {s.student: s.accuracy for s in graded.submissions.values() if s.accuracy is not None}
    assert accuracies["reference"] == pytest.approx(0.95) and accuracies["learning_rate_20"] == pytest.approx(0.1722)
    assert "unfilled" not in accuracies and "kernel_exit" not in accuracies


def test_loss_curves_are_read_back_from_the_plots(course, graded):
    curves = class_curves(graded)
    for name in curves.students:
        truth, read = course.students[name].history, graded.submissions[name].curve
        assert read.source == "plot"
        assert read.steps[0] == pytest.approx(1, abs=1.5) and read.steps[-1] == pytest.approx(len(truth), abs=2)
        bins = np.linspace(1, len(truth), 25)  # a pixel column averages a step or two of minibatch noise: compare by stretches
        steps = np.arange(1, len(truth) + 1)
        true_means = [truth[(steps >= a) & (steps < b)].mean() for a, b in zip(bins, bins[1:])]
        read_means = [read.losses[(read.steps >= a) & (read.steps < b)].mean() for a, b in zip(bins, bins[1:])]
        error = np.abs(np.array(read_means) - true_means)
        assert np.median(error) < 0.02 * np.ptp(truth) + 2 * read.resolution, name
    assert curves.steps == pytest.approx(720, abs=2)
    assert set(curves.outliers) == {"learning_rate_50", "learning_rate_20", "no_optimizer_step"}
    assert "the whole pipeline did not reach train" in graded.submissions["unfilled"].curve_problem


def test_exposed_loss_values_are_read_as_they_are():
    history = [2.3, 1.1, None, 0.4]
    cell = {"source": "check.plot_losses(history)", "outputs": [
        {"output_type": "display_data", "data": {"image/png": "", EXPOSED_MIME: {"losses": history}}}]}
    found, why = read_history([cell])
    assert why is None and found.source == "exposed"
    np.testing.assert_array_equal(found.losses[[0, 1, 3]], [2.3, 1.1, 0.4])
    assert np.isnan(found.losses[2])


@pytest.mark.parametrize("history", [
    np.linspace(5e6, 1.0, 300),  # the axis says 1e6 above it
    2.302585 + 1e-4 * np.sin(np.arange(200) / 20),  # the axis says +2.302 above it
    -np.linspace(-1, 3, 50),  # negative losses: a wrong loss
    np.concatenate([[2.3], np.full(99, 0.01)]),  # one step, then flat
])
def test_plots_of_any_scale_are_read_through_their_axes(history):
    found, why = digitise(__import__("base64").b64decode(G.loss_plot(tuple(history))))
    assert why is None
    expected = np.interp(found.steps, np.arange(1, len(history) + 1), history)
    assert np.median(np.abs(found.losses - expected)) <= max(0.02 * np.ptp(history), 2 * found.resolution)


def test_limits_reference_code_and_every_student_not_graded_get_a_line(report, graded, similar):
    limits = {s.student: s.limits for s in graded.submissions.values() if s.limits}
    assert limits == {
        "kernel_exit": ["the kernel died in cell accuracy (exit code 1) of torch_pipeline.ipynb"],
        "hanging": ["cell train of torch_pipeline.ipynb ran past the per-cell time limit and was stopped"],
    }
    # reference code used: the grading kernel holds none, so it shows as the reference's text in a submission (the
    # bank builds most students on the reference's cells; fay renamed the reference's report, the release has none)
    like = {student: [pair.step for pair in pairs] for student, pairs in page.like_reference(list(similar.values())).items()}
    assert "report" in like["fay"] and "unfilled" not in like
    shown = html.unescape(report.page.read_text())
    assert re.search(r"<td>fay</td><td>reference code</td><td>report: \d+% alike \(see Similar submissions\)</td>", shown)
    assert graded.not_graded["kim"].startswith("submitted, not autograded yet")
    assert graded.not_graded["lee"] == "no submission"
    problems = {s.student: " ".join(s.problems) for s in graded.submissions.values() if s.problems}
    assert problems.keys() == {"corrupt", "ivan", "jo"}
    assert "submitted torch_pipeline.ipynb is not valid JSON" in problems["corrupt"]
    assert "autograded notebook torch_pipeline.ipynb is not valid JSON" in problems["ivan"]
    assert "no autograded notebook" in problems["jo"]
    said = "\n".join(report.lines)
    for name in ("kim", "lee", "corrupt", "ivan", "jo"):
        assert f"{name}: " in said
    assert report.page.is_file()


def test_seconds_come_from_the_cells_timestamps(graded):
    seconds = {s.student: s.seconds for s in graded.submissions.values() if s.read}
    assert seconds["gus"] is None and seconds["hal"] is None  # our runner's replay: no timestamps
    assert seconds["reference"] == pytest.approx(5.0, abs=0.01)


# -- the command ------------------------------------------------------------------------------------------
def test_the_command_prints_the_summary_and_where_the_page_is(course, graded, capsys):
    assert main(["report", G.A, "--root", str(course.root), "--csv", str(course.root / "cli.csv")]) == 0
    said = capsys.readouterr().out
    results = next(f for f in step_figures(graded) if f.cell.name == "results_tests")
    assert f"lowest-passing step: results ({results.passed} of 26 students with full points)" in said
    assert "similar pairs (evidence for a person to read; no score changed)" in said
    assert f"class report: {course.root / 'reports' / 'torch_pipeline.html'}" in said
    assert (course.root / "cli.csv").is_file()
    assert main(["report", "no_such_assignment", "--root", str(course.root)]) == 2


def test_the_report_writes_its_page_and_nothing_else(course):
    def snapshot():
        return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in course.root.rglob("*")
                if p.is_file() and "reports" not in p.parts and p.suffix != ".csv"}

    before = snapshot()
    done = write_report(course.root, G.A)
    assert snapshot() == before
    assert done.page == course.root / "reports" / "torch_pipeline.html"


@pytest.mark.parametrize("assignment, says", [
    ("tf2_pipeline", "tf2_pipeline is not graded yet: the gradebook holds no submission of it"),
    ("tf1_pipeline", "has no assignment 'tf1_pipeline': it is not released or graded yet"),
])
def test_an_assignment_not_graded_yet_gets_a_line_and_its_page(course, assignment, says):
    done = write_report(course.root, assignment)
    assert any(says in line for line in done.lines)
    assert says in html.unescape(done.page.read_text())


def test_without_a_gradebook_scores_come_from_the_autograded_notebooks(course, tmp_path):
    root = G.new_course(tmp_path / "course", G.A)
    for name in ("reference", "nine_classes"):
        shutil.copytree(course.root / "autograded" / name, root / "autograded" / name)
    done = write_report(root, G.A)
    assert any("there is no gradebook" in line for line in done.lines)
    assert not (root / "gradebook.db").exists()  # nbgrader would have made one: the report asks first
    graded = read_class(root, G.A)
    assert graded.submissions["reference"].score == 16 and graded.submissions["nine_classes"].score == 11


def test_a_postgresql_gradebook_is_read_like_sqlite(postgres, monkeypatch, tmp_path, course, graded):
    url = postgres.create_database(f"report_{tmp_path.name}")
    monkeypatch.setenv("COURSE_DB_URL", url)
    root = G.new_course(tmp_path / "course", G.A)
    assert any("holds no nbgrader tables" in n for n in read_class(root, G.A).notices)  # and none were made
    students = [course.students[name] for name in ("reference", "nine_classes", "unfilled", "ada", "ben")]
    G.register(root, G.A)
    G.write_class(root, G.A, students)
    read = read_class(root, G.A)
    assert {s.student: s.score for s in read.submissions.values()} == {s.name: graded.submissions[s.name].score for s in students}
    assert read.submissions["nine_classes"].failures == graded.submissions["nine_classes"].failures
    assert postgres.password not in read.gradebook and "***" in read.gradebook


# -- the page in a browser ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_the_page_in_chromium_shows_its_figures_and_a_flagged_pair(report, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(report.page.as_uri())
        images = page.locator("img")
        assert images.count() >= 5
        for index in range(images.count()):
            image = images.nth(index)
            image.scroll_into_view_if_needed()
            assert image.is_visible() and image.evaluate("i => i.complete && i.naturalWidth > 300")
        assert page.get_by_text("Similarity is evidence for a person to read").is_visible()
        pair = page.locator("div.pair").filter(has_text="train: ada and ben")
        pair.scroll_into_view_if_needed()
        code = pair.locator("pre").nth(1)
        assert code.is_visible() and "step_loss.backward()" in code.inner_text()
        assert code.locator("mark").count() > 0
        table = page.locator("#scores table")
        table.locator("th", has_text="points").first.click()  # sorted by points, lowest first
        assert float(table.locator("tbody tr").first.locator("td").nth(1).inner_text()) == 0
        table.locator("th", has_text="points").first.click()  # and again: highest first
        assert float(table.locator("tbody tr").first.locator("td").nth(1).inner_text()) == 16
    finally:
        page.close()
