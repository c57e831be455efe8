# ---
# jupyter:
#   kernelspec:
#     name: tf-pytorch-course
#     display_name: "Python 3 (TF + PyTorch course)"
#     language: python
# ---

# %% [markdown]
# # Comparing the frameworks: one model, three frameworks, two kinds of graph
#
# You have built the same pipeline three times. This notebook puts the frameworks side by side
# on two questions where they really differ:
#
# **(a) Who holds the weights, and in what layout?** You will run one small MLP,
# D → H (ReLU) → C, in a TensorFlow 1 graph, in Keras (TensorFlow 2) and in PyTorch, all from
# the *same* NumPy weights, and check that the three give the same logits. That needs functions
# that copy weights between NumPy and each framework, minding that the frameworks do not store
# a layer the same way.
#
# **(b) What happens when inputs have different lengths?** A *bag of embeddings* (the mean of a
# sequence's token embeddings, then a linear layer) classifies sequences of token ids. PyTorch
# builds its graph while your code runs, so it can loop over a Python list of sequences of any
# lengths. A TF1 graph is fixed before any data arrives, so the batch must be padded to a
# rectangle and a mask must keep the padding out of the mean. You will show that both give the
# same answer, and see how TensorFlow 2's `tf.function` sits in between.
#
# **(c) Three short written questions** on static and dynamic graphs, graded by hand.
#
# **How to work.** As before: fill in every cell marked `# YOUR CODE HERE` (delete the
# `raise NotImplementedError()`), keep the names and signatures, run the self-check under each
# cell (✓ passed, a red ✗ says what to fix; hidden checks run more cases at grading time), and
# finish with *Kernel > Restart Kernel and Run All Cells* and *Validate*.
#
# | Part | You write | Points |
# |---|---|---|
# | (a) `weights_to_torch` | `numpy_to_torch`, `torch_to_numpy` | 2 |
# | (a) `weights_to_keras` | `numpy_to_keras`, `keras_to_numpy` | 1 |
# | (a) `same_logits` | `tf1_mlp`, `logits_in_three_frameworks` | 2 |
# | (b) `pad_batch` | `pad_batch` | 1 |
# | (b) `static_bag` | `masked_mean`, `static_bag` | 2 |
# | (b) `dynamic_bag` | `TorchBag`, `torch_bag`, `dynamic_bag` | 1 |
# | (c) written answers | three questions | 6 |
# | **Total** | | **15** |

# %% course="setup"
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow is imported: quiet C++ logs

import time
from typing import NamedTuple

import numpy as np
import tensorflow as tf
import torch
from torch import nn

from graders.check.comparison import ComparisonChecks
from course.devices import tensorflow_session_config

v1 = tf.compat.v1
check = ComparisonChecks()

# %% [markdown]
# ## (a) One MLP, three frameworks
#
# **The canonical layout.** All weights in this part travel as a dict of float32 NumPy arrays,
# in TensorFlow's layout:
#
# | name | shape | |
# |---|---|---|
# | `"hidden/kernel"` | (D, H) | (in, out) |
# | `"hidden/bias"` | (H,) | |
# | `"logits/kernel"` | (H, C) | (in, out) |
# | `"logits/bias"` | (C,) | |
#
# so that `logits = relu(x @ hidden/kernel + hidden/bias) @ logits/kernel + logits/bias`.
# `random_weights` makes such a dict; `numpy_mlp` is the ground truth every framework is
# compared with (plain NumPy, computed in float64). `MLP` is the PyTorch model of your PyTorch
# pipeline: two `nn.Linear` layers named `hidden` and `logits`.

# %% course="given" reference="solutions.comparison:random_weights,numpy_mlp"

# %% course="given" reference="solutions.torch_pipeline:MLP"

