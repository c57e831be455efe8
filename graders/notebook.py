"""What the notebooks call: `StepChecks`, the self-checks and graded checks of the pipeline steps.

    from graders.notebook import StepChecks
    check = StepChecks("torch")               # "tf1" | "tf2" | "torch"; seeds, device, quiet TF logs
    check.public("build_model", build_model)  # never raises: ✓ lines to stdout, ✗ messages to stderr
    check.hidden("build_model", build_model)  # public + hidden checks; raises CheckFailed (AssertionError)
    with check.guard("the whole pipeline"):   # an exception becomes one clear stderr message
        ...
    check.plot_losses(history)
    check.public_results(model)               # held-out accuracy vs target (stdout; never raises)
    check.score_results(model, points=3)      # points earned (a float) for the results cell

Isolation: where the reference is installed (staff, grading), every step is checked on the
course's *reference* inputs (data, splits, model, loss and optimizer from
`solutions.<fw>_pipeline`, built fresh and seeded for each check), never on what the student's
other steps produced, so one wrong step costs only that step. A student's `report` even runs
with the reference `accuracy` in place of theirs. In the students' install, which has no
reference, the self-checks build those inputs with the student's own earlier steps instead,
found by name in the notebook; when one of those is missing or fails, the message says which
step to fix first (`_Inputs`).

Quiet: nbgrader gives 0 points to a test cell that wrote to stderr, so while checks run,
warnings are ignored and stderr (Python's and file descriptor 2) goes nowhere; only the
verdict is printed afterwards.

Label dtype: the contract is int64 in all three frameworks (PyTorch's cross-entropy and
the TF1 labels placeholder need it); int32 labels fail the load_and_preprocess check.

Contract points are checked in the step that can break them, so that isolation blames the step
that made the mistake: re-iterable splits of tensor batches (step 2); raw logits, not
probabilities or log-probabilities, and weights that exist when build_model returns (step 3); a
loss on raw logits, whose message says when it expects (log-)probabilities instead, and the
optimizer the contract names (step 4); a scalar tensor that depends on this call's inputs only
(step 5); the given loss, called at every step, and the loss of each step returned (step 6,
through the adapter's `probe_loss`).

When the whole-pipeline cell stops (`guard`), its line names the step, the student's line and
the cell's line, and says what to do: fix the step whose check failed, or, when every step
passed, that the steps pass alone but clash, and which two (`StepChecks.explain_stop`).
"""

from __future__ import annotations

import contextlib
import inspect
import io
import linecache
import os
import re
import sys
import sysconfig
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from graders import checks, frameworks, references
from graders.quiet import quiet as quiet_running
from graders.reference_code import Watch, optional
from graders.checks import STEPS, CheckFailed, step_label
from graders.checks.accuracy import points_for
from graders.checks.loss import as_float
from graders.checks.ranges import RAW_FIELDS
import course
from course.data import RawData, load_dataset, load_holdout
from course.pipeline import HYPERPARAMETERS, Splits

NUM_CLASSES = 10
RESULTS_FLOOR, RESULTS_MARGIN = 0.5, 0.02  # the results scale: see graders.checks.accuracy.points_for


@dataclass(frozen=True)
class CheckSettings:
    """How the checks of one dataset train: few epochs on (at most) max_train images, so they stay fast.

    `min_accuracy` is what the reference model reaches on the test split (at most max_test
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
    "digits": CheckSettings(),  # reference: ~0.95 test accuracy after 3 epochs (108 steps)
    "mnist": CheckSettings(epochs=2, max_train=6000, max_test=2000, min_accuracy=0.85),
    "fashion_mnist": CheckSettings(epochs=2, max_train=6000, max_test=2000, min_accuracy=0.7),
}

LOSS_HINT = (
    "the optimizer (Adam, at the learning_rate argument), the loss (cross-entropy on logits), the parameters it updates"
)
LOGITS_HINTS = {
    "tf1": "model.logits is the last layer's x @ kernel + bias, before any tf.nn.softmax or log; the loss of step 4 "
    "(tf.nn.sparse_softmax_cross_entropy_with_logits) applies the softmax itself",
    "tf2": "the last Dense layer has no activation (not 'softmax'), and no softmax follows it; the loss of step 4 "
    "(SparseCategoricalCrossentropy(from_logits=True)) applies the softmax itself",
    "torch": "forward returns the last nn.Linear's output, with no F.softmax or F.log_softmax; the loss of step 4 "
    "(nn.CrossEntropyLoss, F.cross_entropy) applies log_softmax itself",
}
LOSS_ON_LOGITS = {  # the losses that take raw logits, as the contract's model gives them
    "tf1": "tf.nn.sparse_softmax_cross_entropy_with_logits and v1.losses.sparse_softmax_cross_entropy do",
    "tf2": "SparseCategoricalCrossentropy(from_logits=True) does",
    "torch": "nn.CrossEntropyLoss() and F.cross_entropy do (F.nll_loss would need F.log_softmax first)",
}
LOSS_EXPECTS = {  # what a loss that matches the cross-entropy only on transformed logits expects
    "log-probabilities": "log-probabilities (as nll_loss does)",
    "probabilities": "probabilities (the output of a softmax: from_logits=False, or the log of its input)",
}
STEP_LOSS_HINTS = {
    "tf2": "return the loss of each step as the loss computed it for that batch: the logs['loss'] that Keras fit "
    "hands a callback is the mean over the epoch so far, not the batch's loss; train_on_batch or a GradientTape "
    "step returns the batch's own",
    "torch": "append loss.item() of each step as it is, not a running mean or a sum over the epoch",
}
PARAMETER_HINTS = {  # the model that build_model returns has its weights already
    "tf1": "the layers: their weights must be trainable variables",
    "tf2": "the weights must exist when build_model returns (optimizer.build in step 4 takes them): give the model "
    "its input shape (tf.keras.Input(shape=(input_dim,))) or call it once on a batch; build() of a subclassed "
    "model does not create its layers' weights",
    "torch": "the layers: their weights must be trainable parameters",
}
BATCHES_HINTS = {
    "tf1": "a class with __iter__ (like Batches): a generator is used up after one pass",
    "tf2": "a tf.data.Dataset (or a class with __iter__): a generator is used up after one pass",
    "torch": "a DataLoader (or a class with __iter__): a generator is used up after one pass",
}
TRAIN_HINTS = {
    "tf1": "initialise the variables once before the loops, then run the train op with each batch fed",
    "tf2": "compute the loss inside the GradientTape, then apply the gradients to model.trainable_variables, every batch",
    "torch": "optimizer.zero_grad(), forward, loss, loss.backward(), optimizer.step(), in that order, every batch",
}


# Quiet running -----------------------------------------------------------------------------
def quiet(adapter=None):
    """`graders.quiet.quiet`, inside the adapter's `checking()` context when given (PyTorch: one CPU thread)."""
    return quiet_running(adapter.checking()) if adapter is not None else quiet_running()


