"""What the three reference pipelines share: hyperparameters, the split container, and `run`.

Every framework module (`tf1_pipeline`, `tf2_pipeline`, `torch_pipeline`) exposes the same
seven steps with the same names and argument order:

1. ``download(name) -> RawData``
2. ``load_and_preprocess(raw, batch_size, validation_size, seed) -> Splits``
3. ``build_model(input_dim, num_classes, hidden_units, seed) -> model``
4. ``make_loss_and_optimizer(model, learning_rate) -> (loss, optimizer)``
5. ``accuracy(logits, labels) -> scalar in [0, 1]``
6. ``train(model, loss, optimizer, batches, epochs) -> list[float]`` (one loss per step)
7. ``report(model, splits) -> {"train_accuracy": float, "test_accuracy": float}``

plus ``count_parameters(model) -> int``. `run` chains them for any of the three.
"""

import importlib
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from course.data import RawData
from course.pipeline import Hyperparameters

FRAMEWORKS = {
    "tf1": "solutions.tf1_pipeline",
    "tf2": "solutions.tf2_pipeline",
    "torch": "solutions.torch_pipeline",
}


@dataclass
class Result:
    """What one run of a pipeline produced; `summary()` is what the demo prints."""

    framework: str
    shapes: dict[str, tuple[int, ...]]
    parameters: int
    losses: list[float] = field(repr=False)
    train_accuracy: float
    test_accuracy: float
    seconds: float
    hyperparameters: Hyperparameters
    model: Any = field(repr=False, compare=False)  # the trained model, framework-native

    def summary(self) -> str:
        shapes = ", ".join(f"{k} {v}" for k, v in self.shapes.items())
        return (
            f"[{self.framework}] data: {shapes}\n"
            f"[{self.framework}] parameters: {self.parameters:,}  "
            f"loss: {self.losses[0]:.3f} -> {self.losses[-1]:.3f} over {len(self.losses)} steps\n"
            f"[{self.framework}] accuracy: train {self.train_accuracy:.4f}  "
            f"test {self.test_accuracy:.4f}  ({self.seconds:.1f} s)"
        )


def load_framework(framework: str):
    """The reference module for 'tf1', 'tf2' or 'torch'."""
    if framework not in FRAMEWORKS:
        raise ValueError(f"unknown framework {framework!r}; expected one of {sorted(FRAMEWORKS)}")
    return importlib.import_module(FRAMEWORKS[framework])


def run(framework: str, raw: RawData, hp: Hyperparameters = Hyperparameters()) -> Result:
    """Steps 2-7 of `framework`'s reference pipeline on `raw` (step 1 is the caller's)."""
    pipeline = load_framework(framework)
    start = time.perf_counter()
    splits = pipeline.load_and_preprocess(
        raw, batch_size=hp.batch_size, validation_size=hp.validation_size, seed=hp.seed
    )
    input_dim = int(np.prod(raw.x_train.shape[1:]))
    model = pipeline.build_model(input_dim, hidden_units=hp.hidden_units, seed=hp.seed)
    loss, optimizer = pipeline.make_loss_and_optimizer(model, learning_rate=hp.learning_rate)
    losses = pipeline.train(model, loss, optimizer, splits.train, epochs=hp.epochs)
    accuracies = pipeline.report(model, splits)
    return Result(
        framework=framework,
        shapes={name: tuple(array.shape) for name, array in raw._asdict().items()},
        parameters=pipeline.count_parameters(model),
        losses=losses,
        train_accuracy=accuracies["train_accuracy"],
        test_accuracy=accuracies["test_accuracy"],
        seconds=time.perf_counter() - start,
        hyperparameters=hp,
        model=model,
    )
