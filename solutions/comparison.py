"""Reference for assignment 4, `framework_comparison`: one model, three frameworks, two kinds of graph.

Part (a): the same MLP, D -> H (ReLU) -> C, in a TF1 graph, in Keras (TF2) and in PyTorch, all
built from one set of NumPy weights, and the copy functions between the layouts. The canonical
layout is TensorFlow's: a dict of float32 arrays

    "hidden/kernel" (D, H)   "hidden/bias" (H,)   "logits/kernel" (H, C)   "logits/bias" (C,)

so that ``logits = relu(x @ hidden/kernel + hidden/bias) @ logits/kernel + logits/bias``.
Keras `Dense` stores the same (in, out) kernel; `nn.Linear` stores its weight as (out, in), the
transpose, and computes ``x @ weight.T + bias``.

Part (b): inputs of different lengths, through a bag of embeddings (the mean of a sequence's token
embeddings, then a linear layer). PyTorch builds its graph while the code runs, so it loops over a
Python list of sequences. A TF1 graph is fixed before any data arrives, so the batch is padded to a
rectangle (B, max_len) and a mask keeps the padding out of the mean; the results are the same.
TF2's `tf.function` sits in between: it traces a graph per input signature.
"""

import time
from typing import NamedTuple

import numpy as np
import tensorflow as tf
import torch
from torch import nn

from course.devices import tensorflow_session_config
from solutions.torch_pipeline import MLP

v1 = tf.compat.v1


# (a) One MLP, three frameworks ------------------------------------------------------------
def random_weights(input_dim: int = 6, hidden_units: int = 5, num_classes: int = 3, seed: int = 0) -> dict:
    """Canonical MLP weights: float32 kernels (in, out) and non-zero biases (out,), from a seeded generator."""
    rng = np.random.default_rng(seed)

    def layer(n_in, n_out):
        kernel = rng.normal(0.0, np.sqrt(2.0 / n_in), (n_in, n_out)).astype(np.float32)
        return kernel, rng.normal(0.0, 0.1, n_out).astype(np.float32)

    (k1, b1), (k2, b2) = layer(input_dim, hidden_units), layer(hidden_units, num_classes)
    return {"hidden/kernel": k1, "hidden/bias": b1, "logits/kernel": k2, "logits/bias": b2}


def numpy_mlp(weights: dict, x: np.ndarray) -> np.ndarray:
    """The ground truth, in plain NumPy (float64 inside): x (B, D) -> logits float32 (B, C)."""
    w = {name: array.astype(np.float64) for name, array in weights.items()}
    hidden = np.maximum(x @ w["hidden/kernel"] + w["hidden/bias"], 0.0)
    return (hidden @ w["logits/kernel"] + w["logits/bias"]).astype(np.float32)


def numpy_to_torch(weights: dict, module: nn.Module) -> nn.Module:
    """Copy canonical weights into `module.hidden` and `module.logits` (`nn.Linear`s), in place; return `module`.

    `nn.Linear.weight` is (out_features, in_features): the transpose of the canonical kernel.
    Copying into the existing parameters keeps them registered (an optimizer built on them
    still sees them), keeps their dtype (float32) and device; `no_grad` because autograd
    must not record the copy.
    """
    with torch.no_grad():
        for name in ("hidden", "logits"):
            linear = getattr(module, name)
            linear.weight.copy_(torch.as_tensor(weights[f"{name}/kernel"]).T)
            linear.bias.copy_(torch.as_tensor(weights[f"{name}/bias"]))
    return module


def torch_to_numpy(module: nn.Module) -> dict:
    """Canonical weights (new float32 arrays, kernel (in, out)) read from `module.hidden` and `module.logits`.

    `detach` leaves autograd, `cpu` leaves the GPU, `.T` undoes nn.Linear's (out, in), and `copy`
    matters: on the CPU `.numpy()` shares memory with the parameter, so later training would
    silently change the "copy".
    """
    weights = {}
    for name in ("hidden", "logits"):
        linear = getattr(module, name)
        weights[f"{name}/kernel"] = linear.weight.detach().cpu().numpy().T.copy()
        weights[f"{name}/bias"] = linear.bias.detach().cpu().numpy().copy()
    return weights