# Failures of student code ------------------------------------------------------------------
def _library_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    packages = [module for module in (course, optional("solutions")) if module is not None]
    dirs = {str(Path(__file__).parent)} | {str(Path(module.__file__).parent) for module in packages}
    dirs |= {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths}
    return tuple(os.path.realpath(d) + os.sep for d in dirs)


_LIBRARY_DIRS = _library_dirs()


ANSI_CODES = re.compile(r"\x1b\[[0-9;]*m")


def _short(error: BaseException, limit: int = 300) -> str:
    """The first lines of an exception's message, at most `limit` characters, without a final period
    or the terminal colour codes that Keras puts in its messages."""
    lines = [line for line in ANSI_CODES.sub("", str(error)).strip().splitlines() if line.strip()]
    text = " ".join(lines[:3])
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text.rstrip(".")


def _is_library(filename: str) -> bool:
    """Code that is not the student's: the libraries, Python's own, and the code that TensorFlow's autograph
    writes for a tf.function (its frames stand for the student's, which its error message quotes)."""
    return (
        filename.startswith("<frozen")
        or "__autograph_generated_file" in filename
        or os.path.realpath(filename).startswith(_LIBRARY_DIRS)
    )


def _own_frames(error: BaseException) -> list:
    """(frame, line) of each frame of the traceback outside the libraries, outermost first."""
    return [(frame, line) for frame, line in traceback.walk_tb(error.__traceback__) if not _is_library(frame.f_code.co_filename)]


def _source(frame, line: int) -> str:
    return linecache.getline(frame.f_code.co_filename, line).strip()


def _where(error: BaseException) -> str:
    """' (in build_model, line 7: `x = ...`)' for the innermost frame outside the libraries, if any."""
    frames = _own_frames(error)
    if not frames:
        return ""
    frame, line = frames[-1]
    source = _source(frame, line)
    return f" (in {frame.f_code.co_name}, line {line}" + (f": `{source}`)" if source else ")")


def student_failure(step: str, doing: str, error: BaseException) -> CheckFailed:
    """A CheckFailed that explains an exception raised while running the student's code."""
    label = step_label(step)
    if isinstance(error, NotImplementedError) and not str(error):
        return CheckFailed(
            f"not implemented yet: replace `raise NotImplementedError()` in the cell of {label}", step=step
        )
    return CheckFailed(
        f"{doing} raised {type(error).__name__}: {_short(error)}{_where(error)}", hint=f"the cell of {label}", step=step
    )


# The hidden tests' entry point ---------------------------------------------------------------
_grader = None  # the checker the notebook's locked setup cell made
_guarded: dict[str, Watch] = {}  # what `guard` watched last, by the block's name


def register(checker) -> None:
    """Make `checker` (a StepChecks or ComparisonChecks) the one `grade` uses."""
    global _grader
    _grader = checker


def grade(step: str, *objects, points: float | None = None):
    """Run the hidden checks of `step` with the setup cell's checker; for "results", return the points.

    Hidden test cells import this function afresh instead of calling `check.hidden`: a student's
    cell can rebind the notebook's name `check`, not what a test cell imports.
    """
    if _grader is None:
        raise CheckFailed("the checks were not set up: run the notebook from its first cell")
    if step == "results":
        return _grader.score_results(*objects, points=points)
    _grader.hidden(step, *objects)


@contextlib.contextmanager
def guard(what: str):
    """Turn an exception in the block into one stderr line (and no traceback); the notebook goes on.

    The line says where the block stopped (the step, the student's line, the cell's line) and what to do:
    fix the step whose check failed above, or, when every step passed its checks, that the steps clash
    (`StepChecks.explain_stop`). Where the reference is installed (grading), the block runs watched:
    `score_results` gives 0 when the last run of a guarded block (the whole pipeline) ran reference code.
    """
    watch = _guarded[what] = Watch()
    try:
        with warnings.catch_warnings(), watch.watching():
            warnings.simplefilter("ignore")
            yield
    except NotImplementedError:
        print(
            f"✗ {what} stopped: a function it needs is not written yet. Fill in the cells above, then re-run this cell.",
            file=sys.stderr,
        )
    except Exception as error:
        explain = getattr(_grader, "explain_stop", None)
        try:
            message = explain(what, error, watch) if explain is not None else None
        except Exception:  # the explanation is a courtesy: never let it hide the error itself
            message = None
        print(
            message
            or f"✗ {what} stopped: {type(error).__name__}: {_short(error)}. "
            "Fix the step(s) whose self-check failed above, then re-run this cell.",
            file=sys.stderr,
        )


