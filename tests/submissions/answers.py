"""Submissions of `torch_pipeline` that look for answers in the grading kernel instead of writing them (issue 19).

The grading kernel holds no answer: of the course's code it sees only the kernel's side of the checks
(`graders.runner.sandbox.KERNEL_SIDE`: call the student's function, convert, load what the grader
hands in), the course's data without the held-out images, and the framework's own loaders. Each sample
below is written to profit if that were not so, and must earn exactly what its own code earns.
tests/test_kernel_answers.py runs the controls: the same code where the answers are within reach.
"""

from __future__ import annotations

from . import Sample, full_marks, hostile, reference_cell, zero_marks

A = "torch_pipeline"

# Whatever the kernel can import, tried in turn: the course's own steps as they stood before, and what the
# trusted side holds (the judge's preprocessing, the contract model's builder, the model files).
FIND = '''
import importlib, tempfile

def _found(*paths):
    """The first of `paths` ("module:name") that this kernel can import, else None."""
    for path in paths:
        module, _, name = path.partition(":")
        try:
            return getattr(importlib.import_module(module), name)
        except Exception:
            pass
    return None
'''

CALLS_WHAT_THE_KERNEL_IMPORTS = {
    "download": FIND + '''
def download(name="digits"):
    return _found("course.data:load_dataset")(name)
''',
    "load_and_preprocess": '''
def load_and_preprocess(raw, batch_size=64, validation_size=0.1, seed=0):
    split = _found("graders.check.trusted.inputs:contract_split", "graders.check.trusted.judge:contract_split")
    batches = _found("graders.check.kernel.frameworks.torch:contract_batches")
    return Splits(*(batches(*split(raw, validation_size, seed)[n], batch_size, n == "train", seed) for n in ("train", "validation", "test")))
''',
    "build_model": '''
class MLP:
    pass


def build_model(input_dim, num_classes=10, hidden_units=128, seed=0):
    weights = _found("graders.check.trusted.network:initial_weights")(input_dim, hidden_units, num_classes, seed)
    saved = _found("graders.check.trusted.model_files:model_files")("torch", weights)
    path = tempfile.mkdtemp() + "/model.pt"
    open(path, "wb").write(saved.files["model.pt"])
    return torch.load(path, weights_only=False)
''',
    "make_loss_and_optimizer": '''
def make_loss_and_optimizer(model, learning_rate=1e-3):
    return _found("graders.check.kernel.frameworks.torch:course_training")(model, learning_rate)
''',
    "accuracy": '''
def accuracy(logits, labels):
    return _found("graders.check.kernel.frameworks.torch:course_accuracy", "graders.check.kernel.probe:course_accuracy")(logits, labels)
''',
    "train": '''
def train(model, loss, optimizer, batches, epochs=10):
    return _found("graders.check.kernel.frameworks.torch:course_train")(model, loss, optimizer, batches, epochs)
''',
    "report": '''
def report(model, splits):
    weights = {n: p.detach().numpy().T for n, p in (("hidden/kernel", model.hidden.weight), ("logits/kernel", model.logits.weight))}
    weights |= {"hidden/bias": model.hidden.bias.detach().numpy(), "logits/bias": model.logits.bias.detach().numpy()}
    score = _found("graders.check.trusted.network:accuracy")
    whole = lambda batches: [torch.cat(part).numpy() for part in zip(*batches)]
    return {"train_accuracy": score(weights, *whole(splits.train)), "test_accuracy": score(weights, *whole(splits.test))}
''',
}

# The checks' probe replaced by one that observes the course's own steps in place of the notebook's, wherever the kernel
# can import them (the course's solutions), else the course's data loader for the download.
FORGE_WITH_A_PATCHED_PROBE = '''
import graders.check.kernel.probe

_observe = graders.check.kernel.probe.observe


def _forged(kind, step, objects, inputs, hidden):
    try:
        import solutions.torch_pipeline as course
    except ImportError:
        from course.data import load_dataset as _course_download

        course = type("course", (), {"download": staticmethod(_course_download)})
    objects = tuple(getattr(course, getattr(o, "__name__", ""), o) if callable(o) else o for o in objects)
    return _observe(kind, step, objects, inputs, hidden)


graders.check.kernel.probe.observe = _forged
'''

# Each observation file the grader made, once the kernel has written it, unlinked and put back under the same name
# holding a forged observation that claims the course's data.
PLANT_OBSERVATIONS = '''
import os
import graders.check.kernel.probe
from graders.check.shared.observation import Observation
from course.data import load_dataset

_write = graders.check.kernel.probe.write


def _plant(path, observation):
    _write(path, observation)
    forged = Observation()
    forged.values.update(zip(("x_train", "y_train", "x_test", "y_test"), tuple(load_dataset("digits"))))
    os.unlink(path)
    _write(path, forged)


graders.check.kernel.probe.write = _plant
'''

