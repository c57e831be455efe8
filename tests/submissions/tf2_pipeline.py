"""Sample submissions of `tf2_pipeline` and the score each must get (16 points in all).

Grading scale (points per graded cell)::

    download_tests 1   load_and_preprocess_tests 3   build_model_tests 2   make_loss_and_optimizer_tests 2
    accuracy_tests 1   train_tests 3                 report_tests 1        results_tests 3 (partial credit)

Each step is checked on the course's reference inputs (a reference Keras model, reference
datasets), so a broken step costs that step's cell; `results_tests` grades the model the
student's own pipeline trained (held-out accuracy: full marks from the reference's minus 0.02,
none at or below 0.5), so a break that spoils training costs those 3 points too.
"""

from . import Sample, full_marks, reference_cell, swap, zero_marks

A = "tf2_pipeline"


def _ref(grade_id: str) -> str:
    return reference_cell(A, grade_id)


# --- Correct, but not the reference's code: full marks ---------------------------------------------
SUBCLASSED_TRAIN_ON_BATCH = {
    # NumPy split, then tf.data with a reshuffling buffer
    "load_and_preprocess": '''
def load_and_preprocess(raw, batch_size=64, validation_size=0.1, seed=0):
    x = (raw.x_train.reshape(len(raw.x_train), -1) / 255.0).astype(np.float32)
    y = raw.y_train.astype(np.int64)
    rows = np.random.default_rng(seed).permutation(len(x))
    n_val = round(validation_size * len(x))
    val, tr = rows[:n_val], rows[n_val:]
    train = (tf.data.Dataset.from_tensor_slices((x[tr], y[tr]))
             .shuffle(len(tr), seed=seed, reshuffle_each_iteration=True).batch(batch_size))
    validation = tf.data.Dataset.from_tensor_slices((x[val], y[val])).batch(batch_size)
    x_test = (raw.x_test.reshape(len(raw.x_test), -1) / 255.0).astype(np.float32)
    test = tf.data.Dataset.from_tensor_slices((x_test, raw.y_test.astype(np.int64))).batch(batch_size)
    return Splits(train=train, validation=validation, test=test)
''',
    # a subclassed Keras model, built by calling it once
    "build_model": '''
class MLP(tf.keras.Model):
    def __init__(self, num_classes=10, hidden_units=128):
        super().__init__()
        self.hidden = tf.keras.layers.Dense(hidden_units, activation=tf.nn.relu)
        self.out = tf.keras.layers.Dense(num_classes)

    def call(self, x, training=False):
        return self.out(self.hidden(x))


def build_model(input_dim, num_classes=10, hidden_units=128, seed=0):
    tf.keras.utils.set_random_seed(seed)
    model = MLP(num_classes, hidden_units)
    model(tf.zeros((1, input_dim)))  # creates the weights
    return model
''',
    "make_loss_and_optimizer": '''
def make_loss_and_optimizer(model, learning_rate=1e-3):
    return (tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            tf.keras.optimizers.Adam(learning_rate=learning_rate))
''',
    "accuracy": '''
def accuracy(logits, labels):
    return tf.reduce_mean(tf.keras.metrics.sparse_categorical_accuracy(labels, logits))
''',
    # Keras does the step: compile once, train_on_batch per batch
    "train": '''
def train(model, loss, optimizer, batches, epochs=10):
    model.compile(optimizer=optimizer, loss=loss)
    history = []
    for _ in range(epochs):
        for x, y in batches:
            history.append(float(model.train_on_batch(x, y)))
    return history
''',
    "report": '''
def report(model, splits):
    out = {}
    for key, data in (("train_accuracy", splits.train), ("test_accuracy", splits.test)):
        right = seen = 0
        for x, y in data:
            right += int(tf.reduce_sum(tf.cast(tf.argmax(model(x), axis=-1) == y, tf.int32)))
            seen += int(tf.shape(y)[0])
        out[key] = right / seen
    return out
''',
}

FUNCTIONAL_SIGNATURE_STEP = {
    # the functional API
    "build_model": '''
def build_model(input_dim, num_classes=10, hidden_units=128, seed=0):
    tf.keras.utils.set_random_seed(seed)
    inputs = tf.keras.Input((input_dim,))
    hidden = tf.keras.layers.Dense(hidden_units)(inputs)
    hidden = tf.keras.layers.ReLU()(hidden)
    logits = tf.keras.layers.Dense(num_classes)(hidden)
    return tf.keras.Model(inputs, logits)
''',
    # the loss as a plain function of (labels, logits)
    "make_loss_and_optimizer": '''
def make_loss_and_optimizer(model, learning_rate=1e-3):
    def loss(labels, logits):
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    optimizer = tf.keras.optimizers.Adam(learning_rate)
    return loss, optimizer
''',
    # the step traced once for every batch size, by an input_signature; losses kept as tensors until the end
    "train": '''
def train(model, loss, optimizer, batches, epochs=10):
    spec = batches.element_spec
    @tf.function(input_signature=[tf.TensorSpec(spec[0].shape, spec[0].dtype), tf.TensorSpec(spec[1].shape, spec[1].dtype)])
    def one_step(images, labels):
        with tf.GradientTape() as tape:
            value = loss(labels, model(images, training=True))
        variables = model.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(value, variables), variables))
        return value
    losses = []
    for epoch in range(epochs):
        for images, labels in batches:
            losses.append(one_step(images, labels))
    return [float(v) for v in losses]
''',
}

