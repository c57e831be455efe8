# ---
# jupyter:
#   kernelspec:
#     name: tf-pytorch-course
#     display_name: "Python 3 (TF + PyTorch course)"
#     language: python
# ---

# %% [markdown]
# # The pipeline in TensorFlow 2: eager tensors, `tf.data`, Keras and `tf.function`
#
# You will build a complete image classifier in seven steps: get the data, turn it into batches,
# define a small neural network (a multilayer perceptron: one ReLU hidden layer), attach a loss
# and an optimizer, measure accuracy, train, and report. You build the same pipeline, with the
# same function names, in TensorFlow 1 and in PyTorch, and then compare the three.
#
# TensorFlow 2 runs *eagerly*: every operation computes its result as soon as the line runs,
# like NumPy, with no graph or session to manage. Where speed matters, `tf.function` traces a
# Python function into a graph once and reuses it.
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
# | 3 `build_model` | `build_model` | 2 |
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
check = StepChecks("tf2", DATASET)  # the self-checks; loads TensorFlow quietly, seeds, picks the device

import numpy as np
import tensorflow as tf

from course.data import RawData, load_dataset
from course.pipeline import HYPERPARAMETERS, Splits

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
# **What TensorFlow 2 does differently here.** Nothing yet: all three frameworks start from the
# same NumPy arrays. The difference is where the arrays go next: here, into a `tf.data` input
# pipeline.

# %% course="solution" id="download" reference="solutions.tf2_pipeline:download"

# %% course="tests" id="download_tests" points=1 step="download"

# %% [markdown]
# ## Step 2 — `load_and_preprocess`: scale, flatten, split, batch
#
# Write `load_and_preprocess(raw, batch_size=64, validation_size=0.1, seed=0) -> Splits`:
# - scale to float32 in [0, 1] and flatten to (N, H*W); labels become int64 (N,);
# - hold out `round(validation_size * N)` of the training images, chosen at random (seeded), as
#   the validation split; the rest is train;
# - batch: return `Splits(train=..., validation=..., test=...)`, each a `tf.data.Dataset` of
#   `(x float32 (B, D), y int64 (B,))`; the training split is reshuffled (seeded) every epoch.
#
# Useful: `tf.cast`, `tf.reshape`, `tf.data.Dataset.from_tensor_slices`, and the dataset methods
# `shuffle`, `take`, `skip`, `batch`, `prefetch(tf.data.AUTOTUNE)`. A dataset's `shuffle(n,
# seed=seed)` also depends on the global seed, so set it: `tf.random.set_seed(seed)`. Watch out:
# by default `shuffle` draws a new order on every pass. Shuffle once with
# `reshuffle_each_iteration=False` before `take`/`skip`, or each epoch would split differently
# and validation images would leak into training.
#
# **What TensorFlow 2 does differently here.** `tf.data` describes the input pipeline as a chain
# of transformations that runs lazily, in TensorFlow's C++ runtime, when you iterate over it
# (`prefetch` prepares the next batch while the current one trains). A `Dataset` is
# re-iterable: every `for` loop over it is a new pass. Compare TF1, where you batched NumPy
# arrays in Python and fed them through `feed_dict`.

# %% course="solution" id="load_and_preprocess" reference="solutions.tf2_pipeline:load_and_preprocess"

# %% course="tests" id="load_and_preprocess_tests" points=3 step="load_and_preprocess"

# %% [markdown]
# ## Step 3 — `build_model`: the network as Keras layers
#
# Write `build_model(input_dim, num_classes=10, hidden_units=128, seed=0) -> tf.keras.Model`: an
# MLP, (B, input_dim) float32 -> ReLU hidden -> (B, num_classes) logits.
# - Seed first: `tf.keras.utils.set_random_seed(seed)` (it seeds Python, NumPy and TensorFlow).
# - A `tf.keras.Sequential` of `tf.keras.Input(shape=(input_dim,))`, a `Dense` layer named
#   `"hidden"` (`hidden_units`, ReLU) and a `Dense` layer named `"logits"` (`num_classes`, no
#   activation: the loss applies the softmax).
# - Unlike many Keras tutorials, no `activation="softmax"` at the end: raw logits, not probabilities.
#
# `count_parameters`, given below, counts the trainable scalars.
#
# **What TensorFlow 2 does differently here.** A Keras layer owns its variables (`kernel`,
# `bias`) and creates them, initialised, as soon as it knows its input size; declaring the
# `Input` shape builds them now. The model is a callable: `model(x)` computes the logits right
# away and returns a concrete tensor you can print. There are no placeholders, no session and no
# initializer to run.

# %% course="given" reference="solutions.tf2_pipeline:count_parameters"

# %% course="solution" id="build_model" reference="solutions.tf2_pipeline:build_model"

# %% course="tests" id="build_model_tests" points=2 step="build_model"

