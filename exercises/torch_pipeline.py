# ---
# jupyter:
#   kernelspec:
#     name: tf-pytorch-course
#     display_name: "Python 3 (TF + PyTorch course)"
#     language: python
# ---

# %% [markdown]
# # The pipeline in PyTorch: a graph recorded on every forward pass
#
# You will build a complete image classifier in seven steps: get the data, turn it into batches,
# define a small neural network (a multilayer perceptron: one ReLU hidden layer), attach a loss
# and an optimizer, measure accuracy, train, and report. You build the same pipeline, with the
# same function names, in TensorFlow 1 and TensorFlow 2, and then compare the three.
#
# PyTorch runs eagerly, like NumPy. There is no graph to build in advance: as tensors flow through
# your model, *autograd* records the operations, and `loss.backward()` walks that record to
# compute gradients, then frees it. The next batch records a fresh one.
#
# **Data.** `DATASET = "digits"`: scikit-learn's handwritten digits, 1,257 training and 360 test
# images of 8×8 pixels, shipped with the course (no download). The course staff may switch to
# `"mnist"` (60,000 training images of 28×28, downloaded once and cached). Your code must work
# for both: take every size from the arrays, never hard-code 8, 64 or 784.
#
# **How to work.**
# - Fill in every cell marked `# YOUR CODE HERE` (delete the `raise NotImplementedError()`).
#   Keep the function names and signatures: the grader calls them.
# - Run the self-check cell under each step. ✓ lines mean a check passed; a red ✗ message says
#   what to fix. Hidden checks run more cases when your notebook is graded.
# - Before submitting: *Kernel > Restart Kernel and Run All Cells*, then press *Validate*.
#
# | Step | You write | Points |
# |---|---|---|
# | 1 `download` | `download` | 1 |
# | 2 `load_and_preprocess` | `load_and_preprocess` | 3 |
# | 3 `build_model` | `MLP`, `build_model` | 2 |
# | 4 `make_loss_and_optimizer` | `make_loss_and_optimizer` | 2 |
# | 5 `accuracy` | `accuracy` | 1 |
# | 6 `train` | `train` | 3 |
# | 7 `report` | `report` | 1 |
# | Results | nothing: your trained model is graded | 3 |
# | **Total** | | **16** |

# %% course="setup"
import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset, random_split

from graders.check.notebook import StepChecks
from course.data import RawData, load_dataset
from course.devices import torch_device
from course.pipeline import HYPERPARAMETERS, Splits

DATASET = "digits"
check = StepChecks("torch", DATASET)  # the self-checks; seeds and picks the device
HP = HYPERPARAMETERS[DATASET]
HP

# %% [markdown]
# ## Step 1 — `download`: get the raw data
#
# Write `download(name="digits") -> RawData`: fetch (or read from the cache) uint8 images
# (N, H, W) and uint8 labels (N,). `RawData` is a named tuple `(x_train, y_train, x_test, y_test)`
# with pixels in [0, 255] and labels in [0, 9]. `load_dataset(name)`, imported above, does the
# work: it downloads and caches the files and checks each one's SHA-256 sum.
#
# **What PyTorch does differently here.** Nothing yet: all three frameworks start from the same
# NumPy arrays. The difference is where the arrays go next: here, into a `Dataset` that a
# `DataLoader` batches.

# %% course="solution" id="download" reference="solutions.torch_pipeline:download"

# %% course="tests" id="download_tests" points=1 step="download"

# %% [markdown]
# ## Step 2 — `load_and_preprocess`: scale, flatten, split, batch
#
# Write `load_and_preprocess(raw, batch_size=64, validation_size=0.1, seed=0) -> Splits`:
# - scale to float32 in [0, 1] and flatten to (N, H*W); labels become int64 (N,);
# - hold out `round(validation_size * N)` of the training images, chosen at random (seeded), as
#   the validation split; the rest is train;
# - batch: return `Splits(train=..., validation=..., test=...)`, each a `DataLoader` of CPU
#   tensors `(x float32 (B, D), y int64 (B,))`; the training loader reshuffles (seeded) every
#   epoch.
#
# Useful: `torch.from_numpy`, `Tensor.flatten(start_dim=1)`, `.float()`, `.long()`,
# `TensorDataset`, `random_split` and `DataLoader`. Both `random_split` and a shuffling
# `DataLoader` take a `generator=`; give each its own `torch.Generator().manual_seed(seed)`, so
# the split and the batch order repeat exactly. Split the lengths as `[train, validation]`.
#
# **What PyTorch does differently here.** A `Dataset` is anything with `len(ds)` and `ds[i]`
# (one example); `random_split` returns two views of it by index. A `DataLoader` draws indices,
# fetches the examples and stacks them into batches, in Python (optionally in worker processes).
# It is re-iterable, and with `shuffle=True` every `for` loop over it is a new order. The data
# stay on the CPU; `train` moves each batch to the model's device.

