"""PyTorch adapter: tensors and DataLoaders to NumPy; see graders.frameworks."""

import contextlib

import numpy as np
import torch

from graders.checks.failures import CheckFailed
from graders.frameworks import _common
from graders.reference_code import optional
from course.devices import seed_torch, torch_device

NAME = "torch"
reference = optional("solutions.torch_pipeline")  # None in the students' install: see graders.notebook


def setup(seed: int = 0) -> str:
    """Seed; on CPU use one thread (the course's small models train fastest so, beside TensorFlow's
    thread pools and other grading kernels); return the device the reference models use."""
    seed_torch(seed)
    device = torch_device()
    if device.type == "cpu":
        torch.set_num_threads(1)
    return str(device)


def seed(value: int = 0) -> None:
    seed_torch(value)


@contextlib.contextmanager
def checking():
    """While checks run: one CPU thread (several only add overhead on the checks' tiny batches)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def to_numpy(value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def first_batch(batches):
    return _common.first_batch(batches, to_numpy)


def collect(batches):
    return _common.collect(batches, to_numpy)


def count_examples(batches) -> int:
    return _common.count_examples(batches, to_numpy)


count_batches = _common.count_batches


def check_model(model) -> str:
    if not isinstance(model, torch.nn.Module):
        raise CheckFailed("the model", "a torch.nn.Module", type(model).__name__, "what build_model returns")
    return type(model).__name__


def device_of(model) -> torch.device:
    for parameter in model.parameters():
        return parameter.device
    return torch.device("cpu")


def predict(model, x) -> np.ndarray:
    """Logits of `model` on NumPy `x`: eval mode, no gradients, on the model's device."""
    device, was_training = device_of(model), model.training
    model.eval()
    try:
        with torch.no_grad():
            parts = [
                to_numpy(model(torch.from_numpy(np.ascontiguousarray(c)).to(device)))
                for c in _common.chunks(np.asarray(x))
            ]
    finally:
        model.train(was_training)
    return np.concatenate(parts)


def parameter_count(model) -> int:
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def static_shapes(model) -> dict:
    return {}


def close(model) -> None:
    pass


def loss_value(loss, model, x, y):
    """`loss(logits, labels)` on one batch, as called in a training step (PyTorch order)."""
    device = device_of(model)
    with torch.no_grad():
        logits = model(torch.from_numpy(np.ascontiguousarray(x)).to(device))
        return to_numpy(loss(logits, torch.from_numpy(np.ascontiguousarray(y)).to(device)))


def metric_value(accuracy_fn, logits, labels):
    return to_numpy(
        accuracy_fn(torch.from_numpy(np.ascontiguousarray(logits)), torch.from_numpy(np.ascontiguousarray(labels)))
    )
