"""The class report as one self-contained HTML page: figures as base64 PNGs, tables sortable by a few lines of inline
JavaScript, no server, no network, nothing fetched."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from datetime import datetime, timezone

from graders.review import plots
from graders.review.gather import GradedClass
from graders.review.losses import EXPOSED_MIME
from graders.review.similarity import EARLIER, REFERENCE, Pair, Settings, StepSimilarity
from graders.review.struggles import Curves, FailureGroup, ResultsScale, StepFigures

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em auto; max-width: 78em; padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; } h3 { margin-top: 1.4em; }
.meta, .note { color: #555; } .notices li { color: #8a4b00; }
nav a { margin-right: 1em; }
table { border-collapse: collapse; margin: 0.6em 0; } th, td { border: 1px solid #ddd; padding: 3px 8px; vertical-align: top; }
th { background: #f3f3f3; text-align: left; } table.sortable th { cursor: pointer; user-select: none; }
th[data-order=ascending]::after { content: " ▲"; } th[data-order=descending]::after { content: " ▼"; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
img { max-width: 100%; display: block; margin: 0.5em 0; }
.evidence { background: #fff6d6; border: 1px solid #e6c200; padding: 0.6em 1em; }
.pair { border: 1px solid #ccc; margin: 1em 0; padding: 0.5em 1em; }
.sides { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 1em; }
.sides pre { overflow-x: auto; background: #fafafa; border: 1px solid #eee; padding: 0.5em; margin: 0; font-size: 12px; white-space: pre; }
mark { background: #ffd54f; }
"""

SORT_SCRIPT = """
document.querySelectorAll("table.sortable th").forEach(th => th.addEventListener("click", () => {
  const body = th.closest("table").tBodies[0], index = Array.from(th.parentNode.children).indexOf(th);
  const ascending = th.dataset.order !== "ascending";
  th.parentNode.querySelectorAll("th").forEach(other => delete other.dataset.order);
  th.dataset.order = ascending ? "ascending" : "descending";
  const key = row => { const cell = row.children[index], text = cell.dataset.value ?? cell.textContent.trim();
    const number = parseFloat(text); return isNaN(number) ? [1, text.toLowerCase()] : [0, number]; };
  const rows = Array.from(body.rows).sort((a, b) => { const x = key(a), y = key(b);
    const order = x[0] - y[0] || (x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0); return ascending ? order : -order; });
  rows.forEach(row => body.appendChild(row));
}));
"""

EVIDENCE = (
    "Similarity is evidence for a person to read, not a verdict. Code can match because it follows the same "
    "tutorial, the same contract or the course's own hints; it can differ and still be copied. This report "
    "changes no score: read both pieces side by side, and talk with the students, before drawing any conclusion."
)


def e(value) -> str:
    return html.escape(str(value))