# %% [markdown]
# ## Step 4 — `make_loss_and_optimizer`: what to minimise, and how
#
# Write `make_loss_and_optimizer(model, learning_rate=1e-3) -> (loss, optimizer)`: mean
# cross-entropy on logits, called as `loss(labels, logits)`, and Adam over the model. Useful:
# `tf.keras.losses.SparseCategoricalCrossentropy` (integer labels; tell it the predictions are
# logits: `from_logits=True`; without it, it expects probabilities), `tf.keras.optimizers.Adam`.
# Then call `optimizer.build(model.trainable_variables)`, so Adam creates its state (two moment
# estimates per weight) now rather than inside the first training step.
#
# **What TensorFlow 2 does differently here.** The loss is a callable object that computes when
# called, not a tensor in a graph; the optimizer is a separate object. Nothing links them to the
# model's gradients until `train` computes those gradients and hands them to the optimizer. Note
# the argument order: Keras losses take `(labels, predictions)`; PyTorch's take
# `(predictions, labels)`.

# %% course="solution" id="make_loss_and_optimizer" reference="solutions.tf2_pipeline:make_loss_and_optimizer"

# %% course="tests" id="make_loss_and_optimizer_tests" points=2 step="make_loss_and_optimizer"

# %% [markdown]
# ## Step 5 — `accuracy`: a metric, computed now
#
# Write `accuracy(logits, labels) -> tf.Tensor`: the fraction of rows whose argmax equals the
# label: a float32 scalar, computed now. `labels` may come in any integer dtype; `tf.argmax`
# returns int64. Useful: `tf.argmax`, `tf.equal`, `tf.cast`, `tf.reduce_mean`.
# A `tf.keras.metrics` object keeps a running total across calls: make a new one in each call, or none.
#
# **What TensorFlow 2 does differently here.** The ops are the same as in TF1, but they run as
# the line runs: the result is a concrete scalar tensor, and `float(result)` or
# `result.numpy()` gives the number. Inside a `tf.function` the same code would be traced into
# a graph instead.

# %% course="solution" id="accuracy" reference="solutions.tf2_pipeline:accuracy"

# %% course="tests" id="accuracy_tests" points=1 step="accuracy"

# %% [markdown]
# ## Step 6 — `train`: `GradientTape` steps, traced by `tf.function`
#
# Write `train(model, loss, optimizer, batches, epochs=10) -> list[float]`: run one
# `GradientTape` step per batch, `epochs` passes over `batches`; return the loss of every step as
# Python floats (`epochs` × the number of batches): one loss per step, not per epoch (the
# `logs["loss"]` that `model.fit` gives a callback is the epoch's running mean, not the batch's
# loss). One step: under a `tf.GradientTape`, compute the loss of `model(x, training=True)`; take
# the gradients of that loss with respect to `model.trainable_variables` (`tape.gradient`); apply
# them (`optimizer.apply_gradients`).
# Define the step as a function inside `train`, decorated with `@tf.function`
# (`reduce_retracing=True` avoids a new trace for every batch size), and let it return the loss.
#
# **What TensorFlow 2 does differently here.** The tape records the operations run eagerly inside
# its `with` block and differentiates them afterwards: gradients are computed anew at every step,
# as in PyTorch, not added to a graph once, as TF1's `minimize` did. `tf.function` traces the
# Python function the first time it sees a new input signature (shapes and dtypes) and runs the
# resulting graph on later calls: eager code, graph speed. Python side effects such as `print` or
# `list.append` run only while tracing, so return the loss and record it outside the function.

# %% course="solution" id="train" reference="solutions.tf2_pipeline:train"

# %% course="tests" id="train_tests" points=3 step="train"

# %% [markdown]
# ## Step 7 — `report`: accuracy on train and test
#
# Write `report(model, splits) -> {"train_accuracy": float, "test_accuracy": float}`: accuracy of
# the trained model on the train and test splits. Iterate over each split, call
# `model(x, training=False)` and your `accuracy`, and weight each batch by its size: the last
# batch may be smaller.
#
# **What TensorFlow 2 does differently here.** You iterate over the `Dataset` and call the model
# directly: no session, nothing fed. `training=False` tells layers that behave differently in
# training (dropout, batch normalisation) to run in inference mode; this MLP has none, but say
# what you mean.

# %% course="solution" id="report" reference="solutions.tf2_pipeline:report"

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
# Put this notebook side by side with your TensorFlow 1 and PyTorch versions: the seven steps
# have the same names, in the same order. For each step, note where the graph is (traced by
# `tf.function`), where the gradients come from (`GradientTape`, at every step), how data
# reaches the model (`tf.data`) and who holds the weights (the Keras layers). The
# `framework_comparison` assignment builds on these notes: it runs one model in all three
# frameworks from the same weights, and contrasts static and dynamic graphs on inputs of
# different lengths.