# Where the whole-pipeline cell hands each step the results of others: the steps whose results it takes.
PIPELINE_INPUTS = {
    "load_and_preprocess": ("download",),
    "build_model": ("download",),
    "make_loss_and_optimizer": ("build_model",),
    "train": ("make_loss_and_optimizer", "build_model", "load_and_preprocess"),
    "report": ("accuracy", "train", "make_loss_and_optimizer", "build_model", "load_and_preprocess"),
}

KNOWN_CLASHES = (  # (pattern of the error, what usually causes it)
    (
        re.compile(r"'indices' has DataType float", re.I),
        "Keras compile + fit (or train_on_batch) casts the labels to float32 before it calls the loss, and a loss "
        "built on tf.nn.sparse_softmax_cross_entropy_with_logits needs integer labels: cast them inside the loss "
        "(tf.cast(labels, tf.int64)), or train with your own GradientTape step",
    ),
)


class _Stop(Exception):
    """Ends one step's checks after a failure that the later checks depend on."""


class _Recorder:
    """Runs one step's checks: records what passed and what failed; `hidden` says whether hidden checks run;
    `inputs` runs the earlier steps that make the check's inputs; `watch` sees the reference code the
    student's code runs (hidden checks only)."""

    def __init__(self, step: str, hidden: bool, adapter, inputs: _Inputs):
        self.step, self.hidden, self.adapter, self.inputs = step, hidden, adapter, inputs
        self.watch = Watch(on=hidden)
        self.passed: list[str] = []
        self.failures: list[CheckFailed] = []
        self._owned: list = []

    def fail(self, failure: CheckFailed) -> None:
        for single in failure.failures:
            single.step = single.step or self.step
        self.failures.append(failure)

    def call(self, doing: str, function, *args, **kwargs):
        """Run code that involves the student's (`doing` says what, for the message); stop the step if it fails."""
        try:
            return function(*args, **kwargs)
        except CheckFailed as failure:
            self.fail(failure)
        except Exception as error:  # anything the student's code raised
            self.fail(student_failure(self.step, doing, error))
        raise _Stop

    def check(self, check, *args, fatal: bool = True, **kwargs) -> str | None:
        """Run one check; record its note, or its failure (stopping the step when `fatal`)."""
        try:
            note = check(*args, **kwargs)
        except CheckFailed as failure:
            self.fail(failure)
            if fatal:
                raise _Stop from None
            return None
        if note:
            self.passed.append(note)
        return note

    def own(self, model):
        """Close this model (a TF1 session) when the step's checks end."""
        self._owned.append(model)
        return model

    def close(self) -> None:
        for model in self._owned:
            with contextlib.suppress(Exception):
                self.adapter.close(model)