def _num(value, digits: int = 2, suffix: str = "") -> str:
    """A numeric table cell that sorts by its value; empty when there is none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return '<td class="num" data-value=""></td>'
    text = f"{value:.{digits}f}" if isinstance(value, float) else str(value)
    return f'<td class="num" data-value="{value}">{e(text)}{suffix}</td>'


def _table(headers: list[str], rows: list[str], sortable: bool = True) -> str:
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    return (f'<table{" class=sortable" if sortable else ""}><thead><tr>{head}</tr></thead><tbody>'
            + "".join(f"<tr>{row}</tr>" for row in rows) + "</tbody></table>")


def _img(png: str, alt: str) -> str:
    return f'<img src="data:image/png;base64,{png}" alt="{e(alt)}">'


def _students(names: list[str], limit: int = 40) -> str:
    shown = ", ".join(e(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


# -- sections ------------------------------------------------------------------------------------------
def render(
    graded: GradedClass,
    figures: list[StepFigures],
    pipeline: list[FailureGroup],
    scale: ResultsScale,
    curves: Curves | None,
    similar: list[StepSimilarity],
    settings: Settings,
    against: str | None,
) -> str:
    submissions = sorted(graded.submissions.values(), key=lambda s: s.student)
    parts = [
        "<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Class report: {e(graded.assignment)}</title><style>{STYLE}</style></head><body>",
        f"<h1>Class report: {e(graded.assignment)}</h1>",
        f'<p class="meta">Written {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC from the gradebook {e(graded.gradebook)} '
        f"and {e(graded.course.name)}/autograded/: {len(submissions)} graded submissions, "
        f"{len(graded.not_graded)} students without one.</p>",
    ]
    if graded.notices:
        parts.append('<ul class="notices">' + "".join(f"<li>{e(n)}</li>" for n in graded.notices) + "</ul>")
    sections = [
        ("scores", "Scores", _scores(graded, submissions, like_reference(similar))),
        ("steps", "Points per step", _steps(figures)),
        ("failures", "What failed, step by step", _failures(figures, pipeline)),
        ("results", "Held-out accuracy", _results(submissions, scale)),
        ("losses", "Loss curves", _losses(submissions, curves)),
        ("limits", "Limits and reference code", _limits(submissions, like_reference(similar))),
        ("not-graded", "Not graded", _not_graded(graded, submissions)),
        ("seconds", "Seconds per submission", _seconds(submissions)),
        ("similarity", "Similar submissions", _similarity(similar, settings, against)),
    ]
    parts.append("<nav>" + "".join(f'<a href="#{key}">{e(title)}</a>' for key, title, _ in sections) + "</nav>")
    for key, title, body in sections:
        parts.append(f'<section id="{key}"><h2>{e(title)}</h2>{body}</section>')
    parts.append(f"<script>{SORT_SCRIPT}</script></body></html>")
    return "\n".join(parts)


def like_reference(similar: list[StepSimilarity]) -> dict[str, list[Pair]]:
    """Student -> the flagged pairs of their code (or answers) with the reference solution: reference code used.

    The grading kernel holds no reference, so a submission can only have copied its text; this is where it shows."""
    found: dict[str, list[Pair]] = {}
    for step in similar:
        for pair in step.pairs:
            if pair.b == REFERENCE:
                found.setdefault(pair.a, []).append(pair)
    return found


def _scores(graded: GradedClass, submissions, reference: dict[str, list[Pair]]) -> str:
    if not submissions:
        return '<p class="note">No graded submission yet.</p>'
    maximum = max((s.max_score for s in submissions), default=0.0) or sum(c.max_score for c in graded.cells)
    rows = []
    for s in submissions:
        failed = [name.removesuffix("_tests") for name, g in s.grades.items() if not g.passed and not g.needs_manual_grade]
        like = reference.get(s.student, [])
        notes = s.limits + s.problems + ([f"like the reference in {', '.join(p.step for p in like)} (see Limits)"] if like else [])
        rows.append(
            f"<td>{e(s.student)}</td>" + _num(s.score, 2) + _num(s.max_score, 0) + _num(s.accuracy, 4)
            + f"<td>{e(', '.join(failed))}</td><td>{e(', '.join(s.manual_pending))}</td>" + _num(s.seconds, 1)
            + f"<td>{e('; '.join(notes))}</td>"
        )
    table = _table(["student", "points", "of", "held-out accuracy", "steps below full points", "awaiting a manual grade",
                    "seconds", "notes"], rows)
    return _img(plots.scores([s.score for s in submissions], maximum), "score distribution") + table


def _steps(figures: list[StepFigures]) -> str:
    if not figures:
        return '<p class="note">The gradebook lists no graded cell of this assignment.</p>'
    rows = [
        f"<td>{e(f.cell.step)}</td><td>{'autograded' if f.cell.kind == 'code' else 'written answer'}</td>"
        + _num(f.cell.max_score, 0) + _num(f.graded) + _num(f.passed)
        + _num(None if math.isnan(f.pass_rate) else round(100 * f.pass_rate, 1), 1, " %") + _num(f.mean, 2)
        for f in figures
    ]
    table = _table(["step", "graded by", "points", "students graded", "full points", "pass rate", "mean points"], rows)
    return _img(plots.steps(figures), "pass rate per step") + table


def _failures(figures: list[StepFigures], pipeline: list[FailureGroup]) -> str:
    parts = ['<p class="note">Each step\'s failure messages, grouped by what they say: numbers (#), quoted code and '
             "loss sparklines are left out of the grouping. One example as written, the number of students and who.</p>"]
    any_failure = False
    for f in figures:
        if not f.groups:
            continue
        any_failure = True
        parts.append(f"<h3>{e(f.cell.step)}: {f.graded - f.passed} of {f.graded} below full points</h3>")
        parts.append(_groups(f.groups))
    if pipeline:
        any_failure = True
        parts.append("<h3>Where the whole-pipeline cell stopped (not graded itself)</h3>" + _groups(pipeline))
    if not any_failure:
        parts.append('<p class="note">No failure message in the autograded notebooks read.</p>')
    return "".join(parts)


def _groups(groups: list[FailureGroup]) -> str:
    rows = [
        f"<td>{e(g.pattern)}<br><small class=note>e.g. {e(g.example)}</small></td>" + _num(g.count)
        + f"<td>{_students(g.students)}</td>"
        for g in groups
    ]
    return _table(["message", "students", "who"], rows)


def _results(submissions, scale: ResultsScale) -> str:
    values = [s.accuracy for s in submissions if s.accuracy is not None and not math.isnan(s.accuracy)]
    without = [s.student for s in submissions if s.accuracy is None]
    text = f'<p class="note">Reference: {e(scale.source)}.'
    if scale.full is not None:
        text += (f" Full points from {scale.full:.4f} (the reference {scale.reference:.4f} minus its margin), none at or "
                 f"below {scale.floor:.2f}, linear in between.")
    text += "</p>"
    if not values:
        return text + '<p class="note">No held-out accuracy in the autograded notebooks read.</p>'
    full = sum(v >= scale.full for v in values) if scale.full is not None else None
    none = sum(v <= scale.floor for v in values)
    text += (f"<p>{len(values)} trained models: median {sorted(values)[len(values) // 2]:.4f}"
             + (f"; {full} earn full points" if full is not None else "") + f"; {none} earn none.")
    if without:
        text += f" No trained model to evaluate: {_students(without)}."
    return _img(plots.accuracies(values, scale), "held-out accuracy histogram") + text + "</p>"


def _losses(submissions, curves: Curves | None) -> str:
    unread = [(s.student, s.curve_problem) for s in submissions if s.curve is None and s.curve_problem]
    sources = sorted({s.curve.source for s in submissions if s.curve is not None})
    note = (
        '<p class="note">Each submission\'s loss history as its whole-pipeline cell plotted it. '
        + ("Read from the values the notebooks expose. " if sources == ["exposed"] else
           "The notebooks expose no values, only the plot: the curves are read back from the plots' pixels through "
           "their axes (one point per pixel column, within a pixel or two of the true values). To read them exactly, "
           "the whole-pipeline cell would have to show the history with its plot, e.g. "
           f"<code>display({{\"image/png\": …, \"{e(EXPOSED_MIME)}\": {{\"losses\": history}}}}, raw=True)</code>: "
           "one float per training step (null for NaN); the report reads that first. ")
        + "</p>"
    )
    parts = [note]
    if curves is not None:
        parts.append(_img(plots.losses(curves), "loss curves of the class"))
        if curves.outliers:
            rows = [f"<td>{e(student)}</td><td>{e(why)}</td>" for student, why in sorted(curves.outliers.items())]
            parts.append("<h3>Outliers</h3>" + _table(["student", "curve"], rows))
    else:
        parts.append('<p class="note">No loss curve could be read.</p>')
    if unread:
        rows = [f"<td>{e(student)}</td><td>{e(why)}</td>" for student, why in unread]
        parts.append("<h3>No curve</h3>" + _table(["student", "why"], rows))
    return "".join(parts)


def _limits(submissions, reference: dict[str, list[Pair]]) -> str:
    rows = [f"<td>{e(s.student)}</td><td>limit</td><td>{e(note)}</td>" for s in submissions for note in s.limits]
    rows += [
        f"<td>{e(student)}</td><td>reference code</td><td>{e(pair.step)}: {pair.figure:.0%} alike (see Similar submissions)</td>"
        for student, pairs in sorted(reference.items()) for pair in pairs
    ]
    if not rows:
        return '<p class="note">No submission hit a limit or used reference code.</p>'
    return _table(["student", "what", "as the autograded notebook says"], rows)


def _not_graded(graded: GradedClass, submissions) -> str:
    rows = [f"<td>{e(student)}</td><td>{e(why)}</td>" for student, why in sorted(graded.not_graded.items())]
    rows += [f"<td>{e(s.student)}</td><td>{e(p)}</td>" for s in submissions for p in s.problems]
    pending = [s for s in submissions if s.manual_pending]
    parts = []
    if rows:
        parts.append(_table(["student", "why"], rows))
    else:
        parts.append('<p class="note">Every student on the roster has a graded submission that could be read.</p>')
    if pending:
        parts.append(f"<p>{len(pending)} submissions have written answers awaiting a manual grade in formgrader: "
                     f"{_students([s.student for s in pending])}.</p>")
    return "".join(parts)


def _seconds(submissions) -> str:
    timed = [s.seconds for s in submissions if s.seconds is not None]
    if not timed:
        return ('<p class="note">The autograded notebooks hold no cell timestamps (nbclient\'s <code>execution</code> '
                "metadata): stock nbgrader and formgrader keep them; the runner's replay of a job's outputs does not "
                "carry them over yet.</p>")
    untimed = [s.student for s in submissions if s.seconds is None and s.read]
    text = (f"<p>Median {sorted(timed)[len(timed) // 2]:.1f} s, longest {max(timed):.1f} s over {len(timed)} timed submissions"
            + (f"; not timed: {_students(untimed)}" if untimed else "") + ".</p>")
    return _img(plots.seconds(timed), "seconds per submission") + text


def _similarity(similar: list[StepSimilarity], settings: Settings, against: str | None) -> str:
    parts = [f'<p class="evidence"><strong>{e(EVIDENCE)}</strong></p>']
    compared = ", ".join(["the other students", "the reference solution"] + ([f"earlier terms ({against})"] if against else []))
    parts.append(
        f'<p class="note">Each step\'s code and each written answer is compared with {e(compared)}, after '
        "normalisation: names, strings, comments and formatting do not count, nor the order of functions; the "
        "release's given code never counts. Winnowed fingerprints (copydetect, the MOSS algorithm), "
        f"k = {settings.noise}, guaranteed matches from {settings.guarantee} normalised characters. A pair is listed "
        f"when at least {settings.min_match} normalised characters match and they cover {settings.threshold:.0%} or "
        "more of either side. The figure is the larger side's share.</p>"
    )
    groups = [(step, group) for step in similar for group in alike(step.pairs)]
    total = sum(len(s.pairs) for s in similar)
    if not total:
        parts.append("<p>No pair reaches the threshold.</p>")
        return "".join(parts)
    counts = ", ".join(f"{s.step}: {len(s.pairs)}" for s in similar if s.pairs)
    parts.append(
        f"<p>{total} flagged pairs ({e(counts)}) in {len(groups)} groups of alike texts (a group: texts linked by flagged "
        "pairs). Per group, side by side below: the closest pairs that link each member once.</p>"
    )
    rows = [
        f"<td>{e(step.step)}</td>" + _num(len(group.members)) + f"<td>{_students(group.members)}</td>"
        + _num(round(100 * group.pairs[0].figure, 1), 1, " %") + _num(len(group.pairs))
        + f'<td><a href="#{_anchor(step.step, group.shown[0])}">view</a></td>'
        for step, group in groups
    ]
    parts.append(_table(["step", "texts", "who", "closest match", "flagged pairs", ""], rows))
    pair_rows = [
        f"<td>{e(step.step)}</td><td>{e(pair.a)}</td><td>{e(pair.b)}</td>" + _num(round(100 * pair.figure, 1), 1, " %")
        + _num(round(100 * pair.match_a, 1), 1, " %") + _num(round(100 * pair.match_b, 1), 1, " %") + _num(pair.matched)
        for step in similar for pair in step.pairs
    ][:MAX_ROWS]
    more = f" (the first {MAX_ROWS}; the CSV of --csv holds all)" if total > MAX_ROWS else ""
    parts.append(f"<details><summary>Every flagged pair{more}</summary>"
                 + _table(["step", "student", "other", "match", "of the student's", "of the other's", "matched characters"],
                          pair_rows) + "</details>")
    for step, group in groups:
        parts.append(f"<h3>{e(step.step)}: {len(group.members)} texts alike: {_students(group.members)}</h3>")
        for owners in group.same:
            parts.append(f'<p class="note">The very same text: {_students(owners)}; shown once, as {e(owners[0])}\'s.</p>')
        parts.extend(_pair(_anchor(step.step, pair), pair) for pair in group.shown)
    return "".join(parts)


MAX_ROWS = 2000


def _anchor(step: str, pair: Pair) -> str:
    return "pair-" + "-".join(part.replace(" ", "_").replace(":", "") for part in (step, pair.a, pair.b))


@dataclass
class Group:
    """Texts of one step linked by flagged pairs: its members, its pairs (closest first), the members that hand in the
    very same text, and the pairs shown side by side: between distinct texts, the closest pairs that link every
    text once (a maximum spanning tree), or one pair when all the texts are the same."""

    members: list[str]
    pairs: list[Pair]
    same: list[list[str]]
    shown: list[Pair]


def alike(pairs: list[Pair]) -> list[Group]:
    """The groups of a step's flagged pairs, largest first."""
    parent: dict[str, str] = {}

    def root(owner: str) -> str:
        while parent.setdefault(owner, owner) != owner:
            parent[owner] = parent[parent[owner]]
            owner = parent[owner]
        return owner

    closest = sorted(pairs, key=lambda p: (-p.figure, p.a, p.b))
    for pair in closest:
        parent[root(pair.a)] = root(pair.b)
    groups: dict[str, Group] = {}
    texts: dict[str, str] = {}
    for pair in closest:
        group = groups.setdefault(root(pair.a), Group([], [], [], []))
        group.pairs.append(pair)
        texts[pair.a], texts[pair.b] = pair.text_a.strip(), pair.text_b.strip()
        group.members += [owner for owner in (pair.a, pair.b) if owner not in group.members]
    for group in groups.values():
        group.members.sort(key=_owner_order)
        by_text: dict[str, list[str]] = {}
        for owner in group.members:
            by_text.setdefault(texts[owner], []).append(owner)
        for owners in by_text.values():  # the reference (or an earlier term) stands for a text it shares
            owners.sort(key=lambda owner: not (owner == REFERENCE or owner.startswith(EARLIER)))
        group.same = [owners for owners in by_text.values() if len(owners) > 1]
        kept = {owners[0] for owners in by_text.values()}
        tree: dict[str, str] = {}

        def top(owner: str) -> str:
            while tree.setdefault(owner, owner) != owner:
                owner = tree[owner]
            return owner

        for pair in group.pairs:
            if pair.a in kept and pair.b in kept and top(pair.a) != top(pair.b):
                tree[top(pair.a)] = top(pair.b)
                group.shown.append(pair)
        group.shown = group.shown or group.pairs[:1]
    return sorted(groups.values(), key=lambda g: (-len(g.members), -g.pairs[0].figure, g.members))


def _owner_order(owner: str) -> tuple:
    """Students first, then the reference and earlier terms."""
    return (owner == REFERENCE or owner.startswith(EARLIER), owner)


def _pair(anchor: str, pair: Pair) -> str:
    marked_a, marked_b = pair.marked()
    return (
        f'<div class="pair" id="{e(anchor)}"><h3>{e(pair.step)}: {e(pair.a)} and {e(pair.b)}, {pair.figure:.0%} match</h3>'
        f'<p class="note">{pair.match_a:.0%} of {e(pair.a)}\'s text and {pair.match_b:.0%} of {e(pair.b)}\'s are in the '
        f"match ({pair.matched} normalised characters); matching parts are highlighted.</p>"
        f'<div class="sides"><div><strong>{e(pair.a)}</strong><pre>{marked_a}</pre></div>'
        f"<div><strong>{e(pair.b)}</strong><pre>{marked_b}</pre></div></div></div>"
    )
