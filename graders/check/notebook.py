"""What the notebooks call: `StepChecks`, the self-checks and graded checks of the pipeline steps.

    from graders.check.notebook import StepChecks
    check = StepChecks("torch")               # "tf1" | "tf2" | "torch"; seeds, device, quiet TF logs
    check.public("build_model", build_model)  # never raises: ✓ lines to stdout, ✗ messages to stderr
    check.hidden("build_model", build_model)  # public + hidden checks; raises CheckFailed (AssertionError)
    with check.guard("the whole pipeline"):   # an exception becomes one clear stderr line
        ...
    check.plot_losses(history)
    check.public_results(model)               # test accuracy vs the reference's (stdout; never raises)
    check.score_results(model, points=3)      # points earned (a float) for the results cell

A check is two halves: the probe (`graders.check.kernel.probe`) calls the student's function on the course's
inputs, given as data, and keeps what came out; the judge (`graders.check.trusted.judge`) decides from those
values and its own figures. Here, for a self-check, both run in the notebook's kernel. At
grading, a hidden test cell is not run in the kernel at all: the grading process runs the probe
there and the judge itself (`graders.runner.verdict`), so nothing the submission does in its
kernel can pass a check. Neither half uses the reference solution: where a step takes a model,
batches, a loss or an optimizer, the probe builds the contract's own from standard layers and
the given weights, so one wrong step costs only that step, in every environment.

Quiet: nbgrader gives 0 points to a test cell that wrote to stderr, so while checks run,
warnings are ignored and stderr (Python's and file descriptor 2) goes nowhere; only the
verdict is printed afterwards.

When the whole-pipeline cell stops (`guard`), its line names the step, the student's line and
the cell's line, and says what to do: fix the step whose check failed, or, when every step
passed, that the steps pass alone but clash (`StepChecks.explain_stop`).
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import math
import os
import re
import sys
import tempfile

import numpy as np

from course.data import RawData, load_dataset
from course.pipeline import HYPERPARAMETERS, Splits
from graders.check.front import Checks, caller_namespace, placed
from graders.check.kernel import frameworks, probe
from graders.check.kernel.quiet import quiet as quiet_running
from graders.check.kernel.student_code import own_frames, source_line
from graders.check.shared.checks import STEPS, step_label
from graders.check.shared.checks.failures import short
from graders.check.shared.observation import arrays_from_file
from graders.check.shared.protocol import LOSSES_MIME, PIPELINE_KIT


# Quiet running -----------------------------------------------------------------------------
def quiet(adapter=None):
    """`graders.check.kernel.quiet.quiet`, inside the adapter's `checking()` context when given (PyTorch: one CPU thread)."""
    return quiet_running(adapter.checking()) if adapter is not None else quiet_running()


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



