"""The verdict of each pipeline step, decided from values: the grader's own inputs and figures against what came back.

    case = Case("torch", "digits")
    inputs = case.inputs("train", hidden=True)            # data only: arrays and numbers
    observation = probe.observe("torch", "train", (train,), inputs, hidden=True)  # in the kernel
    verdict = case.judge("train", inputs, observation, hidden=True)           # here: notes or failures

This module needs NumPy and the course's data, never a framework or the student's objects. At
grading it runs in the grading process (`graders.runner.verdict`), outside the sandbox, so
nothing the kernel does can turn a failed check into a passed one: every figure a check compares
with is the grader's own (the data, the contract model's weights in NumPy, its own accuracy of the
weights that `train` left behind, the held-out labels, which never enter the kernel). A failure
the kernel reports (a wrong type) only ever costs the student.

Isolation: every step is judged on the course's inputs, so one wrong step costs that step only.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from course.data import HOLDOUT_SIZE, RawData, load_dataset
from course.pipeline import HYPERPARAMETERS
from graders.check.shared import checks, hints
from graders.check.shared.checks import CheckFailed, step_label
from graders.check.shared.checks.accuracy import points_for
from graders.check.shared.checks.failures import short
from graders.check.shared.checks.loss import as_float, is_number
from graders.check.shared.checks.ranges import RAW_FIELDS
from graders.check.shared.observation import Observation, arrays_from_file
from graders.check.trusted import network, references
from graders.check.trusted.model_files import ModelFiles, model_files

NUM_CLASSES = 10
MODEL_STEPS = ("make_loss_and_optimizer", "train", "report")  # the steps whose probe loads the contract model
PACKAGED_INPUTS = Path(__file__).with_name("check_inputs")  # the students' install: the self-checks' inputs
RESULTS_FLOOR, RESULTS_MARGIN = 0.5, 0.02  # the results scale: see graders.check.shared.checks.accuracy.points_for


@dataclass(frozen=True)
class CheckSettings:
    """How the checks of one dataset train: few epochs on (at most) max_train images, so they stay fast.

    `min_accuracy` is what the contract model reaches on the test split (at most max_test
    images) after `epochs` epochs with a correct loss, optimizer and training loop.
    """

    batch_size: int = 32
    validation_size: float = 0.1
    epochs: int = 3
    max_train: int | None = None
    max_test: int | None = None
    min_accuracy: float = 0.9

    def head(self, raw: RawData) -> RawData:
        """`raw` cut to at most max_train training and max_test test images."""
        train, test = slice(self.max_train), slice(self.max_test)
        return RawData(raw.x_train[train], raw.y_train[train], raw.x_test[test], raw.y_test[test])


SETTINGS = {
    "digits": CheckSettings(),  # the contract model: ~0.95 test accuracy after 3 epochs (108 steps)
    "mnist": CheckSettings(epochs=2, max_train=6000, max_test=2000, min_accuracy=0.85),
    "fashion_mnist": CheckSettings(epochs=2, max_train=6000, max_test=2000, min_accuracy=0.7),
}

LOSS_HINT = (
    "the optimizer (Adam, at the learning_rate argument), the loss (cross-entropy on logits), the parameters it updates"
)
GRADIENT_HINT = (
    "compute the loss with the framework's own operations on the logits it is given, so that training can follow its "
    "gradient back: no .detach(), .item(), .numpy() or NumPy in between"
)
LOSS_EXPECTS = {  # what a loss that matches the cross-entropy only on transformed logits expects
    "log_probabilities": "log-probabilities (as nll_loss does)",
    "probabilities": "probabilities (the output of a softmax: from_logits=False, or the log of its input)",
}
GRAPH_SHAPES = {
    "inputs": ("the inputs placeholder: (None, input_dim), None for any batch size",),
    "labels": ("the labels placeholder: (None,)",),
    "logits": ("the last layer: num_classes outputs, any batch size",),
}


def place_files(files: dict[str, ModelFiles], folder: str, prefix: str, write) -> dict[str, np.ndarray]:
    """Write each model's files into `folder` with `write(name, data)`, named `<prefix><kind>-<file>`; return the probe's
    inputs that name them: {"file:<kind>": the path in `folder` that its framework's loader takes}."""
    for kind, model in files.items():
        for name, data in model.files.items():
            write(f"{prefix}{kind}-{name}", data)
    return {f"file:{kind}": np.array(os.path.join(folder, f"{prefix}{kind}-{model.entry}")) for kind, model in files.items()}


class _Stop(Exception):
    """Ends one step's judgement after a failure that the later checks depend on."""


@dataclass
class Verdict:
    """One step's verdict: what passed (notes for the ✓ line) and what failed."""

    step: str
    passed: list[str] = field(default_factory=list)
    failures: list[CheckFailed] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


class _Judge:
    """Runs one step's judgement over an observation: `need` a value, `kernel` its failures, `check` a value."""

    def __init__(self, step: str, observation: Observation):
        self.verdict, self.observation = Verdict(step), observation
        self._stop_reported = False

    def fail(self, failure: CheckFailed) -> None:
        for single in failure.failures:
            single.step = single.step or self.verdict.step
        self.verdict.failures.append(failure)

    def need(self, key: str):
        """The observed value `key`; else the failure that stopped the kernel before it, and stop."""
        if self.observation.values.get(key) is not None:
            return self.observation.values[key]
        if self.observation.stopped:
            self._stopped()
        if not self.verdict.failures:
            self.fail(_no_value(key))
        raise _Stop

    def kernel(self, key: str, fatal: bool = True) -> None:
        """Report the failures the kernel met at `key` (a wrong type); stop when there were any and `fatal`,
        and always when the kernel stopped there."""
        if self.observation.stopped and self.observation.stopped.get("key") == key:
            self._stopped()
        failures = self.observation.failures_at(key)
        for failure in failures:
            self.fail(failure)
        if failures and fatal:
            raise _Stop

    def run(self, judge_step) -> Verdict:
        """`judge_step(self)` to its end or first stop; the step's verdict.

        A value of the wrong kind (a string where a count belongs, say, as a patched kernel may hand back) fails
        the step; it never stops the grading. A failure the kernel reported where no check looked still counts:
        a kernel's failure only ever costs."""
        try:
            judge_step(self)
        except _Stop:
            pass
        except Exception as error:
            self.fail(CheckFailed(
                f"what the notebook's kernel handed back could not be judged ({type(error).__name__}: {short(error)})",
                hint="run the notebook from its first cell, without changing the course's modules",
            ))
        if not self.verdict.failures:
            for key in dict.fromkeys(record["key"] for record in self.observation.failures):
                for failure in self.observation.failures_at(key):
                    self.fail(failure)
            if self.observation.stopped and not self.verdict.failures:
                self.fail(_no_value("result"))
        return self.verdict

    def _stopped(self) -> None:
        """Report, once, the failure that stopped the kernel's observation, and stop."""
        if not self._stop_reported:
            self._stop_reported = True
            for failure in self.observation.failures_at(self.observation.stopped.get("key", "")) or [_no_value("result")]:
                self.fail(failure)
        raise _Stop

    def check(self, check, *args, fatal: bool = True, **kwargs) -> str | None:
        try:
            note = check(*args, **kwargs)
        except CheckFailed as failure:
            self.fail(failure)
            if fatal:
                raise _Stop from None
            return None
        if note:
            self.verdict.passed.append(note)
        return note


def _no_value(key: str) -> CheckFailed:
    return CheckFailed(f"the grader received no {key.replace('_', ' ')} from the notebook's kernel", hint="run the notebook from its first cell")


def _made():
    """The grader's side of the inputs (`graders.check.trusted.inputs`); CheckFailed where it is not installed (the students')."""
    try:
        from graders.check.trusted import inputs
    except ImportError:
        raise CheckFailed("the hidden checks run when the notebook is graded, not in the students' install") from None
    return inputs


def packaged_inputs(dataset: str, step: str) -> dict[str, np.ndarray]:
    """The public inputs of `step`, as made when the students' wheel was built (`graders.author.student`)."""
    path = PACKAGED_INPUTS / f"{dataset}-{step}.npz"
    if not path.is_file():
        raise CheckFailed(f"the checks of {step} on {dataset} are not in this install", hint="the course's install instructions")
    return arrays_from_file(path)


class Case:
    """The grader's side of one framework's checks on one dataset: the inputs it hands out, and the verdicts."""

    def __init__(self, framework: str, dataset: str = "digits", seed: int = 0):
        if dataset not in SETTINGS:
            raise ValueError(f"unknown dataset {dataset!r}; expected one of {', '.join(SETTINGS)}")
        self.framework, self.dataset, self.seed, self.num_classes = framework, dataset, seed, NUM_CLASSES
        self.hp, self.settings = HYPERPARAMETERS[dataset], SETTINGS[dataset]
        self.hints = hints.for_framework(framework)
        self._raw = self._holdout = None

    # -- the course's data ---------------------------------------------------------------------
    @property
    def raw(self) -> RawData:
        if self._raw is None:
            self._raw = load_dataset(self.dataset)
        return self._raw

    @property
    def train_raw(self) -> RawData:
        """The data the checks use: at most max_train / max_test images of `raw`."""
        return self.settings.head(self.raw)

    @property
    def input_dim(self) -> int:
        return int(np.prod(self.raw.x_train.shape[1:]))

    @property
    def holdout(self) -> tuple[np.ndarray, np.ndarray]:
        """The graders' held-out images (`graders.check.trusted.holdout`), preprocessed, never seen by the pipelines; their labels
        stay here. Only where the grader runs: the students' install has no `graders.check.trusted.holdout`."""
        if self._holdout is None:
            from graders.check.trusted.holdout import load_holdout

            x, y = load_holdout(self.dataset)
            self._holdout = _made().preprocess(x), np.asarray(y).astype(np.int64)
        return self._holdout

    def initial_weights(self) -> dict[str, np.ndarray]:
        return network.initial_weights(self.input_dim, self.hp.hidden_units, NUM_CLASSES, self.seed)

    def target(self, hidden: bool = True) -> float:
        """The reference model's accuracy on the results' images (graders/check/trusted/references.json): the held-out images
        (hidden), else the course's test split."""
        figure = "holdout_accuracy" if hidden else "test_accuracy"
        return float(references.reference_figures(self.dataset, self.framework)[figure])

    # -- inputs: what the probe gets, as data ----------------------------------------------------
    def inputs(self, step: str, hidden: bool) -> dict[str, np.ndarray]:
        """What the probe of `step` gets, as data (`graders.check.trusted.inputs.make_inputs`); in the students' install, the public
        inputs made when its wheel was built."""
        try:
            from graders.check.trusted.inputs import make_inputs
        except ImportError:
            if hidden:
                raise CheckFailed("the hidden checks run when the notebook is graded, not in the students' install") from None
            return packaged_inputs(self.dataset, step)
        return make_inputs(self, step, hidden)

    def files(self, step: str, hidden: bool) -> dict[str, ModelFiles]:
        """The framework files the probe of `step` loads (`graders.check.trusted.model_files`): {"model": the contract model holding
        the weights of `inputs(step)`} for the steps that hand a student's function a model, else nothing."""
        if step not in MODEL_STEPS:
            return {}
        inputs = self.inputs(step, hidden)
        return {"model": model_files(self.framework, {name: inputs[name] for name in network.WEIGHT_NAMES})}

    # -- verdicts ----------------------------------------------------------------------------------
    def explanation_kit(self, verdicts: dict[str, bool]) -> tuple[dict[str, np.ndarray], dict[str, ModelFiles]]:
        """What the whole-pipeline cell's explanation needs, as data (`graders.check.shared.protocol.PIPELINE_KIT`): the `verdicts` of the
        steps, the numbers of training and test images the checks use, the course's splits of them (preprocessed, as hp
        says), and the contract model it builds, saved (the files, to write beside)."""
        hp = self.hp
        raw = self.train_raw
        split = _made().contract_split(raw, hp.validation_size, hp.seed)
        arrays = {f"{name}_{part}": array for name, pair in split.items() for part, array in zip("xy", pair)}
        arrays |= {"raw_train": np.array(len(raw.x_train)), "raw_test": np.array(len(raw.x_test)), "verdicts": np.array(json.dumps(verdicts))}
        weights = network.initial_weights(self.input_dim, hp.hidden_units, NUM_CLASSES, hp.seed)
        return arrays, {"model": model_files(self.framework, weights)}

    def judge(self, step: str, inputs: dict, observation: Observation, hidden: bool) -> Verdict:
        def judge_step(j: _Judge) -> None:
            j.kernel("function")
            j.kernel("unreadable")
            getattr(self, f"_{step}")(j, inputs, hidden)

        return _Judge(step, observation).run(judge_step)

    def _download(self, j: _Judge, inputs: dict, hidden: bool) -> None:
        j.kernel("raw")
        raw = RawData(*(j.need(name) for name in RAW_FIELDS))
        expected = self.raw
        j.check(checks.check_raw_data, raw, {f: a.shape for f, a in zip(RAW_FIELDS, expected)})
        if hidden:
            for name, found, wanted in zip(RAW_FIELDS, raw, expected):
                j.check(checks.check_equal_arrays, name, found, wanted, "load the course's data with load_dataset(name)", fatal=False)

    def _load_and_preprocess(self, j: _Judge, inputs: dict, hidden: bool) -> None:
        s, raw, b = self.settings, self.train_raw, self.settings.batch_size
        j.kernel("reiterable")
        x, y = j.need("first_x"), j.need("first_y")
        j.kernel("batch")
        j.check(checks.check_shape, "x of a batch", x, (b, self.input_dim), "flatten each image to one row of H*W pixels; batch_size rows per batch")
        j.check(checks.check_dtype, "x", x, np.float32, "cast the pixels to float32", fatal=False)
        j.check(checks.check_normalised, "x", x, fatal=False)
        j.check(checks.check_shape, "y of a batch", y, (b,), "one label per image", fatal=False)
        j.check(checks.check_dtype, "y", y, np.int64, "labels as int64 (the loss and the TF1 labels placeholder need int64)", fatal=False)
        j.check(checks.check_labels, "y", y, fatal=False)
        counts = [int(j.need(f"count_{name}")) for name in ("train", "validation", "test")]
        j.check(checks.check_split_sizes, counts[0], counts[1], len(raw.x_train), s.validation_size, fatal=False)
        j.check(checks.check_count, "test", counts[2], len(raw.x_test), "the test split: every test image, once", fatal=False)
        if hidden:
            xt, yt, xv, yv, xs, ys = (j.need(f"{name}_{part}") for name in ("train", "validation", "test") for part in "xy")
            j.check(checks.check_same_examples, "train + validation", np.concatenate([xt, xv]), np.concatenate([yt, yv]),
                    _made().preprocess(raw.x_train), raw.y_train, fatal=False)
            j.check(checks.check_same_examples, "test", xs, ys, _made().preprocess(raw.x_test), raw.y_test, fatal=False)
            j.check(checks.check_reshuffled, "train", xt, j.need("train_x_again"), fatal=False)

    def _build_model(self, j: _Judge, inputs: dict, hidden: bool) -> None:
        d, x, y = self.input_dim, inputs["x"], inputs["y"]
        j.kernel("model")
        j.verdict.passed.append(str(j.need("model_type")))
        count = int(j.need("parameter_count"))
        shapes = {"inputs": (None, d), "labels": (None,), "logits": (None, NUM_CLASSES)}
        for name, shape in (j.observation.values.get("static_shapes") or {}).items():
            if name in shapes:
                j.check(checks.check_shape, f"{name} (static)", tuple(shape), shapes[name], *GRAPH_SHAPES[name], none_is_any=False)
        logits = j.need("logits")
        j.check(checks.check_shape, "logits", logits, (len(x), NUM_CLASSES), "the size of the last layer: num_classes outputs")
        j.check(checks.check_dtype, "logits", logits, np.float32, "keep the model in float32", fatal=False)
        j.check(checks.check_finite, "logits", logits, fatal=False)
        j.check(checks.check_logits, logits, self.hints.LOGITS, fatal=False)
        j.check(checks.check_parameters, count, self.hints.PARAMETERS, fatal=False)
        if hidden:
            few = j.need("logits_7")
            j.check(checks.check_shape, "logits for 7 images", few, (7, NUM_CLASSES), "the batch dimension: any batch size, not a fixed one", fatal=False)
            j.check(checks.check_varies, "logits", logits, fatal=False)
            j.check(checks.check_untrained_loss, checks.cross_entropy(logits, y), NUM_CLASSES, fatal=False)

    def _make_loss_and_optimizer(self, j: _Judge, inputs: dict, hidden: bool) -> None:
        x, y = inputs["x"], inputs["y"]
        weights = {name: inputs[name] for name in network.WEIGHT_NAMES}
        logits = network.forward(weights, x)
        value = j.need("loss")
        expected = checks.cross_entropy(logits, y)
        if j.check(checks.check_loss_matches, value, expected, fatal=False) is None and j.verdict.failures:
            self._explain_loss(j, value, expected)
            raise _Stop
        j.kernel("optimizer")
        if hidden:
            j.check(network.check_loss_gradient, j.need("gradient"), inputs["logits"], y, GRADIENT_HINT)
            j.kernel("step")
            facts = dict(j.need("optimizer"))
            after = {name: np.asarray(j.need(f"after:{name}"), np.float32) for name in network.WEIGHT_NAMES}
            j.check(network.check_weights, "the model after one step of your optimizer", after, weights)
            gradients = {name: inputs[f"gradient:{name}"] for name in network.WEIGHT_NAMES}
            j.check(network.check_optimizer_step, weights, after, gradients, network.loss(weights, x, y), network.loss(after, x, y), LOSS_HINT)
            rate = facts.get("learning_rate")
            j.verdict.passed.append(f"{facts.get('type')}" + (f" at learning rate {rate:g}" if is_number(rate) else ""))

    def _explain_loss(self, j: _Judge, value, expected: float) -> None:
        """Point a wrong loss value at the contract when the loss gives the cross-entropy on log-probabilities or
        probabilities: it expects those, where the contract's model gives raw logits."""
        if not is_number(value):
            return
        failure = j.verdict.failures[-1]
        for kind in ("log_probabilities", "probabilities"):
            given = j.observation.values.get(f"loss_on_{kind}")
            if isinstance(given, float) and np.isfinite(given) and np.isclose(given, expected, rtol=1e-3, atol=1e-4):
                shown = kind.replace("_", "-")
                failure.hint = (
                    f"your loss expects {LOSS_EXPECTS[kind]}: given the {shown} of these logits it gives the "
                    f"cross-entropy, {given:.4f}. But the model of the contract gives raw logits (step 3), on which it "
                    f"gives {as_float('loss', value):.4f}: the loss must take raw logits, as {self.hints.LOSS_ON_LOGITS}"
                )
                return

    def _accuracy(self, j: _Judge, inputs: dict, hidden: bool) -> None:
        cases = checks.CASES if hidden else (checks.PUBLIC_CASE,)
        for number, case in enumerate(cases):
            found = j.need(f"value_{number}")
            if number == 0:
                j.kernel("metric_type", fatal=False)
            start = len(j.verdict.failures)
            j.check(checks.check_metric, found, case, fatal=False)
            if number == 0 and is_number(found):
                try:
                    checks.check_same_answer(found, j.need("again"), case, checks.CASES[1])
                except CheckFailed as failure:  # a running total: the wrong values above are its doing
                    del j.verdict.failures[start:]
                    j.fail(failure)
                    raise _Stop from None

    def _train(self, j: _Judge, inputs: dict, hidden: bool) -> None:
        s = self.settings
        steps = s.epochs * -(-len(inputs["train_x"]) // s.batch_size)
        j.kernel("history")
        history = [float(v) for v in j.need("history")]
        j.check(checks.check_history, history, steps)
        if self.hints.STEP_LOSS is not None:  # the probe could watch the loss (not in a TF1 graph)
            j.check(checks.check_loss_used, int(j.need("loss_calls")), steps)
            computed = j.observation.values.get("loss_computed")
            j.check(checks.check_step_losses, history, computed, self.hints.STEP_LOSS, fatal=False)
        j.check(checks.check_decreasing, history, hint=self.hints.TRAIN, fatal=False)
        before = {name: inputs[name] for name in network.WEIGHT_NAMES}
        after = {name: np.asarray(j.need(f"after:{name}"), np.float32) for name in network.WEIGHT_NAMES}
        j.check(network.check_weights, "the model after train", after, before)
        x, y = inputs["train_x"], inputs["train_y"]
        j.check(network.check_trained, network.loss(before, x, y), network.loss(after, x, y), self.hints.TRAIN, fatal=False)
        if hidden:
            test_x, test_y = _made().split(self)["test"]
            j.check(
                checks.check_accuracy_at_least,
                f"test accuracy after your {len(history)} training steps",
                network.accuracy(after, test_x, test_y),
                s.min_accuracy,
                self.hints.TRAIN,
            )

    def _report(self, j: _Judge, inputs: dict, hidden: bool) -> None:
        weights = {name: inputs[name] for name in network.WEIGHT_NAMES}
        cases = [("", ("train", "test"))] + ([("with other splits", ("test", "validation"))] if hidden else [])
        for number, (context, (train, test)) in enumerate(cases):
            expected = {
                "train_accuracy": network.accuracy(weights, inputs[f"{train}_x"], inputs[f"{train}_y"]),
                "test_accuracy": network.accuracy(weights, inputs[f"{test}_x"], inputs[f"{test}_y"]),
            }
            if j.observation.failures_at(f"report_{number}"):
                j.kernel(f"report_{number}", fatal=False)
                continue
            j.check(checks.check_report, dict(j.need(f"report_{number}")), expected, context=context, fatal=False)

    # -- the results cell ----------------------------------------------------------------------------
    def holdout_accuracy(self, observation: Observation) -> float:
        """The accuracy of the logits that came back on the held-out images; CheckFailed when there are none."""
        return self._results_accuracy(observation, self.holdout[1], "the held-out images")

    def _results_accuracy(self, observation: Observation, labels: np.ndarray, images: str) -> float:
        """The accuracy of the logits that came back on `images`, against `labels`; CheckFailed when there are none."""
        j = _Judge("results", observation)
        try:
            logits = np.asarray(j.need("logits"))
            if logits.dtype.kind not in "fiu":
                raise CheckFailed(f"logits on {images}", "numbers", f"values of dtype {logits.dtype}")
            checks.check_shape(f"logits on {images}", logits, (len(labels), NUM_CLASSES))
        except _Stop:
            raise CheckFailed.combine(j.verdict.failures) from None
        except CheckFailed as failure:
            raise CheckFailed(
                f"the trained model could not be evaluated ({failure.line().rstrip('.')}); the whole-pipeline cell did not "
                "produce a usable trained model: fix the steps above first", step="results",
            ) from None
        return float(np.mean(np.argmax(logits, axis=1) == labels))

    def score_results(self, observation: Observation, points: float) -> tuple[float, str]:
        """(points earned, the line that says so); CheckFailed when the model could not be evaluated."""
        accuracy, target = self.holdout_accuracy(observation), self.target()
        earned = points_for(accuracy, target, points, floor=RESULTS_FLOOR, margin=RESULTS_MARGIN)
        return float(earned), f"results: held-out accuracy {accuracy:.4f} (reference {target:.4f}) earns {earned:g} of {points:g} points"

    def results_line(self, observation: Observation) -> str:
        """The self-check's line: the accuracy of the logits that came back on the course's test split
        (`inputs("results", hidden=False)`) against the reference's, and that the grade is taken on held-out images
        it does not see; CheckFailed when it cannot be evaluated."""
        labels = self.raw.y_test.astype(np.int64)
        accuracy, n = self._results_accuracy(observation, labels, "the test images"), len(labels)
        unseen = HOLDOUT_SIZE[self.dataset]
        graded = f"the grade: the same scale on {unseen} held-out images that this check does not see"
        try:
            target = self.target(hidden=False)
        except LookupError:
            return f"results: test accuracy {accuracy:.4f} on {n} test images (no reference figure stored; {graded})"
        full = target - RESULTS_MARGIN
        mark = "✓" if accuracy >= full else "~"
        return (
            f"{mark} results: test accuracy {accuracy:.4f} on {n} test images; reference {target:.4f}: "
            f"full points from {full:.4f}, partial credit down to {RESULTS_FLOOR:.2f} ({graded})"
        )


def passed_line(verdict: Verdict, hidden: bool) -> str:
    both = " (public and hidden checks)" if hidden else ""
    return f"✓ {step_label(verdict.step)}{both}: " + "; ".join(verdict.passed)
