"""TensorFlow 1 (graph) adapter: feeds NumPy through placeholders and runs Sessions; see graders.check.kernel.frameworks.

A TF1 model is the course's ``GraphModel(graph, inputs, labels, logits, session)``.
"""

import os
from typing import NamedTuple

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from course.devices import tensorflow_session_config  # noqa: E402
from graders.check.kernel.frameworks import _common  # noqa: E402
from graders.check.shared.checks.failures import CheckFailed  # noqa: E402

NAME = "tf1"
v1 = tf.compat.v1
FIELDS = ("graph", "inputs", "labels", "logits", "session")


# Set-up, seeding and reading batches are TensorFlow's, the same as in TF2.
from graders.check.kernel.frameworks.tf2 import (  # noqa: E402, F401 - part of this adapter's interface
    check_batch,
    checking,
    collect,
    count_batches,
    count_examples,
    first_batch,
    seed,
    setup,
    to_numpy,
)


def check_model(model) -> str:
    missing = [field for field in FIELDS if not hasattr(model, field)]
    if missing:
        raise CheckFailed(
            "the model",
            "a GraphModel(graph, inputs, labels, logits, session)",
            f"{type(model).__name__} without {', '.join(missing)}",
            "what build_model returns",
        )
    if not isinstance(model.session, v1.Session) or model.session.graph is not model.graph:
        raise CheckFailed(
            "the model's session",
            "a Session on the model's graph",
            type(model.session).__name__,
            "v1.Session(graph=graph)",
        )
    return "GraphModel"


def initialize_missing(model) -> None:
    """Initialise the variables of the model's graph that are not initialised yet (and only those)."""
    if model.graph.finalized:  # nothing can be added; a finalized graph was initialised by its owner
        return
    with model.graph.as_default():
        names = {name.decode() for name in model.session.run(v1.report_uninitialized_variables())}
        missing = [v for v in v1.global_variables() if v.op.name in names]
        if missing:
            model.session.run(v1.variables_initializer(missing))


def predict(model, x) -> np.ndarray:
    """Logits of the graph for NumPy `x`, fed through `model.inputs` (uninitialised variables get initialised)."""
    initialize_missing(model)
    parts = [model.session.run(model.logits, {model.inputs: chunk}) for chunk in _common.chunks(np.asarray(x))]
    return np.concatenate(parts)


def parameter_count(model) -> int:
    with model.graph.as_default():
        return int(sum(int(np.prod(v.shape)) for v in v1.trainable_variables()))


def static_shapes(model) -> dict:
    """The static shapes of the placeholders and logits, e.g. {'inputs': (None, 64), ...}."""
    return {name: getattr(model, name).shape for name in ("inputs", "labels", "logits")}


def close(model) -> None:
    session = getattr(model, "session", None)
    if isinstance(session, v1.Session):
        session.close()


def loss_value(loss, model, x, y):
    """Run the loss tensor with x and y fed to the model's placeholders."""
    initialize_missing(model)
    if not isinstance(loss, tf.Tensor) or loss.graph is not model.graph:
        raise CheckFailed(
            "the loss",
            "a scalar tensor in the model's graph",
            type(loss).__name__,
            "build the loss inside `with model.graph.as_default():`",
        )
    return model.session.run(loss, {model.inputs: x, model.labels: y})


def loss_on(loss, model, x, predictions, y):
    """The loss tensor run with `predictions` fed in place of the model's logits."""
    initialize_missing(model)
    feed = {model.inputs: x, model.labels: y, model.logits: np.asarray(predictions, dtype=np.float32)}
    return model.session.run(loss, feed)


def check_optimizer(train_op, model) -> str:
    """The update op that `optimizer.minimize(loss)` returns, in the model's graph."""
    if not isinstance(train_op, (tf.Operation, tf.Tensor)):
        raise CheckFailed(
            "the second value returned",
            "the update op that optimizer.minimize(loss) returns",
            type(train_op).__name__,
            "return v1.train.AdamOptimizer(learning_rate).minimize(loss), not the optimizer itself",
        )
    if train_op.graph is not model.graph:
        raise CheckFailed(
            "the train op",
            "an op in the model's graph",
            "an op in another graph",
            "build it inside `with model.graph.as_default():`",
        )
    return "train op"


def check_metric_type(value) -> str:
    return ""


def probe_loss(loss):
    return None  # the loss is a tensor in the graph: nothing to wrap


def metric_value(accuracy_fn, logits, labels):
    """Build the metric on constants in a fresh graph and run it in a Session."""
    graph = tf.Graph()
    with graph.as_default():
        value = accuracy_fn(tf.constant(logits), tf.constant(labels))
    if isinstance(value, (tf.Tensor, tf.Variable)):
        with v1.Session(graph=graph, config=tensorflow_session_config()) as session:
            return session.run(value)
    return value


# The contract's objects, built from data (graders.check.trusted.network's canonical weights) -----------
class GraphModel(NamedTuple):
    """The contract's model: a graph and the handles to feed and fetch it."""

    graph: tf.Graph
    inputs: tf.Tensor
    labels: tf.Tensor
    logits: tf.Tensor
    session: v1.Session


