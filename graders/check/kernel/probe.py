"""The kernel's side of a check: call the student's function on the grader's inputs, keep only what came out.

    observe(kind, step, objects, inputs, hidden) -> Observation

`inputs` are data (NumPy arrays and numbers: `graders.check.trusted.judge.Case.inputs`) and the paths of files the
grader wrote in the framework's own format (``inputs["file:model"]``: the contract model, loaded with
the framework's loader). Nothing here computes a step's answer: no preprocessing, no training or
evaluation loop, no model built from dimensions or weights. Where a step takes batches, the given
arrays are converted to the framework's batches; where it takes a loss and an optimizer, the
framework's standard ones are made (`course_training`: one library call each). What comes back is
values: arrays, numbers, weights, the failures met on the way (`graders.check.shared.observation`). The verdict is
the judge's (`graders.check.trusted.judge`), in the grading process at grading time, or here for a self-check.

At grading, the grader runs `run(...)` in the kernel (the Execute preprocessor,
`graders.runner.verdict`); everything in this module is then the submission's to patch, and the
worst a patch can do is hand back wrong values for the submission's own steps.
"""

from __future__ import annotations

import contextlib
import inspect
import math

import numpy as np

from course.pipeline import Splits
from graders.check.kernel import frameworks
from graders.check.kernel.quiet import quiet
from graders.check.kernel.student_code import student_failure
from graders.check.shared import hints
from graders.check.shared.checks import CheckFailed, check_history, check_raw_data, check_reiterable, step_label
from graders.check.shared.checks.accuracy import report_values
from graders.check.shared.checks.failures import short
from graders.check.shared.checks.loss import as_float, is_number
from graders.check.shared.exercises import exercise
from graders.check.shared.observation import Observation, arrays_from_file, write

SPLIT_NAMES = ("train", "validation", "test")


class _Stop(Exception):
    """Ends a step's observation: what follows depends on what could not be had."""


class Probe:
    """Records one step's observation: `call` runs student code, `check` a contract check on the kernel's objects."""

    def __init__(self, step: str, adapter):
        self.step, self.adapter, self.observation = step, adapter, Observation()

    @property
    def values(self) -> dict:
        return self.observation.values

    def call(self, key: str, doing: str, function, *args, **kwargs):
        """`function(*args, **kwargs)`; when it raises, record why under `key` and stop the step."""
        try:
            return function(*args, **kwargs)
        except CheckFailed as failure:
            self._stop(key, failure)
        except Exception as error:  # anything the student's code raised
            self._stop(key, student_failure(self.step, doing, error))
        raise _Stop

    def check(self, key: str, check, *args, fatal: bool = True, **kwargs):
        """Run a check of the kernel's objects (a type, say); record its failure under `key`; its result, or None."""
        try:
            return check(*args, **kwargs)
        except CheckFailed as failure:
            self.observation.failed(key, failure)
            if fatal:
                raise _Stop from None
            return None

    def observe(self, observe_step, *args) -> Observation:
        """`observe_step(self, *args)` to its end or its first stop; an error the student's objects cause that no
        `call` caught (what they returned could not be read) is recorded as the stop."""
        try:
            observe_step(self, *args)
        except _Stop:
            pass
        except Exception as error:
            self._stop("unreadable", CheckFailed(
                f"could not check what the code returned: {type(error).__name__}: {short(error)}",
                hint=f"the cell of {step_label(self.step)} and its docstring", step=self.step,
            ))
        return self.observation

    def _stop(self, key: str, failure: CheckFailed) -> None:
        failure.step = failure.step or self.step
        self.observation.failed(key, failure)
        self.observation.stopped = {"key": key}


def _scalar(inputs: dict, key: str):
    return inputs[key].item()


def _model(p: Probe, inputs: dict):
    """The contract model the grader saved for this check, loaded with the framework's own loader."""
    return p.call("model", "loading the course's model", p.adapter.load_model, _scalar(inputs, "file:model"))