# %% [markdown]
# ### `weights_to_torch`: NumPy ⇄ PyTorch
#
# Write `numpy_to_torch(weights, module) -> module`: copy the canonical weights into
# `module.hidden` and `module.logits` **in place**, and return `module`. Write
# `torch_to_numpy(module) -> weights`: the reverse, as *new* float32 arrays in the canonical
# layout.
#
# - `nn.Linear(in_features, out_features)` stores `weight` as **(out_features, in_features)**
#   and computes `x @ weight.T + bias`: its weight is the *transpose* of the canonical kernel.
#   With a square layer (D = H) a forgotten transpose raises no error: only the values are wrong.
#   `reshape` is not a transpose either.
# - Copy into the existing parameters (`parameter.copy_(tensor)`) rather than replacing them:
#   an optimizer built on the module holds the old objects. The copy must not be recorded by
#   autograd: do it inside `with torch.no_grad():`. `copy_` also casts (NumPy's float64 to the
#   parameter's float32) and moves to the parameter's device.
# - Reading out: `.detach()` (leave autograd), `.cpu()` (leave the GPU), `.numpy()`. On the CPU
#   `.numpy()` *shares memory* with the tensor, and `.T` is a view: without a `.copy()`, training
#   the module later would silently change your "copy".
#
# Useful: `torch.as_tensor(array)`, `getattr(module, "hidden")`.

# %% course="solution" id="weights_to_torch" reference="solutions.comparison:numpy_to_torch,torch_to_numpy"

# %% course="tests" id="weights_to_torch_tests" points=2 step="weights_to_torch"

# %% [markdown]
# ### `weights_to_keras`: NumPy ⇄ Keras
#
# Write `numpy_to_keras(weights, model) -> model` and `keras_to_numpy(model) -> weights`, for a
# Keras model whose `Dense` layers are named `"hidden"` and `"logits"`
# (`model.get_layer("hidden")`; each has `.kernel` and `.bias`).
#
# - Keras keeps the kernel as **(in, out)**, like the canonical layout: no transpose here.
# - Write into the existing variables (`variable.assign(array)`, or
#   `layer.set_weights([kernel, bias])`); read them with `.numpy()` and return copies.

# %% course="solution" id="weights_to_keras" reference="solutions.comparison:numpy_to_keras,keras_to_numpy"

# %% course="tests" id="weights_to_keras_tests" points=1 step="weights_to_keras"

# %% [markdown]
# ### `same_logits`: the same numbers from three frameworks
#
# `tf2_mlp(weights)` and `torch_mlp(weights)` below build the Keras and PyTorch models and copy
# the weights in with your functions. The TF1 version is yours:
#
# Write `tf1_mlp(weights) -> TF1MLP(graph, inputs, logits, session)`: the MLP in a new
# `tf.Graph()`, with a float32 placeholder `inputs` of shape (None, D), `logits` (None, C), and
# trainable variables that *start at* the given arrays: `v1.get_variable(name, initializer=array)`
# inside `v1.variable_scope("hidden")` and `v1.variable_scope("logits")`. Open
# `v1.Session(graph=graph, config=tensorflow_session_config())` and run
# `v1.global_variables_initializer()` in it before returning: until then the variables have no
# value.
#
# Write `logits_in_three_frameworks(weights, x) -> {"tf1": ..., "tf2": ..., "torch": ...}`: the
# logits of `x` (float32 (B, D)) from each framework, as float32 NumPy arrays (B, C). Close the
# TF1 session when done; run PyTorch under `torch.no_grad()`.
#
# They should agree with `numpy_mlp` to about 1e-6 (the checks allow rtol 1e-4, atol 1e-5):
# the same arithmetic, summed in different orders. (On a GPU the checks switch off
# TensorFloat-32, which would otherwise round matrix products to about 1e-3.)

# %% course="given" reference="solutions.comparison:TF1MLP,tf2_mlp,torch_mlp"

# %% course="solution" id="same_logits" reference="solutions.comparison:tf1_mlp,logits_in_three_frameworks"

# %% course="tests" id="same_logits_tests" points=2 step="same_logits"

# %% [markdown]
# The three side by side, on four inputs (nothing to write here):

# %% course="setup"
with check.guard("the three frameworks side by side"):
    demo_weights = random_weights(6, 5, 3, seed=0)
    demo_x = np.random.default_rng(0).normal(size=(4, 6)).astype(np.float32)
    truth = numpy_mlp(demo_weights, demo_x)
    for framework, values in logits_in_three_frameworks(demo_weights, demo_x).items():
        print(f"{framework:>5}  first row {np.array2string(values[0], precision=5)}"
              f"   max |difference| from NumPy {np.abs(values - truth).max():.1e}")

