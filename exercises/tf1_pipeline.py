# ---
# jupyter:
#   kernelspec:
#     name: tf-pytorch-course
#     display_name: "Python 3 (TF + PyTorch course)"
#     language: python
# ---

# %% [markdown]
# # The pipeline in TensorFlow 1: a static graph run in a Session
#
# You will build a complete image classifier in seven steps: get the data, turn it into batches,
# define a small neural network (a multilayer perceptron: one ReLU hidden layer), attach a loss
# and an optimizer, measure accuracy, train, and report. You will build the same pipeline, with
# the same function names, in TensorFlow 2 and in PyTorch, and then compare the three.
#
# This notebook uses TensorFlow 1's programming model through `tf.compat.v1` (written `v1`):
# first you *describe* the computation as a graph of symbolic tensors, then a `Session` runs
# parts of that graph on data you feed in. TensorFlow 2 keeps eager execution on globally; each
# model here gets its own `tf.Graph`, and inside `with graph.as_default():` the TF1 rules apply.
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
# | 2 `load_and_preprocess` | `Batches`, `load_and_preprocess` | 3 |
# | 3 `build_model` | `dense`, `build_model` | 2 |
# | 4 `make_loss_and_optimizer` | `make_loss_and_optimizer` | 2 |
# | 5 `accuracy` | `accuracy` | 1 |
# | 6 `train` | `train` | 3 |
# | 7 `report` | `report` | 1 |
# | Results | nothing: your trained model is graded | 3 |
# | **Total** | | **16** |

# %% course="setup"
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow is imported: quiet C++ logs

from graders.check.notebook import StepChecks

DATASET = "digits"
check = StepChecks("tf1", DATASET)  # the self-checks; loads TensorFlow quietly, seeds, picks the device

from typing import NamedTuple

import numpy as np
import tensorflow as tf

from course.data import RawData, load_dataset
from course.devices import tensorflow_session_config
from course.pipeline import HYPERPARAMETERS, Splits

v1 = tf.compat.v1
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
# **What TensorFlow 1 does differently here.** Nothing yet: all three frameworks start from the
# same NumPy arrays. The difference is where the arrays go next. In TF1 they stay NumPy arrays
# until the moment a `Session` copies them into the graph.

# %% course="solution" id="download" reference="solutions.tf1_pipeline:download"

# %% course="tests" id="download_tests" points=1 step="download"

# %% [markdown]
# ## Step 2 — `load_and_preprocess`: scale, flatten, split, batch
#
# First the class `Batches(x, y, batch_size, shuffle=False, seed=0)`: re-iterable mini-batches
# of NumPy arrays, ready for `feed_dict`.
# - Keep the constructor's arguments as attributes `x`, `y`, `batch_size`, `shuffle`.
# - `len(batches)` is the number of batches; the last one may be smaller than `batch_size`.
# - Iterating yields `(x float32 (B, D), y int64 (B,))` in order; with `shuffle`, each pass draws
#   a new order from one generator seeded in `__init__` (`np.random.default_rng(seed)`), so runs
#   repeat exactly.
# - Every `for` loop over the same object is a new epoch. That is why `Batches` is a class with
#   `__iter__` (which may itself be a generator): a plain generator is used up after one pass.
#
# Then `load_and_preprocess(raw, batch_size=64, validation_size=0.1, seed=0) -> Splits`:
# - scale to float32 in [0, 1] and flatten to (N, H*W); labels become int64 (N,);
# - hold out a validation split: the first `round(validation_size * N)` indices of
#   `np.random.default_rng(seed).permutation(N)` over the training images; the rest is train;
# - batch: return `Splits(train=..., validation=..., test=...)`, each a `Batches` of
#   `(x float32 (B, D), y int64 (B,))`. Only the training split shuffles.
#
# **What TensorFlow 1 does differently here.** A TF1 graph takes its data through
# *placeholders*: at every step, `Session.run(..., feed_dict={placeholder: array})` copies a
# NumPy array in. So the data never has to be a tensor: preprocessing is plain NumPy, and the
# batching loop is a Python iterator you write yourself. (TF1 also had `tf.data`, wired into the
# graph through iterator ops; `feed_dict` is the classic, simplest pattern.)

# %% course="solution" id="load_and_preprocess" reference="solutions.tf1_pipeline:Batches,load_and_preprocess"

# %% course="tests" id="load_and_preprocess_tests" points=3 step="load_and_preprocess"

# %% [markdown]
# ## Step 3 — `build_model`: the network as a graph
#
# The model is the bundle `GraphModel(graph, inputs, labels, logits, session)` given below, with
# `count_parameters`. The grader feeds `inputs` and fetches `logits` of the model you train, so
# keep this contract.
#
# Write `dense(x, units, name, activation=None) -> tf.Tensor`: a fully connected layer from raw
# variables, `activation(x @ kernel + bias)`. Inside `v1.variable_scope(name)`, create with
# `v1.get_variable` a `kernel` of shape (x.shape[-1], units), initialised by
# `v1.glorot_uniform_initializer()`, and a `bias` of shape (units,), initialised by
# `v1.zeros_initializer()`; the layer's variables are then `<name>/kernel` and `<name>/bias`.
#
# Write `build_model(input_dim, num_classes=10, hidden_units=128, seed=0) -> GraphModel`: an MLP
# in a new graph: placeholders (None, input_dim) -> ReLU hidden -> (None, num_classes) logits.
# - Create a new `tf.Graph()` and build everything inside `with graph.as_default():`, starting
#   with the graph-level seed `v1.set_random_seed(seed)`.
# - Placeholders (`v1.placeholder`) named `"inputs"`, float32 (None, input_dim), and `"labels"`,
#   int64 (None,).
# - Layers: `dense` named `"hidden"` (`hidden_units`, ReLU), then `dense` named `"logits"`
#   (`num_classes`, no activation: the loss applies the softmax).
#   Unlike TF1's classic MNIST tutorial (`y = tf.nn.softmax(...)`), `logits` holds no softmax: raw logits.
# - Open `v1.Session(graph=graph, config=tensorflow_session_config())`. Do not initialise the
#   variables here; step 6 does.
#
# **What TensorFlow 1 does differently here.** Building the model computes nothing. Each call
# adds operations to the graph and returns a *symbolic* `tf.Tensor`: a handle to a value that
# exists only while `Session.run` executes. Placeholders are the graph's inputs; their `None`
# dimension lets one graph take any batch size. Variables are declared in the graph, but their
# values live in a session and do not exist until an initializer op runs there. The graph is
# built once; calling `build_model` or `dense` again adds a second copy of every op.

