"""What the comparison's checks hand out and what they expect back, made here: the grader's side only.

    inputs = make_inputs("pad_batch", hidden=True)       # the probe's data, as `ComparisonCase.inputs` gives it
    expected = make_expected("pad_batch", hidden=True)   # the padded rectangles, the masked means: never in the kernel

The data of every case, hidden ones included (the weights, inputs x, sequences, embedded batches),
and the answers that no given code of the notebook computes: the padded rectangle of a batch
(`pad`, the answer of `pad_batch`) and the masked mean of `masked_mean`, with the known mistakes
the judge recognises. So this module is neither in the students' install, whose self-checks read
the public inputs and expected values as `package` wrote them when its wheel was built
(`graders.author.student`), nor in the grading sandbox. Each case is keyed as both halves of the
checks walk it (`graders.check.shared.comparison_contract.WALKS`). NumPy only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from graders.check.shared.comparison_contract import OBJECTS, STEPS, TF1_BATCHES, THREE_WEIGHTS, prefixed, sequences_arrays, walk
from graders.check.shared.observation import arrays_to_bytes
from graders.check.trusted.comparison_judge import bag_weights, random_weights

_COPIED = random_weights(6, 5, 3, seed=1)
COPY_WEIGHTS = {  # weights_to_torch / weights_to_keras: what each case copies in or reads out
    "weights": _COPIED,
    "square": random_weights(4, 4, 4, seed=2),
    "float64": {name: array.astype(np.float64) for name, array in _COPIED.items()},
    "copies": random_weights(6, 5, 3, seed=5),  # read from a model file: weights no copy-in case copies
}
SAME_LOGITS_WEIGHTS = {"weights": random_weights(6, 5, 3, seed=3), "square": random_weights(4, 4, 4, seed=4)}
TF1_SEEDS = {"weights": 10, "square": 20}  # the inputs of a batch of b: seeded with seed + b
THREE_RUNS = {"three0": (5, 11, 1.0), "three1": (7, 21, 3.0), "three2": (1, 22, 1.0)}  # (batch, seed, scale)
SEQUENCES = [[3, 1, 4, 1, 5], [9, 2], [6, 0, 5]]  # 0 is the pad id and a real token in row 3
HIDDEN_SEQUENCES = [[7, 2, 9, 9, 1, 3, 8, 4, 6], [5], [0, 0, 2, 1]]  # one full row (max_len 9), one of length 1
PAD_CASES = {  # (sequences, pad_id, max_len)
    "pad0": (SEQUENCES, 0, None),
    "pad1": ([[7, 0, 2], [5], [0, 0, 7, 1]], 7, None),
    "pad2": ([[7, 0, 2], [5], [0, 0, 7, 1]], 0, None),
    "pad3": (SEQUENCES, 0, 7),
    "pad4": ([np.array([4, 2], np.int32), (3,), np.array([1, 1, 1], np.int32)], 0, 3),
    "pad5": ([[5]], 0, None),
}
TOO_LONG = ([[1, 2, 3]], 2)  # (sequences, max_len): pad_batch must raise ValueError
MASKED_MEANS = {"mm0": ([5, 2, 3], 5, 4, 30, True), "mm1": ([1, 6, 4, 2], 6, 3, 32, False)}  # (lengths, T, E, seed, static T)
BAGS = {"bag": (12, 4, 3, 31), "square": (10, 5, 5, 33)}  # (V, E, C, seed) of `bag_weights`
BAG_GRAPHS = {"g0": ("bag", 6, SEQUENCES), "g1": ("square", 9, HIDDEN_SEQUENCES), "g2": ("square", 4, [[3, 3, 8]])}  # (weights, max_len, sequences)
BAG_CALLS = {  # (weights, sequences) of torch_bag ("m") and dynamic_bag ("f")
    "m0": ("bag", SEQUENCES), "m1": ("square", HIDDEN_SEQUENCES),
    "f0": ("bag", SEQUENCES), "f1": ("square", HIDDEN_SEQUENCES), "f2": ("square", [(4,)]),
    "f3": ("bag", [np.array([1, 2, 3], np.int32), (0, 0)]),
}


def pad(sequences, pad_id: int = 0, max_len: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The rectangle of a batch: ids int64 (B, T) padded with pad_id, mask float32 (B, T) from the lengths."""
    lengths = [len(ids) for ids in sequences]
    width = max(lengths) if max_len is None else max_len
    ids = np.full((len(sequences), width), pad_id, np.int64)
    for row, sequence in enumerate(sequences):
        ids[row, : len(sequence)] = sequence
    return ids, (np.arange(width) < np.array(lengths)[:, None]).astype(np.float32)


