"""TensorFlow 2 adapter: eager tensors and `tf.data` datasets to NumPy; see graders.frameworks."""

import contextlib
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from graders.checks.failures import CheckFailed  # noqa: E402
from graders.frameworks import _common  # noqa: E402
from graders.reference_code import optional  # noqa: E402
from course.devices import seed_tensorflow, tensorflow_device  # noqa: E402

NAME = "tf2"
reference = optional("solutions.tf2_pipeline")  # None in the students' install: see graders.notebook


def setup(seed: int = 0) -> str:
    """Quiet TensorFlow's Python logs, let it grow GPU memory, seed; return the device name."""
    tf.get_logger().setLevel("ERROR")
    device = tensorflow_device()
    seed_tensorflow(seed)
    return device


def seed(value: int = 0) -> None:
    seed_tensorflow(value)


def checking():
    """While checks run: nothing to change."""
    return contextlib.nullcontext()


def to_numpy(value) -> np.ndarray:
    return value.numpy() if hasattr(value, "numpy") else np.asarray(value)


def first_batch(batches):
    return _common.first_batch(batches, to_numpy)


def collect(batches):
    return _common.collect(batches, to_numpy)


def count_examples(batches) -> int:
    return _common.count_examples(batches, to_numpy)


count_batches = _common.count_batches


def check_model(model) -> str:
    if not callable(model) or not hasattr(model, "trainable_variables"):
        raise CheckFailed(
            "the model",
            "a tf.keras.Model (or Module) that is called on a batch",
            type(model).__name__,
            "what build_model returns",
        )
    return type(model).__name__


def predict(model, x) -> np.ndarray:
    """Logits of `model` on NumPy `x`, in inference mode."""
    parts = [to_numpy(model(tf.constant(chunk), training=False)) for chunk in _common.chunks(np.asarray(x))]
    return np.concatenate(parts)


def parameter_count(model) -> int:
    return int(sum(int(np.prod(v.shape)) for v in model.trainable_variables))


def static_shapes(model) -> dict:
    return {}


def close(model) -> None:
    pass


def loss_value(loss, model, x, y) -> float:
    """`loss(labels, logits)` on one batch, as called in a training step (Keras order)."""
    logits = model(tf.constant(x), training=False)
    return to_numpy(loss(tf.constant(y), logits))


def metric_value(accuracy_fn, logits, labels):
    return to_numpy(accuracy_fn(tf.constant(logits), tf.constant(labels)))
