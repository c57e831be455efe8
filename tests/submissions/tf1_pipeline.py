"""Sample submissions of `tf1_pipeline` and the score each must get (16 points in all).

Grading scale (points per graded cell)::

    download_tests 1   load_and_preprocess_tests 3   build_model_tests 2   make_loss_and_optimizer_tests 2
    accuracy_tests 1   train_tests 3                 report_tests 1        results_tests 3 (partial credit)

Each step is checked on the course's reference inputs (a reference graph, reference batches),
so a broken step costs that step's cell; `results_tests` grades the graph the student's own
pipeline trained (held-out accuracy: full marks from the reference's minus 0.02, none at or
below 0.5), so a break that spoils training costs those 3 points too.
"""

from . import Sample, full_marks, reference_cell, swap, zero_marks

A = "tf1_pipeline"


def _ref(grade_id: str) -> str:
    return reference_cell(A, grade_id)


# --- Correct, but not the reference's code: full marks ---------------------------------------------
TWO_LAYERS_MOMENTUM = {
    # a generator-backed batch class with its own RandomState; the split drawn the other way round
    "load_and_preprocess": '''
class Batches:
    def __init__(self, x, y, batch_size, shuffle=False, seed=0):
        self.x, self.y, self.batch_size, self.shuffle = x, y, batch_size, shuffle
        self.random = np.random.RandomState(seed)

    def __len__(self):
        return int(np.ceil(len(self.x) / self.batch_size))

    def __iter__(self):
        index = np.arange(len(self.x))
        if self.shuffle:
            self.random.shuffle(index)
        for i in range(len(self)):
            part = index[i * self.batch_size:(i + 1) * self.batch_size]
            yield self.x[part], self.y[part]


def load_and_preprocess(raw, batch_size=64, validation_size=0.1, seed=0):
    flat = lambda images: images.reshape(images.shape[0], -1).astype("float32") / 255
    x, y = flat(raw.x_train), raw.y_train.astype("int64")
    shuffled = np.random.RandomState(seed).permutation(len(x))
    n_val = int(round(len(x) * validation_size))
    train_rows, val_rows = shuffled[n_val:], shuffled[:n_val]
    return Splits(
        Batches(x[train_rows], y[train_rows], batch_size, shuffle=True, seed=seed),
        Batches(x[val_rows], y[val_rows], batch_size),
        Batches(flat(raw.x_test), raw.y_test.astype("int64"), batch_size),
    )
''',
    # two hidden ReLU layers, truncated-normal kernels, tf.Variable instead of get_variable
    "build_model": '''
def dense(x, units, name, activation=None):
    with v1.name_scope(name):
        fan_in = int(x.shape[-1])
        kernel = tf.Variable(v1.truncated_normal((fan_in, units), stddev=np.sqrt(2.0 / fan_in)), name="kernel")
        bias = tf.Variable(tf.zeros((units,)), name="bias")
        out = tf.matmul(x, kernel) + bias
    return out if activation is None else activation(out)


def build_model(input_dim, num_classes=10, hidden_units=128, seed=0):
    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(seed)
        inputs = v1.placeholder(tf.float32, shape=[None, input_dim])
        labels = v1.placeholder(tf.int64, shape=[None])
        h1 = dense(inputs, hidden_units, "hidden1", tf.nn.relu)
        h2 = dense(h1, hidden_units, "hidden2", tf.nn.relu)
        logits = dense(h2, num_classes, "logits")
    return GraphModel(graph, inputs, labels, logits, v1.Session(graph=graph, config=tensorflow_session_config()))
''',
    # momentum SGD at its own learning rate instead of Adam; the loss via one-hot labels
    "make_loss_and_optimizer": '''
def make_loss_and_optimizer(model, learning_rate=1e-3):
    with model.graph.as_default():
        one_hot = tf.one_hot(model.labels, depth=model.logits.shape[-1])
        loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=one_hot, logits=model.logits))
        train_op = v1.train.MomentumOptimizer(learning_rate=0.05, momentum=0.9).minimize(loss)
    return loss, train_op
''',
    # in_top_k with k=1 instead of argmax
    "accuracy": '''
def accuracy(logits, labels):
    with logits.graph.as_default():
        hits = tf.math.in_top_k(targets=tf.cast(labels, tf.int32), predictions=logits, k=1)
        return tf.reduce_mean(tf.cast(hits, tf.float32))
''',
    "train": '''
def train(model, loss, train_op, batches, epochs=10):
    with model.graph.as_default():
        init = v1.variables_initializer(v1.global_variables())
    sess = model.session
    sess.run(init)
    losses = []
    for epoch in range(epochs):
        for xb, yb in batches:
            loss_value, _ = sess.run((loss, train_op), {model.inputs: xb, model.labels: yb})
            losses.append(float(loss_value))
    return losses
''',
    # logits fetched, the accuracy counted in NumPy over all batches
    "report": '''
def report(model, splits):
    def evaluate(batches):
        hits = total = 0
        for xb, yb in batches:
            logits = model.session.run(model.logits, {model.inputs: xb})
            hits += int(np.sum(np.argmax(logits, axis=1) == yb))
            total += len(yb)
        return hits / total
    return {"train_accuracy": evaluate(splits.train), "test_accuracy": evaluate(splits.test)}
''',
}