# --- Idioms students copy from tutorials (issue 10) ------------------------------------------------------
OWN_LOSS = '''
def make_loss_and_optimizer(model, learning_rate=1e-3):
    def loss(labels, logits):
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))

    return loss, tf.keras.optimizers.Adam(learning_rate)
'''

# The pipeline: a functional model, the loss as a function of its own, a tf.keras.metrics object for
# the accuracy (a new one per call), and train by compile + fit with a callback that collects the loss
# after each batch. What fit's logs hold there is the mean over the epoch so far, not the batch's loss:
# train breaks "one loss per step" (step 6). And Keras casts the labels to float32 before it calls the
# loss, which sparse_softmax_cross_entropy_with_logits refuses: the whole pipeline stops in train, so
# the results score 0 too.
KERAS_FIT_CALLBACK = {
    "build_model": '''
def build_model(input_dim, num_classes=10, hidden_units=128, seed=0):
    tf.keras.utils.set_random_seed(seed)
    inputs = tf.keras.Input(shape=(input_dim,))
    x = tf.keras.layers.Dense(hidden_units, activation="relu")(inputs)
    outputs = tf.keras.layers.Dense(num_classes)(x)
    return tf.keras.Model(inputs=inputs, outputs=outputs, name="mlp")
''',
    "make_loss_and_optimizer": OWN_LOSS,
    "accuracy": '''
def accuracy(logits, labels):
    metric = tf.keras.metrics.SparseCategoricalAccuracy()
    metric.update_state(labels, logits)
    return metric.result()
''',
    "train": '''
class LossHistory(tf.keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.losses = []

    def on_train_batch_end(self, batch, logs=None):
        self.losses.append(float(logs["loss"]))


def train(model, loss, optimizer, batches, epochs=10):
    history = LossHistory()
    model.compile(optimizer=optimizer, loss=loss)
    model.fit(batches, epochs=epochs, callbacks=[history], verbose=0)
    return history.losses
''',
}

# keras.io's style: the subclassed model above, ending in a softmax, SparseCategoricalCrossentropy() as it comes
# (from_logits=False), one tf.keras.metrics object for every call of accuracy. It trains well; three steps
# break the contract where they are written: probabilities, not logits (step 3); a loss that expects
# probabilities (step 4); an accuracy that keeps a running total across calls (step 5).
SUBCLASSED_SOFTMAX = {
    "build_model": swap(
        SUBCLASSED_TRAIN_ON_BATCH["build_model"],
        "self.out = tf.keras.layers.Dense(num_classes)",
        'self.out = tf.keras.layers.Dense(num_classes, activation="softmax")',
    ),
    "make_loss_and_optimizer": '''
def make_loss_and_optimizer(model, learning_rate=1e-3):
    optimizer = tf.keras.optimizers.Adam(learning_rate=learning_rate)
    optimizer.build(model.trainable_variables)
    return tf.keras.losses.SparseCategoricalCrossentropy(), optimizer
''',
    "accuracy": '''
train_accuracy = tf.keras.metrics.SparseCategoricalAccuracy(name="train_accuracy")


def accuracy(logits, labels):
    train_accuracy.update_state(labels, logits)
    return train_accuracy.result()
''',
}

# The same clash with every step's checks passing: a Sequential model, the loss as a function of its own,
# and train by compile + train_on_batch (the loss of each batch, as the contract asks). The whole pipeline
# stops in train, and its message names steps 4 and 6.
SEQUENTIAL_TRAIN_ON_BATCH = {
    "build_model": '''
def build_model(input_dim, num_classes=10, hidden_units=128, seed=0):
    tf.keras.utils.set_random_seed(seed)
    model = tf.keras.Sequential([
        tf.keras.layers.Dense(hidden_units, activation="relu"),
        tf.keras.layers.Dense(num_classes),
    ])
    model.build((None, input_dim))
    return model
''',
    "make_loss_and_optimizer": OWN_LOSS,
    "train": '''
def train(model, loss, optimizer, batches, epochs=10):
    model.compile(optimizer=optimizer, loss=loss)
    return [float(model.train_on_batch(x, y)) for _ in range(epochs) for x, y in batches]
''',
}

# (a) imported directly; (b) found by a module name built at run time; (c) through the checker's own objects
REFERENCE_ROUTES = {
    "make_loss_and_optimizer": '''
def make_loss_and_optimizer(model, learning_rate=1e-3):
    from solutions.tf2_pipeline import make_loss_and_optimizer

    return make_loss_and_optimizer(model, learning_rate)
''',
    "report": '''
import importlib


def report(model, splits):
    return importlib.import_module(".".join(["solutions", "tf2_pipeline"])).report(model, splits)
''',
    "load_and_preprocess": '''
def load_and_preprocess(raw, batch_size=64, validation_size=0.1, seed=0):
    return check.adapter.reference.load_and_preprocess(raw, batch_size, validation_size, seed)
''',
}

