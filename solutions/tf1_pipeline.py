"""Reference pipeline, TensorFlow 1 style: a static graph built once, then run in a Session.

Every tensor below is symbolic: it has no value until `Session.run` feeds the placeholders.
"""

from typing import NamedTuple

import numpy as np
import tensorflow as tf

from course.data import RawData, load_dataset
from course.devices import tensorflow_session_config
from course.pipeline import Splits

v1 = tf.compat.v1


# Step 1 ------------------------------------------------------------------------------------
def download(name: str = "digits") -> RawData:
    """Fetch (or read from the cache) uint8 images (N, H, W) and uint8 labels (N,)."""
    return load_dataset(name)


# Step 2 ------------------------------------------------------------------------------------
class Batches:
    """Re-iterable mini-batches of NumPy arrays, ready for `feed_dict`.

    Yields ``(x float32 (B, D), y int64 (B,))``; with `shuffle`, each pass draws a new
    order from a seeded generator, so runs repeat exactly.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, shuffle: bool = False, seed: int = 0):
        self.x, self.y, self.batch_size, self.shuffle = x, y, batch_size, shuffle
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)

    def __iter__(self):
        order = self._rng.permutation(len(self.x)) if self.shuffle else np.arange(len(self.x))
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            yield self.x[batch], self.y[batch]


def load_and_preprocess(raw: RawData, batch_size: int = 64, validation_size: float = 0.1, seed: int = 0) -> Splits:
    """Scale to float32 in [0, 1], flatten to (N, H*W), hold out a validation split, batch.

    Plain NumPy: a TF1 graph takes its data through placeholders, so the data never
    has to be a tensor.
    """

    def prepare(x, y):
        return (x.reshape(len(x), -1).astype(np.float32) / 255.0, y.astype(np.int64))

    x, y = prepare(raw.x_train, raw.y_train)
    order = np.random.default_rng(seed).permutation(len(x))
    n_validation = round(validation_size * len(x))
    validation, train = order[:n_validation], order[n_validation:]
    return Splits(
        train=Batches(x[train], y[train], batch_size, shuffle=True, seed=seed),
        validation=Batches(x[validation], y[validation], batch_size),
        test=Batches(*prepare(raw.x_test, raw.y_test), batch_size),
    )


# Step 3 ------------------------------------------------------------------------------------
class GraphModel(NamedTuple):
    """A graph and the handles needed to feed and fetch it."""

    graph: tf.Graph
    inputs: tf.Tensor  # placeholder float32 (None, input_dim)
    labels: tf.Tensor  # placeholder int64 (None,)
    logits: tf.Tensor  # float32 (None, num_classes)
    session: v1.Session


def dense(x: tf.Tensor, units: int, name: str, activation=None) -> tf.Tensor:
    """A fully connected layer from raw variables: ``activation(x @ kernel + bias)``."""
    with v1.variable_scope(name):
        kernel = v1.get_variable("kernel", (x.shape[-1], units), initializer=v1.glorot_uniform_initializer())
        bias = v1.get_variable("bias", (units,), initializer=v1.zeros_initializer())
    y = tf.matmul(x, kernel) + bias
    return activation(y) if activation else y


def build_model(input_dim: int, num_classes: int = 10, hidden_units: int = 128, seed: int = 0) -> GraphModel:
    """An MLP in a new graph: placeholders (None, input_dim) -> ReLU hidden -> (None, num_classes) logits."""
    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(seed)
        inputs = v1.placeholder(tf.float32, (None, input_dim), name="inputs")
        labels = v1.placeholder(tf.int64, (None,), name="labels")
        hidden = dense(inputs, hidden_units, "hidden", activation=tf.nn.relu)
        logits = dense(hidden, num_classes, "logits")
    session = v1.Session(graph=graph, config=tensorflow_session_config())
    return GraphModel(graph, inputs, labels, logits, session)


def count_parameters(model: GraphModel) -> int:
    """Number of trainable scalars in the graph."""
    with model.graph.as_default():
        return int(sum(np.prod(v.shape) for v in v1.trainable_variables()))


# Step 4 ------------------------------------------------------------------------------------
def make_loss_and_optimizer(model: GraphModel, learning_rate: float = 1e-3):
    """Add to the graph the mean cross-entropy of the logits (scalar tensor) and an Adam update op."""
    with model.graph.as_default():
        loss = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=model.labels, logits=model.logits)
        )
        train_op = v1.train.AdamOptimizer(learning_rate).minimize(loss)
    return loss, train_op


# Step 5 ------------------------------------------------------------------------------------
def accuracy(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """Add to the graph the fraction of rows whose argmax equals the label: a float32 scalar tensor."""
    with logits.graph.as_default():
        correct = tf.equal(tf.argmax(logits, axis=1), tf.cast(labels, tf.int64))
        return tf.reduce_mean(tf.cast(correct, tf.float32))


# Step 6 ------------------------------------------------------------------------------------
def train(model: GraphModel, loss: tf.Tensor, train_op, batches: Batches, epochs: int = 10) -> list[float]:
    """Initialise the variables, then run `train_op` once per batch; return the loss of every step."""
    with model.graph.as_default():
        model.session.run(v1.global_variables_initializer())
    history = []
    for _ in range(epochs):
        for x, y in batches:
            _, value = model.session.run([train_op, loss], feed_dict={model.inputs: x, model.labels: y})
            history.append(float(value))
    return history


# Step 7 ------------------------------------------------------------------------------------
def report(model: GraphModel, splits: Splits) -> dict[str, float]:
    """Accuracy of the trained graph on the train and test splits."""
    accuracy_op = accuracy(model.logits, model.labels)

    def evaluate(batches: Batches) -> float:
        correct = sum(
            model.session.run(accuracy_op, feed_dict={model.inputs: x, model.labels: y}) * len(y)
            for x, y in batches
        )
        return float(correct / len(batches.x))

    return {"train_accuracy": evaluate(splits.train), "test_accuracy": evaluate(splits.test)}