RAW_VARIABLES_V1_LOSSES = {
    # the whole graph from v1 ops; names under one variable_scope; He-normal initialiser
    "build_model": '''
def dense(x, units, name, activation=None):
    kernel = v1.get_variable(name + "_w", [x.shape[-1], units], initializer=v1.initializers.he_normal())
    bias = v1.get_variable(name + "_b", [units], initializer=v1.constant_initializer(0.0))
    y = v1.nn.xw_plus_b(x, kernel, bias)
    return activation(y) if activation else y


def build_model(input_dim, num_classes=10, hidden_units=128, seed=0):
    graph = tf.Graph()
    with graph.as_default(), v1.variable_scope("mlp"):
        v1.set_random_seed(seed)
        inputs = v1.placeholder(tf.float32, (None, input_dim), name="inputs")
        labels = v1.placeholder(tf.int64, (None,), name="labels")
        logits = dense(dense(inputs, hidden_units, "hidden", tf.nn.relu), num_classes, "logits")
    session = v1.Session(graph=graph, config=tensorflow_session_config())
    return GraphModel(graph=graph, inputs=inputs, labels=labels, logits=logits, session=session)
''',
    "make_loss_and_optimizer": '''
def make_loss_and_optimizer(model, learning_rate=1e-3):
    with model.graph.as_default():
        loss = v1.losses.sparse_softmax_cross_entropy(labels=model.labels, logits=model.logits)
        optimizer = v1.train.AdamOptimizer(learning_rate=learning_rate)
        train_op = optimizer.minimize(loss, var_list=v1.trainable_variables())
    return loss, train_op
''',
    "accuracy": '''
def accuracy(logits, labels):
    with logits.graph.as_default():
        predicted = tf.argmax(logits, 1, output_type=tf.int64)
        return tf.reduce_mean(tf.cast(tf.equal(predicted, tf.cast(labels, tf.int64)), tf.float32))
''',
    "report": '''
def report(model, splits):
    with model.graph.as_default():
        correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(model.logits, 1), model.labels), tf.float32))
    def evaluate(batches):
        right = sum(model.session.run(correct, {model.inputs: x, model.labels: y}) for x, y in batches)
        return float(right) / sum(len(y) for _, y in batches)
    return {"train_accuracy": evaluate(splits.train), "test_accuracy": evaluate(splits.test)}
''',
}

