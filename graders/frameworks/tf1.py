"""TensorFlow 1 (graph) adapter: feeds NumPy through placeholders and runs Sessions; see graders.frameworks.

A TF1 model is the course's ``GraphModel(graph, inputs, labels, logits, session)``.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from graders.checks.failures import CheckFailed  # noqa: E402
from graders.frameworks import _common  # noqa: E402
from graders.reference_code import optional  # noqa: E402
from course.devices import tensorflow_session_config  # noqa: E402

NAME = "tf1"
reference = optional("solutions.tf1_pipeline")  # None in the students' install: see graders.notebook
v1 = tf.compat.v1
FIELDS = ("graph", "inputs", "labels", "logits", "session")


# Set-up, seeding and reading batches are TensorFlow's, the same as in TF2.
from graders.frameworks.tf2 import (  # noqa: E402, F401 - part of this adapter's interface
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
