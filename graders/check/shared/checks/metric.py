"""Fixed predictions with known accuracies, and the check of a metric's value on them.

Every case has a known answer that does not depend on how ties are broken: where two
classes tie for the largest logit, neither is the label. No case is square, so an argmax
over the wrong axis cannot go unnoticed, and no wrong row predicts ``label - 1``, so an
off-by-one argmax scores 0.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from graders.check.shared.checks.failures import CheckFailed
from graders.check.shared.checks.loss import as_float

NUM_CLASSES = 10


class MetricCase(NamedTuple):
    name: str
    logits: np.ndarray  # float32 (N, 10)
    labels: np.ndarray  # int64 (N,)
    expected: float


def reference_accuracy(logits, labels) -> float:
    """Fraction of rows whose argmax equals the label (NumPy)."""
    return float(np.mean(np.argmax(np.asarray(logits), axis=1) == np.asarray(labels)))


def _case(name: str, predicted, labels, ties=(), seed: int = 0) -> MetricCase:
    """Logits whose argmax is `predicted` (negative noise elsewhere); rows in `ties` tie two wrong classes."""
    rng = np.random.default_rng(seed)
    predicted, labels = np.asarray(predicted), np.asarray(labels, dtype=np.int64)
    logits = rng.uniform(-3.0, 0.5, size=(len(labels), NUM_CLASSES)).astype(np.float32)
    logits[np.arange(len(labels)), predicted] = 2.0
    for row in ties:
        other = next(c for c in range(NUM_CLASSES) if c not in (predicted[row], labels[row], labels[row] - 1))
        logits[row, other] = 2.0  # tied with the prediction; neither is the label
    expected = float(np.mean(predicted == labels))
    assert reference_accuracy(logits, labels) == expected or ties
    return MetricCase(name, logits, labels, expected)


def _cases() -> tuple[MetricCase, ...]:
    labels = np.array([3, 7, 0, 9, 1, 4, 4, 8, 2, 6, 5, 0, 9, 1, 7])
    right = np.array([1, 1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0], dtype=bool)  # 9 of 15: 0.6
    wrong = (labels + 3) % NUM_CLASSES  # never the label, never label - 1
    mixed = _case("15 examples, 9 right, 2 ties", np.where(right, labels, wrong), labels, ties=(2, 7))
    all_wrong = _case("7 examples, none right", (labels[:7] + 5) % NUM_CLASSES, labels[:7], seed=1)
    all_right = _case("4 examples, all right", labels[:4], labels[:4], seed=2)
    rng = np.random.default_rng(3)
    big_logits = rng.normal(size=(1000, NUM_CLASSES)).astype(np.float32)
    big_labels = rng.integers(0, NUM_CLASSES, size=1000).astype(np.int64)
    big = MetricCase("1000 random examples", big_logits, big_labels, reference_accuracy(big_logits, big_labels))
    return mixed, all_wrong, all_right, big


CASES = _cases()
PUBLIC_CASE = CASES[0]  # the public check; hidden checks use all CASES


def check_metric(value, case: MetricCase, tolerance: float = 1e-6) -> str:
    """Pass when a metric's value on `case` equals its known accuracy (a scalar)."""
    found = as_float(f"accuracy on {case.name}", value)
    if abs(found - case.expected) > tolerance:
        hint = "the argmax over the classes (axis 1) compared with the labels, averaged over the rows"
        if abs(found - case.expected * len(case.labels)) < tolerance:
            hint = "return the fraction of correct rows (the mean), not their number"
        raise CheckFailed(f"accuracy on {case.name}", f"{case.expected:.4g}", f"{found:.4g}", hint)
    return f"{case.name}: {found:.4g}"


def check_same_answer(first, again, case: MetricCase, between: MetricCase) -> str:
    """Pass when the metric gives `case` the same value before and after a call on `between`: its value
    depends on this call's logits and labels only (a metric object that keeps a running total does not)."""
    first, again = as_float(f"accuracy on {case.name}", first), as_float(f"accuracy on {case.name}", again)
    if abs(first - again) > 1e-6:
        raise CheckFailed(
            f"accuracy on {case.name}, called again after a call on {between.name}",
            f"{first:.4g} again (the same logits and labels)",
            f"{again:.4g}",
            "each call must count only its own logits and labels: a metric object (tf.keras.metrics, torchmetrics) "
            "keeps a running total across calls; call reset_state() first, or make a new one in each call",
        )
    return "the same answer every call"