# %% [markdown]
# ## (b) Inputs of different lengths
#
# A batch of sequences of token ids, e.g. `[[3, 1, 4, 1, 5], [9, 2], [6, 0, 5]]`, with a
# vocabulary of V tokens. The *bag of embeddings* looks up each token's embedding (a row of an
# (V, E) table), averages them over the sequence, and maps the mean to C logits with a linear
# layer. Its weights: `"embedding"` (V, E), `"logits/kernel"` (E, C), `"logits/bias"` (C,);
# `numpy_bag` is the ground truth.
#
# The mean of a sequence does not depend on the other sequences in the batch, nor on padding:
# that is what the static and the dynamic versions below must both respect.

# %% course="given" reference="solutions.comparison:bag_weights,numpy_bag"

# %% [markdown]
# ### `pad_batch`: a rectangle and a mask
#
# Write `pad_batch(sequences, pad_id=0, max_len=None) -> (ids, mask)`: ids int64 (B, T) with
# row i holding sequence i and then `pad_id` up to T; mask float32 (B, T), 1.0 on real tokens and
# 0.0 on padding. T is `max_len`, or the longest sequence's length when `max_len` is None; a
# sequence longer than `max_len` raises `ValueError` (it would not fit the graph's placeholder,
# and cutting it silently would change the answer).
#
# Build the mask from the *lengths*, not from `ids != pad_id`: id 0 is usually a real token too.

# %% course="solution" id="pad_batch" reference="solutions.comparison:pad_batch"

# %% course="tests" id="pad_batch_tests" points=1 step="pad_batch"

# %% [markdown]
# ### `static_bag`: the TF1 graph over padded batches
#
# A TF1 graph is built once, before any data arrives; a Python loop over the sequences of a
# batch cannot be part of it. So the graph takes the padded rectangle: placeholders `ids`
# int64 (None, max_len) and `mask` float32 (None, max_len).
#
# Write `masked_mean(embedded, mask) -> tf.Tensor`: embedded float32 (B, T, E), mask float32
# (B, T) → (B, E), the mean over the real positions only: the sum of `embedded * mask` over T
# divided by each row's number of real tokens, the sum of `mask` over T. Use TensorFlow ops only
# and no static T (it may be None), so the same function works in a TF1 graph, eagerly, and in a
# `tf.function`. Useful: `mask[:, :, tf.newaxis]` (broadcasts over E), `tf.reduce_sum(...,
# axis=1)` (with `keepdims=True` where it helps).
#
# Write `static_bag(weights, max_len) -> BagGraph(graph, ids, mask, logits, session)`: in a new
# graph, the two placeholders, variables `embedding`, `logits/kernel`, `logits/bias` initialised
# from `weights`, `tf.nn.embedding_lookup(embedding, ids)` (B, T, E), your `masked_mean`, then
# the linear layer; an initialised session as in `tf1_mlp`. `run_static_bag` (given) pads a list
# of sequences with your `pad_batch` and feeds them.

# %% course="given" reference="solutions.comparison:BagGraph,run_static_bag"

# %% course="solution" id="static_bag" reference="solutions.comparison:masked_mean,static_bag"

# %% course="tests" id="static_bag_tests" points=2 step="static_bag"

# %% [markdown]
# ### `dynamic_bag`: PyTorch loops over the sequences
#
# PyTorch records the graph while `forward` runs, so `forward` may be plain Python over a list of
# sequences of different lengths: no padding, no mask.
#
# Write the class `TorchBag(vocab_size, embed_dim, num_classes)`: layers `self.embedding`
# (`nn.Embedding`, weight (V, E)) and `self.logits` (`nn.Linear`, E → C); `forward(sequences)`
# takes a list of B int64 tensors of shapes (T_i,) and returns logits (B, C): for each sequence
# the mean of its embeddings over dim 0, stacked (`torch.stack`), then `self.logits`. Stay in
# torch, so that autograd can differentiate through the loop.
#
# Write `torch_bag(weights) -> TorchBag` with the weights copied in (the embedding table is
# (V, E) in both layouts; the linear weight is transposed, as in `numpy_to_torch`), and
# `dynamic_bag(weights, sequences) -> np.ndarray` float32 (B, C): the `torch_bag`'s logits for a
# list of sequences (lists, tuples or arrays of ids), under `torch.no_grad()`.

