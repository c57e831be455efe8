"""TensorFlow 2 adapter: eager tensors and `tf.data` datasets to NumPy; see graders.check.kernel.frameworks."""

import contextlib
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from course.devices import seed_tensorflow, tensorflow_device  # noqa: E402
from graders.check.kernel.frameworks import _common  # noqa: E402
from graders.check.shared.checks.failures import CheckFailed  # noqa: E402

NAME = "tf2"


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


def check_batch(batches) -> str:
    return ""


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


def loss_on(loss, model, x, predictions, y):
    """`loss(labels, predictions)`: the loss given `predictions` in place of the model's logits."""
    return to_numpy(loss(tf.constant(y), tf.constant(np.asarray(predictions, dtype=np.float32))))


def check_optimizer(optimizer, model) -> str:
    if not callable(getattr(optimizer, "apply_gradients", None)):
        raise CheckFailed(
            "the optimizer",
            "a Keras optimizer (with apply_gradients)",
            type(optimizer).__name__,
            "tf.keras.optimizers.Adam(learning_rate)",
        )
    return type(optimizer).__name__


def metric_value(accuracy_fn, logits, labels):
    """What `accuracy_fn` returns on tensors of `logits` and `labels`, as it is (a tensor, the contract)."""
    return accuracy_fn(tf.constant(logits), tf.constant(labels))


def check_metric_type(value) -> str:
    if not tf.is_tensor(value):
        raise CheckFailed(
            "accuracy type",
            "a scalar tensor (tf.Tensor)",
            type(value).__name__,
            "return the tensor itself, not .numpy() or float(...)",
        )
    return ""


class LossProbe:
    """The loss a check hands to a student's train: computes the loss it wraps, and adds up (in TensorFlow
    variables, so that it also counts inside tf.function and Keras' compiled steps) how often it ran and what it gave."""

    def __init__(self, loss):
        self.loss = loss
        self.__name__ = getattr(loss, "__name__", None) or getattr(loss, "name", None) or "loss"
        self._calls = tf.Variable(0, dtype=tf.int64, trainable=False)
        self._total = tf.Variable(0.0, dtype=tf.float64, trainable=False)

    def __call__(self, labels, predictions, *args, **kwargs):
        value = self.loss(labels, predictions, *args, **kwargs)
        self._calls.assign_add(1)
        self._total.assign_add(tf.cast(tf.reduce_sum(value), tf.float64))
        return value

    @property
    def calls(self) -> int:
        return int(self._calls.numpy())

    def computed(self, steps: int):
        """The sum of the losses of the steps, or None when it ran another number of times than `steps`."""
        return float(self._total.numpy()) if self.calls == steps else None


def probe_loss(loss):
    return LossProbe(loss)


# The contract's objects: loaded from the grader's files, or converted from arrays --------------------------
def load_model(path: str):
    """The contract model the grader saved (`graders.author.model_files`: a Sequential of Dense `hidden`, `logits`)."""
    return tf.keras.models.load_model(path, compile=False)


def _variables(model) -> list:
    hidden, logits = model.get_layer("hidden"), model.get_layer("logits")
    return [hidden.kernel, hidden.bias, logits.kernel, logits.bias]


def weights_of(model) -> dict:
    names = ("hidden/kernel", "hidden/bias", "logits/kernel", "logits/bias")
    return {name: to_numpy(variable).copy() for name, variable in zip(names, _variables(model))}


def contract_batches(x, y, batch_size: int, shuffle: bool = False, seed: int = 0):
    """A tf.data.Dataset of (x float32, y int64) batches, reshuffled (seeded) each epoch when `shuffle`."""
    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        dataset = dataset.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size)


def course_training(model, learning_rate: float):
    """The loss and optimizer that a check hands to a student's train."""
    optimizer = tf.keras.optimizers.Adam(learning_rate)
    optimizer.build(model.trainable_variables)
    return tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True), optimizer


def loss_gradient(loss, model, logits, y) -> np.ndarray:
    """d loss(labels, logits) / d logits."""
    z = tf.Variable(np.asarray(logits, np.float32))
    with tf.GradientTape() as tape:
        value = loss(tf.constant(y), z)
    gradient = tape.gradient(value, z) if tf.is_tensor(value) else None
    if gradient is None:
        raise CheckFailed(
            "the gradient of your loss", "a loss that TensorFlow can differentiate", type(value).__name__,
            "compute the loss with TensorFlow operations on the logits (no .numpy() or NumPy)",
        )
    return to_numpy(gradient)


def optimizer_facts(optimizer) -> dict:
    """What the optimizer is: its class, its learning rate and how many variables it has built slots for."""
    rate = getattr(optimizer, "learning_rate", None)
    try:
        rate = float(to_numpy(rate)) if rate is not None else None
    except (TypeError, ValueError):  # a schedule: not one number
        rate = None
    return {"type": type(optimizer).__name__, "learning_rate": rate,
            "parameters": len(getattr(optimizer, "_trainable_variables", None) or [])}


def apply_gradients(optimizer, model, gradients: dict, x, y) -> None:
    """One optimizer step that the grader drives: the gradients it computed (canonical names) applied."""
    names = ("hidden/kernel", "hidden/bias", "logits/kernel", "logits/bias")
    given = [tf.constant(np.asarray(gradients[name], np.float32)) for name in names]
    optimizer.apply_gradients(zip(given, _variables(model)))


def metric_function(compute):
    """`compute(logits, labels)` on NumPy arrays, as an accuracy function of the contract: tensors in, a scalar tensor out."""
    return lambda logits, labels: tf.constant(compute(to_numpy(logits), to_numpy(labels)), dtype=tf.float32)
