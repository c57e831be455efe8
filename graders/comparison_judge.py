"""The verdict of each `framework_comparison` step, decided from values: the grader's data and NumPy figures.

    case = ComparisonCase()
    inputs = case.inputs("same_logits", hidden=True)        # data only: NumPy arrays
    observation = comparison_probe.observe("same_logits", (tf1_mlp, logits_in_three_frameworks), inputs, True)  # kernel
    verdict = case.judge("same_logits", inputs, observation, hidden=True)                                         # here

This module needs NumPy only: no framework, no student object, no reference solution. Every
figure a check compares with is its own: the weights it hands out (`random_weights`,
`bag_weights`), the logits they give (`numpy_mlp`, `numpy_bag`), the padded rectangle of a batch
(`pad`), the masked mean. At grading it runs in the grading process (`graders.runner.verdict`),
so nothing the kernel does can turn a failed check into a passed one; a failure the kernel
reports (a wrong type, a graph without placeholders) only ever costs the student.

The kernel's side is `graders.comparison_probe`; the two walk each step in the same order, under
the same keys, so that a failure where the kernel stopped is reported where the judge meets it.
The steps and the objects each takes, in order, are `OBJECTS`. What the two sides share (the
plans of each step's cases, the texts of the messages) lives here, the side without frameworks.
"""

from __future__ import annotations

import numpy as np

from graders.checks import CheckFailed
from graders.checks import network
from graders.checks.network import WEIGHT_NAMES
from graders.judge import Verdict, _Judge, _Stop
from graders.observation import Observation

RTOL, ATOL = 1e-4, 1e-5
BAG_NAMES = ("embedding", "logits/kernel", "logits/bias")
FRAMEWORKS = ("tf1", "tf2", "torch")
OBJECTS = {  # step -> the notebook objects its checks take, in order
    "weights_to_torch": ("numpy_to_torch", "torch_to_numpy"),
    "weights_to_keras": ("numpy_to_keras", "keras_to_numpy"),
    "same_logits": ("tf1_mlp", "logits_in_three_frameworks"),
    "pad_batch": ("pad_batch",),
    "static_bag": ("masked_mean", "static_bag"),
    "dynamic_bag": ("torch_bag", "dynamic_bag"),
}
STEPS = tuple(OBJECTS)

TRANSPOSE_TORCH = (
    "nn.Linear stores weight as (out_features, in_features), the transpose of the canonical (in, out) "
    "kernel: did you transpose (.T)?"
)
NO_GRAD = "copy into the parameters in place inside `with torch.no_grad():` (param.copy_(...))"
NO_TRANSPOSE = "Keras Dense keeps the kernel as (in, out), the canonical layout: no transpose here"
CANONICAL_NAMES = "one entry per canonical name: 'hidden/kernel', 'hidden/bias', ..."

# The cases of each step, in the order both sides walk them; the first (or the first few) are the public ones.
# weights_to_torch / weights_to_keras: case -> (weights, what the copy-in is called, what the read-out is called)
COPIES = {
    "torch": {
        "weights": ("numpy_to_torch(weights, MLP(6, 3, 5))", "torch_to_numpy(module)"),
        "square": ("numpy_to_torch(weights, MLP(4, 4, 4)), square layers", "torch_to_numpy on square layers"),
        "float64": ("numpy_to_torch with float64 arrays", None),
        "copies": (None, "torch_to_numpy(module)"),
    },
    "keras": {
        "weights": ("numpy_to_keras(weights, model)", "keras_to_numpy(model)"),
        "square": ("numpy_to_keras on square layers", "keras_to_numpy on square layers"),
        "float64": ("numpy_to_keras with float64 arrays", None),
        "copies": (None, "keras_to_numpy(model)"),
    },
}
COPY_NOTES = {  # what each group of checks of the copies shows, when it passes
    "torch": ("numpy_to_torch copies kernel.T into nn.Linear.weight, and the biases",
              "torch_to_numpy reads the weights back as canonical float32 arrays",
              "square layers, where a missing transpose raises no error",
              "float64 arrays land in float32 parameters",
              "torch_to_numpy returns copies, not views of the parameters"),
    "keras": ("numpy_to_keras copies the kernels (in, out) and biases into the Dense layers",
              "keras_to_numpy reads the weights back as canonical float32 arrays",
              "square layers, where a stray transpose raises no error",
              "float64 arrays land in the float32 variables",
              "keras_to_numpy returns copies"),
}
SHARED_MEMORY = {  # the read-out changed with the weights it was read from
    "torch": ("the arrays keep the values they were read with", "they changed with the parameters (shared memory)",
              "on the CPU, .numpy() shares memory with the tensor and .T is a view: take a .copy()"),
    "keras": ("keras_to_numpy after the model's variables changed", "the arrays keep their values", "they changed with the variables",
              "return copies (np.array(variable.numpy()))"),
}
TF1_RUNS = (("weights", (5,), 10), ("square", (1, 7), 20))  # (weights, batch sizes, seed of x)
THREE_RUNS = (("weights", 5, 11, 1.0), ("square", 7, 21, 3.0), ("weights", 1, 22, 1.0))  # (weights, batch, seed, scale)
SEQUENCES = [[3, 1, 4, 1, 5], [9, 2], [6, 0, 5]]  # 0 is the pad id and a real token in row 3
HIDDEN_SEQUENCES = [[7, 2, 9, 9, 1, 3, 8, 4, 6], [5], [0, 0, 2, 1]]  # one full row (max_len 9), one of length 1
PAD_CASES = (  # (sequences, pad_id, max_len); the first is public
    (SEQUENCES, 0, None),
    ([[7, 0, 2], [5], [0, 0, 7, 1]], 7, None),
    ([[7, 0, 2], [5], [0, 0, 7, 1]], 0, None),
    (SEQUENCES, 0, 7),
    ([np.array([4, 2], np.int32), (3,), np.array([1, 1, 1], np.int32)], 0, 3),
    ([[5]], 0, None),
)
PAD_NOTES = {0: "ids int64 (B, T) padded with pad_id, mask float32 (B, T)",
             2: "pad_id is also a real token: the mask comes from the lengths",
             5: "max_len, NumPy int32 arrays and tuples, a batch of one"}
