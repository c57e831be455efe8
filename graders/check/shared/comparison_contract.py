"""What both halves of the comparison's checks share, none of it an answer: the steps, the cases each walks, the keys.

    for case in walk("static_bag", hidden=True):   # Case("masked_mean", "mm0", "masked_mean averages ..."), ...
        ...                                         # the probe runs its check `case.check`, the judge its own

The kernel's half (`graders.check.kernel.comparison_probe`, in the grading kernel) and the grader's half
(`graders.check.trusted.comparison_judge`, in the grading process) walk each step through the same `WALKS`,
under the same keys, so that a failure where the kernel stopped is reported where the judge
meets it. Here too: the objects each step takes (`OBJECTS`), the codec of the sequences and
weights that travel as arrays, and the texts of the messages. Nothing here computes what a
student's function should return: the grader's figures stay in the judge and in
`graders.check.trusted.comparison_inputs`, which the grading kernel cannot import. NumPy only.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

WEIGHT_NAMES = ("hidden/kernel", "hidden/bias", "logits/kernel", "logits/bias")
BAG_NAMES = ("embedding", "logits/kernel", "logits/bias")
OBJECTS = {  # step -> the notebook objects its checks take, in order
    "weights_to_torch": ("numpy_to_torch", "torch_to_numpy"),
    "weights_to_keras": ("numpy_to_keras", "keras_to_numpy"),
    "same_logits": ("tf1_mlp", "logits_in_three_frameworks"),
    "pad_batch": ("pad_batch",),
    "static_bag": ("masked_mean", "static_bag"),
    "dynamic_bag": ("torch_bag", "dynamic_bag"),
}
STEPS = tuple(OBJECTS)
#: The framework of the model files a step's checks hand to the student's functions (`file:<case key>` inputs).
MODEL_FRAMEWORK = {"weights_to_torch": "torch", "weights_to_keras": "tf2"}
FILE = "file:"  # inputs[FILE + name]: the path of the model file `name` (its entry: what the framework's loader takes)

TRANSPOSE_TORCH = (
    "nn.Linear stores weight as (out_features, in_features), the transpose of the canonical (in, out) "
    "kernel: did you transpose (.T)?"
)
NO_GRAD = "copy into the parameters in place inside `with torch.no_grad():` (param.copy_(...))"
NO_TRANSPOSE = "Keras Dense keeps the kernel as (in, out), the canonical layout: no transpose here"
CANONICAL_NAMES = "one entry per canonical name: 'hidden/kernel', 'hidden/bias', ..."
EAGER_MEAN = "masked_mean on eager tensors (as in a tf.function)"
BAG_FORWARD = "TorchBag.forward on a list of int64 tensors of different lengths"

# weights_to_torch / weights_to_keras: case -> (what the copy-in is called, what the read-out is called)
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
TF1_BATCHES = {"weights": (5,), "square": (1, 7)}  # same_logits: the batch sizes fed to each tf1_mlp graph
THREE_WEIGHTS = {"three0": "weights", "three1": "square", "three2": "weights"}  # the weights each three-frameworks call takes


class Case(NamedTuple):
    """One case of a step: the check both halves run (`check`), under `key` (its inputs' and values' prefix);
    `note`: what the step has shown once its walk passed this case (part of the ✓ line)."""

    check: str
    key: str
    note: str = ""


def _copies(to: str, notes: tuple[str, ...]) -> tuple[Case, ...]:
    return (Case("copy_in", "weights", notes[0]), Case("read_out", "weights", notes[1]),
            Case("copy_in", "square"), Case("read_out", "square", notes[2]),
            Case("copy_in", "float64", notes[3]), Case("copies", "copies", notes[4]))


#: step -> (its cases in the order both halves walk them, how many of them the public checks run)
WALKS = {
    "weights_to_torch": (_copies("torch", (
        "numpy_to_torch copies kernel.T into nn.Linear.weight, and the biases",
        "torch_to_numpy reads the weights back as canonical float32 arrays",
        "square layers, where a missing transpose raises no error",
        "float64 arrays land in float32 parameters",
        "torch_to_numpy returns copies, not views of the parameters")), 2),
    "weights_to_keras": (_copies("keras", (
        "numpy_to_keras copies the kernels (in, out) and biases into the Dense layers",
        "keras_to_numpy reads the weights back as canonical float32 arrays",
        "square layers, where a stray transpose raises no error",
        "float64 arrays land in the float32 variables",
        "keras_to_numpy returns copies")), 2),
    "same_logits": ((
        Case("tf1", "weights", "tf1_mlp: a (None, D) placeholder, and logits equal to NumPy's"),
        Case("three", "three0", "logits_in_three_frameworks: TF1, TF2 and PyTorch agree with NumPy (rtol 1e-4, atol 1e-5)"),
        Case("tf1", "square", "tf1_mlp: trainable variables, any batch size, square layers"),
        Case("three", "three1"),
        Case("three", "three2", "logits_in_three_frameworks: square layers, a batch of one"),
    ), 2),
    "pad_batch": ((
        Case("pad", "pad0", "ids int64 (B, T) padded with pad_id, mask float32 (B, T)"),
        Case("pad", "pad1"),
        Case("pad", "pad2", "pad_id is also a real token: the mask comes from the lengths"),
        Case("pad", "pad3"),
        Case("pad", "pad4"),
        Case("pad", "pad5", "max_len, NumPy int32 arrays and tuples, a batch of one"),
        Case("too_long", "too_long", "a sequence longer than max_len raises ValueError"),
    ), 1),
    "static_bag": ((
        Case("masked_mean", "mm0", "masked_mean averages the real positions only"),
        Case("bag_graph", "g0", "padded + masked logits of the TF1 graph equal the unpadded (dynamic) ones"),
        Case("masked_mean", "mm1", "masked_mean with an unknown T, and eagerly"),
        Case("bag_graph", "g1"),
        Case("bag_graph", "g2", "the graph at other sizes, a full-length row, a batch of one"),
    ), 2),
    "dynamic_bag": ((
        Case("bag_module", "m0", "torch_bag: embedding as is, linear weight transposed; forward takes sequences of different lengths"),
        Case("bag_function", "f0", "dynamic_bag(weights, sequences) returns the logits of the unpadded means"),
        Case("bag_module", "m1", "torch_bag: square linear layer, autograd through the loop"),
        Case("bag_function", "f1"),
        Case("bag_function", "f2"),
        Case("bag_function", "f3", "dynamic_bag on tuples, NumPy int32 arrays, a batch of one"),
    ), 2),
}


def walk(step: str, hidden: bool) -> tuple[Case, ...]:
    """The cases of `step` that a run of its checks walks, in order: the public ones, and with `hidden` all."""
    cases, public = WALKS[step]
    return cases if hidden else cases[:public]


# Data that travels as arrays: weights and sequences of ids in the forms a student's code must take ------------------
def weights_in(inputs: dict, prefix: str, names=WEIGHT_NAMES) -> dict:
    return {name: inputs[f"{prefix}:{name}"] for name in names}


def prefixed(prefix: str, arrays: dict) -> dict:
    return {f"{prefix}:{name}": array for name, array in arrays.items()}


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


def optional_length(inputs: dict, key: str) -> int | None:
    """A max_len that travels as an integer, -1 for None."""
    value = int(inputs[key])
    return None if value < 0 else value


# How the messages name a call --------------------------------------------------------------------------------------
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


def bag_run_what(sequences, max_len: int) -> str:
    return f"padded + masked logits of {as_lists(sequences)} (max_len={max_len})"


def dynamic_what(sequences) -> str:
    return f"dynamic_bag(weights, {as_lists(sequences)})"