def numpy_to_keras(weights: dict, model: tf.keras.Model) -> tf.keras.Model:
    """Copy canonical weights into the `Dense` layers named "hidden" and "logits", in place; return `model`.

    Keras keeps the kernel as (in, out), the canonical layout: no transpose. `assign` writes
    into the existing variables (and casts to their float32).
    """
    for name in ("hidden", "logits"):
        layer = model.get_layer(name)
        layer.kernel.assign(weights[f"{name}/kernel"])
        layer.bias.assign(weights[f"{name}/bias"])
    return model


def keras_to_numpy(model: tf.keras.Model) -> dict:
    """Canonical weights (new float32 arrays) read from the `Dense` layers "hidden" and "logits"."""
    weights = {}
    for name in ("hidden", "logits"):
        layer = model.get_layer(name)
        weights[f"{name}/kernel"] = np.array(layer.kernel.numpy(), dtype=np.float32)
        weights[f"{name}/bias"] = np.array(layer.bias.numpy(), dtype=np.float32)
    return weights


class TF1MLP(NamedTuple):
    """A TF1 graph of the MLP and the handles to feed and fetch it."""

    graph: tf.Graph
    inputs: tf.Tensor  # placeholder float32 (None, D)
    logits: tf.Tensor  # float32 (None, C)
    session: v1.Session  # variables already initialised from the weights


def tf1_mlp(weights: dict) -> TF1MLP:
    """The MLP as a new TF1 graph whose trainable variables start at `weights`, in an initialised session.

    The variables get the canonical names ("hidden/kernel", ...) from their variable scopes. Each
    one's initializer is its array (stored in the graph, fine for a small model); the variables
    hold no value until the session runs those initializers.
    """
    graph = tf.Graph()
    with graph.as_default():
        input_dim = weights["hidden/kernel"].shape[0]
        inputs = v1.placeholder(tf.float32, (None, input_dim), name="inputs")
        x = inputs
        for name in ("hidden", "logits"):
            with v1.variable_scope(name):
                kernel = v1.get_variable("kernel", initializer=weights[f"{name}/kernel"].astype(np.float32))
                bias = v1.get_variable("bias", initializer=weights[f"{name}/bias"].astype(np.float32))
            x = tf.matmul(x, kernel) + bias
            if name == "hidden":
                x = tf.nn.relu(x)
        session = v1.Session(graph=graph, config=tensorflow_session_config())
        session.run(v1.global_variables_initializer())
    return TF1MLP(graph, inputs, x, session)


def tf2_mlp(weights: dict) -> tf.keras.Model:
    """The MLP in Keras, (B, D) float32 -> (B, C) logits, with `weights` copied in."""
    (input_dim, hidden_units), num_classes = weights["hidden/kernel"].shape, weights["logits/kernel"].shape[1]
    model = tf.keras.Sequential(
        [
            tf.keras.Input(shape=(input_dim,)),
            tf.keras.layers.Dense(hidden_units, activation="relu", name="hidden"),
            tf.keras.layers.Dense(num_classes, name="logits"),
        ]
    )
    return numpy_to_keras(weights, model)


def torch_mlp(weights: dict) -> nn.Module:
    """The course's PyTorch `MLP` (on the CPU), with `weights` copied in."""
    (input_dim, hidden_units), num_classes = weights["hidden/kernel"].shape, weights["logits/kernel"].shape[1]
    return numpy_to_torch(weights, MLP(input_dim, num_classes, hidden_units))


def logits_in_three_frameworks(weights: dict, x: np.ndarray) -> dict[str, np.ndarray]:
    """Logits of `x` float32 (B, D) from the same weights in each framework: {"tf1", "tf2", "torch"} -> float32 (B, C).

    They agree to about 1e-6: same arithmetic, summed in different orders.
    """
    model = tf1_mlp(weights)
    try:
        tf1 = model.session.run(model.logits, feed_dict={model.inputs: x})
    finally:
        model.session.close()
    tf2 = tf2_mlp(weights)(x, training=False).numpy()
    with torch.no_grad():
        pytorch = torch_mlp(weights)(torch.as_tensor(x)).cpu().numpy()
    return {"tf1": tf1, "tf2": tf2, "torch": pytorch}