# %% course="solution" id="load_and_preprocess" reference="solutions.torch_pipeline:load_and_preprocess"

# %% course="tests" id="load_and_preprocess_tests" points=3 step="load_and_preprocess"

# %% [markdown]
# ## Step 3 — `build_model`: the network as an `nn.Module`
#
# Write the class `MLP(input_dim, num_classes=10, hidden_units=128)`, an `nn.Module` mapping
# (B, input_dim) float32 -> ReLU hidden -> (B, num_classes) logits: in `__init__`, call
# `super().__init__()` and create two `nn.Linear` layers as the attributes `hidden` and `logits`;
# `forward(x)` returns the logits (no softmax: the loss applies it).
# Unlike the MNIST model of pytorch/examples, `forward` ends in no `F.log_softmax`: raw logits, not log-probabilities.
#
# Write `build_model(input_dim, num_classes=10, hidden_units=128, seed=0) -> nn.Module`: the MLP,
# seeded (`torch.manual_seed(seed)` before creating it), on the GPU when one is visible (move it
# to `torch_device()`).
#
# `count_parameters`, given below, counts the trainable scalars.
#
# **What PyTorch does differently here.** The model is a Python class. Layers assigned as
# attributes in `__init__` are registered with the module, so `model.parameters()` finds their
# weights, which exist and are initialised as soon as the layer is created: no initializer op.
# `forward` is ordinary Python that runs on every call; call the model as `model(x)`, not
# `model.forward(x)`, so PyTorch's hooks run too. No graph exists yet: autograd records one
# during each forward pass. `.to(device)` moves the parameters in place and returns the module.

# %% course="given" reference="solutions.torch_pipeline:count_parameters"

# %% course="solution" id="build_model" reference="solutions.torch_pipeline:MLP,build_model"

# %% course="tests" id="build_model_tests" points=2 step="build_model"

# %% [markdown]
# ## Step 4 — `make_loss_and_optimizer`: what to minimise, and how
#
# Write `make_loss_and_optimizer(model, learning_rate=1e-3) -> (loss, optimizer)`: mean
# cross-entropy on logits, called as `loss(logits, labels)`, and Adam over the model. Useful:
# `nn.CrossEntropyLoss` (it takes raw logits and integer labels), `torch.optim.Adam`.
# Not `F.nll_loss`, as pytorch/examples has it: that expects log-probabilities, and the model gives raw logits.
#
# **What PyTorch does differently here.** The optimizer receives the parameter tensors
# themselves (`model.parameters()`). It never sees the loss: it reads each parameter's `.grad`,
# which `backward()` fills in. Note the argument order: PyTorch losses take
# `(predictions, labels)`; Keras losses take `(labels, predictions)`.

# %% course="solution" id="make_loss_and_optimizer" reference="solutions.torch_pipeline:make_loss_and_optimizer"

# %% course="tests" id="make_loss_and_optimizer_tests" points=2 step="make_loss_and_optimizer"

# %% [markdown]
# ## Step 5 — `accuracy`: a metric on tensors
#
# Write `accuracy(logits, labels) -> torch.Tensor`: the fraction of rows whose argmax equals the
# label: a float32 scalar tensor. Useful: `Tensor.argmax(dim=...)`, `==`, `.float()`, `.mean()`.
# Return the tensor, not `.sum().item()` or any Python number: the code that calls `accuracy` takes `.item()` of it.
#
# **What PyTorch does differently here.** Tensor methods, computed immediately, like NumPy. The
# result is a 0-dimensional tensor on the same device as its inputs (`logits` and `labels` must
# share one); `.item()` turns it into a Python number.

# %% course="solution" id="accuracy" reference="solutions.torch_pipeline:accuracy"