WEIGHTS = ("hidden/kernel", "hidden/bias", "logits/kernel", "logits/bias")


def load_model(prefix: str) -> GraphModel:
    """The contract model the grader saved (`graders.author.model_files`): its MetaGraphDef imported into a new graph,
    its checkpoint restored in a new Session."""
    graph = tf.Graph()
    with graph.as_default():
        saver = v1.train.import_meta_graph(prefix + ".meta")
        session = v1.Session(graph=graph, config=tensorflow_session_config())
        saver.restore(session, prefix)
        tensor = graph.get_tensor_by_name
    return GraphModel(graph, tensor("inputs:0"), tensor("labels:0"), tensor("logits_output:0"), session)


def weights_of(model) -> dict:
    with model.graph.as_default():
        variables = {v.op.name: v for v in v1.global_variables()}
    return dict(zip(WEIGHTS, model.session.run([variables[name] for name in WEIGHTS])))


class Batches:
    """Re-iterable batches of NumPy arrays, reshuffled (seeded) each pass when `shuffle`."""

    def __init__(self, x, y, batch_size: int, shuffle: bool = False, seed_value: int = 0):
        self.x, self.y, self.batch_size, self.shuffle = x, y, batch_size, shuffle
        self._rng = np.random.default_rng(seed_value)

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)

    def __iter__(self):
        order = self._rng.permutation(len(self.x)) if self.shuffle else np.arange(len(self.x))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            yield self.x[rows], self.y[rows]


contract_batches = Batches


def course_training(model, learning_rate: float):
    """The loss tensor and train op that a check hands to a student's train."""
    with model.graph.as_default():
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=model.labels, logits=model.logits))
        return loss, v1.train.AdamOptimizer(learning_rate).minimize(loss)


def loss_gradient(loss, model, logits, y) -> np.ndarray:
    """d loss / d model.logits, with `logits` fed in place of the model's."""
    with model.graph.as_default():
        gradient = tf.gradients(loss, model.logits)[0] if isinstance(loss, tf.Tensor) else None
    if gradient is None:
        raise CheckFailed(
            "the gradient of your loss", "a loss computed from model.logits", "a tensor that does not depend on them",
            "build the loss on model.logits and model.labels",
        )
    initialize_missing(model)
    x = np.zeros((len(y), model.inputs.shape[1]), np.float32)
    return model.session.run(gradient, {model.inputs: x, model.labels: y, model.logits: np.asarray(logits, np.float32)})


GRADIENT_INPUTS = ("grad", "delta")  # what the apply ops of v1.train optimizers call their gradient
RATE_INPUTS = ("lr", "alpha")


def _apply_ops(train_op) -> list:
    """The ops that `train_op` runs which apply a gradient to a variable (ApplyAdam, ResourceApplyGradientDescent, ...)."""
    found, seen, pending = [], set(), [train_op.op if isinstance(train_op, tf.Tensor) else train_op]
    while pending:
        op = pending.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        names = [argument.name for argument in op.op_def.input_arg]
        if "Apply" in op.type and any(name in names for name in GRADIENT_INPUTS):
            found.append(op)
        pending += list(op.control_inputs) + [tensor.op for tensor in op.inputs]
    return found


def _input(op, names: tuple[str, ...]):
    arguments = [argument.name for argument in op.op_def.input_arg]
    return next((op.inputs[arguments.index(name)] for name in names if name in arguments), None)


def optimizer_facts(train_op) -> dict:
    """What the train op applies: the optimizer (from its apply ops' type), its learning rate, how many variables."""
    ops = _apply_ops(train_op)
    kinds = sorted({op.type.replace("Resource", "").replace("Apply", "") for op in ops})
    rate = _input(ops[0], RATE_INPUTS) if ops else None
    session = v1.Session(graph=train_op.graph, config=tensorflow_session_config())
    try:
        value = float(session.run(rate)) if rate is not None else None
    except Exception:  # the rate depends on something not fed: not one number
        value = None
    finally:
        session.close()
    return {"type": "/".join(kinds) or "none", "learning_rate": value, "parameters": len(ops)}


def apply_gradients(train_op, model, gradients: dict, x, y) -> None:
    """One step of the train op that the grader drives: its apply ops fed the gradients the grader computed (when
    they update the contract's variables), with the batch `x`, `y` fed as well."""
    initialize_missing(model)
    feed = {model.inputs: x, model.labels: y}
    for op in _apply_ops(train_op):
        name, gradient = op.inputs[0].op.name, _input(op, GRADIENT_INPUTS)
        if name in gradients and gradient is not None:
            feed[gradient] = np.asarray(gradients[name], np.float32)
    model.session.run(train_op, feed)


def metric_function(compute):
    """`compute(logits, labels)` on NumPy arrays, as an accuracy function of the contract: tensors in the model's graph
    in, a scalar float32 tensor out (run when the graph runs)."""

    def accuracy(logits, labels):
        with logits.graph.as_default():
            value = v1.py_func(lambda z, t: np.float32(compute(z, t)), [logits, labels], tf.float32, stateful=False)
            return tf.reshape(value, ())

    return accuracy
