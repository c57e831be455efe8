"""Checks of a training run's loss history, and short text pictures of it for feedback."""

from __future__ import annotations

import math
import numbers

import numpy as np

from graders.check.shared.checks.failures import CheckFailed

BARS = "▁▂▃▄▅▆▇█"


def sparkline(values, width: int = 24) -> str:
    """A one-line picture of a sequence: `width` buckets (means), drawn from ▁ (lowest) to █ (highest)."""
    values = np.asarray(list(values), dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return ""
    buckets = np.array_split(values, min(width, values.size))
    means = np.array([b.mean() for b in buckets])
    low, high = means.min(), means.max()
    if high - low < 1e-12:
        return BARS[0] * len(means)
    levels = np.rint((means - low) / (high - low) * (len(BARS) - 1)).astype(int)
    return "".join(BARS[i] for i in levels)


def describe_history(history) -> str:
    """'loss 2.302 -> 0.298 over 108 steps ▇▆▄▃▂▁' for feedback."""
    if not history:
        return "no losses"
    return f"loss {history[0]:.3f} -> {history[-1]:.3f} over {len(history)} steps {sparkline(history)}"


def check_history(history, steps: int | None = None) -> str:
    """Pass for a non-empty list (or tuple) of finite Python floats, `steps` long when given."""
    if history is None:
        raise CheckFailed(
            "return value",
            "a list of floats, one loss per step",
            "None",
            "the end of train: `return` the list of losses",
        )
    if not isinstance(history, (list, tuple)):
        raise CheckFailed(
            "return type", "a list of Python floats", type(history).__name__, "collect one float per step in a list"
        )
    if len(history) == 0:
        raise CheckFailed("number of losses", steps or "at least one", 0, "append the loss of every step to the list")
    for i, value in enumerate(history):
        if not isinstance(value, numbers.Real) or not isinstance(value, float):
            raise CheckFailed(
                f"type of loss #{i}",
                "Python float",
                type(value).__name__,
                "turn each loss into a number: float(...) or .item() (a tensor keeps the whole graph alive)",
            )
        if not math.isfinite(value):
            raise CheckFailed(f"loss #{i}", "a finite number", value, "the learning rate and the loss")
    if steps is not None and len(history) != steps:
        raise CheckFailed(
            "number of losses",
            f"{steps} (one per batch, every epoch)",
            len(history),
            "the loops: every epoch, every batch, one loss appended per step",
        )
    return f"{len(history)} losses"


def check_decreasing(history, fraction: float = 0.5, hint: str | None = None) -> str:
    """Pass when the mean of the last tenth of the losses is below `fraction` × the mean of the first tenth."""
    values = np.asarray(history, dtype=np.float64)
    n = max(1, len(values) // 10)
    first, last = float(values[:n].mean()), float(values[-n:].mean())
    if not last < fraction * first:
        raise CheckFailed(
            f"training loss falls (mean of the last {n} steps < {fraction:g} × mean of the first {n})",
            f"below {fraction * first:.3f}",
            f"{first:.3f} -> {last:.3f} {sparkline(values)}",
            hint or "the training step: every batch must update the weights with the gradients of its loss",
        )
    return f"loss {first:.3f} -> {last:.3f} {sparkline(values)}"


def check_loss_used(calls: int, steps: int) -> str:
    """Pass when train called the loss it was given (at least once)."""
    if calls == 0:
        raise CheckFailed(
            "calls of the loss that train is given",
            f"one per step ({steps})",
            0,
            "compute each step's loss with the `loss` argument (step 4's loss), not a loss of train's own",
        )
    return ""


def check_step_losses(history, computed, hint: str | None = None) -> str:
    """Pass when `history` holds what the loss computed at each step (`computed`: the values, or their sum).

    `computed` is None when unknown (the loss ran another number of times than there are steps).
    Fails for a running mean (Keras `fit` logs the mean over the epoch so far) or one loss per epoch.
    """
    if computed is None:
        return ""
    values = np.asarray(history, dtype=np.float64)
    if np.ndim(computed) == 0:  # only the sum is known
        total = float(computed)
        if abs(values.sum() - total) <= 1e-4 * max(1.0, abs(total)) + 1e-6 * len(values):
            return "one loss per step"
        raise CheckFailed(
            "the losses train returns",
            f"the loss of each step, as the loss computed it (together {total:.4f})",
            f"other values (together {values.sum():.4f})",
            hint,
        )
    computed = np.asarray(computed, dtype=np.float64)
    differ = np.flatnonzero(~np.isclose(values, computed, rtol=1e-4, atol=1e-6))
    if differ.size:
        i = int(differ[0])
        raise CheckFailed(
            f"loss #{i} that train returns",
            f"{computed[i]:.4f}, what the loss computed at that step",
            f"{values[i]:.4f} ({differ.size} of {len(values)} steps differ)",
            hint,
        )
    return "one loss per step"