# %% course="given" reference="solutions.tf1_pipeline:GraphModel,count_parameters"

# %% course="solution" id="build_model" reference="solutions.tf1_pipeline:dense,build_model"

# %% course="tests" id="build_model_tests" points=2 step="build_model"

# %% [markdown]
# ## Step 4 — `make_loss_and_optimizer`: what to minimise, and how
#
# Write `make_loss_and_optimizer(model, learning_rate=1e-3) -> (loss, train_op)`: add to
# `model.graph` the mean cross-entropy of `model.logits` against `model.labels` (a float32 scalar
# tensor) and an Adam update op. Useful: `tf.nn.sparse_softmax_cross_entropy_with_logits` (it
# takes integer labels and raw logits), `tf.reduce_mean`, `v1.train.AdamOptimizer(...).minimize`. Not
# `-tf.reduce_sum(y_ * tf.log(y))`, the classic tutorial's loss: that expects probabilities, not raw logits.
# Work inside `with model.graph.as_default():`, or the new ops land in another graph and
# TensorFlow refuses to mix them with the model's tensors.
#
# **What TensorFlow 1 does differently here.** `minimize(loss)` differentiates the graph
# symbolically, once, now: it adds the gradient ops, Adam's slot variables (two moment estimates
# per weight) and the update ops, and returns one op that does a whole training step each time
# it is run. Nothing is trained yet, and the new slot variables need initialising too.

# %% course="solution" id="make_loss_and_optimizer" reference="solutions.tf1_pipeline:make_loss_and_optimizer"

# %% course="tests" id="make_loss_and_optimizer_tests" points=2 step="make_loss_and_optimizer"

# %% [markdown]
# ## Step 5 — `accuracy`: a metric in the graph
#
# Write `accuracy(logits, labels) -> tf.Tensor`: add to the graph (the one `logits` belongs to,
# `logits.graph`) the fraction of rows whose argmax equals the label: a float32 scalar tensor.
# `labels` may come in any integer dtype; `tf.argmax` returns int64. Useful: `tf.argmax`,
# `tf.equal`, `tf.cast`, `tf.reduce_mean`.
#
# **What TensorFlow 1 does differently here.** The function returns a tensor, not a number. To
# get the number you run it: `session.run(acc, feed_dict={inputs: x, labels: y})`. So build the
# accuracy op once and run it many times; calling `accuracy` inside a loop would grow the graph
# on every iteration.

# %% course="solution" id="accuracy" reference="solutions.tf1_pipeline:accuracy"

# %% course="tests" id="accuracy_tests" points=1 step="accuracy"

# %% [markdown]
# ## Step 6 — `train`: run the update op, batch after batch
#
# Write `train(model, loss, train_op, batches, epochs=10) -> list[float]`: initialise the
# variables, then run `train_op` once per batch, `epochs` passes over `batches`; return the loss
# of every step as Python floats (`epochs * len(batches)` of them). Initialise with
# `v1.global_variables_initializer()`, created inside the model's graph and run in
# `model.session`. Fetch the update and the loss in the same `run` call, so each recorded loss
# belongs to the batch that produced the update.
#
# **What TensorFlow 1 does differently here.** The loop is Python, but each step is a single call
# into TensorFlow's runtime: the fetches say which ops to run, `feed_dict` fills the placeholders,
# and only the ops the fetches depend on execute. The initializer runs here, after step 4 created
# Adam's slot variables; running it again would reset every weight to its initial value.

# %% course="solution" id="train" reference="solutions.tf1_pipeline:train"

# %% course="tests" id="train_tests" points=3 step="train"

# %% [markdown]
# ## Step 7 — `report`: accuracy on train and test
#
# Write `report(model, splits) -> {"train_accuracy": float, "test_accuracy": float}`: accuracy of
# the trained graph on the train and test splits. Build one accuracy op with your `accuracy`,
# run it batch by batch, and weight each batch by its size: the last batch may be smaller.
#
# **What TensorFlow 1 does differently here.** Evaluation is the same graph in the same session
# with different data fed in, and only the accuracy op fetched. Since `train_op` is not fetched,
# no weight changes.

# %% course="solution" id="report" reference="solutions.tf1_pipeline:report"

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
    loss, train_op = make_loss_and_optimizer(model, learning_rate=HP.learning_rate)
    history = train(model, loss, train_op, splits.train, epochs=HP.epochs)
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
# Put this notebook side by side with your TensorFlow 2 and PyTorch versions: the seven steps
# have the same names, in the same order. For each step, note where the graph is (built once,
# here), where the gradients come from (`minimize`, at build time), how data reaches the model
# (`feed_dict`) and who holds the weights (the `Session`). The `framework_comparison` assignment
# builds on these notes: it runs one model in all three frameworks from the same weights, and
# contrasts static and dynamic graphs on inputs of different lengths.