# %% course="tests" id="accuracy_tests" points=1 step="accuracy"

# %% [markdown]
# ## Step 6 — `train`: forward, backward, step
#
# Write `train(model, loss, optimizer, batches, epochs=10) -> list[float]`: forward, backward,
# step once per batch, `epochs` passes over `batches`; return the loss of every step as Python
# floats (`epochs * len(batches)` of them): one loss per step, not per epoch, nor a running mean.
# Put the model in training mode (`model.train()`) and move each batch to the model's device
# (`next(model.parameters()).device`). Useful:
# `optimizer.zero_grad()`, `Tensor.backward()`, `optimizer.step()`, `Tensor.item()`.
#
# **What PyTorch does differently here.** You write every step of the loop yourself. The forward
# pass records the graph; `backward()` walks it, *adds* each gradient to the parameter's `.grad`
# and frees the graph; `optimizer.step()` updates the weights from `.grad`. Because gradients
# accumulate, they must be cleared before each backward pass, or every step would also apply
# the gradients of all earlier ones. Record `loss.item()`, not the loss tensor: the tensor keeps
# its whole graph alive, and memory would grow with every step.

# %% course="solution" id="train" reference="solutions.torch_pipeline:train"

# %% course="tests" id="train_tests" points=3 step="train"

# %% [markdown]
# ## Step 7 — `report`: accuracy on train and test
#
# Write `report(model, splits) -> {"train_accuracy": float, "test_accuracy": float}`: accuracy of
# the trained model on the train and test splits. Switch the model to evaluation mode
# (`model.eval()`), move each batch to the model's device, use your `accuracy`, weight each batch
# by its size (the last batch may be smaller) and divide by the number of examples
# (`len(loader.dataset)`).
#
# **What PyTorch does differently here.** Two separate switches. `model.eval()` makes layers
# that behave differently in training (dropout, batch normalisation) run in inference mode; this
# MLP has none, but say what you mean. `torch.no_grad()`, as a decorator on `report` or as a
# `with` block, stops autograd from recording, which saves time and memory when no gradient is
# needed. `eval()` does not turn recording off.

# %% course="solution" id="report" reference="solutions.torch_pipeline:report"

# %% course="tests" id="report_tests" points=1 step="report"

# %% [markdown]
# ## Run the whole pipeline
#
# The next cell chains your seven functions with the course hyperparameters `HP`, the way the
# reference pipeline does, plots the loss of every training step, and prints the accuracies.
# If a step fails, it says which error occurred and the notebook goes on.

# %% course="setup"
model = history = None
with check.guard("the whole pipeline"):
    raw = download(DATASET)
    splits = load_and_preprocess(raw, batch_size=HP.batch_size, validation_size=HP.validation_size, seed=HP.seed)
    input_dim = int(np.prod(raw.x_train.shape[1:]))
    model = build_model(input_dim, hidden_units=HP.hidden_units, seed=HP.seed)
    print(f"parameters: {count_parameters(model):,}")
    loss, optimizer = make_loss_and_optimizer(model, learning_rate=HP.learning_rate)
    history = train(model, loss, optimizer, splits.train, epochs=HP.epochs)
    check.plot_losses(history)
    accuracies = report(model, splits)
    print(f"train accuracy {accuracies['train_accuracy']:.4f}   test accuracy {accuracies['test_accuracy']:.4f}")

# %% [markdown]
# ## Results
#
# This cell grades your trained `model` itself: the grader feeds it held-out images that are in
# neither your training nor your test split, and measures its accuracy. Full marks at the
# reference pipeline's accuracy minus 0.02 or better, none at or below 0.5, linear in between.
# The self-check prints your model's accuracy next to that target. Run the pipeline cell above
# first.

# %% course="tests" id="results_tests" points=3 step="results"

# %% [markdown]
# ## What to compare
#
# Put this notebook side by side with your TensorFlow 1 and TensorFlow 2 versions: the seven
# steps have the same names, in the same order. For each step, note where the graph is
# (recorded on every forward pass), where the gradients come from (`backward()`, at every
# step), how data reaches the model (`DataLoader`) and who holds the weights (the `nn.Module`).
# The `framework_comparison` assignment builds on these notes: it runs one model in all three
# frameworks from the same weights, and contrasts static and dynamic graphs on inputs of
# different lengths.