TOO_LONG = ([[1, 2, 3]], 2)  # (sequences, max_len): pad_batch must raise ValueError
MASKED_MEANS = (([5, 2, 3], 5, 4, 30, True), ([1, 6, 4, 2], 6, 3, 32, False))  # (lengths, T, E, seed, static T)
BAGS = {"bag": (12, 4, 3, 31), "square": (10, 5, 5, 33)}  # (V, E, C, seed) of `bag_weights`
BAG_GRAPHS = (("bag", 6, SEQUENCES), ("square", 9, HIDDEN_SEQUENCES), ("square", 4, [[3, 3, 8]]))  # (weights, max_len, sequences)
BAG_MODULES = (("bag", SEQUENCES), ("square", HIDDEN_SEQUENCES))
BAG_FUNCTIONS = (("bag", SEQUENCES), ("square", HIDDEN_SEQUENCES), ("square", [(4,)]),
                 ("bag", [np.array([1, 2, 3], np.int32), (0, 0)]))


# The given code's ground truth, in NumPy ------------------------------------------------------
def random_weights(input_dim: int = 6, hidden_units: int = 5, num_classes: int = 3, seed: int = 0) -> dict:
    """Canonical MLP weights, as the notebook's given `random_weights` makes them."""
    rng = np.random.default_rng(seed)

    def layer(n_in, n_out):
        kernel = rng.normal(0.0, np.sqrt(2.0 / n_in), (n_in, n_out)).astype(np.float32)
        return kernel, rng.normal(0.0, 0.1, n_out).astype(np.float32)

    (k1, b1), (k2, b2) = layer(input_dim, hidden_units), layer(hidden_units, num_classes)
    return {"hidden/kernel": k1, "hidden/bias": b1, "logits/kernel": k2, "logits/bias": b2}


def numpy_mlp(weights: dict, x: np.ndarray) -> np.ndarray:
    """The MLP's logits in float64, returned as float32 (the notebook's given `numpy_mlp`)."""
    return network.forward(weights, x).astype(np.float32)


def bag_weights(vocab_size: int = 12, embed_dim: int = 4, num_classes: int = 3, seed: int = 0) -> dict:
    """Bag-of-embeddings weights, as the notebook's given `bag_weights` makes them."""
    rng = np.random.default_rng(seed)
    return {
        "embedding": rng.normal(0.0, 1.0, (vocab_size, embed_dim)).astype(np.float32),
        "logits/kernel": rng.normal(0.0, np.sqrt(1.0 / embed_dim), (embed_dim, num_classes)).astype(np.float32),
        "logits/bias": rng.normal(0.0, 0.1, num_classes).astype(np.float32),
    }


def checked_bag_weights(name: str) -> dict:
    """The bag weights of the checks: id 0 (the pad id) embeds far from the rest, so padding shows in a mean."""
    weights = bag_weights(*BAGS[name])
    weights["embedding"][0] = 4.0
    return weights


def numpy_bag(weights: dict, sequences) -> np.ndarray:
    """The bag's logits of B sequences of ids, unpadded (the notebook's given `numpy_bag`)."""
    embedding = weights["embedding"].astype(np.float64)
    means = np.stack([embedding[np.asarray(ids, dtype=np.int64)].mean(axis=0) for ids in sequences])
    return (means @ weights["logits/kernel"].astype(np.float64) + weights["logits/bias"]).astype(np.float32)