def known_accuracy(labels_seen: list[np.ndarray]):
    """An accuracy on NumPy (logits, labels) that answers only for the label arrays of `labels_seen` (the report check's
    batches and splits), NaN for any other: the report check's stand-in for the student's accuracy, useless elsewhere."""
    known = {np.asarray(labels, np.int64).tobytes() for labels in labels_seen}

    def compute(logits, labels) -> float:
        labels = np.asarray(labels).astype(np.int64).reshape(-1)
        if labels.tobytes() not in known or len(logits) != len(labels):
            return float("nan")
        return float(np.mean(np.argmax(np.asarray(logits), axis=1) == labels))

    return compute


def _parts(splits):
    """(train, validation, test) of a Splits-like value."""
    if all(hasattr(splits, name) for name in SPLIT_NAMES):
        return splits.train, splits.validation, splits.test
    if isinstance(splits, (tuple, list)) and len(splits) == 3:
        return tuple(splits)
    raise CheckFailed("return value", "Splits(train, validation, test)", type(splits).__name__, "what load_and_preprocess returns")


def _pair(value, what: str):
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return tuple(value)
    raise CheckFailed("return value", what, type(value).__name__, "the return statement")


@contextlib.contextmanager
def substituted(function, **replacements):
    """Run `function` with some names of its module (the notebook) bound to other objects meanwhile.

    A student's `report` calls their own `accuracy`; the report check swaps in one that answers for its own
    batches only (`known_accuracy`), so a wrong `accuracy` costs only the accuracy step. Names not defined
    there are left alone.
    """
    namespace = getattr(inspect.unwrap(function), "__globals__", None)
    if not isinstance(namespace, dict):
        yield
        return
    saved = {name: namespace[name] for name in replacements if name in namespace}
    namespace.update({name: replacements[name] for name in saved})
    try:
        yield
    finally:
        namespace.update(saved)


# The steps: each records what the student's function gives for `inputs` ---------------------------
def _download(p: Probe, download, inputs: dict, hidden: bool) -> None:
    dataset = _scalar(inputs, "dataset")
    raw = p.call("raw", f"your download({dataset!r})", download, dataset)
    p.check("raw", check_raw_data, raw)
    p.values.update(zip(("x_train", "y_train", "x_test", "y_test"), tuple(raw)))


def _load_and_preprocess(p: Probe, load_and_preprocess, inputs: dict, hidden: bool) -> None:
    from course.data import RawData

    a, b, share = p.adapter, _scalar(inputs, "batch_size"), _scalar(inputs, "validation_size")
    raw = RawData(inputs["x_train"], inputs["y_train"], inputs["x_test"], inputs["y_test"])
    splits = p.call(
        "splits", f"your load_and_preprocess(raw, batch_size={b}, validation_size={share}, seed=0)",
        load_and_preprocess, raw, batch_size=b, validation_size=share, seed=0,
    )
    parts = p.call("splits", "reading the splits", _parts, splits)
    for name, split in zip(SPLIT_NAMES, parts):
        p.check("reiterable", check_reiterable, name, split, hints.for_framework(a.NAME).BATCHES)
    p.values["first_x"], p.values["first_y"] = p.call("first_batch", "taking the first training batch", a.first_batch, parts[0])
    p.check("batch", a.check_batch, parts[0])
    for name, split in zip(SPLIT_NAMES, parts):
        p.values[f"count_{name}"] = p.call("counts", f"counting the {name} examples", a.count_examples, split)
    if hidden:
        for name, split in zip(SPLIT_NAMES, parts):
            p.values[f"{name}_x"], p.values[f"{name}_y"] = p.call("every_batch", "reading every batch", a.collect, split)
        p.values["train_x_again"] = p.call("again", "reading the training batches a second time", a.collect, parts[0])[0]


def _build_model(p: Probe, build_model, inputs: dict, hidden: bool) -> None:
    a, x = p.adapter, inputs["x"]
    d, units, classes = (_scalar(inputs, key) for key in ("input_dim", "hidden_units", "num_classes"))
    model = p.call(
        "model", f"your build_model({d}, num_classes={classes}, hidden_units={units}, seed=0)",
        build_model, d, num_classes=classes, hidden_units=units, seed=0,
    )
    try:
        p.values["model_type"] = p.check("model", a.check_model, model)
        p.values["parameter_count"] = p.call("parameter_count", "counting the trainable parameters", a.parameter_count, model)
        p.values["static_shapes"] = {name: [None if n is None else int(n) for n in shape] for name, shape in a.static_shapes(model).items()}
        p.values["logits"] = p.call("logits", f"calling your model on a batch of {len(x)} images", a.predict, model, x)
        if hidden:
            p.values["logits_7"] = p.call("logits_7", "calling your model on a batch of 7 images", a.predict, model, x[:7])
    finally:
        with contextlib.suppress(Exception):
            a.close(model)


