"""Sample submissions of `torch_pipeline` and the score each must get (16 points in all).

Grading scale (points per graded cell)::

    download_tests 1   load_and_preprocess_tests 3   build_model_tests 2   make_loss_and_optimizer_tests 2
    accuracy_tests 1   train_tests 3                 report_tests 1        results_tests 3 (partial credit)

Each step is checked on the course's reference inputs, so a broken step costs that step's cell;
`results_tests` grades the model the student's own pipeline trained (held-out accuracy: full
marks from the reference's minus 0.02, none at or below 0.5), so a break that spoils training
costs those 3 points too.

This module also holds the hostile samples (they test the grading machinery, not PyTorch):
corrupt JSON, a cell that never ends, a kernel that exits, and a submission that replaces `check`;
the attacks on the grader itself are in `attacks.py` and graded with this bank.
"""

from . import Sample, full_marks, hostile, reference_cell, swap, zero_marks
from .answers import ANSWER_HUNTS
from .attacks import ATTACKS

A = "torch_pipeline"


def _ref(grade_id: str) -> str:
    return reference_cell(A, grade_id)


# --- Correct, but not the reference's code: full marks ---------------------------------------------
SEQUENTIAL_SGD = {
    # numpy split instead of random_split; a Subset-free dataset per split
    "load_and_preprocess": '''
def load_and_preprocess(raw: RawData, batch_size: int = 64, validation_size: float = 0.1, seed: int = 0) -> Splits:
    x = raw.x_train.reshape(len(raw.x_train), -1).astype(np.float32) / 255
    y = raw.y_train.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    n_val = round(validation_size * len(x))
    val_idx, train_idx = order[:n_val], order[n_val:]
    x_test = raw.x_test.reshape(len(raw.x_test), -1).astype(np.float32) / 255
    def loader(xs, ys, shuffle=False):
        data = TensorDataset(torch.tensor(xs), torch.tensor(ys))
        gen = torch.Generator().manual_seed(seed) if shuffle else None
        return DataLoader(data, batch_size=batch_size, shuffle=shuffle, generator=gen)
    return Splits(loader(x[train_idx], y[train_idx], shuffle=True), loader(x[val_idx], y[val_idx]),
                  loader(x_test, raw.y_test.astype(np.int64)))
''',
    # nn.Sequential, twice the hidden units asked for; no MLP class at all
    "build_model": '''
def build_model(input_dim, num_classes=10, hidden_units=128, seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(input_dim, 256), nn.ReLU(), nn.Linear(256, num_classes))
    return model.to(torch_device())
''',
    # SGD with momentum at its own learning rate instead of Adam
    "make_loss_and_optimizer": '''
def make_loss_and_optimizer(model, learning_rate=1e-3):
    criterion = nn.CrossEntropyLoss(reduction="mean")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    return criterion, optimizer
''',
    "accuracy": '''
def accuracy(logits, labels):
    predictions = torch.max(logits, 1).indices
    return (predictions == labels).sum() / labels.shape[0]
''',
    # zero_grad(set_to_none=True) after the step; float() instead of item()
    "train": '''
def train(model, loss, optimizer, batches, epochs=10):
    device = next(model.parameters()).device
    losses = []
    for epoch in range(epochs):
        model.train()
        for batch in batches:
            x, y = (t.to(device) for t in batch)
            value = loss(model(x), y)
            value.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(float(value))
    return losses
''',
    # predictions concatenated, then one comparison; no accuracy() call
    "report": '''
def report(model, splits):
    device = next(model.parameters()).device
    model.eval()
    result = {}
    with torch.no_grad():
        for key, loader in (("train_accuracy", splits.train), ("test_accuracy", splits.test)):
            predicted, truth = [], []
            for x, y in loader:
                predicted.append(model(x.to(device)).argmax(dim=1).cpu())
                truth.append(y)
            result[key] = (torch.cat(predicted) == torch.cat(truth)).double().mean().item()
    return result
''',
}