# --- Idioms students copy from tutorials (issue 10) ------------------------------------------------------
# TensorFlow 1's "MNIST for ML beginners": the model's output is `tf.nn.softmax(...)`, the loss
# `-reduce_sum(y_ * log(y))` on one-hot labels. It trains well; two steps break the contract where they are
# written: model.logits holds probabilities (step 3), and the loss takes the log of its input, so it
# expects probabilities (step 4, checked on the contract's model, whose raw logits give NaN).
CLASSIC_SOFTMAX = {
    "build_model": swap(
        swap(_ref("build_model"), 'logits = dense(hidden, num_classes, "logits")', 'y = tf.nn.softmax(dense(hidden, num_classes, "logits"))'),
        "GraphModel(graph, inputs, labels, logits, session)",
        "GraphModel(graph, inputs, labels, y, session)",
    ),
    "make_loss_and_optimizer": '''
def make_loss_and_optimizer(model, learning_rate=1e-3):
    with model.graph.as_default():
        y_ = tf.one_hot(model.labels, 10)
        cross_entropy = tf.reduce_mean(-tf.reduce_sum(y_ * v1.log(model.logits), axis=1))
        train_step = v1.train.AdamOptimizer(learning_rate).minimize(cross_entropy)
    return cross_entropy, train_step
''',
}

# tf.compat.v1.losses with one-hot labels and a global step; manual batching: the training batches from a
# class of their own, validation and test as plain lists of (x, y) batches. The contract met in full.
V1_LOSSES_MANUAL_BATCHES = {
    "load_and_preprocess": '''
class Batches:
    def __init__(self, x, y, batch_size, shuffle=False, seed=0):
        self.x, self.y, self.batch_size, self.shuffle = x, y, batch_size, shuffle
        self.rng = np.random.default_rng(seed)

    def __len__(self):
        return (len(self.x) + self.batch_size - 1) // self.batch_size

    def __iter__(self):
        rows = self.rng.permutation(len(self.x)) if self.shuffle else np.arange(len(self.x))
        return iter([(self.x[rows[i:i + self.batch_size]], self.y[rows[i:i + self.batch_size]])
                     for i in range(0, len(rows), self.batch_size)])


def load_and_preprocess(raw, batch_size=64, validation_size=0.1, seed=0):
    x = raw.x_train.reshape(len(raw.x_train), -1).astype(np.float32) / 255.0
    y = raw.y_train.astype(np.int64)
    rows = np.random.default_rng(seed).permutation(len(x))
    n_val = round(validation_size * len(x))
    x_test = raw.x_test.reshape(len(raw.x_test), -1).astype(np.float32) / 255.0
    y_test = raw.y_test.astype(np.int64)
    batched = lambda xs, ys: [(xs[i:i + batch_size], ys[i:i + batch_size]) for i in range(0, len(xs), batch_size)]
    return Splits(
        train=Batches(x[rows[n_val:]], y[rows[n_val:]], batch_size, shuffle=True, seed=seed),
        validation=batched(x[rows[:n_val]], y[rows[:n_val]]),
        test=batched(x_test, y_test),
    )
''',
    "make_loss_and_optimizer": '''
def make_loss_and_optimizer(model, learning_rate=1e-3):
    with model.graph.as_default():
        onehot = tf.one_hot(model.labels, depth=model.logits.shape[-1])
        loss = v1.losses.softmax_cross_entropy(onehot_labels=onehot, logits=model.logits)
        global_step = v1.train.get_or_create_global_step()
        train_op = v1.train.AdamOptimizer(learning_rate).minimize(loss, global_step=global_step)
    return loss, train_op
''',
    "report": '''
def report(model, splits):
    with model.graph.as_default():
        accuracy_op = accuracy(model.logits, model.labels)

    def evaluate(batches):
        right = seen = 0.0
        for xb, yb in batches:
            right += model.session.run(accuracy_op, {model.inputs: xb, model.labels: yb}) * len(yb)
            seen += len(yb)
        return float(right / seen)

    return {"train_accuracy": evaluate(splits.train), "test_accuracy": evaluate(splits.test)}
''',
}