def _make_loss_and_optimizer(p: Probe, make_loss_and_optimizer, inputs: dict, hidden: bool) -> None:
    a, x, y, lr = p.adapter, inputs["x"], inputs["y"], _scalar(inputs, "learning_rate")
    model = _model(p, inputs)
    try:
        returned = p.call("returned", f"your make_loss_and_optimizer(model, learning_rate={lr:g})", make_loss_and_optimizer, model, learning_rate=lr)
        loss, optimizer = p.call("returned", "reading the returned pair", _pair, returned, "a pair (loss, optimizer)")
        p.values["loss"] = np.asarray(p.call("loss", f"computing your loss on a batch of {len(x)}", a.loss_value, loss, model, x, y))
        for kind in ("log_probabilities", "probabilities"):  # what the loss gives on them, for the judge's hint
            with contextlib.suppress(Exception):
                p.values[f"loss_on_{kind}"] = float(as_float("loss", a.loss_on(loss, model, x, inputs[kind], y)))
        p.check("optimizer", a.check_optimizer, optimizer, model)
        if hidden:
            p.values["gradient"] = p.call("gradient", "differentiating your loss", a.loss_gradient, loss, model, inputs["logits"], y)
            gradients = {name.removeprefix("gradient:"): inputs[name] for name in inputs if name.startswith("gradient:")}
            p.call("step", "one step of your optimizer with the grader's gradients", a.apply_gradients, optimizer, model, gradients, x, y)
            p.values["optimizer"] = p.call("step", "reading your optimizer", a.optimizer_facts, optimizer)
            p.values.update({f"after:{k}": v for k, v in a.weights_of(model).items()})
    finally:
        with contextlib.suppress(Exception):
            a.close(model)


def _accuracy(p: Probe, accuracy, inputs: dict, hidden: bool) -> None:
    a = p.adapter
    cases = int(_scalar(inputs, "cases"))
    for number in range(cases if hidden else 1):
        name, logits, labels = _scalar(inputs, f"name_{number}"), inputs[f"logits_{number}"], inputs[f"labels_{number}"]
        value = p.call(f"value_{number}", f"your accuracy on {name}", a.metric_value, accuracy, logits, labels)
        if number == 0:
            p.check("metric_type", a.check_metric_type, value, fatal=False)
        found = a.to_numpy(value)
        p.values[f"value_{number}"] = np.asarray(found) if np.asarray(found).dtype != object else str(found)
        if number == 0 and is_number(found) and cases > 1:  # the same answer again, after another call
            between = _scalar(inputs, "name_1")
            p.call("again", f"your accuracy on {between}", a.metric_value, accuracy, inputs["logits_1"], inputs["labels_1"])
            again = p.call("again", f"your accuracy on {name}", a.metric_value, accuracy, logits, labels)
            p.values["again"] = np.asarray(a.to_numpy(again))


def _train(p: Probe, train, inputs: dict, hidden: bool) -> None:
    a, epochs = p.adapter, int(_scalar(inputs, "epochs"))
    model = _model(p, inputs)
    try:
        batches = a.contract_batches(inputs["train_x"], inputs["train_y"], int(_scalar(inputs, "batch_size")), True, int(_scalar(inputs, "seed")))
        loss, optimizer = a.course_training(model, _scalar(inputs, "learning_rate"))
        probe = a.probe_loss(loss)  # what the loss computes at each step (None in TF1: a tensor)
        history = p.call(
            "history", f"your train(model, loss, optimizer, batches, epochs={epochs})",
            train, model, loss if probe is None else probe, optimizer, batches, epochs,
        )
        p.check("history", check_history, history)
        p.values["history"] = np.asarray(history, np.float64)
        if probe is not None:
            p.values["loss_calls"] = int(probe.calls)
            computed = probe.computed(len(history))
            p.values["loss_computed"] = None if computed is None else np.asarray(computed, np.float64)
        p.values.update({f"after:{k}": v for k, v in p.call("weights", "reading the model's weights after train", a.weights_of, model).items()})
    finally:
        with contextlib.suppress(Exception):
            a.close(model)