# One step of training only (train's check fails, and the model is poor), then the kernel's display formatter patched
# so that a number a cell shows reads 3.0: the value nbgrader takes as the results cell's points.
SHOW_FULL_POINTS = '''
from IPython import get_ipython

_format = get_ipython().display_formatter.format


def _full_points(value, *args, **kwargs):
    data, metadata = _format(value, *args, **kwargs)
    return ({"text/plain": "3.0"} if isinstance(value, float) else data), metadata


def train(model, loss, optimizer, batches, epochs=10):
    x, y = next(iter(batches))
    optimizer.zero_grad()
    value = loss(model(x), y)
    value.backward()
    optimizer.step()
    get_ipython().display_formatter.format = _full_points
    return [value.item()]
'''

# The trained model's forward replaced by a lookup of the held-out labels wherever the kernel might find them: the
# course's own held-out split (as it stood before), the grader's, the public digits, each by exact match.
LOOK_UP_THE_LABELS = '''
import importlib, numpy as np

def _labels_of(images):
    """The label of each image (flattened, preprocessed as the contract says), where it can be found; else -1."""
    found = np.full(len(images), -1)
    tables = []
    for path in ("course.data:load_holdout", "graders.check.trusted.holdout:load_holdout", "course.data:load_dataset"):
        module, _, name = path.partition(":")
        try:
            loaded = getattr(importlib.import_module(module), name)("digits")
        except Exception:
            continue
        tables += [tuple(loaded)] if len(loaded) == 2 else [(loaded.x_train, loaded.y_train), (loaded.x_test, loaded.y_test)]
    for x, y in tables:
        index = {(np.asarray(image).reshape(-1).astype(np.float32) / np.float32(255.0)).tobytes(): label for image, label in zip(x, y)}
        for row, image in enumerate(np.asarray(images, np.float32)):
            found[row] = index.get(image.tobytes(), found[row])
    return found


def report(model, splits):
    own = model.__dict__.setdefault("own_forward", model.forward)

    def looked_up(inputs):
        labels = _labels_of(inputs.cpu().numpy())
        if (labels < 0).all():
            return torch.zeros(len(inputs), 10)
        return torch.nn.functional.one_hot(torch.from_numpy(np.maximum(labels, 0)), 10).float() * 10
    model.forward = own
    result = _report(model, splits)
    model.forward = looked_up  # from now on, for the results cell
    return result
'''


def _stubs() -> dict[str, str]:
    from .attacks import STUBS

    return dict(STUBS)


def _reference(grade_id: str) -> str:
    return reference_cell(A, grade_id)


ANSWER_HUNTS = hostile(
    Sample(
        "calls_what_the_kernel_imports",
        CALLS_WHAT_THE_KERNEL_IMPORTS,
        full_marks(A, load_and_preprocess_tests=0, build_model_tests=0, accuracy_tests=0, train_tests=0,
                   report_tests=0, results_tests=0),
        about="every step a one-liner calling what the grading kernel imports: earns the download and the loss "
        "and optimizer (one library call each), nothing else",
    ),
    Sample(
        "forges_with_a_patched_probe",
        _stubs() | {"download": FORGE_WITH_A_PATCHED_PROBE + "\n" + _stubs()["download"]},
        full_marks(A, **dict.fromkeys(("load_and_preprocess_tests", "build_model_tests", "make_loss_and_optimizer_tests", "accuracy_tests", "train_tests", "report_tests", "results_tests"), 0)),
        about="stubs, and the checks' probe replaced by one that observes the course's own steps instead, which the "
        "kernel cannot import: only the course's data loader, for the download (1 point)",
    ),
    Sample(
        "plants_observations",
        _stubs() | {"download": PLANT_OBSERVATIONS + "\n" + _stubs()["download"]},
        zero_marks(A),
        about="stubs, and each observation file the grader made, once written, replaced under its name by a forged one: the "
        "grader reads the file it made, never the one put in its place",
    ),
    Sample(
        "shows_full_points",
        {"train": SHOW_FULL_POINTS},
        full_marks(A, train_tests=0, results_tests=0),
        about="trains one step, then patches its kernel's display formatter so that any number a cell shows reads 3.0: "
        "the results cell's points stay what its logits earn",
    ),
    Sample(
        "looks_up_the_labels",
        {"report": LOOK_UP_THE_LABELS + "\n\n" + _reference("report").replace("def report(", "def _report(")},
        full_marks(A, results_tests=0),
        about="its report swaps the trained model's forward for a lookup of the held-out labels (the course's, the "
        "grader's, the public digits): none is found, and its logits earn nothing",
    ),
)
