"""Reference pipeline, PyTorch: the graph is recorded anew on every forward pass.

Autograd traces the operations as they run; `loss.backward()` walks that trace and
frees it, so the next batch may take a different path through the code.
"""

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset, random_split

from course.data import RawData, load_dataset
from course.devices import torch_device
from course.pipeline import Splits


# Step 1 ------------------------------------------------------------------------------------
def download(name: str = "digits") -> RawData:
    """Fetch (or read from the cache) uint8 images (N, H, W) and uint8 labels (N,)."""
    return load_dataset(name)


# Step 2 ------------------------------------------------------------------------------------
def load_and_preprocess(raw: RawData, batch_size: int = 64, validation_size: float = 0.1, seed: int = 0) -> Splits:
    """Scale to float32 in [0, 1], flatten to (N, H*W), hold out a validation split, batch.

    Each split is a `DataLoader` of CPU tensors ``(x float32 (B, D), y int64 (B,))``; the
    training loader reshuffles (seeded) every epoch.
    """

    def prepare(x, y):
        x = torch.from_numpy(x).flatten(start_dim=1).float() / 255.0
        return TensorDataset(x, torch.from_numpy(y).long())

    everything = prepare(raw.x_train, raw.y_train)
    n_validation = round(validation_size * len(everything))
    train, validation = random_split(
        everything, [len(everything) - n_validation, n_validation], generator=torch.Generator().manual_seed(seed)
    )
    return Splits(
        train=DataLoader(train, batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed)),
        validation=DataLoader(validation, batch_size),
        test=DataLoader(prepare(raw.x_test, raw.y_test), batch_size),
    )


# Step 3 ------------------------------------------------------------------------------------
class MLP(nn.Module):
    """(B, input_dim) float32 -> ReLU hidden -> (B, num_classes) logits."""

    def __init__(self, input_dim: int, num_classes: int = 10, hidden_units: int = 128):
        super().__init__()
        self.hidden = nn.Linear(input_dim, hidden_units)
        self.logits = nn.Linear(hidden_units, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits(torch.relu(self.hidden(x)))


def build_model(input_dim: int, num_classes: int = 10, hidden_units: int = 128, seed: int = 0) -> nn.Module:
    """The MLP, seeded, on the GPU when one is visible."""
    torch.manual_seed(seed)
    return MLP(input_dim, num_classes, hidden_units).to(torch_device())


def count_parameters(model: nn.Module) -> int:
    """Number of trainable scalars."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# Step 4 ------------------------------------------------------------------------------------
def make_loss_and_optimizer(model: nn.Module, learning_rate: float = 1e-3):
    """Mean cross-entropy on logits, called as ``loss(logits, labels)``, and Adam over the model."""
    return nn.CrossEntropyLoss(), torch.optim.Adam(model.parameters(), lr=learning_rate)


# Step 5 ------------------------------------------------------------------------------------
def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Fraction of rows whose argmax equals the label: a float32 scalar tensor."""
    return (logits.argmax(dim=1) == labels).float().mean()


# Step 6 ------------------------------------------------------------------------------------
def train(model: nn.Module, loss, optimizer, batches: DataLoader, epochs: int = 10) -> list[float]:
    """Forward, backward, step once per batch; return the loss of every step."""
    device = next(model.parameters()).device
    model.train()
    history = []
    for _ in range(epochs):
        for x, y in batches:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            value = loss(model(x), y)
            value.backward()
            optimizer.step()
            history.append(value.item())
    return history


# Step 7 ------------------------------------------------------------------------------------
@torch.no_grad()
def report(model: nn.Module, splits: Splits) -> dict[str, float]:
    """Accuracy of the trained model on the train and test splits."""
    device = next(model.parameters()).device
    model.eval()

    def evaluate(batches: DataLoader) -> float:
        correct = sum(accuracy(model(x.to(device)), y.to(device)).item() * len(y) for x, y in batches)
        return correct / len(batches.dataset)

    return {"train_accuracy": evaluate(splits.train), "test_accuracy": evaluate(splits.test)}
