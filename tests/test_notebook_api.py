"""graders.check.notebook.StepChecks in all three frameworks: the reference passes every step, and
small wrong implementations fail exactly their step, with a message that says where to look."""

import inspect
import os
import re
import sys
import types
import warnings

import numpy as np
import pytest
from copies import student_copy

from course.pipeline import HYPERPARAMETERS
from graders.author import figures
from graders.check.notebook import StepChecks, quiet
from graders.check.shared.checks import STEPS, CheckFailed
from graders.check.trusted import references
from solutions.pipeline import load_framework

FRAMEWORKS = ("tf1", "tf2", "torch")
PIPELINE_STEPS = STEPS[:-1]
_checks: dict = {}


def get_check(framework: str) -> StepChecks:
    if framework not in _checks:
        _checks[framework] = StepChecks(framework)
    return _checks[framework]


@pytest.fixture(params=FRAMEWORKS)
def fw(request, capsys):
    """(framework, StepChecks, the reference as a student's copy) with the constructor's line already read away.

    The copy (tests/copies.py) has the reference's text, as a student's notebook would, not its module.
    """
    check = get_check(request.param)
    capsys.readouterr()
    return request.param, check, student_copy(f"solutions.{request.param}_pipeline")


def fails(check, step, function, capsys, *, hidden=False) -> str:
    """Run a check that must fail; return its message (the CheckFailed or the public stderr)."""
    if hidden:
        with pytest.raises(CheckFailed) as info:
            check.hidden(step, function)
        assert isinstance(info.value, AssertionError)
        assert capsys.readouterr().err == ""  # hidden tests raise; they do not write to stderr
        return str(info.value)
    assert check.passes(step, function) is False
    out, err = capsys.readouterr()
    assert err.startswith("✗ ") and "✓" not in out
    return err


# Wrong implementations (framework-neutral wrappers of the reference) --------------------------
def wrong_shape(ref):
    return lambda input_dim, num_classes=10, hidden_units=128, seed=0: ref.build_model(
        input_dim, num_classes - 1, hidden_units, seed
    )


def other_width(ref):
    return lambda input_dim, num_classes=10, hidden_units=128, seed=0: ref.build_model(input_dim, num_classes, 64, seed)


def no_scaling(ref):
    def load_and_preprocess(raw, batch_size=64, validation_size=0.1, seed=0):  # ends up as raw pixel values
        scaled = raw._replace(x_train=raw.x_train.astype(np.float32) * 255, x_test=raw.x_test.astype(np.float32) * 255)
        return ref.load_and_preprocess(scaled, batch_size, validation_size, seed)

    return load_and_preprocess


def never_reshuffled(ref):
    def load_and_preprocess(raw, batch_size=64, validation_size=0.1, seed=0):
        splits = ref.load_and_preprocess(raw, batch_size, validation_size, seed)
        return splits._replace(train=list(splits.train))  # one fixed order, every epoch

    return load_and_preprocess


def learning_rate_ten(ref):
    return lambda model, learning_rate=1e-3: ref.make_loss_and_optimizer(model, learning_rate=10.0)


def returns_nothing(ref):
    def train(model, loss, optimizer, batches, epochs=10):
        ref.train(model, loss, optimizer, batches, epochs)

    return train


def hard_coded_report(ref):
    return lambda model, splits: {"train_accuracy": 1.0, "test_accuracy": 1.0}


def report_of_first_splits(ref):
    seen = []

    def report(model, splits):  # evaluates the splits of its first call, whatever it is given later
        seen.append(splits)
        return ref.report(model, seen[0])

    return report


def not_implemented(*args, **kwargs):
    raise NotImplementedError()


# Wrong implementations (framework-specific) ---------------------------------------------------
def mse_loss(framework, ref):
    if framework == "torch":
        import torch

        def make_loss_and_optimizer(model, learning_rate=1e-3):
            loss = lambda logits, y: torch.nn.functional.mse_loss(logits, torch.nn.functional.one_hot(y, 10).float())  # noqa: E731
            return loss, torch.optim.Adam(model.parameters(), lr=learning_rate)

    elif framework == "tf2":
        import tensorflow as tf

        def make_loss_and_optimizer(model, learning_rate=1e-3):
            loss = lambda y, logits: tf.reduce_mean(tf.square(tf.one_hot(y, 10) - logits))  # noqa: E731
            return loss, tf.keras.optimizers.Adam(learning_rate)

    else:
        import tensorflow as tf

        def make_loss_and_optimizer(model, learning_rate=1e-3):
            with model.graph.as_default():
                loss = tf.reduce_mean(tf.square(tf.one_hot(model.labels, 10) - model.logits))
                return loss, tf.compat.v1.train.AdamOptimizer(learning_rate).minimize(loss)

    return make_loss_and_optimizer