FUNCTIONAL_ADAM = {
    "download": '''
def download(name="digits"):
    x_train, y_train, x_test, y_test = load_dataset(name)
    return RawData(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
''',
    # torch.nn.functional in forward, layers under the required names; weights initialised explicitly
    "build_model": '''
import torch.nn.functional as F


class MLP(nn.Module):
    def __init__(self, input_dim, num_classes=10, hidden_units=128):
        super().__init__()
        self.hidden = nn.Linear(input_dim, hidden_units)
        self.logits = nn.Linear(hidden_units, num_classes)
        for layer in (self.hidden, self.logits):
            nn.init.kaiming_uniform_(layer.weight, nonlinearity="relu")
            nn.init.zeros_(layer.bias)

    def forward(self, x):
        return self.logits(F.relu(self.hidden(x)))


def build_model(input_dim, num_classes=10, hidden_units=128, seed=0):
    torch.manual_seed(seed)
    device = torch_device()
    return MLP(input_dim, num_classes, hidden_units).to(device)
''',
    "make_loss_and_optimizer": '''
def make_loss_and_optimizer(model, learning_rate=1e-3):
    def loss(logits, labels):
        return F.cross_entropy(logits, labels)
    return loss, torch.optim.Adam(params=list(model.parameters()), lr=learning_rate, betas=(0.9, 0.999))
''',
    "accuracy": '''
def accuracy(logits, labels):
    return torch.eq(torch.argmax(logits, dim=-1), labels).to(torch.float32).mean()
''',
    # an explicit step counter, set_to_none zeroing before the forward pass
    "train": '''
def train(model, loss, optimizer, batches, epochs=10):
    model.train()
    device = next(iter(model.parameters())).device
    history = []
    steps = epochs * len(batches)
    iterator = iter(batches)
    for _ in range(steps):
        try:
            x, y = next(iterator)
        except StopIteration:
            iterator = iter(batches)
            x, y = next(iterator)
        optimizer.zero_grad(set_to_none=True)
        batch_loss = loss(model(x.to(device)), y.to(device))
        batch_loss.backward()
        optimizer.step()
        history.append(batch_loss.detach().cpu().item())
    return history
''',
    "report": '''
def report(model, splits):
    model.eval()
    device = next(model.parameters()).device
    def evaluate(loader):
        correct, seen = 0.0, 0
        with torch.no_grad():
            for x, y in loader:
                correct += float(accuracy(model(x.to(device)), y.to(device))) * y.numel()
                seen += y.numel()
        return correct / seen
    return dict(test_accuracy=evaluate(splits.test), train_accuracy=evaluate(splits.train))
''',
}

# --- Idioms students copy from tutorials (issue 10) ------------------------------------------------------
# pytorch/examples' MNIST: a model that ends in log_softmax for F.nll_loss, an accuracy counted with
# .eq(...).sum().item(), the loops of its train() and test(). It trains well (results full), but three
# steps break the contract where they are written: the model gives log-probabilities, not logits (step 3);
# the loss expects them (step 4, checked on the contract's model); the accuracy is a Python float (step 5).
EXAMPLES_MNIST = {
    "build_model": '''
import torch.nn.functional as F


class MLP(nn.Module):
    def __init__(self, input_dim, num_classes=10, hidden_units=128):
        super().__init__()
        self.hidden = nn.Linear(input_dim, hidden_units)
        self.logits = nn.Linear(hidden_units, num_classes)

    def forward(self, x):
        x = self.hidden(x)
        x = F.relu(x)
        x = self.logits(x)
        output = F.log_softmax(x, dim=1)
        return output


def build_model(input_dim, num_classes=10, hidden_units=128, seed=0):
    torch.manual_seed(seed)
    return MLP(input_dim, num_classes, hidden_units).to(torch_device())
''',
    "make_loss_and_optimizer": '''
def make_loss_and_optimizer(model, learning_rate=1e-3):
    return F.nll_loss, torch.optim.Adam(model.parameters(), lr=learning_rate)
''',
    "accuracy": '''
def accuracy(logits, labels):
    pred = logits.argmax(dim=1, keepdim=True)  # get the index of the max log-probability
    return pred.eq(labels.view_as(pred)).sum().item() / len(labels)
''',
    "train": '''
def train(model, loss, optimizer, batches, epochs=10):
    device = next(model.parameters()).device
    model.train()
    history = []
    for epoch in range(1, epochs + 1):
        for batch_idx, (data, target) in enumerate(batches):
            data, target = data.to(device), target.to(device)
            optimizer.zero_grad()
            output = model(data)
            value = loss(output, target)
            value.backward()
            optimizer.step()
            history.append(value.item())
    return history
''',
    "report": '''
def report(model, splits):
    device = next(model.parameters()).device
    model.eval()

    def test(test_loader):
        correct = 0
        with torch.no_grad():
            for data, target in test_loader:
                data, target = data.to(device), target.to(device)
                output = model(data)
                pred = output.argmax(dim=1, keepdim=True)
                correct += pred.eq(target.view_as(pred)).sum().item()
        return correct / len(test_loader.dataset)

    return {"train_accuracy": test(splits.train), "test_accuracy": test(splits.test)}
''',
}