@contextlib.contextmanager
def _with_reference(function, **replacements):
    """Run `function` with some names of its module (the notebook) bound to reference objects meanwhile.

    A student's `report` calls their own `accuracy`; the report check swaps in the reference
    one, so a wrong `accuracy` costs only the accuracy step. Names not defined there are left alone.
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


def _preprocess(images) -> np.ndarray:
    return references.preprocess(np.asarray(images))


def _parts(splits):
    """(train, validation, test) of a Splits-like value."""
    if all(hasattr(splits, name) for name in ("train", "validation", "test")):
        return splits.train, splits.validation, splits.test
    if isinstance(splits, (tuple, list)) and len(splits) == 3:
        return tuple(splits)
    raise CheckFailed(
        "return value", "Splits(train, validation, test)", type(splits).__name__, "what load_and_preprocess returns"
    )


def _is_number(value) -> bool:
    try:
        as_float("value", value)
    except CheckFailed:
        return False
    return True


def _pair(value, what: str):
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return tuple(value)
    raise CheckFailed("return value", what, type(value).__name__, "the return statement")


class _Inputs:
    """The earlier steps a check runs to make its inputs (splits, a model, a loss and optimizer, training).

    The reference's where it is installed: every step is checked in isolation. Otherwise (the
    students' install) the student's own, found by name in the notebook's `namespace`.
    """

    def __init__(self, reference, namespace: dict):
        self.own = reference is None
        self.functions = namespace if self.own else vars(reference)
        # what the report check binds in the student's notebook meanwhile: the reference accuracy, or nothing
        self.substitutes = {} if self.own else {"accuracy": reference.accuracy}

    def run(self, step: str, *args, expect=None, **kwargs):
        """`step`(*args, **kwargs), its result checked by `expect` (which raises CheckFailed when it is unusable).

        The student's own step raises CheckFailed when it is missing, raises or returns something
        unusable, saying which step to fix first; the reference's is trusted.
        """
        function = self.functions.get(step)
        if not self.own:
            return function(*args, **kwargs)
        number = STEPS.index(step) + 1
        uses, fix = f"this check uses your {step} (step {number})", f"fix step {number} first"
        if not callable(function):
            raise CheckFailed(f"{uses}, which is not defined: run its cell; {fix}")
        try:
            result = function(*args, **kwargs)
            if expect is not None:
                expect(result)
        except CheckFailed as failure:
            raise CheckFailed(f"{uses}, which returned {failure.found} where {failure.expected} was expected: {fix}") from None
        except NotImplementedError:
            raise CheckFailed(f"{uses}, which is not written yet: {fix}") from None
        except Exception as error:
            raise CheckFailed(f"{uses}, which raised {type(error).__name__}: {_short(error)}{_where(error)}: {fix}") from None
        return result


# The notebook API --------------------------------------------------------------------------
class StepChecks:
    """Checks of the seven pipeline steps and the results cell for one framework and dataset."""

    def __init__(self, framework: str, dataset: str = "digits", *, seed: int = 0):
        if dataset not in SETTINGS:
            raise ValueError(f"unknown dataset {dataset!r}; expected one of {', '.join(SETTINGS)}")
        with quiet():  # TensorFlow's start-up chatter
            self.adapter = frameworks.load(framework)
            self.device = self.adapter.setup(seed)
        self.framework, self.dataset, self.seed = framework, dataset, seed
        self.hp, self.settings = HYPERPARAMETERS[dataset], SETTINGS[dataset]
        self.reference = self.adapter.reference
        self._raw = self._holdout = None
        self.verdicts: dict[str, bool] = {}  # step -> whether its last checks passed (see explain_stop)
        print(f"Checks ready: framework {framework}, device {self.device}, dataset {dataset}")
        register(self)

    # -- data the checks use -----------------------------------------------------------------
    @property
    def raw(self) -> RawData:
        """The course's data (the reference `download`)."""
        if self._raw is None:
            self._raw = load_dataset(self.dataset)
        return self._raw

    @property
    def train_raw(self) -> RawData:
        """The data the training checks use: at most max_train / max_test images of `raw`."""
        return self.settings.head(self.raw)

    @property
    def input_dim(self) -> int:
        return int(np.prod(self.raw.x_train.shape[1:]))

    @property
    def fixed_batch(self) -> tuple[np.ndarray, np.ndarray]:
        """The first `batch_size` training images, preprocessed: float32 (B, D), int64 (B,)."""
        b = self.settings.batch_size
        return _preprocess(self.raw.x_train[:b]), self.raw.y_train[:b].astype(np.int64)

    @property
    def holdout(self) -> tuple[np.ndarray, np.ndarray]:
        """The graders' held-out images, preprocessed, never seen by the pipelines."""
        if self._holdout is None:
            x, y = load_holdout(self.dataset)
            self._holdout = _preprocess(x), np.asarray(y).astype(np.int64)
        return self._holdout

    # -- the checks' inputs, fresh and seeded (r.inputs: the reference's, or the student's own) --
    def _splits(self, r: _Recorder) -> Splits:
        self.adapter.seed(self.seed)
        s = self.settings
        splits = r.inputs.run(
            "load_and_preprocess",
            self.train_raw,
            batch_size=s.batch_size,
            validation_size=s.validation_size,
            seed=self.seed,
            expect=_parts,
        )
        return Splits(*_parts(splits))

    def _model(self, r: _Recorder):
        self.adapter.seed(self.seed)
        model = r.inputs.run(
            "build_model",
            self.input_dim,
            num_classes=NUM_CLASSES,
            hidden_units=self.hp.hidden_units,
            seed=self.seed,
            expect=self.adapter.check_model,
        )
        return r.own(model)

    def _setup(self, r: _Recorder):
        """(model, splits, loss, optimizer), untrained."""
        splits, model = self._splits(r), self._model(r)
        loss, optimizer = r.inputs.run(
            "make_loss_and_optimizer",
            model,
            learning_rate=self.hp.learning_rate,
            expect=lambda returned: _pair(returned, "a pair (loss, optimizer)"),
        )
        return model, splits, loss, optimizer

    def _trained(self, r: _Recorder):
        """(model, splits): the model trained for the check's epochs."""
        model, splits, loss, optimizer = self._setup(r)
        r.inputs.run("train", model, loss, optimizer, splits.train, self.settings.epochs)
        return model, splits

    def _evaluate(self, model, batches) -> float:
        """The grader's own accuracy of `model` on every example of `batches`."""
        x, y = self.adapter.collect(batches)
        return float(np.mean(np.argmax(self.adapter.predict(model, x), axis=1) == y))

    # -- the steps (each: public checks, then hidden ones when r.hidden) ----------------------
    def _check_download(self, r: _Recorder, download):
        raw = r.call(f"your download({self.dataset!r})", download, self.dataset)
        expected = self.raw
        r.check(checks.check_raw_data, raw, {f: a.shape for f, a in zip(RAW_FIELDS, expected)})
        if r.hidden:
            for name, found, wanted in zip(RAW_FIELDS, tuple(raw), expected):
                r.check(
                    checks.check_equal_arrays,
                    name,
                    found,
                    wanted,
                    "load the course's data with load_dataset(name)",
                    fatal=False,
                )

    def _check_load_and_preprocess(self, r: _Recorder, load_and_preprocess):
        a, s, raw, b = self.adapter, self.settings, self.raw, self.settings.batch_size
        splits = r.call(
            f"your load_and_preprocess(raw, batch_size={b}, validation_size={s.validation_size}, seed=0)",
            load_and_preprocess,
            raw,
            batch_size=b,
            validation_size=s.validation_size,
            seed=0,
        )
        train, validation, test = r.call("reading the splits", _parts, splits)
        for name, split in zip(("train", "validation", "test"), (train, validation, test)):
            r.check(checks.check_reiterable, name, split, BATCHES_HINTS[self.framework])
        x, y = r.call("taking the first training batch", a.first_batch, train)
        r.check(a.check_batch, train)
        r.check(
            checks.check_shape,
            "x of a batch",
            x,
            (b, self.input_dim),
            "flatten each image to one row of H*W pixels; batch_size rows per batch",
        )
        r.check(checks.check_dtype, "x", x, np.float32, "cast the pixels to float32", fatal=False)
        r.check(checks.check_normalised, "x", x, fatal=False)
        r.check(checks.check_shape, "y of a batch", y, (b,), "one label per image", fatal=False)
        r.check(
            checks.check_dtype,
            "y",
            y,
            np.int64,
            "labels as int64 (the loss and the TF1 labels placeholder need int64)",
            fatal=False,
        )
        r.check(checks.check_labels, "y", y, fatal=False)
        counts = [
            r.call(f"counting the {name} examples", a.count_examples, split)
            for name, split in zip(("train", "validation", "test"), (train, validation, test))
        ]
        r.check(checks.check_split_sizes, counts[0], counts[1], len(raw.x_train), s.validation_size, fatal=False)
        r.check(
            checks.check_count,
            "test",
            counts[2],
            len(raw.x_test),
            "the test split: every test image, once",
            fatal=False,
        )
        if r.hidden:
            (xt, yt), (xv, yv), (xs, ys) = (
                r.call("reading every batch", a.collect, split) for split in (train, validation, test)
            )
            r.check(
                checks.check_same_examples,
                "train + validation",
                np.concatenate([xt, xv]),
                np.concatenate([yt, yv]),
                _preprocess(raw.x_train),
                raw.y_train,
                fatal=False,
            )
            r.check(checks.check_same_examples, "test", xs, ys, _preprocess(raw.x_test), raw.y_test, fatal=False)
            again = r.call("reading the training batches a second time", a.collect, train)[0]
            r.check(checks.check_reshuffled, "train", xt, again, fatal=False)

    def _check_build_model(self, r: _Recorder, build_model):
        a, d, (x, y) = self.adapter, self.input_dim, self.fixed_batch
        units = self.hp.hidden_units
        model = r.own(
            r.call(
                f"your build_model({d}, num_classes=10, hidden_units={units}, seed=0)",
                build_model,
                d,
                num_classes=NUM_CLASSES,
                hidden_units=units,
                seed=0,
            )
        )
        r.check(a.check_model, model)
        count = r.call("counting the trainable parameters", a.parameter_count, model)  # before any call
        graph_shapes = {
            "inputs": ((None, d), "the inputs placeholder: (None, input_dim), None for any batch size"),
            "labels": ((None,), "the labels placeholder: (None,)"),
            "logits": ((None, NUM_CLASSES), "the last layer: num_classes outputs, any batch size"),
        }
        for name, shape in a.static_shapes(model).items():
            r.check(checks.check_shape, f"{name} (static)", shape, *graph_shapes[name], none_is_any=False)
        logits = r.call(f"calling your model on a batch of {len(x)} images", a.predict, model, x)
        r.check(
            checks.check_shape,
            "logits",
            logits,
            (len(x), NUM_CLASSES),
            "the size of the last layer: num_classes outputs",
        )
        r.check(checks.check_dtype, "logits", logits, np.float32, "keep the model in float32", fatal=False)
        r.check(checks.check_finite, "logits", logits, fatal=False)
        r.check(checks.check_logits, logits, LOGITS_HINTS[self.framework], fatal=False)
        r.check(checks.check_parameters, count, PARAMETER_HINTS[self.framework], fatal=False)
        if r.hidden:
            few = r.call("calling your model on a batch of 7 images", a.predict, model, x[:7])
            r.check(
                checks.check_shape,
                "logits for 7 images",
                few,
                (7, NUM_CLASSES),
                "the batch dimension: any batch size, not a fixed one",
                fatal=False,
            )
            r.check(checks.check_varies, "logits", logits, fatal=False)
            r.check(checks.check_untrained_loss, checks.cross_entropy(logits, y), NUM_CLASSES, fatal=False)

    def _check_make_loss_and_optimizer(self, r: _Recorder, make_loss_and_optimizer):
        a, (x, y), lr = self.adapter, self.fixed_batch, self.hp.learning_rate
        model = self._model(r)
        returned = r.call(
            f"your make_loss_and_optimizer(model, learning_rate={lr:g})",
            make_loss_and_optimizer,
            model,
            learning_rate=lr,
        )
        loss, optimizer = r.call("reading the returned pair", _pair, returned, "a pair (loss, optimizer)")
        loss = r.watch.wrap(loss)  # the student's loss, also when the course's train calls it
        value = r.call(f"computing your loss on a batch of {len(x)}", a.loss_value, loss, model, x, y)
        logits = a.predict(model, x)
        expected = checks.cross_entropy(logits, y)
        try:
            r.check(checks.check_loss_matches, value, expected)
        except _Stop:
            self._explain_loss(r.failures[-1], loss, model, x, logits, y, value, expected)
            raise
        r.check(a.check_optimizer, optimizer, model)
        if r.hidden:
            splits = self._splits(r)
            history = r.call(
                "training the course's model with your loss and optimizer",
                r.inputs.run,
                "train",
                model,
                loss,
                optimizer,
                splits.train,
                self.settings.epochs,
            )
            r.check(checks.check_history, history)
            r.check(checks.check_decreasing, history, hint=LOSS_HINT, fatal=False)
            r.check(
                checks.check_accuracy_at_least,
                f"test accuracy after {len(history)} steps with your loss and optimizer",
                self._evaluate(model, splits.test),
                self.settings.min_accuracy,
                LOSS_HINT,
            )

    def _explain_loss(self, failure: CheckFailed, loss, model, x, logits, y, value, expected: float) -> None:
        """Point a wrong loss value at the contract when the loss gives the cross-entropy on log-probabilities or
        probabilities: it expects those, where the contract's model gives raw logits."""
        if not _is_number(value):
            return
        for kind, predictions in (("log-probabilities", checks.log_softmax(logits)), ("probabilities", checks.softmax(logits))):
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    given = as_float("loss", self.adapter.loss_on(loss, model, x, predictions, y))
            except Exception:
                continue
            if np.isfinite(given) and np.isclose(given, expected, rtol=1e-3, atol=1e-4):
                failure.hint = (
                    f"your loss expects {LOSS_EXPECTS[kind]}: given the {kind} of these logits it gives the "
                    f"cross-entropy, {given:.4f}. But the model of the contract gives raw logits (step 3), on which it "
                    f"gives {as_float('loss', value):.4f}: the loss must take raw "
                    f"logits, as {LOSS_ON_LOGITS[self.framework]}"
                )
                return

    def _check_accuracy(self, r: _Recorder, accuracy):
        a = self.adapter
        cases = checks.CASES if r.hidden else (checks.PUBLIC_CASE,)
        for number, case in enumerate(cases):
            value = r.call(f"your accuracy on {case.name}", a.metric_value, accuracy, case.logits, case.labels)
            if number == 0:
                r.check(a.check_metric_type, value, fatal=False)
            start = len(r.failures)
            found = a.to_numpy(value)
            r.check(checks.check_metric, found, case, fatal=False)
            if number == 0 and _is_number(found):  # the same answer again, after another call
                between = checks.CASES[1]
                r.call(f"your accuracy on {between.name}", a.metric_value, accuracy, between.logits, between.labels)
                again = r.call(f"your accuracy on {case.name}", a.metric_value, accuracy, case.logits, case.labels)
                try:
                    checks.check_same_answer(found, a.to_numpy(again), case, between)
                except CheckFailed as failure:  # a running total: the wrong values above are its doing
                    del r.failures[start:]
                    r.fail(failure)
                    raise _Stop from None

    def _check_train(self, r: _Recorder, train):
        model, splits, loss, optimizer = self._setup(r)
        epochs = self.settings.epochs
        steps = epochs * self.adapter.count_batches(splits.train)
        probe = self.adapter.probe_loss(loss)  # what the loss computes at each step (None in TF1: a tensor)
        history = r.call(
            f"your train(model, loss, optimizer, batches, epochs={epochs})",
            train,
            model,
            loss if probe is None else probe,
            optimizer,
            splits.train,
            epochs,
        )
        r.check(checks.check_history, history, steps)
        if probe is not None:
            r.check(checks.check_loss_used, probe.calls, steps)
            computed = probe.computed(len(history))
            r.check(checks.check_step_losses, history, computed, STEP_LOSS_HINTS[self.framework], fatal=False)
        r.check(checks.check_decreasing, history, hint=TRAIN_HINTS[self.framework], fatal=False)
        if r.hidden:
            r.check(
                checks.check_accuracy_at_least,
                f"test accuracy after your {len(history)} training steps",
                self._evaluate(model, splits.test),
                self.settings.min_accuracy,
                TRAIN_HINTS[self.framework],
            )

    def _check_report(self, r: _Recorder, report):
        model, splits = self._trained(r)
        cases = [("", splits)]
        if r.hidden:  # other splits: the report must evaluate the splits it is given
            cases.append(
                ("with other splits", Splits(train=splits.test, validation=splits.validation, test=splits.validation))
            )
        for context, given in cases:
            expected = {
                "train_accuracy": self._evaluate(model, given.train),
                "test_accuracy": self._evaluate(model, given.test),
            }
            with _with_reference(report, **r.inputs.substitutes), r.watch.allowing(*r.inputs.substitutes.values()):
                result = r.call("your report(model, splits)", report, model, given)
            r.check(checks.check_report, result, expected, context=context, fatal=False)

    # -- running -----------------------------------------------------------------------------
    def _run(self, step: str, objects: tuple, caller_namespace: dict, hidden: bool) -> _Recorder:
        r = _Recorder(step, hidden, self.adapter, _Inputs(self.reference, caller_namespace))
        function = objects[0] if objects else caller_namespace.get(step)
        if function is None or not callable(function):
            found = "nothing" if function is None else type(function).__name__
            r.fail(
                CheckFailed(f"the function {step}", "a function", found, f"run the cell of {step_label(step)} first")
            )
            return r
        with quiet(self.adapter):
            try:
                self.adapter.seed(self.seed)
                getattr(self, f"_check_{step}")(r, r.watch.wrap(function))
            except _Stop:
                pass
            except CheckFailed as failure:
                r.fail(failure)
            except Exception as error:  # the student's objects were not what the check could read
                r.fail(
                    CheckFailed(
                        f"could not check what the code returned: {type(error).__name__}: {_short(error)}",
                        hint=f"the cell of {step_label(step)} and its docstring",
                    )
                )
            finally:
                r.close()
        if used := r.watch.failure(step_label(step)):
            r.failures = [used]  # the step scores 0 whatever else it did
        return r

    def _known(self, step: str) -> None:
        if step not in STEPS:
            raise ValueError(f"unknown step {step!r}; expected one of {', '.join(STEPS)}")

    def public(self, step: str, *objects) -> None:
        """The self-check cell's call: `passes`, without a value for the notebook to show as Out[]."""
        self.passes(step, *objects)

    def passes(self, step: str, *objects) -> bool:
        """Run the public checks of `step` on the student's function (default: the notebook's `step`).

        Prints '✓ step N (name): what passed' to stdout, or one '✗ ...' line per failure to
        stderr; returns True or False; never raises.
        """
        try:
            self._known(step)
            if step == "results":
                return self.results_pass(*objects)
            r = self._run(step, objects, _caller_namespace(), hidden=False)
        except Exception as error:  # never raise in a self-check
            print(f"✗ {step}: the check itself failed: {type(error).__name__}: {_short(error)}", file=sys.stderr)
            return False
        self.verdicts[step] = not r.failures
        if r.failures:
            for failure in r.failures:
                print(f"✗ {failure}".replace("\n", "\n✗ "), file=sys.stderr)
            return False
        print(f"✓ {step_label(step)}: " + "; ".join(r.passed))
        return True

    def hidden(self, step: str, *objects) -> None:
        """Run the public and hidden checks of `step`; raise CheckFailed with every failure, else print ✓."""
        self._known(step)
        if step == "results":
            raise ValueError("the results cell is scored by score_results(model, points)")
        r = self._run(step, objects, _caller_namespace(), hidden=True)
        self.verdicts[step] = not r.failures
        if r.failures:
            raise CheckFailed.combine(r.failures) from None
        print(f"✓ {step_label(step)} (public and hidden checks): " + "; ".join(r.passed))

    guard = staticmethod(guard)

    # -- when the whole-pipeline cell stops -------------------------------------------------------
    def explain_stop(self, what: str, error: BaseException, watch: Watch) -> str:
        """The guard's line for an error that stopped `what` (the whole pipeline): where, and what to do.

        Where: the step the cell was running, the student's line the error came from, the cell's line.
        What to do: fix the step(s) whose checks failed (or run them); when every step passed, say that
        the steps pass alone but fail together, and, where the reference is installed, which two clash:
        the cell's steps run again, on one epoch, with one step swapped for the course's (`_clash`).
        """
        frames = _own_frames(error)
        cell = frames[0] if frames else None
        called = frames[1] if len(frames) > 1 else None  # the function the cell called, if any
        step = called[0].f_code.co_name if called and called[0].f_code.co_name in STEPS[:-1] else None
        places = []
        if len(frames) > 1:
            inner, line = frames[-1]
            source = _source(inner, line)
            places.append(f"in {inner.f_code.co_name}, line {line}" + (f": `{source}`" if source else ""))
        if cell is not None:
            source = _source(*cell)
            places.append(f"the cell's line {cell[1]}" + (f": `{source}`" if source else ""))
        head = f"✗ {what} stopped" + (f" in {step_label(step)}" if step else "")
        head += f": {type(error).__name__}: {_short(error)}" + (f" ({'; '.join(places)})" if places else "")
        ran = STEPS[: STEPS.index(step) + 1] if step else STEPS[:-1]
        failed = [s for s in ran if self.verdicts.get(s) is False]
        unchecked = [s for s in ran if s not in self.verdicts]
        known = next((f": {hint}." for pattern, hint in KNOWN_CLASHES if pattern.search(str(error))), ".")
        if failed:
            return f"{head}. Fix {_labels(failed)}, whose check failed above, then re-run this cell{known}"
        if unchecked:
            return f"{head}. Run the self-check cells of {_labels(unchecked)} first: they say which step to fix{known}"
        inputs = "on the course's inputs" if self.reference is not None else "its self-check"
        text = f"{head}. Each step passes {inputs}, but together they fail here"
        namespace = cell[0].f_globals if cell is not None else {}
        pair = self._clash(step, namespace, watch) if step in PIPELINE_INPUTS else None
        if pair:
            text += (
                f": {step_label(pair)} and {step_label(step)} clash (with the course's {pair} in place of yours, "
                f"your {step} runs). Look at what your {pair} hands your {step}"
            )
        elif step:
            text += f". Look at what your earlier steps hand your {step}"
        return text + known

    def _clash(self, step: str, namespace: dict, watch: Watch) -> str | None:
        """The earlier step whose result `step` cannot take: the cell's steps run (one epoch) with the student's
        functions, which fails at `step`, then with each of the steps that feed it swapped for the course's in
        turn, until one run passes. None without the reference, or when no swap helps."""
        if self.reference is None:
            return None
        own = {name: watch.wrap(namespace[name]) for name in STEPS[:-1] if callable(namespace.get(name))}
        if len(own) < len(STEPS) - 1 or self._together(own, step) is None:
            return None
        course = vars(self.reference)
        for candidate in PIPELINE_INPUTS[step]:
            with watch.allowing(course[candidate]):  # the student's code may run the course's step swapped in
                if self._together(own | {candidate: course[candidate]}, step) is None:
                    return candidate
        return None

    def _together(self, functions: dict, until: str) -> BaseException | None:
        """Run the whole-pipeline cell's steps up to `until` with `functions`, on the checks' data and one epoch;
        the error that stopped them, or None."""
        hp, s, a, models = self.hp, self.settings, self.adapter, []
        try:
            with quiet(a), contextlib.redirect_stdout(io.StringIO()):
                a.seed(self.seed)
                raw = functions["download"](self.dataset)
                if isinstance(raw, RawData):
                    raw = s.head(raw)
                splits = functions["load_and_preprocess"](
                    raw, batch_size=hp.batch_size, validation_size=hp.validation_size, seed=hp.seed
                )
                if until == "load_and_preprocess":
                    return None
                model = functions["build_model"](int(np.prod(raw.x_train.shape[1:])), hidden_units=hp.hidden_units, seed=hp.seed)
                models.append(model)
                if until == "build_model":
                    return None
                loss, optimizer = functions["make_loss_and_optimizer"](model, learning_rate=hp.learning_rate)
                if until == "make_loss_and_optimizer":
                    return None
                functions["train"](model, loss, optimizer, splits.train, epochs=1)
                if until == "train":
                    return None
                with _with_reference(functions["report"], accuracy=functions["accuracy"]):
                    functions["report"](model, splits)
        except Exception as error:
            return error
        finally:
            for model in models:
                with contextlib.suppress(Exception):
                    a.close(model)
        return None

    def plot_losses(self, history) -> None:
        """Plot the loss of every training step (nothing but a stderr note when there is no history)."""
        if history is None or len(history) == 0:
            print("✗ no losses to plot: train returned nothing; fix step 6 (train) first.", file=sys.stderr)
            return
        import matplotlib.pyplot as plt

        values = [float(v) for v in history]
        figure, axes = plt.subplots(figsize=(7, 3.5))
        axes.plot(range(1, len(values) + 1), values, linewidth=1)
        axes.set(xlabel="training step", ylabel="loss", title=f"Training loss ({self.framework}, {self.dataset})")
        axes.grid(alpha=0.3)
        with warnings.catch_warnings():  # a non-interactive backend warns on show()
            warnings.simplefilter("ignore")
            plt.show()
        plt.close(figure)

    # -- the results cell --------------------------------------------------------------------
    def target(self) -> float:
        """The reference model's held-out accuracy (graders/references.json)."""
        return float(references.reference_figures(self.dataset, self.framework)["holdout_accuracy"])

    def holdout_accuracy(self, model) -> float:
        """Accuracy of a trained model on the held-out images; CheckFailed when it cannot be evaluated."""
        if model is None:
            raise CheckFailed(
                "the whole-pipeline cell did not produce a trained model; fix the steps above first", step="results"
            )
        x, y = self.holdout
        try:
            with quiet(self.adapter):
                self.adapter.check_model(model)
                logits = self.adapter.predict(model, x)
                checks.check_shape("logits on the held-out images", logits, (len(x), NUM_CLASSES))
        except Exception as error:
            what = error.line() if isinstance(error, CheckFailed) else f"{type(error).__name__}: {_short(error)}"
            raise CheckFailed(
                f"the trained model could not be evaluated ({what.rstrip('.')}); the whole-pipeline cell did not "
                "produce a usable trained model: fix the steps above first",
                step="results",
            ) from None
        return float(np.mean(np.argmax(logits, axis=1) == y))

    def public_results(self, model) -> None:
        """The results cell's self-check: `results_pass`, without a value for the notebook to show."""
        self.results_pass(model)

    def results_pass(self, model) -> bool:
        """Print the held-out accuracy of the student's trained model against the target; never raises."""
        try:
            accuracy = self.holdout_accuracy(model)
        except Exception as error:
            print(f"✗ {error}", file=sys.stderr)
            return False
        n = len(self.holdout[1])
        try:
            target = self.target()
        except LookupError:
            print(f"results: held-out accuracy {accuracy:.4f} on {n} images (no reference figure stored)")
            return True
        full = target - RESULTS_MARGIN
        mark = "✓" if accuracy >= full else "~"
        print(
            f"{mark} results: held-out accuracy {accuracy:.4f} on {n} images; reference {target:.4f}: "
            f"full points from {full:.4f}, partial credit down to {RESULTS_FLOOR:.2f}"
        )
        return True

    def score_results(self, model, points: float) -> float:
        """Points earned by the student's trained model (see checks.accuracy.points_for); CheckFailed if unusable,
        or if a guarded block (the whole pipeline) ran reference code."""
        for what, watch in _guarded.items():
            if watch.used:
                raise CheckFailed(
                    f"the trained model comes from the reference solution: {what} ran {', '.join(watch.used)}, "
                    "so the results score 0",
                    step="results",
                )
            if watch.tampered:
                raise CheckFailed(
                    f"{what} switched the grader's watch off (it called {', '.join(watch.tampered)}), so the results score 0",
                    step="results",
                )
        accuracy, target = self.holdout_accuracy(model), self.target()
        earned = points_for(accuracy, target, points, floor=RESULTS_FLOOR, margin=RESULTS_MARGIN)
        print(
            f"results: held-out accuracy {accuracy:.4f} (reference {target:.4f}) earns {earned:g} of {points:g} points"
        )
        return float(earned)


def _labels(steps) -> str:
    """'step 3 (build_model)', or 'step 3 (build_model) and step 4 (...)', or 'a, b and c'."""
    labels = [step_label(step) for step in steps]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def _caller_namespace() -> dict:
    """The globals and locals of the code that called a checker's method (the notebook): the first frame outside `graders`."""
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith("graders."):
        frame = frame.f_back
    return {**frame.f_globals, **frame.f_locals}