# The notebook API --------------------------------------------------------------------------
class StepChecks(Checks):
    """Checks of the seven pipeline steps and the results cell for one framework and dataset.

    In the grading kernel it only seeds, picks the device and guards the whole-pipeline cell: the checks
    themselves (`graders.check.trusted.judge`) are the grading process's, not importable there.
    """

    def __init__(self, framework: str, dataset: str = "digits", *, seed: int = 0):
        with quiet():  # TensorFlow's start-up chatter
            self.adapter = frameworks.load(framework)
            self.device = self.adapter.setup(seed)
        self.framework, self.dataset, self.seed = framework, dataset, seed
        self.kind = framework
        print(f"Checks ready: framework {framework}, device {self.device}, dataset {dataset}")
        super().__init__()

    @functools.cached_property
    def case(self):
        """The grader's side of the checks (`graders.check.trusted.judge.Case`), for a self-check in the student's own kernel."""
        from graders.check.trusted.judge import Case

        return Case(self.framework, self.dataset, self.seed)

    def known(self, step: str) -> None:
        if step not in STEPS:
            raise ValueError(f"unknown step {step!r}; expected one of {', '.join(STEPS)}")

    def objects(self, step: str, objects: tuple) -> tuple:
        """The student's function: the one the cell named, else the notebook's function called `step`."""
        return (objects[0] if objects else caller_namespace().get(step),)

    def passes(self, step: str, *objects) -> bool:
        """`Checks.passes`; for "results", `results_pass` on the trained model."""
        if step == "results":
            try:
                return self.results_pass(*objects)
            except Exception as error:  # never raise in a self-check
                print(f"✗ {step}: the check itself failed: {type(error).__name__}: {short(error)}", file=sys.stderr)
                return False
        return super().passes(step, *objects)

    def hidden(self, step: str, *objects) -> None:
        if step == "results":
            raise ValueError("the results cell is scored by score_results(model, points)")
        super().hidden(step, *objects)

    # -- when the whole-pipeline cell stops -------------------------------------------------------
    def explain_stop(self, what: str, error: BaseException) -> str:
        """The guard's line for an error that stopped `what` (the whole pipeline): where, and what to do.

        Where: the step the cell was running, the student's line the error came from, the cell's line.
        What to do: fix the step(s) whose checks failed (or run them); when every step passed, say that
        the steps pass alone but fail together.
        """
        frames = own_frames(error)
        cell = frames[0] if frames else None
        called = frames[1] if len(frames) > 1 else None  # the function the cell called, if any
        step = called[0].f_code.co_name if called and called[0].f_code.co_name in STEPS[:-1] else None
        places = []
        if len(frames) > 1:
            inner, line = frames[-1]
            source = source_line(inner, line)
            places.append(f"in {inner.f_code.co_name}, line {line}" + (f": `{source}`" if source else ""))
        if cell is not None:
            source = source_line(*cell)
            places.append(f"the cell's line {cell[1]}" + (f": `{source}`" if source else ""))
        head = f"✗ {what} stopped" + (f" in {step_label(step)}" if step else "")
        head += f": {type(error).__name__}: {short(error)}" + (f" ({'; '.join(places)})" if places else "")
        ran = STEPS[: STEPS.index(step) + 1] if step else STEPS[:-1]
        with self._kit() as kit:
            verdicts = self.verdicts | kit.get("verdicts", {})
            if not verdicts:  # nothing checked: only where it stopped
                return head + "."
            failed = [s for s in ran if verdicts.get(s) is False]
            unchecked = [s for s in ran if s not in verdicts]
            known = next((f": {hint}." for pattern, hint in KNOWN_CLASHES if pattern.search(str(error))), ".")
            if failed:
                return f"{head}. Fix {_labels(failed)}, whose check failed above, then re-run this cell{known}"
            if unchecked:
                return f"{head}. Run the self-check cells of {_labels(unchecked)} first: they say which step to fix{known}"
            text = f"{head}. Each step passes on the course's inputs, but together they fail here"
            namespace = cell[0].f_globals if cell is not None else {}
            pair = self._clash(step, namespace, kit) if step in PIPELINE_INPUTS and "arrays" in kit else None
        if pair:
            text += (
                f": {step_label(pair)} and {step_label(step)} clash (with the course's {pair} in place of yours, "
                f"your {step} runs). Look at what your {pair} hands your {step}"
            )
        elif step:
            text += f". Look at what your earlier steps hand your {step}"
        return text + known

    @contextlib.contextmanager
    def _kit(self):
        """The course's results of steps 1 to 4 as data, and the verdicts of the steps: at grading, the grader's kit in
        the working folder (`PIPELINE_KIT`); else, for a self-check, made here by the judge when it is installed."""
        if os.path.isfile(PIPELINE_KIT):
            yield read_kit(PIPELINE_KIT)
            return
        try:
            inputs, files = self.case.explanation_kit({})
        except ImportError:  # the grading kernel, without the grader's kit: no explanation beyond the verdicts
            yield {}
            return
        with tempfile.TemporaryDirectory(prefix="course-kit-") as folder:
            path = os.path.join(folder, PIPELINE_KIT)
            write_kit(path, inputs | placed(files, folder))
            yield read_kit(path)

    def _clash(self, step: str, namespace: dict, kit: dict) -> str | None:
        """The earlier step whose result `step` cannot take: the cell's steps run (one epoch) with the student's
        functions, which fails at `step`, then with each of the steps that feed it swapped for the course's result
        (`course_results`: the grader's data, never a computation of the course's) in turn, until one run passes.
        None when no swap helps."""
        own = {name: namespace[name] for name in STEPS[:-1] if callable(namespace.get(name))}
        if len(own) < len(STEPS) - 1 or self._together(own, step, kit) is None:
            return None
        for candidate in PIPELINE_INPUTS[step]:
            if self._together(own | {candidate: course_result(self.adapter, kit["arrays"], candidate)}, step, kit) is None:
                return candidate
        return None

    def _together(self, functions: dict, until: str, kit: dict) -> BaseException | None:
        """Run the whole-pipeline cell's steps up to `until` with `functions`, on the checks' data (the kit's sizes) and
        one epoch; the error that stopped them, or None."""
        hp, a, models = HYPERPARAMETERS[self.dataset], self.adapter, []
        try:
            with quiet(a), contextlib.redirect_stdout(io.StringIO()):
                a.seed(self.seed)
                raw = functions["download"](self.dataset)
                if isinstance(raw, RawData):
                    raw = _head(raw, kit["arrays"])
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
                with probe.substituted(functions["report"], accuracy=functions["accuracy"]):
                    functions["report"](model, splits)
        except Exception as error:
            return error
        finally:
            for model in models:
                with contextlib.suppress(Exception):
                    a.close(model)
        return None

    def plot_losses(self, history) -> None:
        """Show the loss of every training step as a plot, with the values beside it in the same output
        (`LOSSES_MIME`: {"losses": [float or null, ...]}, which the class report reads); a stderr note when
        there is no history."""
        if history is None or len(history) == 0:
            print("✗ no losses to plot: train returned nothing; fix step 6 (train) first.", file=sys.stderr)
            return
        import matplotlib.pyplot as plt
        from IPython.display import display

        values = [float(v) for v in history]
        figure, axes = plt.subplots(figsize=(7, 3.5))
        axes.plot(range(1, len(values) + 1), values, linewidth=1)
        axes.set(xlabel="training step", ylabel="loss", title=f"Training loss ({self.framework}, {self.dataset})")
        axes.grid(alpha=0.3)
        png = io.BytesIO()
        figure.savefig(png, format="png", bbox_inches="tight")
        plt.close(figure)
        losses = [value if math.isfinite(value) else None for value in values]
        display({"image/png": png.getvalue(), LOSSES_MIME: {"losses": losses}, "text/plain": f"<loss curve: {len(values)} steps>"}, raw=True)

    # -- the results cell --------------------------------------------------------------------
    def target(self) -> float:
        """The reference model's held-out accuracy (graders/check/trusted/references.json)."""
        return self.case.target()

    def _results(self, model, hidden: bool = False):
        """The observation of `model` on the test split, or on the held-out images (hidden: staff only, `graders.check.trusted.holdout`)."""
        inputs = self.case.inputs("results", hidden=hidden)
        return probe.observe(self.framework, "results", (model,), inputs, hidden=hidden)

    def holdout_accuracy(self, model) -> float:
        """Accuracy of a trained model on the held-out images; CheckFailed when it cannot be evaluated."""
        return self.case.holdout_accuracy(self._results(model, hidden=True))

    def public_results(self, model) -> None:
        """The results cell's self-check: `results_pass`, without a value for the notebook to show."""
        self.results_pass(model)

    def results_pass(self, model) -> bool:
        """Print the test accuracy of the student's trained model against the reference's (`Case.results_line`); never raises."""
        try:
            print(self.case.results_line(self._results(model)))
        except Exception as error:
            print(f"✗ {error}", file=sys.stderr)
            return False
        return True

    def score_results(self, model, points: float) -> float:
        """Points earned by the student's trained model (see checks.accuracy.points_for); CheckFailed if unusable."""
        earned, line = self.case.score_results(self._results(model, hidden=True), points)
        print(line)
        return earned