# (b) Inputs of different lengths ----------------------------------------------------------
def bag_weights(vocab_size: int = 12, embed_dim: int = 4, num_classes: int = 3, seed: int = 0) -> dict:
    """Bag-of-embeddings weights: "embedding" (V, E), "logits/kernel" (E, C), "logits/bias" (C,), float32."""
    rng = np.random.default_rng(seed)
    return {
        "embedding": rng.normal(0.0, 1.0, (vocab_size, embed_dim)).astype(np.float32),
        "logits/kernel": rng.normal(0.0, np.sqrt(1.0 / embed_dim), (embed_dim, num_classes)).astype(np.float32),
        "logits/bias": rng.normal(0.0, 0.1, num_classes).astype(np.float32),
    }


def numpy_bag(weights: dict, sequences) -> np.ndarray:
    """The ground truth: B sequences of token ids (lengths T_i >= 1) -> logits float32 (B, C)."""
    embedding = weights["embedding"].astype(np.float64)
    means = np.stack([embedding[np.asarray(ids, dtype=np.int64)].mean(axis=0) for ids in sequences])
    return (means @ weights["logits/kernel"].astype(np.float64) + weights["logits/bias"]).astype(np.float32)


def pad_batch(sequences, pad_id: int = 0, max_len: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pad B sequences of token ids to one rectangle: ids int64 (B, T) and mask float32 (B, T).

    T is `max_len`, or the longest sequence when it is None; a sequence longer than `max_len`
    raises ValueError. Row i holds sequence i, then `pad_id` up to T; the mask is 1.0 on the
    real tokens and 0.0 on the padding. The mask comes from the lengths, not from
    ``ids != pad_id``: `pad_id` may also be a real token.
    """
    lengths = [len(ids) for ids in sequences]
    width = max(lengths) if max_len is None else max_len
    if max(lengths) > width:
        raise ValueError(f"a sequence of length {max(lengths)} does not fit max_len={width}")
    ids = np.full((len(sequences), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(sequences), width), dtype=np.float32)
    for row, (sequence, length) in enumerate(zip(sequences, lengths)):
        ids[row, :length] = sequence
        mask[row, :length] = 1.0
    return ids, mask


def masked_mean(embedded: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Mean over the real positions only: embedded float32 (B, T, E), mask float32 (B, T) -> (B, E).

    TensorFlow ops only, and no static T, so it works in a TF1 graph, eagerly and in a tf.function.
    """
    mask = mask[:, :, tf.newaxis]  # (B, T, 1): broadcasts over the embedding axis
    return tf.reduce_sum(embedded * mask, axis=1) / tf.reduce_sum(mask, axis=1)


class BagGraph(NamedTuple):
    """A TF1 graph of the bag of embeddings and the handles to feed and fetch it."""

    graph: tf.Graph
    ids: tf.Tensor  # placeholder int64 (None, max_len)
    mask: tf.Tensor  # placeholder float32 (None, max_len)
    logits: tf.Tensor  # float32 (None, C)
    session: v1.Session  # variables already initialised from the weights


def static_bag(weights: dict, max_len: int) -> BagGraph:
    """The bag of embeddings as a TF1 graph over padded batches (None, max_len), initialised from `weights`.

    The graph is fixed before any data arrives: it cannot loop over a Python list of sequences,
    so the batch comes in as one padded rectangle and the mask keeps the padding out of the mean.
    """
    graph = tf.Graph()
    with graph.as_default():
        ids = v1.placeholder(tf.int64, (None, max_len), name="ids")
        mask = v1.placeholder(tf.float32, (None, max_len), name="mask")
        embedding = v1.get_variable("embedding", initializer=weights["embedding"].astype(np.float32))
        kernel = v1.get_variable("logits/kernel", initializer=weights["logits/kernel"].astype(np.float32))
        bias = v1.get_variable("logits/bias", initializer=weights["logits/bias"].astype(np.float32))
        mean = masked_mean(tf.nn.embedding_lookup(embedding, ids), mask)  # (None, E)
        logits = tf.matmul(mean, kernel) + bias
        session = v1.Session(graph=graph, config=tensorflow_session_config())
        session.run(v1.global_variables_initializer())
    return BagGraph(graph, ids, mask, logits, session)


def run_static_bag(model: BagGraph, sequences, pad_id: int = 0) -> np.ndarray:
    """Pad `sequences` to the graph's max_len, feed ids and mask, fetch logits float32 (B, C)."""
    ids, mask = pad_batch(sequences, pad_id=pad_id, max_len=model.ids.shape[1])
    return model.session.run(model.logits, feed_dict={model.ids: ids, model.mask: mask})


class TorchBag(nn.Module):
    """Bag of embeddings over a Python list of sequences of different lengths: no padding, no mask.

    Layers `self.embedding` (nn.Embedding, weight (V, E)) and `self.logits` (nn.Linear, E -> C).
    """

    def __init__(self, vocab_size: int, embed_dim: int, num_classes: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.logits = nn.Linear(embed_dim, num_classes)

    def forward(self, sequences: list[torch.Tensor]) -> torch.Tensor:
        """B int64 tensors (T_i,) -> logits (B, C); autograd records a graph of this batch's shapes."""
        means = [self.embedding(ids).mean(dim=0) for ids in sequences]  # each (E,)
        return self.logits(torch.stack(means))


def torch_bag(weights: dict) -> TorchBag:
    """A `TorchBag` with `weights` copied in: the embedding as is (V, E), the linear weight transposed."""
    vocab_size, embed_dim = weights["embedding"].shape
    bag = TorchBag(vocab_size, embed_dim, weights["logits/kernel"].shape[1])
    with torch.no_grad():
        bag.embedding.weight.copy_(torch.as_tensor(weights["embedding"]))
        bag.logits.weight.copy_(torch.as_tensor(weights["logits/kernel"]).T)
        bag.logits.bias.copy_(torch.as_tensor(weights["logits/bias"]))
    return bag


def dynamic_bag(weights: dict, sequences) -> np.ndarray:
    """Logits float32 (B, C) of B sequences of token ids (lists or arrays, lengths differ) from a `torch_bag`."""
    bag = torch_bag(weights)
    with torch.no_grad():
        return bag([torch.as_tensor(np.asarray(ids), dtype=torch.int64) for ids in sequences]).numpy()


# TF2 in between: tf.function traces one graph per input signature --------------------------
def count_traces(weights: dict, lengths, with_signature: bool) -> int:
    """Call one tf.function bag on padded batches of width T for each T in `lengths`; return how often it traced.

    Python code in a tf.function runs only while tracing, so a counter there counts traces.
    Without a signature every new T is a new input shape, so a new trace and a new graph; the
    input_signature (None, None) makes one graph serve every width.
    """
    traces = 0
    embedding, kernel, bias = (tf.constant(weights[k]) for k in ("embedding", "logits/kernel", "logits/bias"))
    signature = [tf.TensorSpec((None, None), tf.int64), tf.TensorSpec((None, None), tf.float32)]

    @tf.function(input_signature=signature if with_signature else None, autograph=False)
    def bag_logits(ids, mask):
        nonlocal traces
        traces += 1
        return tf.matmul(masked_mean(tf.gather(embedding, ids), mask), kernel) + bias

    for width in lengths:
        bag_logits(*pad_batch([[1] * width, [2]], max_len=width))
    return traces


def seconds_per_batch(weights: dict, batches, max_len: int) -> dict[str, float]:
    """Mean seconds per batch (a list of sequences): TF1 graph built once vs rebuilt, PyTorch, tf.function."""

    def timed(fn, batches=batches):
        start = time.perf_counter()
        for sequences in batches:
            fn(sequences)
        return (time.perf_counter() - start) / len(batches)

    def rebuilt(sequences):
        model = static_bag(weights, max_len)
        run_static_bag(model, sequences)
        model.session.close()

    model = static_bag(weights, max_len)
    bag = torch_bag(weights)
    embedding, kernel, bias = (tf.constant(weights[k]) for k in ("embedding", "logits/kernel", "logits/bias"))
    signature = [tf.TensorSpec((None, None), tf.int64), tf.TensorSpec((None, None), tf.float32)]
    traced = tf.function(
        lambda ids, mask: tf.matmul(masked_mean(tf.gather(embedding, ids), mask), kernel) + bias,
        input_signature=signature,
        autograph=False,
    )
    with torch.no_grad():
        times = {
            "tf1, graph built once": timed(lambda s: run_static_bag(model, s)),
            "tf1, graph rebuilt every batch": timed(rebuilt),
            "torch, graph recorded every call": timed(lambda s: bag([torch.as_tensor(ids) for ids in s])),
            "tf2, tf.function first call (traces)": timed(lambda s: traced(*pad_batch(s)), batches[:1]),
            "tf2, tf.function later calls": timed(lambda s: traced(*pad_batch(s)), batches[1:]),
        }
    model.session.close()
    return times