# Manual batching without a DataLoader (a re-iterable class of tensor batches, reshuffled each pass) and
# F.cross_entropy itself as the loss: the contract met in full.
MANUAL_BATCHES = '''
class Batches:
    """Mini-batches of tensors, without a DataLoader; a new order on every pass when shuffled."""

    def __init__(self, x, y, batch_size, shuffle=False, seed=0):
        self.x, self.y, self.batch_size, self.shuffle = x, y, batch_size, shuffle
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self):
        return (len(self.x) + self.batch_size - 1) // self.batch_size

    def __iter__(self):
        n = len(self.x)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        for start in range(0, n, self.batch_size):
            rows = order[start:start + self.batch_size]
            yield self.x[rows], self.y[rows]


def load_and_preprocess(raw, batch_size=64, validation_size=0.1, seed=0):
    def prepare(images, labels):
        x = torch.tensor(images, dtype=torch.float32).reshape(len(images), -1) / 255
        return x, torch.tensor(labels, dtype=torch.int64)

    x, y = prepare(raw.x_train, raw.y_train)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    n_val = round(validation_size * len(x))
    val, tr = order[:n_val], order[n_val:]
    return Splits(
        train=Batches(x[tr], y[tr], batch_size, shuffle=True, seed=seed),
        validation=Batches(x[val], y[val], batch_size),
        test=Batches(*prepare(raw.x_test, raw.y_test), batch_size),
    )
'''

CROSS_ENTROPY_MANUAL_BATCHES = {
    "load_and_preprocess": MANUAL_BATCHES,
    "make_loss_and_optimizer": '''
import torch.nn.functional as F


def make_loss_and_optimizer(model, learning_rate=1e-3):
    return F.cross_entropy, torch.optim.Adam(model.parameters(), lr=learning_rate)
''',
    "report": '''
@torch.no_grad()
def report(model, splits):
    model.eval()
    device = next(model.parameters()).device

    def evaluate(batches):
        correct = seen = 0
        for x, y in batches:
            correct += accuracy(model(x.to(device)), y.to(device)).item() * len(y)
            seen += len(y)
        return correct / seen

    return {"train_accuracy": evaluate(splits.train), "test_accuracy": evaluate(splits.test)}
''',
}

# Two steps that each meet the contract but clash: manual batches without len(), and a train that counts
# its steps with len(batches) (as FUNCTIONAL_ADAM's does, on a DataLoader). Every check passes on the
# course's inputs; the whole pipeline stops in train, and its message names the two steps.
BATCHES_WITHOUT_LEN = {
    "load_and_preprocess": swap(
        MANUAL_BATCHES,
        "    def __len__(self):\n        return (len(self.x) + self.batch_size - 1) // self.batch_size\n\n",
        "",
    ),
    "train": FUNCTIONAL_ADAM["train"],
}

# --- One broken step each ------------------------------------------------------------------------------
FLATTENED = '''
def download(name: str = "digits") -> RawData:
    x_train, y_train, x_test, y_test = load_dataset(name)
    return RawData(x_train.reshape(len(x_train), -1), y_train, x_test.reshape(len(x_test), -1), y_test)
'''