# A mistake that reads the same in every framework is checked in all three by tests/test_notebook_api.py (a loss that
# is not cross-entropy, a changed download, an off-by-one accuracy, a stale report), and the torch bank grades the last
# three whole (download_flattened, accuracy_off_by_one, report_swapped); this bank grades what is TensorFlow's own.
SAMPLES = [
    Sample("reference", {}, full_marks(A), about="the course's own solution"),
    Sample(
        "subclassed_train_on_batch",
        SUBCLASSED_TRAIN_ON_BATCH,
        full_marks(A),
        about="subclassed keras.Model, compile + train_on_batch, NumPy split, Keras metric for accuracy",
    ),
    Sample(
        "functional_signature_step",
        FUNCTIONAL_SIGNATURE_STEP,
        full_marks(A),
        about="functional API, the loss as a plain function, a tf.function step with an input_signature",
    ),
    Sample(
        "test_split_unbatched",
        {"load_and_preprocess": swap(_ref("load_and_preprocess"), "test=prepare(raw.x_test, raw.y_test).batch(batch_size)",
                                     "test=prepare(raw.x_test, raw.y_test)")},
        full_marks(A, load_and_preprocess_tests=0),
        about="the test split yields single images, not batches; training is unaffected",
    ),
    Sample(
        "input_784",
        {"build_model": swap(_ref("build_model"), "tf.keras.Input(shape=(input_dim,))", "tf.keras.Input(shape=(784,))")},
        full_marks(A, build_model_tests=0, results_tests=0),
        about="input size hard-coded for MNIST (784): the model cannot take the 64 pixels of digits",
    ),
    Sample(
        "accuracy_counts",
        {"accuracy": swap(_ref("accuracy"), "tf.reduce_mean(tf.cast(correct, tf.float32))",
                          "tf.reduce_sum(tf.cast(correct, tf.float32))")},
        full_marks(A, accuracy_tests=0),
        about="the number of correct rows instead of the fraction; training is unaffected",
    ),
    Sample(
        "no_apply_gradients",
        {"train": swap(_ref("train"), "        optimizer.apply_gradients(zip(gradients, model.trainable_variables))\n", "")},
        full_marks(A, train_tests=0, results_tests=0),
        about="gradients computed, never applied: the weights keep their initial values",
    ),
    Sample(
        "report_tensors",
        {"report": swap(_ref("report"), "correct += float(accuracy(model(x, training=False), y)) * len(y)",
                        "correct += accuracy(model(x, training=False), y) * len(y)")},
        full_marks(A, report_tests=0),
        about="report returns scalar tensors, not Python floats",
    ),
    Sample(
        "reference_routes",
        REFERENCE_ROUTES,
        full_marks(A, load_and_preprocess_tests=0, make_loss_and_optimizer_tests=0, report_tests=0, results_tests=0),
        about="reference code at grading: make_loss_and_optimizer imports it, report finds it by a run-time module name, "
        "load_and_preprocess through check.adapter.reference: none of them is there at grading",
    ),
    # --- Idioms students copy (issue 10): the contract point each one breaks, where it breaks it ----------
    Sample(
        "keras_fit_callback",
        KERAS_FIT_CALLBACK,
        full_marks(A, train_tests=0, results_tests=0),
        outcome="the whole pipeline stopped in step 6 (train): TypeError: Value passed to parameter 'indices' has "
        "DataType float32",
        about="functional model, own loss function, tf.keras.metrics accuracy, compile + fit with a per-batch callback: "
        "fit's logs are running means (step 6), and fit hands the loss float32 labels (the pipeline stops)",
        says={"train": "the logs['loss'] that Keras fit hands a callback is the mean over the epoch so far"},
    ),
    Sample(
        "subclassed_softmax",
        SUBCLASSED_SOFTMAX,
        full_marks(A, build_model_tests=0, make_loss_and_optimizer_tests=0, accuracy_tests=0),
        about="subclassed model ending in softmax (step 3), SparseCategoricalCrossentropy() expecting probabilities "
        "(step 4), one metric object for every call (step 5: a running total); trains well",
        says={
            "build_model": "logits — expected raw logits (no softmax: the loss applies it), found probabilities",
            "make_loss_and_optimizer": "your loss expects probabilities (the output of a softmax",
            "accuracy": "a metric object (tf.keras.metrics, torchmetrics) keeps a running total across calls",
        },
    ),
    Sample(
        "sequential_train_on_batch",
        SEQUENTIAL_TRAIN_ON_BATCH,
        full_marks(A, results_tests=0),
        outcome="Each step passes on the course's inputs, but together they fail here: step 4 (make_loss_and_optimizer) "
        "and step 6 (train) clash",
        about="Sequential model, own loss function, compile + train_on_batch: each passes, together they stop (float32 labels)",
    ),
    Sample("unfilled", {}, zero_marks(A), base="release", about="the release as handed out: every stub raises"),
]
