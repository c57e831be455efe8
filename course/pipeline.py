"""What the three pipelines share: the split container and the course's hyperparameters.

Students' notebooks and the reference pipelines (`solutions.pipeline`) import these, so one
setting serves all three frameworks and the grader.
"""

from dataclasses import dataclass
from typing import Any, NamedTuple


class Splits(NamedTuple):
    """Framework-native, re-iterable batches of ``(x float32 (B, H*W) in [0, 1], y int64 (B,))``."""

    train: Any
    validation: Any
    test: Any


@dataclass(frozen=True)
class Hyperparameters:
    """One setting for all three frameworks, so their results can be compared."""

    hidden_units: int = 128
    learning_rate: float = 1e-3
    batch_size: int = 64
    epochs: int = 10
    validation_size: float = 0.1
    seed: int = 0


HYPERPARAMETERS = {
    "digits": Hyperparameters(hidden_units=128, learning_rate=3e-3, batch_size=32, epochs=20),
    "mnist": Hyperparameters(hidden_units=256, learning_rate=1e-3, batch_size=64, epochs=10),
    "fashion_mnist": Hyperparameters(hidden_units=256, learning_rate=1e-3, batch_size=64, epochs=10),
}
