"""The page's figures: matplotlib (Agg, no display, no pyplot state), each returned as a base64 PNG for an <img>."""

from __future__ import annotations

import base64
import io
import math

import numpy as np

from graders.review.struggles import GRID, Curves, ResultsScale, StepFigures

WIDTH, HEIGHT, DPI = 7.5, 3.2, 100
C0, C1, C3, GREY = "#1f77b4", "#ff7f0e", "#d62728", "#7f7f7f"


def _figure(height: float = HEIGHT):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def scores(totals: list[float], maximum: float) -> str:
    """Histogram of the submissions' total points."""
    figure, axes = _figure()
    top = max(maximum, max(totals, default=0.0), 1.0)
    bins = np.arange(0, math.ceil(top) + 2) - 0.5 if top <= 40 else 20
    axes.hist(totals, bins=bins, color=C0, edgecolor="white")
    axes.set(xlabel=f"points (of {maximum:g})", ylabel="students", title=f"Score distribution ({len(totals)} graded)")
    axes.grid(axis="y", alpha=0.3)
    return _png(figure)


def steps(figures: list[StepFigures]) -> str:
    """Each graded cell's share of students with full points, with its points and the number of students."""
    figure, axes = _figure(max(HEIGHT, 0.35 * len(figures) + 1))
    labels = [f"{f.cell.step} ({f.cell.max_score:g} pt)" for f in figures]
    rates = [0.0 if math.isnan(f.pass_rate) else 100 * f.pass_rate for f in figures]
    rows = np.arange(len(figures))[::-1]
    bars = axes.barh(rows, rates, color=[C0 if f.cell.kind == "code" else GREY for f in figures])
    for bar, f in zip(bars, figures):
        text = f"{f.passed}/{f.graded}" if f.graded else "not graded yet"
        axes.text(min(bar.get_width() + 1, 88), bar.get_y() + bar.get_height() / 2, text, va="center", fontsize=8)
    axes.set_yticks(rows, labels, fontsize=8)
    axes.set(xlim=(0, 100), xlabel="% of graded students with full points", title="Pass rate per step")
    axes.grid(axis="x", alpha=0.3)
    return _png(figure)


def accuracies(values: list[float], scale: ResultsScale) -> str:
    """Histogram of held-out accuracies, with the reference's and the results scale (full points, no points)."""
    figure, axes = _figure()
    axes.hist(values, bins=np.linspace(0, 1, 41), color=C0, edgecolor="white", label="students")
    if scale.full is not None:
        axes.axvspan(scale.floor, scale.full, color=C1, alpha=0.12, label="partial credit")
        axes.axvline(scale.full, color=C1, linestyle="--", label=f"full points from {scale.full:.3f}")
    axes.axvline(scale.floor, color=GREY, linestyle=":", label=f"no points at or below {scale.floor:.2f}")
    if scale.reference is not None:
        axes.axvline(scale.reference, color=C3, label=f"reference {scale.reference:.3f}")
    axes.set(xlabel="held-out accuracy", ylabel="students", title=f"Held-out accuracy ({len(values)} models)", xlim=(0, 1))
    axes.legend(fontsize=8, loc="upper left")
    axes.grid(axis="y", alpha=0.3)
    return _png(figure)


def losses(curves: Curves) -> str:
    """Every loss curve (thin), the class's median and its interquartile range, the outliers in colour and named."""
    figure, axes = _figure(HEIGHT * 1.4)
    x = GRID * curves.steps if curves.steps else GRID * 100
    finite = curves.values[np.isfinite(curves.values)]
    log = len(finite) > 0 and finite.min() > 0 and finite.max() / finite.min() > 30
    for row, student in enumerate(curves.students):
        if student not in curves.outliers:
            axes.plot(x, curves.values[row], color=GREY, alpha=0.25, linewidth=0.7)
    axes.fill_between(x, curves.low, curves.high, color=C0, alpha=0.25, label="middle half of the class")
    axes.plot(x, curves.median, color=C0, linewidth=2, label="median")
    colours = [C3, C1, "#9467bd", "#8c564b", "#e377c2", "#2ca02c", "#17becf", "#bcbd22"]
    for index, student in enumerate(sorted(curves.outliers)):
        row = curves.students.index(student)
        colour = colours[index % len(colours)]
        axes.plot(x, curves.values[row], color=colour, linewidth=1.2)
        last = np.nonzero(np.isfinite(curves.values[row]))[0]
        if len(last):
            axes.annotate(student, (x[last[-1]], curves.values[row][last[-1]]), fontsize=8, color=colour,
                          xytext=(3, 0), textcoords="offset points", va="center")
    if log:
        axes.set_yscale("log")
    axes.set(xlabel="training step" if curves.steps else "training progress (%)", ylabel="loss" + (" (log scale)" if log else ""),
             title=f"Loss curves ({len(curves.students)} submissions)")
    axes.legend(fontsize=8, loc="upper right")
    axes.grid(alpha=0.3)
    return _png(figure)


def seconds(values: list[float]) -> str:
    figure, axes = _figure()
    axes.hist(values, bins=min(30, max(5, len(values) // 3)), color=C0, edgecolor="white")
    axes.set(xlabel="seconds (first cell's start to last cell's end)", ylabel="submissions",
             title=f"Seconds per submission ({len(values)} timed)")
    axes.grid(axis="y", alpha=0.3)
    return _png(figure)