# %% course="solution" id="dynamic_bag" reference="solutions.comparison:TorchBag,torch_bag,dynamic_bag"

# %% course="tests" id="dynamic_bag_tests" points=1 step="dynamic_bag"

# %% [markdown]
# Static (padded + masked) and dynamic (a loop, no padding) side by side:

# %% course="setup"
with check.guard("static vs dynamic"):
    bag = bag_weights(seed=0)
    sequences = [[3, 1, 4, 1, 5], [9, 2], [6, 0, 5]]
    ids, mask = pad_batch(sequences, max_len=6)
    print("padded ids:\n", ids, "\nmask:\n", mask)
    graph_model = static_bag(bag, max_len=6)
    static = run_static_bag(graph_model, sequences)
    graph_model.session.close()
    dynamic = dynamic_bag(bag, sequences)
    for row, (a, b) in enumerate(zip(static, dynamic)):
        print(f"sequence {row}: static {np.array2string(a, precision=5)}  dynamic {np.array2string(b, precision=5)}")
    print(f"max |static - dynamic| = {np.abs(static - dynamic).max():.1e}")

# %% [markdown]
# ### In between: TensorFlow 2's `tf.function`
#
# `tf.function` runs your Python function once to *trace* it into a graph, then reuses that
# graph for every call with the same input signature (dtypes and shapes). Python code inside it,
# such as a counter, runs only while tracing. `count_traces` calls one traced bag on padded
# batches of several widths T: without an `input_signature` every new width is a new signature,
# so a new trace; with the signature `(None, None)` one graph serves every width.
# `seconds_per_batch` times the same batches five ways. Nothing to write: run, read, and use the
# numbers in your answers below.

# %% course="given" reference="solutions.comparison:count_traces,seconds_per_batch"

# %% course="setup"
with check.guard("tracing and timing"):
    widths = [3, 5, 7, 5, 3]
    print(f"widths {widths}: traces without a signature: {count_traces(bag, widths, with_signature=False)}, "
          f"with input_signature (None, None): {count_traces(bag, widths, with_signature=True)}")
    rng = np.random.default_rng(0)
    batches = [[rng.integers(0, 12, rng.integers(1, 9)).tolist() for _ in range(32)] for _ in range(30)]
    for name, seconds in seconds_per_batch(bag, batches, max_len=8).items():
        print(f"{name:<40} {1000 * seconds:8.2f} ms per batch")

# %% [markdown]
# ## (c) Static and dynamic graphs: three questions
#
# Answer each in a few sentences (about 50–120 words), in your own words, in the cell under the
# question. Refer to what you built and measured above where it helps.

# %% [markdown] course="answer" id="q_variable_length" points=2
# **Q1 (2 points). Variable-length inputs.** Your PyTorch bag looped over a list of sequences;
# your TF1 bag needed `pad_batch` and a mask. Why can the TF1 graph not take the list as it is,
# what does padding cost, and what does the mask guarantee?
#
# ### BEGIN SOLUTION
# **Model answer.** A TF1 graph is built once, before any data, from fixed operations on tensors
# of declared dtype and rank; a Python loop whose trip count and shapes depend on the data cannot
# be part of it (it would run once, at build time). So the ragged batch is turned into one
# rectangle (B, max_len): every sequence padded with a pad id up to a length fixed when the graph
# is built (longer ones must be rejected or truncated). Padding costs compute and memory on
# positions that carry no information (much of it when lengths vary widely), and fixes max_len
# in advance. The mask (1 on real tokens, 0 on padding) makes the padded positions contribute
# nothing to the sum and not count in the divisor, so the mean, and the logits, equal the
# unpadded (dynamic) result exactly, whatever the pad id embeds to. PyTorch records a new graph
# per call, so each sequence keeps its own length.
#
# **Rubric.** 2 points: says the static graph is fixed before the data (no data-dependent
# Python loop / shapes inside it) **and** names a cost of padding (wasted compute or memory on
# pad positions, or max_len fixed / truncation) **and** says the mask removes padding from both
# the sum and the count so the result equals the unpadded one. 1 point: two of the three, or
# all three with a clear error (e.g. "the mask only zeroes the pads" with the divisor still T).
# 0: none, or only restates that TF1 needs padding.
# ### END SOLUTION

