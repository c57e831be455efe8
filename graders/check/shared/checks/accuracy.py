"""Accuracy thresholds, the report dictionary, and the partial-credit scale for the results cell.

The results scale (`points_for`)::

    points
      ^            ______________  full points at or above  reference - margin
      |           /
      |          /   linear in between, rounded to 2 decimals
      |_________/
      +--------+-----+------------> held-out accuracy
             floor   reference - margin

``floor`` (default 0.5) is where credit starts; ``margin`` (default 0.02) forgives small
run-to-run and CPU/GPU differences. With reference 0.97, points 3: 0.95 and up earn 3,
0.725 earns 1.5, 0.5 and below earn 0.
"""

from __future__ import annotations

import math

import numpy as np

from graders.check.shared.checks.failures import CheckFailed
from graders.check.shared.checks.loss import as_float


def points_for(accuracy: float, reference: float, points: float, floor: float = 0.5, margin: float = 0.02) -> float:
    """Points earned for `accuracy` on the scale above (a Python float in [0, points])."""
    accuracy, full = float(accuracy), float(reference) - float(margin)
    if math.isnan(accuracy) or accuracy <= floor:
        return 0.0
    if accuracy >= full:
        return float(points)
    return round(float(points) * (accuracy - floor) / (full - floor), 2)


def check_accuracy_at_least(name: str, value: float, minimum: float, hint: str | None = None) -> str:
    """Pass when an accuracy reaches `minimum`."""
    if not value >= minimum:
        raise CheckFailed(name, f"at least {minimum:.2f}", f"{value:.4f}", hint)
    return f"{name} {value:.4f}"


REPORT_KEYS = ("train_accuracy", "test_accuracy")


def report_values(report, context: str = "") -> dict[str, float]:
    """The train and test accuracies of a report: a dict with float values in [0, 1]; CheckFailed otherwise."""
    prefix = f"{context}: " if context else ""
    if not isinstance(report, dict):
        raise CheckFailed(
            f"{prefix}return value",
            "a dict with 'train_accuracy' and 'test_accuracy'",
            type(report).__name__,
            "what report returns",
        )
    missing = [key for key in REPORT_KEYS if key not in report]
    if missing:
        raise CheckFailed(
            f"{prefix}keys", ", ".join(REPORT_KEYS), ", ".join(map(str, report)) or "none", "the keys of the dict"
        )
    values = {}
    for key in REPORT_KEYS:
        value = report[key]
        if not isinstance(value, (float, np.floating)):
            raise CheckFailed(f"{prefix}{key} type", "Python float", type(value).__name__, "float(...) or .item()")
        values[key] = as_float(key, value)
        if not 0.0 <= values[key] <= 1.0:
            raise CheckFailed(
                f"{prefix}{key} range", "in [0, 1]", f"{values[key]:.4g}", "a fraction of correct examples, not a count or %"
            )
    return values


def check_report(report, expected: dict[str, float], atol: float = 1e-3, context: str = "") -> str:
    """Pass for a dict with float train/test accuracies in [0, 1] that equal `expected` within atol.

    `context` (e.g. "with other splits") prefixes what the failure message says was checked.
    """
    prefix = f"{context}: " if context else ""
    values = report_values(report, context)
    for key in REPORT_KEYS:
        if abs(values[key] - expected[key]) > atol:
            raise CheckFailed(
                f"{prefix}{key}",
                f"{expected[key]:.4f} (the grader's own evaluation)",
                f"{values[key]:.4f}",
                "which split is evaluated, and weighting by batch size: every example counts once",
            )
    return prefix + ", ".join(f"{key} {values[key]:.4f}" for key in REPORT_KEYS)
