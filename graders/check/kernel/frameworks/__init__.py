"""One adapter per framework (`tf1`, `tf2`, `torch`), each a module that implements `Adapter`.

An adapter turns its framework's objects into NumPy for the checks, and NumPy into its framework's objects for
the student's functions. The adapters run in the kernel; the verdicts are the trusted side's, on the values they
hand back. Only the adapter that is loaded imports its framework: a PyTorch notebook never imports TensorFlow.
"""

from __future__ import annotations

import importlib
from contextlib import AbstractContextManager
from typing import Any, Protocol

import numpy as np

from graders.check.shared.protocol import FRAMEWORKS


class Adapter(Protocol):
    """What every adapter module defines (tests/test_frameworks.py holds each to it)."""

    NAME: str

    # -- the kernel -------------------------------------------------------------------------------
    def setup(self, seed: int = 0) -> str:
        """Seed and pick the device; its name ("cpu", "cuda:0", "/GPU:0")."""

    def seed(self, value: int = 0) -> None:
        """Seed the framework (and NumPy, Python) for one check."""

    def checking(self) -> AbstractContextManager:
        """The context the checks run in (PyTorch: one CPU thread)."""

    # -- batches: NumPy out -----------------------------------------------------------------------
    def first_batch(self, batches) -> tuple[np.ndarray, np.ndarray]: ...

    def collect(self, batches) -> tuple[np.ndarray, np.ndarray]: ...

    def count_examples(self, batches) -> int: ...

    def count_batches(self, batches) -> int: ...

    def check_batch(self, batches) -> str:
        """What the batches hold, when the framework's other steps can take it; raises CheckFailed otherwise."""

    def contract_batches(self, x: np.ndarray, y: np.ndarray, batch_size: int, shuffle: bool = False, seed: int = 0):
        """The contract's batches of `x` (float32) and `y` (int64), in the framework's own type."""

    # -- models -----------------------------------------------------------------------------------
    def load_model(self, path: str) -> Any:
        """The contract model the grader saved at `path`, in the framework's own format."""

    def check_model(self, model) -> str:
        """What the model is, when it is one of the framework's; raises CheckFailed otherwise."""

    def predict(self, model, x: np.ndarray) -> np.ndarray:
        """Logits (N, classes) of `model` on `x` (N, D), with no training on the way."""

    def parameter_count(self, model) -> int: ...

    def static_shapes(self, model) -> dict[str, tuple]:
        """The graph's static shapes by name (TF1), else empty."""

    def weights_of(self, model) -> dict[str, np.ndarray]:
        """The contract model's weights, in the canonical layout (`graders.check.trusted.network.WEIGHT_NAMES`)."""

    def close(self, model) -> None:
        """Free what the model holds (a TF1 session)."""

    # -- loss, optimizer, metric ------------------------------------------------------------------
    def loss_value(self, loss, model, x: np.ndarray, y: np.ndarray) -> float:
        """The loss on one batch, called as a training step calls it."""

    def loss_on(self, loss, model, x: np.ndarray, predictions: np.ndarray, y: np.ndarray) -> float:
        """The loss given `predictions` in place of the model's logits."""

    def loss_gradient(self, loss, model, logits: np.ndarray, y: np.ndarray) -> np.ndarray:
        """d loss / d logits, (N, classes)."""

    def probe_loss(self, loss):
        """The loss wrapped so that it counts its calls and what they computed (None in TF1)."""

    def course_training(self, model, learning_rate: float) -> tuple[Any, Any]:
        """The loss and optimizer a check hands to a student's train: one library call each."""

    def check_optimizer(self, optimizer, model) -> str:
        """What the optimizer is, when it updates the model's weights; raises CheckFailed otherwise."""

    def optimizer_facts(self, optimizer) -> dict:
        """Its class, learning rate and how many tensors it updates."""

    def apply_gradients(self, optimizer, model, gradients: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> None:
        """One optimizer step that the grader drives with `gradients` (canonical names) it computed itself."""

    def metric_value(self, accuracy_fn, logits: np.ndarray, labels: np.ndarray):
        """What `accuracy_fn` returns on the framework's own tensors, as it is."""

    def check_metric_type(self, value) -> str:
        """What the metric returned, when the contract allows it; raises CheckFailed otherwise."""

    def metric_function(self, compute):
        """`compute(logits, labels)` on NumPy, as an accuracy function of the contract (the framework's types)."""


def load(framework: str) -> Adapter:
    """The adapter module for 'tf1', 'tf2' or 'torch'."""
    if framework not in FRAMEWORKS:
        raise ValueError(f"unknown framework {framework!r}; expected one of {', '.join(FRAMEWORKS)}")
    return importlib.import_module(f"graders.check.kernel.frameworks.{framework}")
