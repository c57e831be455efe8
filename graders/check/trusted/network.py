"""The contract's network in NumPy: the grader's own copy, to judge weights that a student's code leaves behind.

The contract model is (B, D) float32 -> ReLU hidden (H) -> (B, C) logits. Its weights travel as
a dict of `WEIGHT_NAMES` in the canonical layout: kernels (in, out), biases (out,), whatever
framework holds them (PyTorch's nn.Linear stores the transpose).
"""

from __future__ import annotations

import numpy as np

from graders.check.shared.checks.failures import CheckFailed
from graders.check.shared.checks.loss import cross_entropy, softmax

WEIGHT_NAMES = ("hidden/kernel", "hidden/bias", "logits/kernel", "logits/bias")


def initial_weights(input_dim: int, hidden_units: int, num_classes: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Glorot-uniform kernels and zero biases, float32, seeded."""
    rng = np.random.default_rng(seed)

    def glorot(fan_in: int, fan_out: int) -> np.ndarray:
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, size=(fan_in, fan_out)).astype(np.float32)

    return {
        "hidden/kernel": glorot(input_dim, hidden_units),
        "hidden/bias": np.zeros(hidden_units, np.float32),
        "logits/kernel": glorot(hidden_units, num_classes),
        "logits/bias": np.zeros(num_classes, np.float32),
    }


def forward(weights: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """Logits (B, C) of the contract model with these weights, computed in float64."""
    w = {name: np.asarray(array, np.float64) for name, array in weights.items()}
    hidden = np.maximum(np.asarray(x, np.float64) @ w["hidden/kernel"] + w["hidden/bias"], 0.0)
    return hidden @ w["logits/kernel"] + w["logits/bias"]


def accuracy(weights: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.argmax(forward(weights, x), axis=1) == y))


def loss(weights: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> float:
    return cross_entropy(forward(weights, x), y)


def logits_gradient(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    """d mean cross-entropy / d logits: (softmax - one-hot) / B."""
    logits = np.asarray(logits, np.float64)
    return (softmax(logits) - np.eye(logits.shape[1])[y]) / len(y)


# Checks ----------------------------------------------------------------------------------------
def check_weights(name: str, weights: dict, expected: dict[str, np.ndarray]) -> str:
    """Pass when `weights` holds every weight of the contract model with its shape."""
    for key, wanted in expected.items():
        found = weights.get(key)
        if found is None or np.shape(found) != wanted.shape:
            raise CheckFailed(
                f"{name}: {key}", f"shape {wanted.shape}", "nothing" if found is None else np.shape(found),
                "the model handed in must keep its layers: train and update it, do not replace it",
            )
    return ""


def check_loss_gradient(found, logits: np.ndarray, y: np.ndarray, hint: str) -> str:
    """Pass when `found` is d loss / d logits of the mean cross-entropy on (logits, y)."""
    expected = logits_gradient(logits, y)
    found = np.asarray(found, np.float64)
    if found.shape != expected.shape or not np.allclose(found, expected, rtol=1e-3, atol=1e-5):
        size = f"{np.abs(found).mean():.3g}" if found.shape == expected.shape else f"shape {found.shape}"
        raise CheckFailed(
            "the gradient of your loss with respect to the logits",
            f"that of the mean cross-entropy, (softmax - one-hot) / batch size (mean size {np.abs(expected).mean():.3g})",
            size,
            hint,
        )
    return "gradient as the cross-entropy's"


def check_optimizer_step(before: dict, after: dict, gradients: dict, loss_before: float, loss_after: float, hint: str) -> str:
    """Pass when one step of the optimizer with the grader's `gradients` changed every weight tensor against its gradient
    and lowered the grader's loss on the batch."""
    still = [name for name in WEIGHT_NAMES if np.array_equal(after[name], before[name])]
    if still:
        raise CheckFailed(
            "the weights after one step of your optimizer", "every weight tensor of the model updated",
            f"{', '.join(still)} unchanged", "the optimizer must hold every parameter of the model it is given: " + hint,
        )
    slope = sum(float(np.sum((after[n].astype(np.float64) - before[n]) * gradients[n])) for n in WEIGHT_NAMES)
    if not (np.isfinite(loss_after) and slope < 0 and loss_after < loss_before):
        raise CheckFailed(
            "the grader's loss on the batch after one step of your optimizer",
            f"below {loss_before:.4f}, its value before the step",
            f"{loss_after:.4f}",
            "a step against the gradient, of a sensible size: " + hint,
        )
    return f"one step lowers the loss {loss_before:.4f} -> {loss_after:.4f}"


def check_trained(before: float, after: float, hint: str) -> str:
    """Pass when the grader's own loss on the training data is lower with the weights that training left."""
    if not np.isfinite(after) or not after < before - 0.05:
        raise CheckFailed(
            "the grader's loss on the training data, with the weights your train left in the model",
            f"below {before:.3f}, its value before training",
            f"{after:.3f}",
            hint,
        )
    return f"the model's loss {before:.3f} -> {after:.3f}"