def masked_inputs(lengths: list[int], width: int, embed_dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(embedded (B, T, E), mask (B, T)) for masked_mean: padding positions hold 100.0, which any unmasked sum shows."""
    embedded = np.random.default_rng(seed).normal(0.0, 1.0, (len(lengths), width, embed_dim)).astype(np.float32)
    mask = (np.arange(width) < np.array(lengths)[:, None]).astype(np.float32)
    embedded[mask == 0] = 100.0
    return embedded, mask


def masked_means(embedded: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
    """masked_mean's answer ("mean") and the known mistakes the judge names (`comparison_judge.MASKED_MEAN_MISTAKES`)."""
    count = mask.sum(axis=1, keepdims=True)
    masked_sum = (embedded * mask[:, :, None]).sum(axis=1)
    return {"mean": (masked_sum / count).astype(np.float32), "all_positions": embedded.mean(axis=1),
            "over_T": masked_sum / embedded.shape[1], "sum": masked_sum, "unmasked_sum": embedded.sum(axis=1) / count}


def checked_bag_weights(name: str) -> dict:
    """The bag weights of the checks: id 0 (the pad id) embeds far from the rest, so padding shows in a mean."""
    weights = bag_weights(*BAGS[name])
    weights["embedding"][0] = 4.0
    return weights


def _x(batch: int, input_dim: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 1.0, (batch, input_dim)).astype(np.float32)


# The probe's inputs, by the check of each case ------------------------------------------------------------------
def make_inputs(step: str, hidden: bool) -> dict[str, np.ndarray]:
    """The arrays the probe of `step` reads: each case's, under its key."""
    if step not in OBJECTS:
        raise ValueError(f"unknown step {step!r}; expected one of {', '.join(STEPS)}")
    inputs = {}
    for case in walk(step, hidden):
        inputs |= _INPUTS[case.check](case.key)
    return inputs


def _copy_in(key: str) -> dict:
    return prefixed(key, COPY_WEIGHTS[key])


def _tf1(key: str) -> dict:
    weights = SAME_LOGITS_WEIGHTS[key]
    d = weights["hidden/kernel"].shape[0]
    return prefixed(key, weights) | {f"tf1:{key}:x{batch}": _x(batch, d, TF1_SEEDS[key] + batch) for batch in TF1_BATCHES[key]}


def _three(key: str) -> dict:
    weights, (batch, seed, scale) = SAME_LOGITS_WEIGHTS[THREE_WEIGHTS[key]], THREE_RUNS[key]
    x = (scale * _x(batch, weights["hidden/kernel"].shape[0], seed)).astype(np.float32)
    return prefixed(THREE_WEIGHTS[key], weights) | {f"{key}:x": x}


def _pad(key: str) -> dict:
    sequences, pad_id, max_len = PAD_CASES[key]
    return sequences_arrays(key, sequences) | {f"{key}:pad_id": np.array(pad_id), f"{key}:max_len": np.array(-1 if max_len is None else max_len)}


def _too_long(key: str) -> dict:
    return sequences_arrays(key, TOO_LONG[0]) | {f"{key}:max_len": np.array(TOO_LONG[1])}


def _masked_mean(key: str) -> dict:
    lengths, width, embed_dim, seed, static = MASKED_MEANS[key]
    embedded, mask = masked_inputs(lengths, width, embed_dim, seed)
    return {f"{key}:embedded": embedded, f"{key}:mask": mask, f"{key}:static": np.array(static)}


def _bag_graph(key: str) -> dict:
    name, max_len, sequences = BAG_GRAPHS[key]
    ids, mask = pad(sequences, 0, max_len)
    return (prefixed(key, checked_bag_weights(name)) | sequences_arrays(key, sequences)
            | {f"{key}:max_len": np.array(max_len), f"{key}:ids": ids, f"{key}:mask": mask})


def _bag_call(key: str) -> dict:
    name, sequences = BAG_CALLS[key]
    return prefixed(key, checked_bag_weights(name)) | sequences_arrays(key, sequences)


_INPUTS = {"copy_in": _copy_in, "read_out": _copy_in, "copies": _copy_in, "tf1": _tf1, "three": _three, "pad": _pad,
           "too_long": _too_long, "masked_mean": _masked_mean, "bag_graph": _bag_graph, "bag_module": _bag_call,
           "bag_function": _bag_call}


# What the judge compares with, where no given code computes it --------------------------------------------------
def make_expected(step: str, hidden: bool) -> dict[str, np.ndarray]:
    """The answers the judge of `step` compares with, by case key: `pad_batch`'s rectangles ("<key>:ids", "<key>:mask")
    and `masked_mean`'s means with their known mistakes ("<key>:mean", ...). The rest the judge computes itself, with
    the notebook's given code (`numpy_mlp`, `numpy_bag`)."""
    expected = {}
    for case in walk(step, hidden):
        if case.check == "pad":
            sequences, pad_id, max_len = PAD_CASES[case.key]
            expected |= dict(zip((f"{case.key}:ids", f"{case.key}:mask"), pad(sequences, pad_id, max_len)))
        elif case.check == "masked_mean":
            expected |= prefixed(case.key, masked_means(*masked_inputs(*MASKED_MEANS[case.key][:4])))
    return expected


def package(folder: Path) -> None:
    """Write every step's public inputs and expected values into `folder` (the students' install's check_inputs/), as
    `graders.check.trusted.comparison_judge.packaged` reads them."""
    for step in STEPS:
        (folder / f"comparison-{step}.npz").write_bytes(arrays_to_bytes(make_inputs(step, hidden=False)))
        (folder / f"comparison-{step}.expected.npz").write_bytes(arrays_to_bytes(make_expected(step, hidden=False)))