# %% [markdown] course="answer" id="q_debugging" points=2
# **Q2 (2 points). Inspecting and debugging.** Suppose the mean came out wrong. How would you
# look at the intermediate value (the (B, E) mean) in your TF1 graph, and how in PyTorch? Where
# does a shape error show up in each, and what does that mean for finding the bug?
#
# ### BEGIN SOLUTION
# **Model answer.** In TF1, `print(mean)` shows only a symbolic tensor (name, dtype, static shape
# with None), no numbers; to see values you must fetch it, `session.run(mean, feed_dict=...)`,
# or add a `tf.print` op to the graph, and a debugger stepping through `static_bag` only sees
# graph construction. Shape errors appear either at build time (when static shapes clash) or
# at `session.run`, reported against a graph node, with the stack of where the op was
# *defined*, far from the data that caused it. In PyTorch the forward pass is ordinary Python
# running on real tensors: `print(means[0])`, `.shape`, or a breakpoint (pdb) inside `forward`
# shows the values, and an error is raised at the exact line, with the offending shapes, for the
# exact input. Debugging is therefore more direct in the dynamic graph; the static graph can be
# inspected as a whole (ops, shapes, TensorBoard) before running it.
#
# **Rubric.** 2 points: TF1 tensors are symbolic, so values need `session.run` (or `tf.print`),
# **and** PyTorch values can be printed / stepped through with a debugger in `forward`, **and** a
# correct remark on where errors surface (build time or run time at a graph node vs the exact
# Python line). 1 point: the value inspection for both frameworks without the error part, or one
# framework fully right. 0: no correct contrast between the two.
# ### END SOLUTION

# %% [markdown] course="answer" id="q_rebuild_cost" points=2
# **Q3 (2 points). Building the graph every time or once.** PyTorch records a new graph on every
# call; TF1 builds one graph and reuses it; `tf.function` traces once per input signature. Using
# your timing and trace counts above, when is rebuilding the graph each iteration expensive,
# when is it cheap, and what do an `input_signature` with `None` dimensions and padding to one
# `max_len` buy?
#
# ### BEGIN SOLUTION
# **Model answer.** Building a graph (a new TF1 graph and session, or a `tf.function` trace) costs
# milliseconds to tens of milliseconds, far more than running this small model on one batch
# (well under a millisecond): rebuilding it every batch, as "tf1, graph rebuilt every batch"
# does, makes each step tens of times slower, and a `tf.function` that retraces for every new
# shape pays the trace again and again. PyTorch's per-call recording is cheap by design (it only
# records each operation as it runs): its overhead is a small constant per operation. Here the
# Python loop launches a few tiny ops per sequence, so PyTorch is somewhat slower than the graph
# built once, yet far faster than rebuilding; with larger tensors the arithmetic dominates and
# the overhead disappears. Built once and reused, a static graph pays the cost once and can be
# optimised as a whole. An `input_signature` with `None` dimensions (or padding every batch to one max_len)
# keeps one signature, so one trace serves every batch; the price is a more general graph (no
# shape-specific optimisation) or computing on padding.
#
# **Rubric.** 2 points: uses the measurements (or sound orders of magnitude) to say that building
# or tracing costs much more than one run of a small model, so rebuilding per batch or retracing
# per new shape is expensive, while PyTorch's per-call recording is cheap **and** explains that
# `None` dims / a fixed max_len keep one signature, hence one trace. 1 point: one of the two
# parts right, or both with a clear error (e.g. "PyTorch rebuilds and is therefore always
# slower"). 0: neither.
# ### END SOLUTION
