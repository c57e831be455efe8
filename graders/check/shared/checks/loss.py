"""Cross-entropy in NumPy, and checks of a loss value against it."""

from __future__ import annotations

import math

import numpy as np

from graders.check.shared.checks.failures import CheckFailed


def cross_entropy(logits, labels) -> float:
    """Mean softmax cross-entropy of integer labels given logits (N, C), computed stably in float64."""
    labels = np.asarray(labels).astype(np.int64)
    return float(-log_softmax(logits)[np.arange(len(labels)), labels].mean())


def log_softmax(logits) -> np.ndarray:
    """log_softmax over the rows of (N, C) logits, in float64."""
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(logits) -> np.ndarray:
    """softmax over the rows of (N, C) logits, in float64."""
    return np.exp(log_softmax(logits))


def as_float(name: str, value) -> float:
    """A scalar (Python or NumPy number, 0-d or 1-element array) as a float; CheckFailed otherwise."""
    try:
        if isinstance(value, (str, bytes)):
            raise TypeError(value)
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise CheckFailed(f"{name} type", "a number (scalar)", type(value).__name__) from None
    if array.size != 1:
        raise CheckFailed(
            f"{name} shape", "a scalar", tuple(array.shape), "reduce to one number (the mean over the batch)"
        )
    return float(array.reshape(()))


def is_number(value) -> bool:
    """Whether `value` reads as one finite-or-not real number (`as_float`)."""
    try:
        as_float("value", value)
    except CheckFailed:
        return False
    return True


def check_loss_matches(
    value, reference: float, rtol: float = 1e-3, atol: float = 1e-4, name: str = "loss on a fixed batch"
) -> str:
    """Pass when a loss value equals the reference loss within rtol/atol."""
    value = as_float(name, value)
    if not math.isfinite(value) or not math.isclose(value, reference, rel_tol=rtol, abs_tol=atol):
        hint = "the loss: mean softmax cross-entropy of the logits (not of probabilities), with integer labels"
        if (
            math.isfinite(value)
            and reference
            and abs(value / reference - round(value / reference)) < 1e-3
            and round(value / reference) > 1
        ):
            hint = "the reduction: the mean over the batch, not the sum"
        raise CheckFailed(name, f"{reference:.4f}", f"{value:.4f}", hint)
    return f"{name} {value:.4f} matches"


def check_logits(logits, hint: str | None = None, atol: float = 1e-3) -> str:
    """Pass for raw logits; fail for rows that are probabilities (non-negative, summing to 1) or
    log-probabilities (non-positive, their exp summing to 1): the loss applies the softmax itself."""
    values = np.asarray(logits, dtype=np.float64)
    if values.ndim == 2 and len(values) and np.isfinite(values).all():
        if values.min() >= -1e-6 and np.allclose(values.sum(axis=1), 1.0, atol=atol):
            raise CheckFailed(
                "logits", "raw logits (no softmax: the loss applies it)", "probabilities: every row sums to 1", hint
            )
        if values.max() <= 1e-6 and np.allclose(np.exp(values).sum(axis=1), 1.0, atol=atol):
            raise CheckFailed(
                "logits",
                "raw logits (no log_softmax: the loss applies it)",
                "log-probabilities: the exp of every row sums to 1",
                hint,
            )
    return "raw logits"


def check_untrained_loss(value: float, num_classes: int = 10, tolerance: float = 0.5) -> str:
    """Pass when an untrained model's loss is near ln(num_classes) (it guesses uniformly at first)."""
    expected = math.log(num_classes)
    if not math.isfinite(value) or abs(value - expected) > tolerance:
        raise CheckFailed(
            "loss of the untrained model",
            f"about ln({num_classes}) = {expected:.3f} (± {tolerance})",
            f"{value:.3f}",
            "the initial weights (small, random) and the output layer (raw logits, no activation)",
        )
    return f"untrained loss {value:.3f} ≈ ln({num_classes})"