def _labels(steps) -> str:
    """'step 3 (build_model)', or 'step 3 (build_model) and step 4 (...)', or 'a, b and c'."""
    labels = [step_label(step) for step in steps]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def write_kit(path: str, inputs: dict) -> None:
    """The pipeline kit as one .npz of arrays (no pickle)."""
    with open(path, "xb") as file:
        np.savez(file, **inputs)


def read_kit(path: str) -> dict:
    """{"verdicts": {step: passed}, "arrays": the course's splits and model file} from a kit written by `write_kit`."""
    arrays = arrays_from_file(path)
    verdicts = json.loads(str(arrays.pop("verdicts"))) if "verdicts" in arrays else {}
    return {"verdicts": {k: bool(v) for k, v in verdicts.items()}, **({"arrays": arrays} if arrays else {})}


def course_result(adapter, arrays: dict, step: str):
    """The course's `step`, as what it gives, from the kit's `arrays` (no computation of the course's): the course's raw
    data, the splits of its preprocessed arrays as the framework's batches, the contract model the grader saved, the
    framework's standard loss and optimizer."""

    def course_splits(raw, batch_size=64, validation_size=0.1, seed=0):
        return Splits(*(adapter.contract_batches(arrays[f"{name}_x"], arrays[f"{name}_y"], batch_size, name == "train", seed)
                        for name in ("train", "validation", "test")))

    return {
        "download": load_dataset,
        "load_and_preprocess": course_splits,
        "build_model": lambda *args, **kwargs: adapter.load_model(str(arrays["file:model"])),
        "make_loss_and_optimizer": lambda model, learning_rate=1e-3: adapter.course_training(model, learning_rate),
    }[step]


def _head(raw: RawData, arrays: dict) -> RawData:
    """`raw` cut to the kit's numbers of training and test images (the checks' data)."""
    train, test = int(arrays["raw_train"]), int(arrays["raw_test"])
    return RawData(raw.x_train[:train], raw.y_train[:train], raw.x_test[:test], raw.y_test[:test])
