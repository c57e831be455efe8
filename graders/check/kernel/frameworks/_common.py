"""Helpers shared by the adapters (framework-free)."""

import numpy as np

from graders.check.shared.checks.failures import CheckFailed

PREDICT_CHUNK = 2048  # rows per forward pass when predicting on many examples


def pair(batch, to_numpy):
    """A batch as NumPy (x, y); CheckFailed unless it is a pair."""
    try:
        x, y = batch
    except (TypeError, ValueError):
        raise CheckFailed(
            "each batch", "a pair (x, y)", type(batch).__name__, "what iterating over a split yields"
        ) from None
    return to_numpy(x), to_numpy(y)


def first_batch(batches, to_numpy):
    for batch in batches:
        return pair(batch, to_numpy)
    raise CheckFailed("the split", "at least one batch", "no batches", "the batching of the split")


def collect(batches, to_numpy):
    xs, ys = zip(*(pair(batch, to_numpy) for batch in batches)) if batches is not None else ((), ())
    if not xs:
        raise CheckFailed("the split", "at least one batch", "no batches", "the batching of the split")
    return np.concatenate(xs), np.concatenate(ys)


def count_examples(batches, to_numpy) -> int:
    return sum(len(pair(batch, to_numpy)[1]) for batch in batches)


def count_batches(batches) -> int:
    return sum(1 for _ in batches)


def chunks(x):
    for start in range(0, max(len(x), 1), PREDICT_CHUNK):
        yield x[start : start + PREDICT_CHUNK]