# (a) imported directly: train is the reference's; (b) accuracy finds it by a module name built at run
# time; (c) build_model reaches it through the checker's own objects
REFERENCE_ROUTES = {
    "train": "from solutions.torch_pipeline import train\n",
    "accuracy": '''
import importlib


def accuracy(logits, labels):
    return importlib.import_module("sol" + "utions.torch_pipeline").accuracy(logits, labels)
''',
    "build_model": '''
def build_model(input_dim, num_classes=10, hidden_units=128, seed=0):
    return check.reference.build_model(input_dim, num_classes, hidden_units, seed)
''',
}

HANG = '''
import time

while True:  # waits for what never comes: nbgrader's per-cell timeout must stop it
    time.sleep(1)
'''

# The notebook's checker replaced by one that checks nothing, and the checks module the hidden tests import by one whose
# `grade` passes every test and gives the results cell its points: where the tests run in the kernel, that is what
# they find.
FAKE_CHECKS_MODULE = '''
import contextlib
import sys
import types


class _Checks:
    public = public_results = lambda *args, **kwargs: None
    guard = staticmethod(lambda what: contextlib.suppress(Exception))


check = _Checks()
_front = types.ModuleType("graders.check.front")
_front.grade = lambda kind, dataset, step, *objects, points=None: points
sys.modules["graders.check.front"] = _front
'''

