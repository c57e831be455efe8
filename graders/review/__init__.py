"""After grading, the class report: where the class struggles, and which submissions are alike.

``python -m graders report ASSIGNMENT`` (`write_report`) reads the gradebook and ``autograded/``
and writes one self-contained page, ``reports/<assignment>.html`` (and, with ``--csv``, the
flagged pairs for a spreadsheet); it writes nothing else and changes no score. One module per concern:

* `gather`: reading the gradebook (SQLite or PostgreSQL, through nbgrader's `Gradebook`) and the
  autograded notebooks (the ✓/✗ lines of each test cell, the solution cells, the results line,
  limits, timestamps), the source and release notebooks;
* `losses`: each submission's loss history (the values a notebook exposes, else its plot digitised);
* `struggles`: the figures: per step pass rates and failure messages grouped, results, curves, outliers;
* `similarity`: per step and written answer, pairs of submissions close after normalisation
  (copydetect's winnowed fingerprints), against classmates, the reference and earlier terms;
* `plots`: the matplotlib figures; `page`: the HTML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from graders.review.similarity import Settings


@dataclass
class Report:
    """What `write_report` wrote and what the terminal shows of it."""

    page: Path
    csv: Path | None
    lines: list[str] = field(default_factory=list)


def write_report(
    course: str | Path,
    assignment: str,
    *,
    against: str | Path | None = None,
    csv: str | Path | None = None,
    settings: Settings = Settings(),
    top: int = 5,
) -> Report:
    """Write ``<course>/reports/<assignment>.html`` (and the CSV of flagged pairs); return the summary lines."""
    from graders.review import page, similarity, struggles
    from graders.review.gather import read_class

    course = Path(course).resolve()
    graded = read_class(course, assignment)
    figures = struggles.step_figures(graded)
    similar = similarity.find_similar(graded, Path(against) if against else None, settings)
    html = page.render(
        graded, figures, struggles.pipeline_groups(graded), struggles.results_scale(graded), struggles.class_curves(graded),
        similar, settings, str(against) if against else None,
    )
    path = course / "reports" / f"{assignment}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    written_csv = None
    if csv is not None:
        written_csv = Path(csv)
        similarity.write_csv(similar, written_csv)
    return Report(path, written_csv, summary(graded, figures, similar, top))


def _students(count: int) -> str:
    return f"{count} student" + ("" if count == 1 else "s")


def summary(graded, figures, similar, top: int = 5) -> list[str]:
    """The terminal's lines: what could not be read, the lowest-passing step, the top flagged pairs."""
    from graders.review.page import alike
    from graders.review.struggles import lowest_step

    lines = list(graded.notices)
    graded_count = len(graded.submissions)
    lines.append(f"{graded.assignment}: {graded_count} graded submissions, {len(graded.not_graded)} students without one")
    for student, why in sorted(graded.not_graded.items()):
        lines.append(f"  not graded: {student}: {why}")
    for submission in sorted(graded.submissions.values(), key=lambda s: s.student):
        for problem in submission.problems:
            lines.append(f"  {submission.student}: {problem}")
    lowest = lowest_step(figures)
    if lowest is not None:
        lines.append(
            f"lowest-passing step: {lowest.cell.step} ({lowest.passed} of {lowest.graded} students with full points)"
            + (f"; most often: {lowest.groups[0].example} ({_students(lowest.groups[0].count)})" if lowest.groups else "")
        )
    groups = sorted(((step.step, group) for step in similar for group in alike(step.pairs)),
                    key=lambda sg: (-sg[1].pairs[0].figure, -len(sg[1].members)))
    pairs = sum(len(step.pairs) for step in similar)
    lines.append(f"similar pairs (evidence for a person to read; no score changed): {pairs}"
                 + (f" in {len(groups)} groups; the closest:" if pairs else ""))
    for step, group in groups[:top]:
        pair = group.pairs[0]
        if len(group.members) == 2:
            lines.append(f"  {step:<24} {pair.a} / {pair.b}: {pair.figure:.0%}")
        else:
            names = ", ".join(group.members[:6]) + (f" and {len(group.members) - 6} more" if len(group.members) > 6 else "")
            lines.append(f"  {step:<24} {len(group.members)} texts alike, up to {pair.figure:.0%}: {names}")
    return lines
