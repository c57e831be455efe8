"""PyTorch adapter: tensors and DataLoaders to NumPy; see graders.check.kernel.frameworks."""

import contextlib

import numpy as np
import torch

from course.devices import seed_torch, torch_device
from graders.check.kernel.frameworks import _common
from graders.check.shared.checks.failures import CheckFailed

NAME = "torch"


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


def check_batch(batches) -> str:
    """The first batch holds tensors (the contract's DataLoader of CPU tensors: train calls x.to(device))."""
    for batch in batches:
        for name, value in zip(("x", "y"), batch):
            if not isinstance(value, torch.Tensor):
                raise CheckFailed(
                    f"{name} of a batch type",
                    "torch.Tensor",
                    type(value).__name__,
                    "the batches hold tensors (torch.from_numpy, a TensorDataset): train calls x.to(device) on them",
                )
        break
    return ""


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


def loss_on(loss, model, x, predictions, y):
    """`loss(predictions, labels)`: the loss given `predictions` in place of the model's logits."""
    device = device_of(model)
    with torch.no_grad():
        as_tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(device)  # noqa: E731
        return to_numpy(loss(as_tensor(np.asarray(predictions, dtype=np.float32)), as_tensor(y)))


def check_optimizer(optimizer, model) -> str:
    """A torch.optim optimizer holding every trainable parameter of the model."""
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise CheckFailed(
            "the optimizer",
            "a torch.optim optimizer",
            type(optimizer).__name__,
            "torch.optim.Adam(model.parameters(), lr=learning_rate)",
        )
    held = {id(p) for group in optimizer.param_groups for p in group["params"]}
    wanted = [p for p in model.parameters() if p.requires_grad]
    missing = sum(id(p) not in held for p in wanted)
    if missing:
        raise CheckFailed(
            "the optimizer's parameters",
            f"the {len(wanted)} parameter tensors of the model it is given",
            f"{missing} of them missing",
            "model.parameters() of the model passed in (not of another model)",
        )
    return type(optimizer).__name__


def metric_value(accuracy_fn, logits, labels):
    """What `accuracy_fn` returns on tensors of `logits` and `labels`, as it is (a tensor, the contract)."""
    return accuracy_fn(torch.from_numpy(np.ascontiguousarray(logits)), torch.from_numpy(np.ascontiguousarray(labels)))


def check_metric_type(value) -> str:
    if not isinstance(value, torch.Tensor):
        raise CheckFailed(
            "accuracy type",
            "a scalar tensor (torch.Tensor)",
            type(value).__name__,
            "return the tensor itself, not .item() or float(...): the contract's report calls .item() on it",
        )
    return ""


class LossProbe(torch.nn.Module):
    """The loss a check hands to a student's train, recording what it computes at each call."""

    def __init__(self, loss):
        super().__init__()
        self.loss, self.values = loss, []

    def forward(self, *args, **kwargs):
        value = self.loss(*args, **kwargs)
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            self.values.append(float(value.detach().reshape(())))
        else:
            self.values.append(float("nan"))
        return value

    @property
    def calls(self) -> int:
        return len(self.values)

    def computed(self, steps: int):
        """The loss of each step, or None when it ran another number of times than `steps`."""
        return list(self.values) if self.calls == steps else None


def probe_loss(loss):
    return LossProbe(loss)


# The contract's objects: loaded from the grader's files, or converted from arrays --------------------------
def load_model(path: str) -> torch.nn.Module:
    """The contract model the grader saved (`graders.author.model_files`: an nn.Sequential `hidden`, `relu`, `logits`)."""
    return torch.load(path, weights_only=False).to(torch_device())


def _layers(model):
    return [getattr(model, "hidden"), getattr(model, "logits")]


def weights_of(model) -> dict:
    """The contract model's weights, canonical layout."""
    hidden, logits = _layers(model)
    return {
        "hidden/kernel": to_numpy(hidden.weight).T.copy(), "hidden/bias": to_numpy(hidden.bias),
        "logits/kernel": to_numpy(logits.weight).T.copy(), "logits/bias": to_numpy(logits.bias),
    }


def contract_batches(x, y, batch_size: int, shuffle: bool = False, seed: int = 0):
    """A DataLoader of CPU tensors (x float32, y int64), reshuffled (seeded) each epoch when `shuffle`."""
    from torch.utils.data import DataLoader, TensorDataset

    generator = torch.Generator().manual_seed(seed) if shuffle else None
    dataset = TensorDataset(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(y)))
    return DataLoader(dataset, batch_size, shuffle=shuffle, generator=generator)


def course_training(model, learning_rate: float):
    """The loss and optimizer that a check hands to a student's train."""
    return torch.nn.CrossEntropyLoss(), torch.optim.Adam(model.parameters(), lr=learning_rate)


def loss_gradient(loss, model, logits, y) -> np.ndarray:
    """d loss(logits, labels) / d logits."""
    device = device_of(model)
    z = torch.tensor(np.asarray(logits, np.float32), device=device, requires_grad=True)
    value = loss(z, torch.from_numpy(np.ascontiguousarray(y)).to(device))
    if not isinstance(value, torch.Tensor) or not value.requires_grad:
        raise CheckFailed(
            "the gradient of your loss", "a tensor that autograd can differentiate", type(value).__name__,
            "compute the loss with torch operations on the logits (no .item(), NumPy or .detach())",
        )
    value.backward()
    return to_numpy(z.grad)


def optimizer_facts(optimizer) -> dict:
    """What the optimizer is: its class, its learning rate (of its first group) and how many tensors it updates."""
    groups = optimizer.param_groups
    return {"type": type(optimizer).__name__, "learning_rate": float(groups[0]["lr"]) if groups else None,
            "parameters": sum(len(group["params"]) for group in groups)}


def apply_gradients(optimizer, model, gradients: dict, x, y) -> None:
    """One optimizer step that the grader drives: the gradients it computed (canonical names) set, then `step()`."""
    hidden, logits = _layers(model)
    given = {hidden.weight: gradients["hidden/kernel"].T, hidden.bias: gradients["hidden/bias"],
             logits.weight: gradients["logits/kernel"].T, logits.bias: gradients["logits/bias"]}
    optimizer.zero_grad()
    for parameter, gradient in given.items():
        parameter.grad = torch.from_numpy(np.ascontiguousarray(gradient, np.float32)).to(parameter.device)
    optimizer.step()


def metric_function(compute):
    """`compute(logits, labels)` on NumPy arrays, as an accuracy function of the contract: tensors in, a scalar tensor out."""
    return lambda logits, labels: torch.tensor(compute(to_numpy(logits), to_numpy(labels)), dtype=torch.float32)