# (a) imported directly: build_model is the reference's; (b) train finds it by a module name built at run
# time; (c) accuracy reaches it through the grader the notebook registered
REFERENCE_ROUTES = {
    "build_model": "from solutions.tf1_pipeline import build_model\n",
    "train": '''
import importlib


def train(model, loss, train_op, batches, epochs=10):
    return importlib.import_module("solutions.tf1" + "_pipeline").train(model, loss, train_op, batches, epochs)
''',
    "accuracy": '''
import graders.check.notebook


def accuracy(logits, labels):
    return graders.check.notebook._grader.reference.accuracy(logits, labels)
''',
}

# A mistake that reads the same in every framework is checked in all three by tests/test_notebook_api.py (a loss that
# is not cross-entropy, a changed download, an off-by-one accuracy, a stale report), and the torch bank grades the last
# three whole (download_flattened, accuracy_off_by_one, report_swapped); this bank grades what is TensorFlow's own.
SAMPLES = [
    Sample("reference", {}, full_marks(A), about="the course's own solution"),
    Sample(
        "two_layers_momentum",
        TWO_LAYERS_MOMENTUM,
        full_marks(A),
        about="two hidden layers, truncated-normal init, MomentumOptimizer(0.05, 0.9), in_top_k accuracy",
    ),
    Sample(
        "raw_variables_v1_losses",
        RAW_VARIABLES_V1_LOSSES,
        full_marks(A),
        about="xw_plus_b layers under one scope, He init, v1.losses, a count-based report",
    ),
    Sample(
        "labels_int32",
        {"load_and_preprocess": swap(_ref("load_and_preprocess"), "y.astype(np.int64)", "y.astype(np.int32)")},
        full_marks(A, load_and_preprocess_tests=0),
        about="labels as int32; feed_dict converts them for the int64 placeholder, so training is unaffected",
    ),
    Sample(
        "fixed_batch_placeholder",
        {"build_model": swap(_ref("build_model"), "tf.float32, (None, input_dim)", "tf.float32, (32, input_dim)")},
        full_marks(A, build_model_tests=0, results_tests=0),
        about="inputs placeholder (32, input_dim): the last, smaller batch cannot be fed; no usable model",
    ),
    Sample(
        "train_op_not_run",
        {"train": swap(_ref("train"), "_, value = model.session.run([train_op, loss],",
                       "value = model.session.run(loss,")},
        full_marks(A, train_tests=0, results_tests=0),
        about="only the loss is fetched: the train op never runs, the weights keep their initial values",
    ),
    Sample(
        "reference_routes",
        REFERENCE_ROUTES,
        full_marks(A, build_model_tests=0, accuracy_tests=0, train_tests=0, results_tests=0),
        about="reference code at grading: build_model imported from solutions, train by a run-time module name, "
        "accuracy through graders.check.notebook._grader: none of them is there at grading",
    ),
    # --- Idioms students copy (issue 10): the contract point each one breaks, where it breaks it ----------
    Sample(
        "classic_softmax",
        CLASSIC_SOFTMAX,
        full_marks(A, build_model_tests=0, make_loss_and_optimizer_tests=0),
        about="TF1 'MNIST for beginners': model.logits = tf.nn.softmax(...) (step 3: probabilities), "
        "-reduce_sum(y_ * log(y)) (step 4: expects probabilities); trains well",
        says={
            "build_model": "logits — expected raw logits (no softmax: the loss applies it), found probabilities",
            "make_loss_and_optimizer": "your loss expects probabilities (the output of a softmax",
        },
    ),
    Sample(
        "v1_losses_manual_batches",
        V1_LOSSES_MANUAL_BATCHES,
        full_marks(A),
        about="v1.losses.softmax_cross_entropy on one-hot labels with a global step, validation and test as lists of batches",
    ),
    Sample("unfilled", {}, zero_marks(A), base="release", about="the release as handed out: every stub raises"),
]