def _report(p: Probe, report, inputs: dict, hidden: bool) -> None:
    a, b = p.adapter, int(_scalar(inputs, "batch_size"))
    model = _model(p, inputs)
    try:
        split = {name: a.contract_batches(inputs[f"{name}_x"], inputs[f"{name}_y"], b) for name in SPLIT_NAMES}
        cases = [("", Splits(split["train"], split["validation"], split["test"]))]
        if hidden:  # other splits: the report must evaluate the splits it is given
            cases.append(("with other splits", Splits(split["test"], split["validation"], split["validation"])))
        labels = [inputs[f"{name}_y"] for name in SPLIT_NAMES]
        labels += [y[start : start + b] for y in labels for start in range(0, len(y), b)]
        accuracy = a.metric_function(known_accuracy(labels))  # a wrong accuracy costs step 5 only
        for number, (context, given) in enumerate(cases):
            with substituted(report, accuracy=accuracy):
                result = p.call(f"report_{number}", "your report(model, splits)", report, model, given)
            p.values[f"report_{number}"] = p.check(f"report_{number}", report_values, result, context=context, fatal=False)
    finally:
        with contextlib.suppress(Exception):
            a.close(model)


def _results(p: Probe, model, inputs: dict, hidden: bool) -> None:
    a = p.adapter
    if model is None:
        p._stop("model", CheckFailed("the whole-pipeline cell did not produce a trained model; fix the steps above first", step="results"))
        raise _Stop
    try:
        with quiet(a.checking()):
            a.check_model(model)
            p.values["logits"] = a.predict(model, inputs["x"])
    except Exception as error:
        what = error.line() if isinstance(error, CheckFailed) else f"{type(error).__name__}: {short(error)}"
        p._stop("model", CheckFailed(
            f"the trained model could not be evaluated ({what.rstrip('.')}); the whole-pipeline cell did not "
            "produce a usable trained model: fix the steps above first", step="results",
        ))
        raise _Stop from None


OBSERVE = {
    "download": _download,
    "load_and_preprocess": _load_and_preprocess,
    "build_model": _build_model,
    "make_loss_and_optimizer": _make_loss_and_optimizer,
    "accuracy": _accuracy,
    "train": _train,
    "report": _report,
    "results": _results,
}


def observe(kind: str, step: str, objects: tuple, inputs: dict, hidden: bool) -> Observation:
    """What the notebook's `objects` give for `inputs`: the student's step function (for "results", the trained model)
    of a pipeline in framework `kind` ("tf1", "tf2", "torch"). The pipeline exercise's probe (`graders.check.shared.exercises`)."""
    function = objects[0] if objects else None
    adapter = frameworks.load(kind)
    p = Probe(step, adapter)
    if step != "results" and not callable(function):
        found = "nothing" if function is None else type(function).__name__
        p._stop("function", CheckFailed(f"the function {step}", "a function", found, f"run the cell of {step_label(step)} first"))
        return p.observation
    with quiet(adapter.checking()):
        adapter.seed(int(inputs["seed"].item()) if "seed" in inputs else 0)
        p.observe(OBSERVE[step], function, inputs, hidden)
    _finite(p.observation)
    return p.observation


def _finite(observation: Observation) -> None:
    """Plain numbers only in the JSON part: NaN and infinities become strings the judge reads as such."""
    for key, value in observation.values.items():
        if isinstance(value, float) and not math.isfinite(value):
            observation.values[key] = np.asarray(value)


def run(kind: str, step: str, names: list[str], inputs_path: str, output_path: str, hidden: bool = True) -> None:
    """The grader's call in the kernel: observe the notebook's objects `names` on the inputs file; write the output file."""
    import __main__

    namespace = getattr(__main__, "__dict__", {})
    with contextlib.suppress(Exception):
        namespace = get_ipython().user_ns  # noqa: F821 - IPython's, in a kernel
    objects = tuple(namespace.get(name) for name in names)
    write(output_path, exercise(kind).observe(kind, step, objects, arrays_from_file(inputs_path), hidden))