def pad(sequences, pad_id: int = 0, max_len: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The rectangle of a batch: ids int64 (B, T) padded with pad_id, mask float32 (B, T) from the lengths."""
    lengths = [len(ids) for ids in sequences]
    width = max(lengths) if max_len is None else max_len
    ids = np.full((len(sequences), width), pad_id, np.int64)
    for row, sequence in enumerate(sequences):
        ids[row, : len(sequence)] = sequence
    return ids, (np.arange(width) < np.array(lengths)[:, None]).astype(np.float32)


def masked_inputs(lengths: list[int], width: int, embed_dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(embedded (B, T, E), mask (B, T)) for masked_mean: padding positions hold 100.0, which any unmasked sum shows."""
    embedded = np.random.default_rng(seed).normal(0.0, 1.0, (len(lengths), width, embed_dim)).astype(np.float32)
    mask = (np.arange(width) < np.array(lengths)[:, None]).astype(np.float32)
    embedded[mask == 0] = 100.0
    return embedded, mask


def _x(batch: int, input_dim: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 1.0, (batch, input_dim)).astype(np.float32)


# Data that both sides read: sequences of ids in the forms a student's code must take ----------------
def sequences_arrays(prefix: str, sequences) -> dict[str, np.ndarray]:
    """A batch of sequences as arrays: the ids end to end, the lengths, and each one's form (list, tuple, int32)."""
    forms = ["int32" if isinstance(s, np.ndarray) else type(s).__name__ for s in sequences]
    tokens = np.array([int(token) for s in sequences for token in s], np.int64)
    return {f"{prefix}:tokens": tokens, f"{prefix}:lengths": np.array([len(s) for s in sequences], np.int64),
            f"{prefix}:forms": np.array(forms)}


def sequences_from(inputs: dict, prefix: str) -> list:
    """The batch `sequences_arrays` wrote, each sequence in its form again."""
    ends = np.cumsum(inputs[f"{prefix}:lengths"])
    rows = np.split(inputs[f"{prefix}:tokens"], ends[:-1])
    make = {"list": lambda r: [int(t) for t in r], "tuple": lambda r: tuple(int(t) for t in r), "int32": lambda r: r.astype(np.int32)}
    return [make[str(form)](row) for form, row in zip(inputs[f"{prefix}:forms"], rows)]


def as_lists(sequences) -> list[list[int]]:
    return [[int(token) for token in s] for s in sequences]


def pad_what(sequences, pad_id: int, max_len: int | None) -> str:
    """How a message names a call of pad_batch."""
    arguments = f"pad_id={pad_id}" + (f", max_len={max_len}" if max_len is not None else "")
    extra = " with arrays and tuples" if any(not isinstance(s, list) for s in sequences) else ""
    return f"pad_batch({as_lists(sequences)}, {arguments}){extra}"


def tf1_what(weights: dict) -> str:
    return f"tf1_mlp(weights) with D={weights['hidden/kernel'].shape[0]}"


def three_what(x: np.ndarray) -> str:
    return f"logits_in_three_frameworks(weights, x {x.shape})"


def masked_mean_shape(embedded: np.ndarray, static: bool) -> tuple:
    """The embedded placeholder's shape for masked_mean: (None, T or None, E)."""
    return (None, embedded.shape[1] if static else None, embedded.shape[2])


def masked_mean_what(shape: tuple) -> str:
    return f"masked_mean in a TF1 graph, embedded placeholder {shape}"


EAGER_MEAN = "masked_mean on eager tensors (as in a tf.function)"
BAG_FORWARD = "TorchBag.forward on a list of int64 tensors of different lengths"


def bag_run_what(sequences, max_len: int) -> str:
    return f"padded + masked logits of {as_lists(sequences)} (max_len={max_len})"


def dynamic_what(sequences) -> str:
    return f"dynamic_bag(weights, {as_lists(sequences)})"


def weights_in(inputs: dict, prefix: str, names=WEIGHT_NAMES) -> dict:
    return {name: inputs[f"{prefix}:{name}"] for name in names}


def prefixed(prefix: str, arrays: dict) -> dict:
    return {f"{prefix}:{name}": array for name, array in arrays.items()}


# Comparing a value that came back with the grader's own --------------------------------------
def _show(array: np.ndarray) -> str:
    return np.array2string(np.asarray(array), separator=", ").replace("\n", "")


def _not_array(found) -> tuple[str, str]:
    """(what it was, what to do) for a value that is not a NumPy array: as the kernel described it, else its type."""
    if isinstance(found, dict) and "type" in found:
        return str(found["type"]), str(found.get("hint") or "return a NumPy array")
    return type(found).__name__, "return a NumPy array"


def compare(found, expected: np.ndarray, what: str, *, hint: str = "", exact: bool = False, show: bool = False,
            candidates: tuple = (), transposed_hint: str = "") -> None:
    """Fail unless `found` is a NumPy array of `expected`'s dtype and shape and (close) values.

    `candidates`: (array, hint) pairs of known mistakes, tried when the values differ;
    `transposed_hint`: said when `found` holds the transpose of `expected`.
    """
    if not isinstance(found, np.ndarray):
        described, to_numpy = _not_array(found)
        raise CheckFailed(what, f"np.ndarray {expected.dtype} {expected.shape}", described, to_numpy)
    if found.shape != expected.shape:
        shape_hint = transposed_hint if found.shape == expected.shape[::-1] and transposed_hint else hint
        raise CheckFailed(what, f"shape {expected.shape}", f"shape {found.shape}", shape_hint)
    if found.dtype != expected.dtype:
        raise CheckFailed(what, f"dtype {expected.dtype}", f"dtype {found.dtype}", f"convert with .astype(np.{expected.dtype})")
    same = np.array_equal(found, expected) if exact else np.allclose(found, expected, rtol=RTOL, atol=ATOL)
    if same:
        return
    if show:
        expected_text, found_text = _show(expected), _show(found)
    else:
        difference = np.abs(found.astype(np.float64) - expected)
        where = np.unravel_index(np.argmax(difference), difference.shape)
        index = tuple(int(i) for i in where)
        expected_text = (
            f"values within rtol={RTOL}, atol={ATOL}" if not exact else "the same values"
        ) + f", e.g. {float(expected[where]):.6g} at {index}"
        found_text = f"{float(found[where]):.6g} at {index}; largest |difference| {difference.max():.3g}"
    square = found.ndim == 2 and found.shape == found.shape[::-1]
    if transposed_hint and square and np.allclose(found, expected.T, rtol=RTOL, atol=ATOL):
        hint = transposed_hint
    else:
        for candidate, candidate_hint in candidates:
            if candidate.shape == found.shape and np.allclose(found, candidate, rtol=RTOL, atol=ATOL):
                hint = candidate_hint
                break
    raise CheckFailed(what, expected_text, found_text, hint)


def diagnose_linear(weights: dict, x: np.ndarray) -> tuple:
    """Known mistakes in an MLP's forward pass, as candidates for `compare`."""
    w = {k: v.astype(np.float64) for k, v in weights.items()}
    pre = x @ w["hidden/kernel"] + w["hidden/bias"]
    no_relu = pre @ w["logits/kernel"] + w["logits/bias"]
    no_bias = np.maximum(x @ w["hidden/kernel"], 0) @ w["logits/kernel"]
    relu_out = np.maximum(np.maximum(pre, 0) @ w["logits/kernel"] + w["logits/bias"], 0)
    return (
        (no_relu, "the hidden layer needs its ReLU"),
        (no_bias, "add the biases"),
        (relu_out, "no ReLU on the logits: only the hidden layer has one"),
    )


def _shape(found) -> tuple | None:
    """A shape that came back as a list (None for a dimension of any size); None when it is not one."""
    if isinstance(found, (list, tuple)) and all(d is None or (isinstance(d, int) and not isinstance(d, bool)) for d in found):
        return tuple(found)
    return None


def _shapes(found) -> list[tuple] | str:
    """Shapes that came back as lists, sorted as tuples; what came back instead when they did not."""
    shapes = [_shape(s) for s in found] if isinstance(found, list) else [None]
    if any(s is None for s in shapes):
        return type(found).__name__
    return sorted(shapes, key=lambda s: tuple(-1 if d is None else d for d in s))


# The verdicts ---------------------------------------------------------------------------------
class ComparisonCase:
    """The grader's side of the comparison's checks: the inputs it hands out, and the verdicts."""

    def known(self, step: str) -> None:
        """CheckFailed for a step this assignment does not have."""
        if step not in OBJECTS:
            raise CheckFailed("the step's name", f"one of {list(STEPS)}", repr(step), "keep the test cell as given", step=step)

    # -- inputs: what the probe gets, as data ----------------------------------------------------
    def inputs(self, step: str, hidden: bool) -> dict[str, np.ndarray]:
        if step not in OBJECTS:
            raise ValueError(f"unknown step {step!r}; expected one of {', '.join(STEPS)}")
        return getattr(self, f"_inputs_{step}")(hidden)

    def _copies_inputs(self, hidden: bool) -> dict:
        weights = random_weights(6, 5, 3, seed=1)
        inputs = prefixed("weights", weights)
        if hidden:
            inputs |= prefixed("square", random_weights(4, 4, 4, seed=2))
            inputs |= prefixed("float64", {name: array.astype(np.float64) for name, array in weights.items()})
            inputs |= prefixed("copies", weights)
        return inputs

    _inputs_weights_to_torch = _inputs_weights_to_keras = _copies_inputs

    def _inputs_same_logits(self, hidden: bool) -> dict:
        inputs = prefixed("weights", random_weights(6, 5, 3, seed=3))
        if hidden:
            inputs |= prefixed("square", random_weights(4, 4, 4, seed=4))
        for case, batches, seed in TF1_RUNS[: 2 if hidden else 1]:
            d = inputs[f"{case}:hidden/kernel"].shape[0]
            inputs |= {f"tf1:{case}:x{batch}": _x(batch, d, seed + batch) for batch in batches}
        for number, (case, batch, seed, scale) in enumerate(THREE_RUNS[: 3 if hidden else 1]):
            inputs[f"three{number}:x"] = (scale * _x(batch, inputs[f"{case}:hidden/kernel"].shape[0], seed)).astype(np.float32)
        return inputs

    def _inputs_pad_batch(self, hidden: bool) -> dict:
        cases = PAD_CASES if hidden else PAD_CASES[:1]
        inputs = {"cases": np.array(len(cases))}
        for number, (sequences, pad_id, max_len) in enumerate(cases):
            inputs |= sequences_arrays(f"pad{number}", sequences)
            inputs |= {f"pad{number}:pad_id": np.array(pad_id), f"pad{number}:max_len": np.array(-1 if max_len is None else max_len)}
        if hidden:
            inputs |= sequences_arrays("too_long", TOO_LONG[0]) | {"too_long:max_len": np.array(TOO_LONG[1])}
        return inputs

    def _inputs_static_bag(self, hidden: bool) -> dict:
        inputs = {}
        for number, (lengths, width, embed_dim, seed, static) in enumerate(MASKED_MEANS[: 2 if hidden else 1]):
            embedded, mask = masked_inputs(lengths, width, embed_dim, seed)
            inputs |= {f"mm{number}:embedded": embedded, f"mm{number}:mask": mask, f"mm{number}:static": np.array(static)}
        for number, (name, max_len, sequences) in enumerate(BAG_GRAPHS[: 3 if hidden else 1]):
            ids, mask = pad(sequences, 0, max_len)
            inputs |= prefixed(f"g{number}", checked_bag_weights(name)) | sequences_arrays(f"g{number}", sequences)
            inputs |= {f"g{number}:max_len": np.array(max_len), f"g{number}:ids": ids, f"g{number}:mask": mask}
        return inputs

    def _inputs_dynamic_bag(self, hidden: bool) -> dict:
        inputs = {}
        for kind, plan in (("m", BAG_MODULES), ("f", BAG_FUNCTIONS)):
            for number, (name, sequences) in enumerate(plan if hidden else plan[:1]):
                inputs |= prefixed(f"{kind}{number}", checked_bag_weights(name)) | sequences_arrays(f"{kind}{number}", sequences)
        return inputs

    # -- verdicts ----------------------------------------------------------------------------------
    def judge(self, step: str, inputs: dict, observation: Observation, hidden: bool) -> Verdict:
        def judge_step(j: _Judge) -> None:
            j.kernel("objects")
            getattr(self, f"_{step}")(j, inputs, hidden)

        return _Judge(step, observation).run(judge_step)

    # (a) weights ----------------------------------------------------------------------------
    def _weights_to_torch(self, j: _Judge, inputs: dict, hidden: bool) -> None:
        self._copies(j, inputs, hidden, "torch")

    def _weights_to_keras(self, j: _Judge, inputs: dict, hidden: bool) -> None:
        self._copies(j, inputs, hidden, "keras")

    def _copies(self, j: _Judge, inputs: dict, hidden: bool, to: str) -> None:
        notes, weights = COPY_NOTES[to], weights_in(inputs, "weights")
        self._copy_in(j, inputs, "weights", to)
        j.verdict.passed.append(notes[0])
        self._read_out(j, weights, "weights", to)
        j.verdict.passed.append(notes[1])
        if not hidden:
            return
        self._copy_in(j, inputs, "square", to)
        self._read_out(j, weights_in(inputs, "square"), "square", to)
        j.verdict.passed.append(notes[2])
        self._copy_in(j, inputs, "float64", to)
        j.verdict.passed.append(notes[3])
        self._read_out(j, weights, "copies", to)
        for name in WEIGHT_NAMES:
            after = j.need(f"copies:after:{name}")
            if not (isinstance(after, np.ndarray) and np.array_equal(after, weights[name])):
                _refuse(j, CheckFailed(*SHARED_MEMORY[to]) if to == "keras" else CheckFailed(
                    f"torch_to_numpy: [{name!r}] after the module's parameters changed", *SHARED_MEMORY[to]))
        j.verdict.passed.append(notes[4])

    def _copy_in(self, j: _Judge, inputs: dict, case: str, to: str) -> None:
        what = COPIES[to][case][0]
        weights = weights_in(inputs, case)
        j.kernel(f"{case}:call")
        if to == "torch":
            j.kernel(f"{case}:parameters")
            j.kernel(f"{case}:dtypes")
            for layer in ("hidden", "logits"):
                kernel = weights[f"{layer}/kernel"].astype(np.float32)
                j.check(compare, j.need(f"{case}:{layer}.weight"), kernel.T, f"{what}: module.{layer}.weight", exact=True,
                        candidates=((kernel.reshape(kernel.shape[::-1]),
                                     "reshape/view keeps the memory order and only relabels the axes: it is not a "
                                     "transpose; use .T"),),
                        transposed_hint=TRANSPOSE_TORCH + " A square layer raises no shape error: only the values tell.")
                j.check(compare, j.need(f"{case}:{layer}.bias"), weights[f"{layer}/bias"].astype(np.float32),
                        f"{what}: module.{layer}.bias", exact=True)
        else:
            for name in WEIGHT_NAMES:
                layer, kind = name.split("/")
                j.check(compare, j.need(f"{case}:{name}"), weights[name].astype(np.float32), f"{what}: layer {layer!r} {kind}",
                        exact=True, hint="copy every layer's kernel and bias", transposed_hint=NO_TRANSPOSE)
            j.kernel(f"{case}:variables")
        j.kernel(f"{case}:returned")

    def _read_out(self, j: _Judge, weights: dict, case: str, to: str) -> None:
        what = COPIES[to][case][1]
        j.kernel(f"{case}:read")
        j.kernel(f"{case}:keys")
        hint = "canonical kernels are (in, out): transpose nn.Linear's (out, in) weight back (.T)" if to == "torch" else NO_TRANSPOSE
        for name in WEIGHT_NAMES:
            j.check(compare, j.need(f"{case}:read:{name}"), weights[name], f"{what}: [{name!r}]", exact=True, transposed_hint=hint)

    # (a) the same logits -----------------------------------------------------------------------
    def _same_logits(self, j: _Judge, inputs: dict, hidden: bool) -> None:
        self._tf1(j, inputs, *TF1_RUNS[0], hidden)
        j.verdict.passed.append("tf1_mlp: a (None, D) placeholder, and logits equal to NumPy's")
        self._three(j, inputs, 0)
        j.verdict.passed.append("logits_in_three_frameworks: TF1, TF2 and PyTorch agree with NumPy (rtol 1e-4, atol 1e-5)")
        if not hidden:
            return
        self._tf1(j, inputs, *TF1_RUNS[1], hidden)
        j.verdict.passed.append("tf1_mlp: trainable variables, any batch size, square layers")
        self._three(j, inputs, 1)
        self._three(j, inputs, 2)
        j.verdict.passed.append("logits_in_three_frameworks: square layers, a batch of one")

    def _tf1(self, j: _Judge, inputs: dict, case: str, batches: tuple, seed: int, hidden: bool) -> None:
        weights = weights_in(inputs, case)
        what, num_classes = tf1_what(weights), weights["logits/kernel"].shape[1]
        j.kernel(f"tf1:{case}:call")
        j.kernel(f"tf1:{case}:graph")
        shape = j.need(f"tf1:{case}:logits_shape")
        if shape != [None, num_classes]:
            _refuse(j, CheckFailed(what, f".logits of shape [None, {num_classes}]", f"shape {shape}", "logits = relu(x @ k1 + b1) @ k2 + b2"))
        for batch in batches:
            x = inputs[f"tf1:{case}:x{batch}"]
            j.kernel(f"tf1:{case}:run{batch}")
            j.check(compare, j.need(f"tf1:{case}:logits{batch}"), numpy_mlp(weights, x), f"{what}: logits of a batch of {batch}",
                    hint="compare your graph with relu(x @ hidden/kernel + hidden/bias) @ logits/kernel + logits/bias",
                    candidates=diagnose_linear(weights, x))
        if hidden:
            found = j.need(f"tf1:{case}:trainable")
            trainable = _shapes(found)
            wanted = sorted(tuple(a.shape) for a in weights.values())
            if trainable != wanted:
                _refuse(j, CheckFailed(f"{what}: the graph's trainable variables", f"shapes {wanted}", f"shapes {trainable}",
                                           "make each weight a variable, v1.get_variable(name, initializer=array): "
                                           "a graph of constants cannot be trained"))

    def _three(self, j: _Judge, inputs: dict, number: int) -> None:
        case = THREE_RUNS[number][0]
        weights, x = weights_in(inputs, case), inputs[f"three{number}:x"]
        what = three_what(x)
        j.kernel(f"three{number}:call")
        j.kernel(f"three{number}:keys")
        hints = {
            "tf1": "tf1_mlp: feed x to its inputs, fetch its logits with session.run",
            "tf2": "numpy_to_keras and tf2_mlp; call the model, then .numpy()",
            "torch": "numpy_to_torch (" + TRANSPOSE_TORCH + "); call the module under torch.no_grad(), then .numpy()",
        }
        expected = numpy_mlp(weights, x)
        for framework in FRAMEWORKS:
            j.check(compare, j.need(f"three{number}:{framework}"), expected, f"{what}[{framework!r}] against the NumPy logits",
                    hint=hints[framework], candidates=diagnose_linear(weights, x))

    # (b) variable-length inputs -------------------------------------------------------------
    def _pad_batch(self, j: _Judge, inputs: dict, hidden: bool) -> None:
        for number, (sequences, pad_id, max_len) in enumerate(PAD_CASES if hidden else PAD_CASES[:1]):
            self._pad_case(j, number, sequences, pad_id, max_len)
            if number in PAD_NOTES:
                j.verdict.passed.append(PAD_NOTES[number])
        if not hidden:
            return
        sequences, max_len = TOO_LONG
        what = f"pad_batch({sequences}, max_len={max_len})"
        outcome = j.need("too_long:outcome")
        if outcome == "error":
            _refuse(j, CheckFailed(what, "ValueError", str(j.need("too_long:error")),
                                       "raise ValueError(...) when a sequence is longer than max_len"))
        elif outcome != "ValueError":
            _refuse(j, CheckFailed(what, "ValueError: the sequence does not fit the graph's placeholder",
                                       f"it returned {j.need('too_long:returned')}",
                                       "raise ValueError when a sequence is longer than max_len; do not cut it silently"))
        j.verdict.passed.append("a sequence longer than max_len raises ValueError")

    def _pad_case(self, j: _Judge, number: int, sequences, pad_id: int, max_len: int | None) -> None:
        what = pad_what(sequences, pad_id, max_len)
        j.kernel(f"pad{number}:call")
        j.kernel(f"pad{number}:pair")
        ids, mask = j.need(f"pad{number}:ids"), j.need(f"pad{number}:mask")
        expected_ids, expected_mask = pad(sequences, pad_id=pad_id, max_len=max_len)
        longest = max(len(s) for s in sequences)
        size_hint = "T is max_len when it is given, else the longest sequence's length"
        if isinstance(ids, np.ndarray) and ids.shape == (len(sequences), longest) and max_len not in (None, longest):
            size_hint = f"pad to max_len={max_len}, not to the longest sequence"
        zero_padded, _ = pad(sequences, pad_id=0, max_len=max_len)
        j.check(compare, ids, expected_ids, f"{what}: ids", exact=True, show=True, hint=size_hint,
                candidates=((zero_padded, f"pad with pad_id={pad_id}, not 0"),) if pad_id != 0 else ())
        from_ids = (expected_ids != pad_id).astype(np.float32)
        j.check(compare, mask, expected_mask, f"{what}: mask", exact=True, show=True,
                hint="1.0 for each real token, 0.0 for each padding position",
                candidates=((1.0 - expected_mask, "the mask is 1.0 on real tokens and 0.0 on padding, not the other way round"),
                            (from_ids, f"build the mask from the lengths, not from ids != pad_id: {pad_id} is "
                             "also a real token in this batch")))

    def _static_bag(self, j: _Judge, inputs: dict, hidden: bool) -> None:
        self._masked_mean(j, inputs, 0, hidden)
        j.verdict.passed.append("masked_mean averages the real positions only")
        self._bag_graph(j, inputs, 0)
        j.verdict.passed.append("padded + masked logits of the TF1 graph equal the unpadded (dynamic) ones")
        if not hidden:
            return
        self._masked_mean(j, inputs, 1, hidden)
        j.verdict.passed.append("masked_mean with an unknown T, and eagerly")
        self._bag_graph(j, inputs, 1)
        self._bag_graph(j, inputs, 2)
        j.verdict.passed.append("the graph at other sizes, a full-length row, a batch of one")

    def _masked_mean(self, j: _Judge, inputs: dict, number: int, hidden: bool) -> None:
        embedded, mask = inputs[f"mm{number}:embedded"], inputs[f"mm{number}:mask"]
        width = embedded.shape[1]
        count = mask.sum(axis=1, keepdims=True)
        masked_sum = (embedded * mask[:, :, None]).sum(axis=1)
        expected = (masked_sum / count).astype(np.float32)
        candidates = (
            (embedded.mean(axis=1), "that is the mean over all T positions, padding included: multiply by the "
             "mask, then divide by the number of real tokens"),
            (masked_sum / width, "divide by each row's number of real tokens, tf.reduce_sum(mask, axis=1), not by T"),
            (masked_sum, "divide the masked sum by the number of real tokens"),
            (embedded.sum(axis=1) / count, "multiply the embeddings by the mask (mask[:, :, tf.newaxis]) before summing"),
        )
        what = masked_mean_what(masked_mean_shape(embedded, bool(inputs[f"mm{number}:static"])))
        j.kernel(f"mm{number}:call")
        j.kernel(f"mm{number}:tensor")
        j.kernel(f"mm{number}:run")
        j.check(compare, j.need(f"mm{number}:graph"), expected, f"{what}: the mean of the real positions", candidates=candidates,
                hint="sum of embedded * mask over T, divided by the sum of mask over T")
        if hidden:
            j.kernel(f"mm{number}:eager_call")
            j.kernel(f"mm{number}:eager_tensor")
            j.check(compare, j.need(f"mm{number}:eager"), expected, EAGER_MEAN, candidates=candidates)

    def _bag_graph(self, j: _Judge, inputs: dict, number: int) -> None:
        prefix = f"g{number}"
        weights, sequences = weights_in(inputs, prefix, BAG_NAMES), sequences_from(inputs, prefix)
        max_len = int(inputs[f"{prefix}:max_len"])
        j.kernel(f"{prefix}:call")
        j.kernel(f"{prefix}:graph")
        j.kernel(f"{prefix}:run")
        unmasked = numpy_bag(weights, list(inputs[f"{prefix}:ids"]))
        j.check(compare, j.need(f"{prefix}:logits"), numpy_bag(weights, sequences),
                f"{bag_run_what(sequences, max_len)}, against the unpadded mean (the dynamic result)",
                hint="embedding lookup (tf.nn.embedding_lookup), masked_mean with the mask placeholder, then @ logits/kernel + logits/bias",
                candidates=((unmasked, "the padding (id 0) went into the mean: pass the mask placeholder to masked_mean"),))

    def _dynamic_bag(self, j: _Judge, inputs: dict, hidden: bool) -> None:
        self._bag_module(j, inputs, 0, hidden)
        j.verdict.passed.append("torch_bag: embedding as is, linear weight transposed; forward takes sequences of different lengths")
        self._bag_function(j, inputs, 0)
        j.verdict.passed.append("dynamic_bag(weights, sequences) returns the logits of the unpadded means")
        if not hidden:
            return
        self._bag_module(j, inputs, 1, hidden)
        j.verdict.passed.append("torch_bag: square linear layer, autograd through the loop")
        for number in range(1, len(BAG_FUNCTIONS)):
            self._bag_function(j, inputs, number)
        j.verdict.passed.append("dynamic_bag on tuples, NumPy int32 arrays, a batch of one")

    def _bag_module(self, j: _Judge, inputs: dict, number: int, hidden: bool) -> None:
        prefix, what = f"m{number}", "torch_bag(weights)"
        weights, sequences = weights_in(inputs, prefix, BAG_NAMES), sequences_from(inputs, prefix)
        j.kernel(f"{prefix}:call")
        j.kernel(f"{prefix}:module")
        j.check(compare, j.need(f"{prefix}:embedding.weight"), weights["embedding"], f"{what}: .embedding.weight", exact=True,
                hint="nn.Embedding.weight is (V, E), as the canonical embedding: copy it as is")
        j.check(compare, j.need(f"{prefix}:logits.weight"), weights["logits/kernel"].T, f"{what}: .logits.weight", exact=True,
                transposed_hint=TRANSPOSE_TORCH, hint=TRANSPOSE_TORCH)
        j.check(compare, j.need(f"{prefix}:logits.bias"), weights["logits/bias"], f"{what}: .logits.bias", exact=True)
        j.kernel(f"{prefix}:forward")
        j.kernel(f"{prefix}:tensor")
        if hidden:
            j.kernel(f"{prefix}:autograd")
        j.check(compare, j.need(f"{prefix}:logits"), numpy_bag(weights, sequences), BAG_FORWARD,
                hint="the mean over each sequence's tokens (dim=0), then self.logits")

    def _bag_function(self, j: _Judge, inputs: dict, number: int) -> None:
        prefix = f"f{number}"
        weights, sequences = weights_in(inputs, prefix, BAG_NAMES), sequences_from(inputs, prefix)
        j.kernel(f"{prefix}:call")
        j.check(compare, j.need(f"{prefix}:logits"), numpy_bag(weights, sequences), dynamic_what(sequences),
                hint="torch_bag(weights), called on the list of tensors under torch.no_grad(), then .numpy()")


def _refuse(j: _Judge, failure: CheckFailed):
    """Report `failure` and end the step's judgement: every check of this assignment stops at the first failure."""
    j.fail(failure)
    raise _Stop
