"""Reference pipeline, TensorFlow 2: eager tensors, `tf.data`, Keras layers, `tf.function`.

Code runs line by line like NumPy; `tf.function` traces the training step into a graph
once per input signature, so the hot loop still runs as a graph.
"""

import tensorflow as tf

from course.data import RawData, load_dataset
from course.pipeline import Splits


# Step 1 ------------------------------------------------------------------------------------
def download(name: str = "digits") -> RawData:
    """Fetch (or read from the cache) uint8 images (N, H, W) and uint8 labels (N,)."""
    return load_dataset(name)


# Step 2 ------------------------------------------------------------------------------------
def load_and_preprocess(raw: RawData, batch_size: int = 64, validation_size: float = 0.1, seed: int = 0) -> Splits:
    """Scale to float32 in [0, 1], flatten to (N, H*W), hold out a validation split, batch.

    Each split is a `tf.data.Dataset` of ``(x float32 (B, D), y int64 (B,))``; the
    training split is reshuffled (seeded) every epoch.
    """

    tf.random.set_seed(seed)  # shuffles draw from the global seed and their own

    def prepare(x, y):
        x = tf.reshape(tf.cast(x, tf.float32) / 255.0, (len(x), -1))
        return tf.data.Dataset.from_tensor_slices((x, tf.cast(y, tf.int64)))

    n = len(raw.x_train)
    n_validation = round(validation_size * n)
    everything = prepare(raw.x_train, raw.y_train).shuffle(n, seed=seed, reshuffle_each_iteration=False)
    train = everything.skip(n_validation).shuffle(n - n_validation, seed=seed)
    return Splits(
        train=train.batch(batch_size).prefetch(tf.data.AUTOTUNE),
        validation=everything.take(n_validation).batch(batch_size),
        test=prepare(raw.x_test, raw.y_test).batch(batch_size),
    )


# Step 3 ------------------------------------------------------------------------------------
def build_model(input_dim: int, num_classes: int = 10, hidden_units: int = 128, seed: int = 0) -> tf.keras.Model:
    """An MLP: (B, input_dim) float32 -> ReLU hidden -> (B, num_classes) logits."""
    tf.keras.utils.set_random_seed(seed)
    return tf.keras.Sequential(
        [
            tf.keras.Input(shape=(input_dim,)),
            tf.keras.layers.Dense(hidden_units, activation="relu", name="hidden"),
            tf.keras.layers.Dense(num_classes, name="logits"),
        ]
    )


def count_parameters(model: tf.keras.Model) -> int:
    """Number of trainable scalars."""
    return int(sum(tf.size(v) for v in model.trainable_variables))


# Step 4 ------------------------------------------------------------------------------------
def make_loss_and_optimizer(model: tf.keras.Model, learning_rate: float = 1e-3):
    """Mean cross-entropy on logits, called as ``loss(labels, logits)``, and Adam over the model."""
    loss = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = tf.keras.optimizers.Adam(learning_rate)
    optimizer.build(model.trainable_variables)
    return loss, optimizer


# Step 5 ------------------------------------------------------------------------------------
def accuracy(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """Fraction of rows whose argmax equals the label: a float32 scalar, computed now."""
    correct = tf.equal(tf.argmax(logits, axis=1), tf.cast(labels, tf.int64))
    return tf.reduce_mean(tf.cast(correct, tf.float32))


# Step 6 ------------------------------------------------------------------------------------
def train(model: tf.keras.Model, loss, optimizer, batches: tf.data.Dataset, epochs: int = 10) -> list[float]:
    """Run one `GradientTape` step per batch; return the loss of every step."""

    @tf.function(reduce_retracing=True)
    def step(x, y):
        with tf.GradientTape() as tape:
            value = loss(y, model(x, training=True))
        gradients = tape.gradient(value, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return value

    history = []
    for _ in range(epochs):
        for x, y in batches:
            history.append(float(step(x, y)))
    return history


# Step 7 ------------------------------------------------------------------------------------
def report(model: tf.keras.Model, splits: Splits) -> dict[str, float]:
    """Accuracy of the trained model on the train and test splits."""

    def evaluate(batches: tf.data.Dataset) -> float:
        correct = total = 0.0
        for x, y in batches:
            correct += float(accuracy(model(x, training=False), y)) * len(y)
            total += len(y)
        return correct / total

    return {"train_accuracy": evaluate(splits.train), "test_accuracy": evaluate(splits.test)}