SAMPLES = [
    Sample("reference", {}, full_marks(A), about="the course's own solution"),
    Sample(
        "sequential_sgd",
        SEQUENTIAL_SGD,
        full_marks(A),
        about="nn.Sequential with 256 hidden units, SGD momentum 0.9 at lr 0.05, NumPy split, other loops",
    ),
    Sample(
        "functional_adam",
        FUNCTIONAL_ADAM,
        full_marks(A),
        about="F.relu / F.cross_entropy, Kaiming init, step-counted training loop, keyword report",
    ),
    Sample(
        "download_flattened",
        {"download": FLATTENED},
        full_marks(A, download_tests=0),
        about="download flattens the images to (N, 64); the next step flattens anyway, so training is unaffected",
    ),
    Sample(
        "test_split_from_train",
        {"load_and_preprocess": swap(_ref("load_and_preprocess"), "prepare(raw.x_test, raw.y_test)",
                                     "prepare(raw.x_train, raw.y_train)")},
        full_marks(A, load_and_preprocess_tests=0),
        about="the test loader serves the training images (1257, not the 360 test images); training is unaffected",
    ),
    Sample(
        "nine_classes",
        {"build_model": swap(_ref("build_model"), "MLP(input_dim, num_classes, hidden_units)",
                             "MLP(input_dim, 9, hidden_units)")},
        full_marks(A, build_model_tests=0, results_tests=0),
        about="9 output classes: the check sees logits (32, 9); training stops at label 9; no usable model",
    ),
    Sample(
        "learning_rate_50",
        {"make_loss_and_optimizer": swap(_ref("make_loss_and_optimizer"), "lr=learning_rate", "lr=50.0")},
        full_marks(A, make_loss_and_optimizer_tests=0, results_tests=0),
        about="Adam at lr 50: the loss is right (public check passes), training diverges (hidden check fails)",
    ),
    Sample(
        "accuracy_off_by_one",
        {"accuracy": swap(_ref("accuracy"), "logits.argmax(dim=1) == labels", "logits.argmax(dim=1) + 1 == labels")},
        full_marks(A, accuracy_tests=0),
        about="argmax + 1 compared with the label; training is unaffected",
    ),
    Sample(
        "no_optimizer_step",
        {"train": swap(_ref("train"), "            optimizer.step()\n", "")},
        full_marks(A, train_tests=0, results_tests=0),
        about="optimizer.step() forgotten: gradients are computed, the weights never change",
    ),
    Sample(
        "report_swapped",
        {"report": swap(_ref("report"), '{"train_accuracy": evaluate(splits.train), "test_accuracy": evaluate(splits.test)}',
                        '{"train_accuracy": evaluate(splits.test), "test_accuracy": evaluate(splits.train)}')},
        full_marks(A, report_tests=0),
        about="report returns the test accuracy as train and the train accuracy as test",
    ),
    # The grading kernel holds no reference: `solutions` cannot be imported there, so each route fails where it is
    # taken, and the pipeline that needs train stops (results 0).
    Sample(
        "reference_routes",
        REFERENCE_ROUTES,
        full_marks(A, build_model_tests=0, accuracy_tests=0, train_tests=0, results_tests=0),
        about="train imported from solutions, accuracy by a run-time module name, build_model through check.reference: "
        "none of them is there at grading",
    ),
    # --- Idioms students copy (issue 10): the contract point each one breaks, where it breaks it ----------
    Sample(
        "examples_mnist",
        EXAMPLES_MNIST,
        full_marks(A, build_model_tests=0, make_loss_and_optimizer_tests=0, accuracy_tests=0),
        about="pytorch/examples MNIST: log_softmax model (step 3: log-probabilities, not logits), F.nll_loss (step 4: "
        "expects log-probabilities), .eq(...).sum().item() accuracy (step 5: a float, not a tensor); trains well",
        says={
            "build_model": "logits — expected raw logits (no log_softmax: the loss applies it), found log-probabilities",
            "make_loss_and_optimizer": "your loss expects log-probabilities (as nll_loss does): given the log-probabilities "
            "of these logits it gives the cross-entropy",
            "accuracy": "accuracy type — expected a scalar tensor (torch.Tensor), found float",
        },
    ),
    Sample(
        "cross_entropy_manual_batches",
        CROSS_ENTROPY_MANUAL_BATCHES,
        full_marks(A),
        about="F.cross_entropy as the loss, manual re-iterable batches of tensors without a DataLoader",
    ),
    Sample(
        "batches_without_len",
        BATCHES_WITHOUT_LEN,
        full_marks(A, results_tests=0),
        outcome="the whole pipeline stopped in step 6 (train): TypeError: object of type 'Batches' has no len() "
        "(in train, line 5: `steps = epochs * len(batches)`; the cell's line 9: `history = train(model, loss, optimizer, "
        "splits.train, epochs=HP.epochs)`). Each step passes on the course's inputs, but together they fail here: "
        "step 2 (load_and_preprocess) and step 6 (train) clash",
        about="manual batches without len() and a train that counts steps with len(batches): each passes, together they stop",
    ),
    # --- Not made by fills alone ---------------------------------------------------------------------
    Sample("unfilled", {}, zero_marks(A), base="release", about="the release as handed out: every stub raises"),
    Sample(
        "corrupt",
        {},
        zero_marks(A),
        kind="corrupt",
        graded=False,
        outcome=f"{A}.ipynb is not valid JSON (line",
        about="the notebook's JSON cut in half; the grader refuses it and records 0 everywhere",
    ),
    Sample(
        "hanging",
        {"train": HANG + _ref("train")},
        full_marks(A, train_tests=0, results_tests=0),
        outcome="cell train of torch_pipeline.ipynb ran past the per-cell time limit and was stopped",
        about="an endless wait (`while True: time.sleep(1)`) before train is defined: the cell is stopped by the timeout, train never exists",
    ),
    # The cells that completed before the kernel died keep their points; the rest did not run.
    Sample(
        "kernel_exit",
        {"accuracy": "import os\n\nos._exit(1)\n" + _ref("accuracy")},
        full_marks(A, accuracy_tests=0, train_tests=0, report_tests=0, results_tests=0),
        outcome=f"the kernel died in cell accuracy (exit code 1) of {A}.ipynb",
        about="os._exit(1) in the accuracy cell: the kernel dies mid-notebook; steps 1-4 were checked before",
    ),
    # The hidden tests are decided in the grading process, which reads their call from the cell and runs nothing of the
    # kernel's to judge it: the stubs earn nothing, the download is the reference's (1 point).
    *hostile(Sample(
        "fakes_the_checks_module",
        {"download": _ref("download") + "\n\n" + FAKE_CHECKS_MODULE},
        zero_marks(A) | {"download_tests": 1.0},
        base="release",
        about="unfilled stubs, a do-nothing `check`, and graders.check.front replaced in sys.modules by a module whose "
        "grade passes everything",
    )),
    *ATTACKS,
    *ANSWER_HUNTS,
]