def off_by_one(framework):
    if framework == "torch":
        return lambda logits, labels: ((logits.argmax(dim=1) + 1) == labels).float().mean()
    import tensorflow as tf

    def accuracy(logits, labels):
        correct = tf.equal(tf.argmax(logits, axis=1) + 1, tf.cast(labels, tf.int64))
        return tf.reduce_mean(tf.cast(correct, tf.float32))

    return accuracy


def other_architecture(framework, ref):
    """A different model that is still right: two hidden layers, or a subclassed Keras model."""
    if framework == "torch":
        from torch import nn

        def build_model(input_dim, num_classes=10, hidden_units=128, seed=0):
            return nn.Sequential(
                nn.Linear(input_dim, 64), nn.Tanh(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, num_classes)
            )

    elif framework == "tf2":
        import tensorflow as tf

        class Net(tf.keras.Model):
            def __init__(self, units, classes):
                super().__init__()
                self.hidden, self.out = tf.keras.layers.Dense(units, activation="tanh"), tf.keras.layers.Dense(classes)

            def call(self, x, training=False):
                return self.out(self.hidden(x))

        def build_model(input_dim, num_classes=10, hidden_units=128, seed=0):
            net = Net(hidden_units // 2, num_classes)
            net(tf.zeros((1, input_dim)))  # its weights exist when build_model returns (optimizer.build takes them)
            return net

    else:
        return other_width(ref)
    return build_model


# The reference passes ------------------------------------------------------------------------
def test_constructor_prints_one_line(capsys):
    get_check("torch")
    capsys.readouterr()
    check = StepChecks("torch")
    out, err = capsys.readouterr()
    assert out == "Checks ready: framework torch, device cpu, dataset digits\n" and err == ""
    assert check.device == "cpu"
    with pytest.raises(ValueError, match="unknown framework"):
        StepChecks("jax")


@pytest.mark.parametrize("step", PIPELINE_STEPS)
def test_reference_passes_public_and_hidden(fw, step, capsys):
    framework, check, ref = fw
    assert check.passes(step, getattr(ref, step)) is True
    assert check.hidden(step, getattr(ref, step)) is None  # no value: nbgrader reads a value as partial credit
    out, err = capsys.readouterr()
    number = STEPS.index(step) + 1
    assert err == ""
    assert out.startswith(f"✓ step {number} ({step}): ")
    assert f"✓ step {number} ({step}) (public and hidden checks): " in out


def test_a_different_architecture_passes(fw, capsys):
    framework, check, ref = fw
    check.hidden("build_model", other_architecture(framework, ref))
    check.hidden("build_model", other_width(ref))
    assert capsys.readouterr().err == ""


def test_functions_are_found_by_name_in_the_callers_namespace(capsys):
    check, ref = get_check("torch"), load_framework("torch")
    accuracy = ref.accuracy  # noqa: F841 - found by name
    capsys.readouterr()  # the checker's own start-up line, when this test made it
    assert check.passes("accuracy") is True
    assert capsys.readouterr().out.startswith("✓ step 5 (accuracy)")
    assert check.public("accuracy") is None  # a self-check cell shows no Out[] value
    assert capsys.readouterr().out.startswith("✓ step 5 (accuracy)")
    assert check.passes("report") is False  # no `report` here
    assert (
        "the function report — expected a function, found nothing. Look at: run the cell of step 7 (report) first."
        in capsys.readouterr().err
    )


def test_each_check_uses_the_courses_inputs_not_the_notebooks_other_steps(capsys):
    """No reference anywhere (the students' install has none, the grading kernel neither): a check builds its
    inputs from data (the contract's model, batches, loss and optimizer), so a broken earlier step in the notebook
    costs nothing here, and the check never runs it."""
    check = StepChecks("torch")
    own = student_copy("solutions.torch_pipeline")
    capsys.readouterr()

    def build_model(input_dim, num_classes=10, hidden_units=128, seed=0):  # noqa: F841 - found by name, never run
        raise ValueError("no model today")

    def load_and_preprocess(raw, batch_size=64, validation_size=0.1, seed=0):  # noqa: F841 - likewise
        raise ValueError("no data today")

    for step in ("make_loss_and_optimizer", "train", "report"):
        assert check.passes(step, getattr(own, step)) is True
    out, err = capsys.readouterr()
    assert err == "" and "no model today" not in out and "no data today" not in out


# Wrong steps fail, each with its own message ----------------------------------------------------
def test_download_wrong_data(fw, capsys):
    framework, check, ref = fw

    def download(name="digits"):
        raw = ref.download(name)
        changed = raw.x_train.copy()
        changed[0, 0, 0] ^= 1
        return raw._replace(x_train=changed)

    assert check.passes("download", download) is True  # shapes and dtypes are right
    capsys.readouterr()
    message = fails(check, "download", download, capsys, hidden=True)
    assert message == (
        "step 1 (download): x_train values: 1 of 80448 differ from the course's data. "
        "Look at: load the course's data with load_dataset(name)."
    )
    message = fails(check, "download", lambda name="digits": tuple(ref.download(name))[:2], capsys)
    assert (
        "step 1 (download): return value — expected 4 arrays (x_train, y_train, x_test, y_test), found tuple" in message
    )


def test_load_and_preprocess_without_scaling(fw, capsys):
    framework, check, ref = fw
    message = fails(check, "load_and_preprocess", no_scaling(ref), capsys)
    assert (
        "✗ step 2 (load_and_preprocess): x values in [0, 1] — expected max <= 1, found max 255. Look at: divide the pixels by 255."
        in message
    )


def test_load_and_preprocess_never_reshuffled(fw, capsys):
    framework, check, ref = fw
    assert check.passes("load_and_preprocess", never_reshuffled(ref)) is True
    capsys.readouterr()
    message = fails(check, "load_and_preprocess", never_reshuffled(ref), capsys, hidden=True)
    assert message.startswith(
        "step 2 (load_and_preprocess): train batches come in the same order every epoch. Look at: shuffle"
    )


def test_build_model_wrong_output_shape(fw, capsys):
    framework, check, ref = fw
    message = fails(check, "build_model", wrong_shape(ref), capsys)
    expected = (
        "logits (static) shape — expected (None, 10), found (None, 9)"
        if framework == "tf1"
        else "logits shape — expected (32, 10), found (32, 9)"
    )
    assert f"✗ step 3 (build_model): {expected}. Look at: " in message


def test_tf1_placeholder_with_a_fixed_batch_size(capsys):
    import tensorflow as tf

    check, ref, v1 = get_check("tf1"), load_framework("tf1"), tf.compat.v1

    def build_model(input_dim, num_classes=10, hidden_units=128, seed=0):
        graph = tf.Graph()
        with graph.as_default():
            v1.set_random_seed(seed)  # TensorFlow's op determinism (seed_tensorflow) requires seeded random ops
            inputs, labels = v1.placeholder(tf.float32, (32, input_dim)), v1.placeholder(tf.int64, (None,))
            logits = ref.dense(ref.dense(inputs, hidden_units, "hidden", tf.nn.relu), num_classes, "logits")
        return ref.GraphModel(graph, inputs, labels, logits, v1.Session(graph=graph))

    message = fails(check, "build_model", build_model, capsys)
    assert (
        "✗ step 3 (build_model): inputs (static) shape — expected (None, 64), found (32, 64). Look at: the inputs placeholder"
        in message
    )


def test_mse_loss(fw, capsys):
    framework, check, ref = fw
    message = fails(check, "make_loss_and_optimizer", mse_loss(framework, ref), capsys)
    assert re.search(
        r"✗ step 4 \(make_loss_and_optimizer\): loss on a fixed batch — expected 2\.\d{4}, found 0\.\d{4}\.", message
    )
    assert "Look at: the loss: mean softmax cross-entropy of the logits" in message


def test_a_loss_with_the_right_value_and_no_gradient(capsys):
    """The value matches the cross-entropy, but training cannot follow it: the hidden check says so."""
    import torch
    import torch.nn.functional as F

    check = get_check("torch")

    def make_loss_and_optimizer(model, learning_rate=1e-3):
        return (lambda z, y: F.cross_entropy(z, y).detach() + 0.0 * z.sum()), torch.optim.Adam(model.parameters(), lr=learning_rate)

    assert check.passes("make_loss_and_optimizer", make_loss_and_optimizer) is True  # the value is right
    capsys.readouterr()
    message = fails(check, "make_loss_and_optimizer", make_loss_and_optimizer, capsys, hidden=True)
    assert message.startswith(
        "step 4 (make_loss_and_optimizer): the gradient of your loss with respect to the logits — expected that of the "
        "mean cross-entropy, (softmax - one-hot) / batch size"
    )
    assert "found 0. Look at: compute the loss with the framework's own operations on the logits" in message


def test_learning_rate_far_too_high(fw, capsys):
    framework, check, ref = fw
    assert check.passes("make_loss_and_optimizer", learning_rate_ten(ref)) is True  # the loss itself is right
    capsys.readouterr()
    message = fails(check, "make_loss_and_optimizer", learning_rate_ten(ref), capsys, hidden=True)
    assert message.startswith("step 4 (make_loss_and_optimizer): ")
    # one step with the grader's gradients, at ten times the learning rate, raises the loss on the batch
    assert "the grader's loss on the batch after one step of your optimizer — expected below 2.3917, its value before the step, found " in message
    assert "Look at: a step against the gradient, of a sensible size: the optimizer (Adam, at the learning_rate argument)" in message


def test_accuracy_off_by_one(fw, capsys):
    framework, check, ref = fw
    message = fails(check, "accuracy", off_by_one(framework), capsys)
    assert message == (
        "✗ step 5 (accuracy): accuracy on 15 examples, 9 right, 2 ties — expected 0.6, found 0. Look at: "
        "the argmax over the classes (axis 1) compared with the labels, averaged over the rows.\n"
    )
    hidden = fails(check, "accuracy", off_by_one(framework), capsys, hidden=True)
    assert len(hidden.splitlines()) == 3  # every case that can tell: 0.6, all right and the random one
    assert "4 examples, all right — expected 1, found 0" in hidden


def test_train_returns_nothing(fw, capsys):
    framework, check, ref = fw
    message = fails(check, "train", returns_nothing(ref), capsys)
    assert (
        "✗ step 6 (train): return value — expected a list of floats, one loss per step, found None. Look at: the end of train"
        in message
    )


def test_torch_train_without_zero_grad(capsys):
    import torch

    check = get_check("torch")

    def train(model, loss, optimizer, batches, epochs=10):
        history = []
        for _ in range(epochs):
            for x, y in batches:
                value = loss(model(x), y)
                value.backward()
                optimizer.step()
                history.append(value.item())
        return history

    message = fails(check, "train", train, capsys, hidden=True)
    assert message.startswith("step 6 (train): ")
    assert "optimizer.zero_grad(), forward, loss, loss.backward(), optimizer.step()" in message
    assert "test accuracy after your 108 training steps — expected at least 0.90" in message
    del torch


def test_torch_train_keeping_tensors(capsys):
    check, ref = get_check("torch"), load_framework("torch")

    def train(model, loss, optimizer, batches, epochs=10):
        return [loss(model(x), y) for x, y in batches]

    message = fails(check, "train", train, capsys)
    assert "type of loss #0 — expected Python float, found Tensor. Look at: turn each loss into a number" in message
    del ref


def test_report_hard_coded_and_stale(fw, capsys):
    framework, check, ref = fw
    message = fails(check, "report", hard_coded_report(ref), capsys)
    # the report check's model predicts the lower half of the classes only: about one half right
    assert "✗ step 7 (report): train_accuracy — expected 0.5031 (the grader's own evaluation)" in message and "found 1.0000" in message
    message = fails(check, "report", report_of_first_splits(ref), capsys, hidden=True)
    assert message.startswith("step 7 (report): with other splits: train_accuracy — expected")


def test_report_is_graded_with_the_reference_accuracy(fw, capsys):
    """A wrong `accuracy` in the notebook costs only step 5, not step 7 that calls it."""
    framework, check, ref = fw
    inner = inspect.unwrap(ref.report)
    notebook = {**vars(ref), "accuracy": off_by_one(framework)}
    report = types.FunctionType(inner.__code__, notebook, "report", inner.__defaults__, inner.__closure__)
    wrong = notebook["accuracy"]
    check.hidden("report", report)
    assert capsys.readouterr().err == ""
    assert notebook["accuracy"] is wrong  # the swap is undone afterwards


@pytest.mark.parametrize("step", PIPELINE_STEPS)
def test_not_implemented(step, capsys):
    check = get_check("tf2" if step in ("make_loss_and_optimizer", "accuracy") else "torch")
    capsys.readouterr()
    number = STEPS.index(step) + 1
    expected = f"step {number} ({step}): not implemented yet: replace `raise NotImplementedError()` in the cell of step {number} ({step})."
    assert fails(check, step, not_implemented, capsys) == f"✗ {expected}\n"
    assert fails(check, step, not_implemented, capsys, hidden=True) == expected


def test_errors_in_student_code_name_the_line(capsys):
    check = get_check("torch")
    capsys.readouterr()

    def build_model(input_dim, num_classes=10, hidden_units=128, seed=0):
        import torch

        return torch.nn.Sequential(torch.nn.Linear(input_dim + 1, num_classes))

    message = fails(check, "build_model", build_model, capsys)
    assert message.startswith(
        "✗ step 3 (build_model): calling your model on a batch of 32 images raised RuntimeError: mat1 and mat2 shapes cannot be multiplied"
    )
    assert "Look at: the cell of step 3 (build_model)." in message
    assert "solutions" not in message

    def accuracy(logits, labels):
        return logits.argmax(dim=1) == labels  # forgot the mean

    message = fails(check, "accuracy", accuracy, capsys)
    assert (
        "✗ step 5 (accuracy): accuracy on 15 examples, 9 right, 2 ties shape — expected a scalar, found (15,)"
        in message
    )


def test_public_never_raises(capsys):
    check = get_check("torch")
    capsys.readouterr()
    assert check.passes("build_model", 42) is False
    assert "the function build_model — expected a function, found int" in capsys.readouterr().err
    assert check.passes("no_such_step", print) is False
    assert "unknown step 'no_such_step'" in capsys.readouterr().err
    assert check.passes("load_and_preprocess", lambda raw, **kw: "not splits") is False
    assert "return value — expected Splits(train, validation, test), found str" in capsys.readouterr().err
    assert check.passes("load_and_preprocess", lambda raw, **kw: (["x"], [], [])) is False
    assert "each batch — expected a pair (x, y), found str" in capsys.readouterr().err
    with pytest.raises(ValueError):
        check.hidden("no_such_step", print)


def test_student_noise_is_kept_out_of_stderr(capfd):
    """nbgrader gives 0 points to a test cell that wrote to stderr: warnings, prints and C++ logs are hidden."""
    check, ref = get_check("torch"), student_copy("solutions.torch_pipeline")
    capfd.readouterr()

    def accuracy(logits, labels):
        print("debugging", file=sys.stderr)
        warnings.warn("something is deprecated")
        os.write(2, b"a C++ log line\n")
        return ref.accuracy(logits, labels)

    check.hidden("accuracy", accuracy)
    out, err = capfd.readouterr()
    assert err == "" and out.startswith("✓ step 5 (accuracy)")
    with quiet():
        os.write(2, b"gone\n")
        print("gone too", file=sys.stderr)
    assert capfd.readouterr().err == ""


# Contract points caught where they are broken (issue 10) ---------------------------------------
def softmaxed(framework, ref, log: bool):
    """build_model whose outputs go through a softmax (or log_softmax): probabilities, not logits."""
    if framework == "torch":
        import torch

        def build_model(input_dim, num_classes=10, hidden_units=128, seed=0):
            last = torch.nn.LogSoftmax(dim=1) if log else torch.nn.Softmax(dim=1)
            return torch.nn.Sequential(ref.build_model(input_dim, num_classes, hidden_units, seed), last)

    elif framework == "tf2":
        import tensorflow as tf

        def build_model(input_dim, num_classes=10, hidden_units=128, seed=0):
            model = ref.build_model(input_dim, num_classes, hidden_units, seed)
            model.add(tf.keras.layers.Activation("log_softmax" if log else "softmax"))
            return model

    else:
        import tensorflow as tf

        def build_model(input_dim, num_classes=10, hidden_units=128, seed=0):
            model = ref.build_model(input_dim, num_classes, hidden_units, seed)
            with model.graph.as_default():
                return model._replace(logits=(tf.nn.log_softmax if log else tf.nn.softmax)(model.logits))

    return build_model


def loss_on_outputs(framework, log: bool):
    """make_loss_and_optimizer with a loss that expects log-probabilities (nll_loss) or probabilities."""
    if framework == "torch":
        import torch
        import torch.nn.functional as F

        nll_of_log = lambda p, y: F.nll_loss(torch.log(p), y)  # noqa: E731
        return lambda model, learning_rate=1e-3: (
            F.nll_loss if log else nll_of_log,
            torch.optim.Adam(model.parameters(), lr=learning_rate),
        )
    import tensorflow as tf

    if framework == "tf2":
        loss = (lambda y, p: -tf.reduce_mean(tf.gather(p, y, batch_dims=1))) if log else tf.keras.losses.SparseCategoricalCrossentropy()
        return lambda model, learning_rate=1e-3: (loss, tf.keras.optimizers.Adam(learning_rate))

    def make_loss_and_optimizer(model, learning_rate=1e-3):
        with model.graph.as_default():
            outputs = model.logits if log else tf.math.log(model.logits)
            loss = -tf.reduce_mean(tf.reduce_sum(tf.one_hot(model.labels, 10) * outputs, axis=1))
            return loss, tf.compat.v1.train.AdamOptimizer(learning_rate).minimize(loss)

    return make_loss_and_optimizer


@pytest.mark.parametrize("log", [False, True], ids=["probabilities", "log-probabilities"])
def test_build_model_of_probabilities_fails_step_3(fw, log, capsys):
    framework, check, ref = fw
    message = fails(check, "build_model", softmaxed(framework, ref, log), capsys)
    expected = (
        "logits — expected raw logits (no log_softmax: the loss applies it), found log-probabilities: the exp of every row sums to 1."
        if log
        else "logits — expected raw logits (no softmax: the loss applies it), found probabilities: every row sums to 1."
    )
    assert message.startswith(f"✗ step 3 (build_model): {expected} Look at: "), message
    fix = {"torch": "no F.softmax or F.log_softmax", "tf2": "no activation (not 'softmax')", "tf1": "before any tf.nn.softmax"}
    assert fix[framework] in message and len(message.splitlines()) == 1


@pytest.mark.parametrize("log", [False, True], ids=["probabilities", "log-probabilities"])
def test_loss_that_expects_probabilities_says_so(fw, log, capsys):
    framework, check, ref = fw
    message = fails(check, "make_loss_and_optimizer", loss_on_outputs(framework, log), capsys)
    assert message.startswith("✗ step 4 (make_loss_and_optimizer): loss on a fixed batch — expected 2."), message
    expects = "log-probabilities (as nll_loss does)" if log else "probabilities (the output of a softmax"
    assert f"Look at: your loss expects {expects}" in message
    assert "But the model of the contract gives raw logits (step 3), on which it gives " in message
    takes = {"torch": "nn.CrossEntropyLoss() and F.cross_entropy do", "tf2": "SparseCategoricalCrossentropy(from_logits=True) does"}
    assert takes.get(framework, "tf.nn.sparse_softmax_cross_entropy_with_logits") in message


def test_splits_that_one_pass_uses_up(fw, capsys):
    framework, check, ref = fw

    def load_and_preprocess(raw, batch_size=64, validation_size=0.1, seed=0):
        splits = ref.load_and_preprocess(raw, batch_size, validation_size, seed)
        return splits._replace(train=(batch for batch in splits.train))

    message = fails(check, "load_and_preprocess", load_and_preprocess, capsys)
    assert message.startswith(
        "✗ step 2 (load_and_preprocess): the train split — expected re-iterable batches: every for loop over it a new "
        "pass (one epoch), found a generator, used up by one pass. Look at: "
    ), message


def test_torch_batches_of_numpy_arrays(capsys):
    check, ref = get_check("torch"), student_copy("solutions.torch_pipeline")

    def load_and_preprocess(raw, batch_size=64, validation_size=0.1, seed=0):
        splits = ref.load_and_preprocess(raw, batch_size, validation_size, seed)
        return splits._replace(train=[(x.numpy(), y.numpy()) for x, y in splits.train])

    message = fails(check, "load_and_preprocess", load_and_preprocess, capsys)
    assert "✗ step 2 (load_and_preprocess): x of a batch type — expected torch.Tensor, found ndarray. Look at: " in message


def test_tf2_model_without_weights_when_built(capsys):
    import tensorflow as tf

    check = get_check("tf2")

    class Net(tf.keras.Model):
        def __init__(self, units, classes):
            super().__init__()
            self.hidden, self.out = tf.keras.layers.Dense(units, activation="relu"), tf.keras.layers.Dense(classes)

        def call(self, x, training=False):
            return self.out(self.hidden(x))

    def build_model(input_dim, num_classes=10, hidden_units=128, seed=0):
        net = Net(hidden_units, num_classes)
        net.build((None, input_dim))  # a subclassed model's build creates no weights of its layers
        return net

    message = fails(check, "build_model", build_model, capsys)
    assert message.startswith(
        "✗ step 3 (build_model): trainable parameters — expected at least one, found 0. "
        "Look at: the weights must exist when build_model returns"
    ), message


def test_optimizer_that_is_not_the_contracts(capsys):
    import tensorflow as tf
    import torch

    tf1, ref1 = get_check("tf1"), student_copy("solutions.tf1_pipeline")

    def make_loss_and_optimizer(model, learning_rate=1e-3):
        loss, _ = ref1.make_loss_and_optimizer(model, learning_rate)
        return loss, tf.compat.v1.train.AdamOptimizer(learning_rate)

    message = fails(tf1, "make_loss_and_optimizer", make_loss_and_optimizer, capsys)
    assert message.startswith(
        "✗ step 4 (make_loss_and_optimizer): the second value returned — expected the update op that "
        "optimizer.minimize(loss) returns, found AdamOptimizer."
    ), message
    check = get_check("torch")
    other = torch.nn.Linear(3, 2)
    message = fails(
        check,
        "make_loss_and_optimizer",
        lambda model, learning_rate=1e-3: (torch.nn.CrossEntropyLoss(), torch.optim.Adam(other.parameters())),
        capsys,
    )
    assert "✗ step 4 (make_loss_and_optimizer): the optimizer's parameters — expected the 4 parameter tensors of the model it is given, found 4 of them missing" in message


def running_total(framework):
    """An accuracy that counts every call so far: a metric object that is never reset."""
    if framework == "torch":
        import torch

        seen = [0, 0]

        def accuracy(logits, labels):
            seen[0] += int((logits.argmax(dim=1) == labels).sum())
            seen[1] += len(labels)
            return torch.tensor(seen[0] / seen[1])

        return accuracy
    import tensorflow as tf

    metric = tf.keras.metrics.SparseCategoricalAccuracy()

    def accuracy(logits, labels):
        metric.update_state(labels, logits)
        return metric.result()

    return accuracy


@pytest.mark.parametrize("framework", ["torch", "tf2"])
def test_accuracy_that_keeps_a_running_total(framework, capsys):
    check = get_check(framework)
    capsys.readouterr()
    accuracy = running_total(framework)
    message = fails(check, "accuracy", accuracy, capsys)
    assert message.startswith(
        "✗ step 5 (accuracy): accuracy on 15 examples, 9 right, 2 ties, called again after a call on 7 examples, none "
        "right — expected 0.6 again (the same logits and labels), found 0.4865. Look at: each call must count only its own"
    ), message
    hidden = fails(check, "accuracy", accuracy, capsys, hidden=True)
    assert len(hidden.splitlines()) == 1 and "a metric object (tf.keras.metrics, torchmetrics) keeps a running total" in hidden


def test_torch_accuracy_as_a_python_float(capsys):
    check = get_check("torch")
    capsys.readouterr()
    message = fails(check, "accuracy", lambda logits, labels: (logits.argmax(dim=1) == labels).float().mean().item(), capsys)
    assert message == (
        "✗ step 5 (accuracy): accuracy type — expected a scalar tensor (torch.Tensor), found float. Look at: "
        "return the tensor itself, not .item() or float(...): the contract's report calls .item() on it.\n"
    )


def test_train_returning_running_means(capsys):
    check = get_check("torch")
    capsys.readouterr()

    def train(model, loss, optimizer, batches, epochs=10):
        history = []
        for _ in range(epochs):
            total = 0.0
            for step, (x, y) in enumerate(batches, 1):
                optimizer.zero_grad()
                value = loss(model(x), y)
                value.backward()
                optimizer.step()
                total += value.item()
                history.append(total / step)  # the epoch's mean so far, as a progress bar shows it
        return history

    message = fails(check, "train", train, capsys)
    assert re.match(r"✗ step 6 \(train\): loss #1 that train returns — expected \d\.\d{4}, what the loss computed at that "
                    r"step, found \d\.\d{4} \(105 of 108 steps differ\)\. Look at: append loss\.item\(\) of each step", message), message


def test_tf2_train_with_fit_and_a_callback(capsys):
    import tensorflow as tf

    check = get_check("tf2")
    capsys.readouterr()

    class Losses(tf.keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            self.model.history_of_losses.append(float(logs["loss"]))

    def train(model, loss, optimizer, batches, epochs=10):
        model.history_of_losses = []
        model.compile(optimizer=optimizer, loss=loss)
        model.fit(batches, epochs=epochs, callbacks=[Losses()], verbose=0)
        return model.history_of_losses

    message = fails(check, "train", train, capsys)
    assert message.startswith("✗ step 6 (train): the losses train returns — expected the loss of each step"), message
    assert "the logs['loss'] that Keras fit hands a callback is the mean over the epoch so far" in message


def test_train_that_ignores_the_loss_it_is_given(capsys):
    import torch

    check, ref = get_check("torch"), student_copy("solutions.torch_pipeline")
    capsys.readouterr()

    def train(model, loss, optimizer, batches, epochs=10):
        return ref.train(model, torch.nn.CrossEntropyLoss(), optimizer, batches, epochs)

    message = fails(check, "train", train, capsys)
    assert message.startswith(
        "✗ step 6 (train): calls of the loss that train is given — expected one per step (108), found 0. "
        "Look at: compute each step's loss with the `loss` argument"
    ), message


# guard, plots and the results cell -----------------------------------------------------------
PIPELINE_CELL = """model = history = None
with check.guard("the whole pipeline"):
    raw = download("digits")
    splits = load_and_preprocess(raw, batch_size=HP.batch_size, validation_size=HP.validation_size, seed=HP.seed)
    model = build_model(int(np.prod(raw.x_train.shape[1:])), hidden_units=HP.hidden_units, seed=HP.seed)
    loss, optimizer = make_loss_and_optimizer(model, learning_rate=HP.learning_rate)
    history = train(model, loss, optimizer, splits.train, epochs=HP.epochs)
    accuracies = report(model, splits)
"""


def run_pipeline_cell(check, **steps) -> str:
    """Run the whole-pipeline cell in a notebook-like namespace: the reference's steps (student copies), `steps` in place."""
    namespace = {**vars(student_copy(f"solutions.{check.framework}_pipeline")), **steps}
    namespace.update(check=check, np=np, HP=HYPERPARAMETERS["digits"])
    exec(compile(PIPELINE_CELL, cell_file("pipeline", PIPELINE_CELL), "exec"), namespace)
    return namespace


def cell_file(name: str, source: str) -> str:
    """A file name for a notebook cell's code, as ipykernel makes one (outside the libraries), with its lines known."""
    import linecache

    filename = f"/tmp/ipykernel_0/{name}.py"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    return filename


def test_guard_reports_and_suppresses(capsys, monkeypatch):
    import graders.check.front

    check = get_check("torch")
    monkeypatch.setattr(graders.check.front, "_grader", check)
    monkeypatch.setattr(check, "verdicts", dict.fromkeys(PIPELINE_STEPS, True) | {"build_model": False})
    capsys.readouterr()
    with check.guard("the whole pipeline"):
        raise ValueError("shapes do not match.")
    err = capsys.readouterr().err
    assert err.startswith("✗ the whole pipeline stopped: ValueError: shapes do not match (the cell's line "), err
    assert err.endswith("`raise ValueError(\"shapes do not match.\")`). Fix step 3 (build_model), whose check failed above, then re-run this cell.\n")
    with check.guard("the whole pipeline"):
        pass
    assert capsys.readouterr() == ("", "")


def test_steps_that_pass_alone_but_clash_are_named(capsys, monkeypatch):
    """Every check passed, yet the pipeline stops: the message says so, and names the pair of steps that clash."""
    from submissions.torch_pipeline import BATCHES_WITHOUT_LEN

    import graders.check.front
    import graders.check.kernel.probe

    check = get_check("torch")
    monkeypatch.setattr(graders.check.front, "_grader", check)
    monkeypatch.setattr(check, "verdicts", dict.fromkeys(PIPELINE_STEPS, True))
    namespace = dict(vars(student_copy("solutions.torch_pipeline")))  # the notebook's names: torch, Splits, ...
    for number, source in enumerate(BATCHES_WITHOUT_LEN.values()):
        exec(compile(source.strip(), cell_file(f"cell{number}", source.strip()), "exec"), namespace)
    steps = {name: namespace[name] for name in ("load_and_preprocess", "train")}
    capsys.readouterr()
    run_pipeline_cell(check, **steps)
    err = capsys.readouterr().err
    assert err == (
        "✗ the whole pipeline stopped in step 6 (train): TypeError: object of type 'Batches' has no len() "
        "(in train, line 5: `steps = epochs * len(batches)`; the cell's line 7: "
        "`history = train(model, loss, optimizer, splits.train, epochs=HP.epochs)`). Each step passes on the course's "
        "inputs, but together they fail here: step 2 (load_and_preprocess) and step 6 (train) clash (with the course's "
        "load_and_preprocess in place of yours, your train runs). Look at what your load_and_preprocess hands your train.\n"
    )


def test_plot_losses(capsys):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    check = get_check("torch")
    capsys.readouterr()
    check.plot_losses([2.3, 1.2, 0.4])
    assert capsys.readouterr().err == "" and plt.get_fignums() == []
    check.plot_losses(None)
    assert "no losses to plot" in capsys.readouterr().err
    check.plot_losses([])
    assert "no losses to plot" in capsys.readouterr().err


def trained(framework: str, epochs: int):
    ref, hp = load_framework(framework), HYPERPARAMETERS["digits"]
    check = get_check(framework)
    splits = ref.load_and_preprocess(check.case.raw, batch_size=hp.batch_size, seed=0)
    model = ref.build_model(check.case.input_dim, hidden_units=hp.hidden_units, seed=0)
    loss, optimizer = ref.make_loss_and_optimizer(model, learning_rate=hp.learning_rate)
    if epochs:
        with check.adapter.checking():
            ref.train(model, loss, optimizer, splits.train, epochs)
    return model


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_results_of_a_trained_model(framework, capsys):
    check = get_check(framework)
    model = trained(framework, epochs=3)
    capsys.readouterr()
    assert check.results_pass(model) is True
    out, err = capsys.readouterr()
    assert err == "" and re.match(
        r"[✓~] results: test accuracy 0\.[89]\d+ on 360 test images; reference 0\.9\d+: full points from 0\.9\d+, partial "
        r"credit down to 0\.50 \(the grade: the same scale on 180 held-out images that this check does not see\)\n$", out
    )
    earned = check.score_results(model, points=3)
    assert type(earned) is float and 1.0 <= earned <= 3.0
    assert f"earns {earned:g} of 3 points" in capsys.readouterr().out
    untrained = trained(framework, epochs=0)
    if framework == "tf1":
        with untrained.graph.as_default():
            untrained.session.run(untrained.graph.get_collection("variables")[0].initializer)
    assert check.score_results(untrained, points=3) == 0.0


def test_results_without_a_model(capsys):
    check = get_check("torch")
    capsys.readouterr()
    with pytest.raises(CheckFailed) as info:
        check.score_results(None, points=3)
    assert (
        str(info.value)
        == "results: the whole-pipeline cell did not produce a trained model; fix the steps above first."
    )
    with pytest.raises(
        CheckFailed, match="could not be evaluated .*the whole-pipeline cell did not produce a usable trained model"
    ):
        check.score_results("model", points=3)
    assert check.results_pass(None) is False
    assert capsys.readouterr().err.startswith("✗ results: the whole-pipeline cell did not produce a trained model")
    assert check.passes("results", None) is False


def test_stored_reference_figures_are_reproduced():
    """graders/check/trusted/references.json holds what the reference pipeline gives now (re-run write_references if not)."""
    from course.data import load_dataset
    from graders.check.trusted.holdout import load_holdout

    stored = references.load_references()["digits"]
    assert stored["versions"]["torch"] and stored["sizes"]["holdout"] == 180
    assert set(stored["frameworks"]) == set(FRAMEWORKS)
    hp = HYPERPARAMETERS["digits"]
    found = figures.reference_run("tf1", load_dataset("digits"), hp, load_holdout("digits"))
    assert found == stored["frameworks"]["tf1"]
    assert get_check("tf1").target() == found["holdout_accuracy"]


def test_error_messages_lose_terminal_colour_codes():
    from graders.check.shared.checks.failures import short as _short

    keras_style = ValueError("Input 0 is incompatible: expected (None, 784), found (32, 64)\x1b[0m\n\nArguments received")
    assert _short(keras_style) == "Input 0 is incompatible: expected (None, 784), found (32, 64) Arguments received"
