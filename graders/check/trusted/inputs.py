"""What the checks hand out, made from the course's data: the grader's side only.

    inputs = make_inputs(case, "train", hidden=True)   # arrays and numbers, as `graders.check.trusted.judge.Case.inputs` gives them

The data preprocessed and split the contract's way (`contract_split`), the weights of the models
the checks save (`graders.check.trusted.network`), the gradients of step 4's driven step, a model fitted for
the report check: each computes an answer of some step, so this module is neither in the students'
install, whose self-checks read their inputs as made when its wheel was built
(`graders.check.trusted.judge.PACKAGED_INPUTS`), nor in the grading sandbox.
"""

from __future__ import annotations

import numpy as np

from course.data import RawData
from graders.check.shared import checks
from graders.check.shared.checks.ranges import RAW_FIELDS
from graders.check.trusted import network


def preprocess(images: np.ndarray) -> np.ndarray:
    """uint8 images (N, H, W) as the pipelines feed them: float32 (N, H*W) in [0, 1]."""
    images = np.asarray(images)
    return images.reshape(len(images), -1).astype(np.float32) / np.float32(255.0)


def contract_split(raw: RawData, validation_size: float, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """`raw` preprocessed and split as the contract says: {train, validation, test: (x float32 (N, D), y int64 (N,))},
    the validation split `round(validation_size * N)` training images drawn at random (seeded)."""
    x, y = preprocess(raw.x_train), np.asarray(raw.y_train).astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    n_validation = round(validation_size * len(x))
    validation, train = order[:n_validation], order[n_validation:]
    return {"train": (x[train], y[train]), "validation": (x[validation], y[validation]),
            "test": (preprocess(raw.x_test), np.asarray(raw.y_test).astype(np.int64))}


def split(case) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The contract's splits of the checks' data, preprocessed: {train, validation, test: (x, y)}."""
    return contract_split(case.train_raw, case.settings.validation_size, case.seed)


def fixed_batch(case) -> tuple[np.ndarray, np.ndarray]:
    """The first `batch_size` training images, preprocessed: float32 (B, D), int64 (B,)."""
    b = case.settings.batch_size
    return preprocess(case.raw.x_train[:b]), case.raw.y_train[:b].astype(np.int64)


def make_inputs(case, step: str, hidden: bool) -> dict[str, np.ndarray]:
    """The probe's inputs of `step` for `case` (a `graders.check.trusted.judge.Case`): data only."""
    s, hp = case.settings, case.hp
    if step == "download":
        return {"dataset": np.array(case.dataset)}
    if step == "load_and_preprocess":
        return {**dict(zip(RAW_FIELDS, case.train_raw)), "batch_size": np.array(s.batch_size),
                "validation_size": np.array(s.validation_size), "seed": np.array(case.seed)}
    x, y = fixed_batch(case)
    if step == "build_model":
        return {"input_dim": np.array(case.input_dim), "hidden_units": np.array(hp.hidden_units),
                "num_classes": np.array(case.num_classes), "x": x, "y": y, "seed": np.array(case.seed)}
    weights = case.initial_weights()
    splits = split(case)
    if step == "make_loss_and_optimizer":
        logits = network.forward(weights, x)
        given = {"x": x, "y": y, "logits": logits.astype(np.float32),
                 "log_probabilities": checks.log_softmax(logits).astype(np.float32),
                 "probabilities": checks.softmax(logits).astype(np.float32), "learning_rate": np.array(hp.learning_rate)}
        gradients = {f"gradient:{name}": array for name, array in weight_gradients(weights, x, y).items()}
        return {**weights, **given, **gradients}
    if step == "accuracy":
        cases = {"cases": np.array(len(checks.CASES))}
        for number, example in enumerate(checks.CASES):
            cases.update({f"name_{number}": np.array(example.name), f"logits_{number}": example.logits, f"labels_{number}": example.labels})
        return cases
    if step == "train":
        return {**weights, "train_x": splits["train"][0], "train_y": splits["train"][1], "batch_size": np.array(s.batch_size),
                "epochs": np.array(s.epochs), "learning_rate": np.array(hp.learning_rate), "seed": np.array(case.seed)}
    if step == "report":
        fitted = report_weights(*splits["train"], hp.hidden_units, case.num_classes, case.seed)
        arrays = {f"{name}_{part}": array for name, pair in splits.items() for part, array in zip("xy", pair)}
        return {**fitted, **arrays, "batch_size": np.array(s.batch_size)}
    if step == "results":  # graded on the held-out images; the self-check has only the test split
        if hidden:
            from graders.check.trusted.holdout import load_holdout

            return {"x": preprocess(load_holdout(case.dataset)[0])}
        return {"x": preprocess(case.raw.x_test)}
    raise ValueError(f"unknown step {step!r}")


def report_weights(x: np.ndarray, y: np.ndarray, hidden_units: int, num_classes: int, seed: int = 0) -> dict[str, np.ndarray]:
    """A model for the report check: the contract's layers, its last layer fitted by ridge regression on the examples of
    the lower half of the classes only, so that it never predicts the upper half. Its accuracy (about one half) tells
    train from test apart, and a student's code that kept it would gain nothing on the held-out images."""
    lower = y < num_classes // 2
    weights = network.initial_weights(x.shape[1], hidden_units, num_classes, seed)
    hidden = np.maximum(x[lower] @ weights["hidden/kernel"], 0.0)
    targets = np.eye(num_classes, dtype=np.float32)[y[lower]]
    gram = hidden.T @ hidden + np.eye(hidden_units, dtype=np.float32)
    weights["logits/kernel"] = (np.linalg.solve(gram, hidden.T @ targets) * 10.0).astype(np.float32)
    return weights


def weight_gradients(weights: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """d mean cross-entropy / d each weight on the batch (x, y), float32, canonical names: the gradients of step 4's
    driven step."""
    w = {name: np.asarray(array, np.float64) for name, array in weights.items()}
    x = np.asarray(x, np.float64)
    before = x @ w["hidden/kernel"] + w["hidden/bias"]
    hidden = np.maximum(before, 0.0)
    d_logits = network.logits_gradient(hidden @ w["logits/kernel"] + w["logits/bias"], y)
    d_hidden = (d_logits @ w["logits/kernel"].T) * (before > 0)
    gradients = {"hidden/kernel": x.T @ d_hidden, "hidden/bias": d_hidden.sum(axis=0),
                 "logits/kernel": hidden.T @ d_logits, "logits/bias": d_logits.sum(axis=0)}
    return {name: array.astype(np.float32) for name, array in gradients.items()}
