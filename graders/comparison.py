"""Checks for the `framework_comparison` notebook: `ComparisonChecks`, with `StepChecks`' method names.

```python
check = ComparisonChecks()
check.public("weights_to_torch", numpy_to_torch, torch_to_numpy)  # never raises: ✓ to stdout, ✗ to stderr
check.hidden("weights_to_torch", numpy_to_torch, torch_to_numpy)  # public + hidden; raises CheckFailed
with check.guard("the logits side by side"):                      # errors become one stderr line
    ...
```

Steps and the student objects each takes, in order:

- ``weights_to_torch``: numpy_to_torch, torch_to_numpy
- ``weights_to_keras``: numpy_to_keras, keras_to_numpy
- ``same_logits``: tf1_mlp, logits_in_three_frameworks
- ``pad_batch``: pad_batch
- ``static_bag``: masked_mean, static_bag
- ``dynamic_bag``: torch_bag, dynamic_bag

Every check compares the student's result with `solutions.comparison` (or its NumPy ground truth)
on fixed, seeded inputs. In the students' install, which has no `solutions`, the self-checks take
the given code (`random_weights`, `MLP`, `numpy_bag`, `run_static_bag`, ...) from the notebook's
own cells instead (those above the step's), and `pad_batch`'s expected answer from
`STORED_PADDING` (see `ComparisonChecks.given`). A failure is a `graders.checks.CheckFailed`
saying what was expected, what was found, and where to look. Calls into student code run with warnings ignored and stderr
(Python's and file descriptor 2) discarded, so a correct solution writes nothing to stderr
(nbgrader gives 0 points to a test cell with stderr output).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow is imported

import inspect
import sys
from collections.abc import Callable, Iterator

import numpy as np
import tensorflow as tf
import torch
from torch import nn

from graders.checks import CheckFailed
from graders.notebook import _caller_namespace, guard, register
from graders.quiet import quiet
from graders.reference_code import Watch, optional
from course.devices import tensorflow_device

reference = optional("solutions.comparison")  # None in the students' install

v1 = tf.compat.v1

RTOL, ATOL = 1e-4, 1e-5
WEIGHT_NAMES = ("hidden/kernel", "hidden/bias", "logits/kernel", "logits/bias")
FRAMEWORKS = ("tf1", "tf2", "torch")

TRANSPOSE_TORCH = (
    "nn.Linear stores weight as (out_features, in_features), the transpose of the canonical (in, out) "
    "kernel: did you transpose (.T)?"
)
NO_GRAD = "copy into the parameters in place inside `with torch.no_grad():` (param.copy_(...))"


# Helpers ------------------------------------------------------------------------------------
def _first_line(error: BaseException) -> str:
    """The first informative line of an error message (TensorFlow's start with boilerplate and a stack)."""
    boilerplate = ("Graph execution error", "Detected at node", "File ", "Node:", "[[")
    for line in str(error).splitlines():
        line = line.strip()
        if line and not line.startswith(boilerplate):
            return line[:300]
    return "(no message)"


# Known error messages -> what to do about them.
_ERROR_HINTS = (
    ("leaf Variable that requires grad", NO_GRAD),
    ("Can't call numpy() on Tensor that requires grad", "call .detach() before .numpy()"),
    ("can't convert cuda", "move the tensor to the CPU (.cpu()) before .numpy()"),
    ("cannot assign", "copy into the existing parameter (param.copy_(...) under torch.no_grad()), do not replace it"),
    ("uninitialized", "run v1.global_variables_initializer() in the session before returning it"),
    ("NotFoundError", "run v1.global_variables_initializer() in the session before returning it"),
    ("must be from the same graph", "build every op inside `with graph.as_default():` of the one graph"),
    ("is not an element of this graph", "build every op inside `with graph.as_default():` of the one graph"),
)


def _hint_for(error: BaseException, hint: str) -> str:
    text = f"{type(error).__name__}: {error}"
    known = [advice for pattern, advice in _ERROR_HINTS if pattern in text]
    return "; ".join(dict.fromkeys(known)) if known else hint


def _call(fn: Callable, *args, what: str, hint: str = "", name: str = "", **kwargs):
    """Run student code quietly; turn any exception into a CheckFailed that says where to look."""
    name = name or getattr(fn, "__name__", type(fn).__name__)
    try:
        with quiet():
            return fn(*args, **kwargs)
    except CheckFailed:
        raise
    except NotImplementedError:
        raise CheckFailed(
            f"not written yet: fill in the cell of {name} (replace `raise NotImplementedError()`)"
        ) from None
    except Exception as error:
        raise CheckFailed(
            what, f"{name} to run without an error", f"{type(error).__name__}: {_first_line(error)}",
            _hint_for(error, hint),
        ) from error


def _describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"np.ndarray {value.dtype} {value.shape}"
    if isinstance(value, torch.Tensor):
        return f"torch.Tensor {value.dtype} {tuple(value.shape)}"
    if tf.is_tensor(value):
        return f"{type(value).__name__} {value.dtype.name} {tuple(value.shape)}"
    return type(value).__name__


def _to_numpy_hint(value) -> str:
    if isinstance(value, torch.Tensor):
        return "convert the tensor: .detach().cpu().numpy()"
    if tf.is_tensor(value) or isinstance(value, tf.Variable):
        return "convert the tensor: .numpy()"
    return "return a NumPy array"


def _show(array: np.ndarray) -> str:
    return np.array2string(np.asarray(array), separator=", ").replace("\n", "")


def _compare(
    found,
    expected: np.ndarray,
    what: str,
    *,
    hint: str = "",
    exact: bool = False,
    show: bool = False,
    candidates: tuple = (),
    transposed_hint: str = "",
) -> None:
    """Fail unless `found` is a NumPy array of `expected`'s dtype and shape and (close) values.

    `candidates`: (array, hint) pairs of known mistakes, tried when the values differ;
    `transposed_hint`: said when `found` holds the transpose of `expected`.
    """
    if not isinstance(found, np.ndarray):
        raise CheckFailed(what, f"np.ndarray {expected.dtype} {expected.shape}", _describe(found), _to_numpy_hint(found))
    if found.shape != expected.shape:
        shape_hint = transposed_hint if found.shape == expected.shape[::-1] and transposed_hint else hint
        raise CheckFailed(what, f"shape {expected.shape}", f"shape {found.shape}", shape_hint)
    if found.dtype != expected.dtype:
        raise CheckFailed(
            what, f"dtype {expected.dtype}", f"dtype {found.dtype}", f"convert with .astype(np.{expected.dtype})"
        )
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


def _weights_dict(found, what: str, hint: str) -> dict:
    """Fail unless `found` is a dict with exactly the canonical MLP weight names."""
    if not isinstance(found, dict):
        raise CheckFailed(what, f"a dict with keys {list(WEIGHT_NAMES)}", _describe(found), hint)
    if set(found) != set(WEIGHT_NAMES):
        raise CheckFailed(what, f"keys {sorted(WEIGHT_NAMES)}", f"keys {sorted(map(str, found))}", hint)
    return found


def _graph_handles(model, fields: tuple[str, ...], what: str, returns: str):
    """Fail unless `model` has the named TF1 handles, all in one graph, and a session on that graph."""
    missing = [name for name in fields if not hasattr(model, name)]
    if missing:
        raise CheckFailed(what, f"a {returns} with fields {fields}", f"{_describe(model)}, without {missing}",
                          f"return {returns}({', '.join(fields)})")
    graph = model.graph
    if not isinstance(graph, tf.Graph):
        raise CheckFailed(what, ".graph: a tf.Graph", _describe(graph), "create the graph with tf.Graph()")
    for name in fields:
        if name in ("graph", "session"):
            continue
        tensor = getattr(model, name)
        if not isinstance(tensor, tf.Tensor) or getattr(tensor, "graph", None) is not graph:
            raise CheckFailed(what, f".{name}: a tensor of .graph", _describe(tensor),
                              "build every op inside `with graph.as_default():` and return those tensors")
    if not isinstance(model.session, v1.Session) or model.session.graph is not graph:
        raise CheckFailed(what, ".session: a v1.Session on .graph", _describe(model.session),
                          "open it with v1.Session(graph=graph, config=tensorflow_session_config())")


def _placeholder(tensor, dtype, shape: list, what: str, name: str, *, time_axis: bool = False) -> None:
    """Fail unless `tensor` is a placeholder of `dtype` and `shape` (None allowed on a time axis)."""
    if tensor.op.type not in ("Placeholder", "PlaceholderWithDefault"):
        raise CheckFailed(what, f".{name}: a placeholder", f"a {tensor.op.type} op",
                          f"create it with v1.placeholder({dtype.name}, {tuple(shape)})")
    if tensor.dtype != dtype:
        raise CheckFailed(what, f".{name} of dtype {dtype.name}", f"dtype {tensor.dtype.name}",
                          f"v1.placeholder({dtype.name}, ...)")
    found = tensor.shape.as_list() if tensor.shape.rank is not None else None
    allowed = [shape] + ([[shape[0], None]] if time_axis else [])
    if found not in allowed:
        raise CheckFailed(what, f".{name} of shape {shape}", f"shape {found}",
                          "None for the batch axis, so that one graph takes any batch size")


def _keras_mlp(input_dim: int, hidden_units: int, num_classes: int) -> tf.keras.Model:
    """A Keras MLP with Dense layers "hidden" and "logits" (Keras's initial weights), for numpy_to_keras to fill."""
    with quiet():
        return tf.keras.Sequential([
            tf.keras.Input(shape=(input_dim,)),
            tf.keras.layers.Dense(hidden_units, activation="relu", name="hidden"),
            tf.keras.layers.Dense(num_classes, name="logits"),
        ])


def _close(model) -> None:
    session = getattr(model, "session", None)
    if isinstance(session, v1.Session):
        session.close()


def _diagnose_linear(found_logits: np.ndarray, weights: dict, x: np.ndarray) -> tuple:
    """Known mistakes in an MLP's forward pass, as candidates for `_compare`."""
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


# Inputs -------------------------------------------------------------------------------------
def _x(batch: int, input_dim: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 1.0, (batch, input_dim)).astype(np.float32)


def _bag_weights(given, vocab_size: int, embed_dim: int, num_classes: int, seed: int) -> dict:
    """Given bag weights (`given.bag_weights`) whose padding id 0 embeds far from the rest, so padding shows in a mean."""
    weights = given.bag_weights(vocab_size, embed_dim, num_classes, seed)
    weights["embedding"][0] = 4.0
    return weights


SEQUENCES = [[3, 1, 4, 1, 5], [9, 2], [6, 0, 5]]  # 0 is the pad id and a real token in row 3
HIDDEN_SEQUENCES = [[7, 2, 9, 9, 1, 3, 8, 4, 6], [5], [0, 0, 2, 1]]  # one full row (max_len 9), one of length 1
# (sequences, pad_id, max_len) -> pad_batch's (ids, mask): the self-check's answer where the reference is not installed
STORED_PADDING = {
    (((3, 1, 4, 1, 5), (9, 2), (6, 0, 5)), 0, None): (
        np.array([[3, 1, 4, 1, 5], [9, 2, 0, 0, 0], [6, 0, 5, 0, 0]], np.int64),
        np.array([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 1, 1, 0, 0]], np.float32),
    ),
}


class _NotebookCode:
    """The notebook's cells by name (given code, and the student's answers that it calls)."""

    def __init__(self, namespace: dict):
        self._namespace = namespace

    def __getattr__(self, name: str):
        value = self._namespace.get(name)
        if value is None:
            raise CheckFailed(f"{name}, given in the notebook", "defined", "nothing", f"run the cell that defines {name}")
        return value


# The checks ---------------------------------------------------------------------------------
class ComparisonChecks:
    """Self-checks (`public`) and graded checks (`hidden`) for the framework_comparison notebook."""

    STEPS = ("weights_to_torch", "weights_to_keras", "same_logits", "pad_batch", "static_bag", "dynamic_bag")

    def __init__(self):
        tensorflow_device()  # grow GPU memory instead of taking it all, before TF touches the GPU
        # Tolerances of 1e-5 need full float32 matmuls: no TensorFloat-32 on Ampere+ GPUs.
        tf.config.experimental.enable_tensor_float_32_execution(False)
        torch.backends.cuda.matmul.allow_tf32 = False
        tf.get_logger().setLevel("ERROR")
        self.reference = reference
        self._namespace: dict = {}  # the notebook's, at the last public or hidden call
        register(self)

    @property
    def given(self):
        """The given code the checks build their inputs with: the reference module, or without it the notebook's cells."""
        return self.reference if self.reference is not None else _NotebookCode(self._namespace)

    def _padding(self, sequences, pad_id: int = 0, max_len: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The expected (ids, mask) of pad_batch: the reference's, or without it the stored answer."""
        if self.reference is not None:
            return self.reference.pad_batch(sequences, pad_id=pad_id, max_len=max_len)
        key = (tuple(tuple(int(token) for token in s) for s in sequences), pad_id, max_len)
        if key not in STORED_PADDING:
            raise CheckFailed(f"pad_batch on {sequences} is checked at grading only, with the course's reference solution")
        return STORED_PADDING[key]

    # The notebook API ---------------------------------------------------------------------
    def public(self, step: str, *objects) -> None:
        """The self-check cell's call: `passes`, without a value for the notebook to show as Out[]."""
        self.passes(step, *objects)

    def passes(self, step: str, *objects) -> bool:
        """Run `step`'s self-checks on the student's objects.

        Prints '✓ step: what passed; ...' to stdout, or one '✗ ...' line to stderr; returns True or
        False; never raises.
        """
        passed = []
        self._namespace = _caller_namespace()
        try:
            for description in self._run(step, objects, hidden=False):
                passed.append(description)
        except CheckFailed as failure:
            failure.step = step
            print(f"✗ {failure}", file=sys.stderr)
            return False
        except Exception as error:  # never raise in a self-check
            print(f"✗ {step}: the check itself failed: {type(error).__name__}: {_first_line(error)}", file=sys.stderr)
            return False
        print(f"✓ {step}: " + "; ".join(passed))
        return True

    def hidden(self, step: str, *objects) -> None:
        """Run `step`'s self-checks and hidden checks; raise CheckFailed (an AssertionError) on the first failure,
        or when the student's objects ran reference code (`graders.reference_code.Watch`)."""
        self._namespace = _caller_namespace()
        watch = Watch()
        try:
            passed = list(self._run(step, tuple(watch.wrap(o) for o in objects), hidden=True))
        except CheckFailed as failure:
            failure.step = step
            raise watch.failure(step) or failure from None
        except Exception as error:
            raise watch.failure(step) or CheckFailed(
                "the check itself failed", found=f"{type(error).__name__}: {_first_line(error)}",
                hint="keep the test cell as given", step=step) from error
        if used := watch.failure(step):
            raise used
        print(f"✓ {step} (public and hidden checks): " + "; ".join(passed))

    guard = staticmethod(guard)

    def _run(self, step: str, objects: tuple, *, hidden: bool) -> Iterator[str]:
        """The step's checks, one ✓ description per passed check; CheckFailed at the first failure."""
        if step not in self.STEPS:
            raise CheckFailed("the step's name", f"one of {list(self.STEPS)}", repr(step), "keep the test cell as given")
        checks = getattr(self, f"_{step}")
        wanted = [p for p in inspect.signature(checks).parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD]
        if len(objects) != len(wanted):
            raise CheckFailed(f"the objects passed to check for {step!r}", ", ".join(p.name for p in wanted),
                              f"{len(objects)} object(s)", "keep the test cell as given")
        yield from checks(*objects, hidden=hidden)

    # (a) weights ----------------------------------------------------------------------------
    def _weights_to_torch(self, numpy_to_torch, torch_to_numpy, *, hidden: bool) -> Iterator[str]:
        given = self.given

        def copy_in(weights: dict, what: str) -> nn.Module:
            (input_dim, hidden_units), num_classes = weights["hidden/kernel"].shape, weights["logits/kernel"].shape[1]
            module = given.MLP(input_dim, num_classes, hidden_units)
            parameters = list(module.parameters())
            result = _call(numpy_to_torch, weights, module, what=what, hint=TRANSPOSE_TORCH)
            after = list(module.parameters())
            if len(after) != len(parameters) or any(a is not b for a, b in zip(after, parameters)):
                raise CheckFailed(f"{what}: the module's own parameters", "the same nn.Parameter objects, filled in place",
                                  "new parameter objects", NO_GRAD + ": an optimizer built earlier holds the old ones")
            changed = [name for name, p in module.named_parameters() if p.dtype != torch.float32 or not p.requires_grad]
            if changed:
                raise CheckFailed(f"{what}: parameter dtypes", "float32 parameters that require grad",
                                  f"{changed} changed", "NumPy defaults to float64: " + NO_GRAD + " (copy_ casts to float32)")
            for name in ("hidden", "logits"):
                linear = getattr(module, name)
                kernel = weights[f"{name}/kernel"].astype(np.float32)
                _compare(
                    linear.weight.detach().cpu().numpy(), kernel.T, f"{what}: module.{name}.weight", exact=True,
                    candidates=((kernel.reshape(kernel.shape[::-1]),
                                 "reshape/view keeps the memory order and only relabels the axes: it is not a "
                                 "transpose; use .T"),),
                    transposed_hint=TRANSPOSE_TORCH + " A square layer raises no shape error: only the values tell.",
                )
                _compare(linear.bias.detach().cpu().numpy(), weights[f"{name}/bias"].astype(np.float32),
                         f"{what}: module.{name}.bias", exact=True)
            if result is not module:
                raise CheckFailed(f"{what}: return value", "the module it filled", _describe(result),
                                  "end with `return module`: torch_mlp(weights) uses it")
            return module

        def read_out(module: nn.Module, weights: dict, what: str) -> dict:
            found = _weights_dict(_call(torch_to_numpy, module, what=what), what,
                                  "one entry per canonical name: 'hidden/kernel', 'hidden/bias', ...")
            for name in WEIGHT_NAMES:
                _compare(found[name], weights[name], f"{what}: [{name!r}]", exact=True,
                         transposed_hint="canonical kernels are (in, out): transpose nn.Linear's (out, in) weight back (.T)")
            return found

        weights = given.random_weights(6, 5, 3, seed=1)
        module = copy_in(weights, "numpy_to_torch(weights, MLP(6, 3, 5))")
        yield "numpy_to_torch copies kernel.T into nn.Linear.weight, and the biases"
        read_out(module, weights, "torch_to_numpy(module)")
        yield "torch_to_numpy reads the weights back as canonical float32 arrays"
        if not hidden:
            return

        square = given.random_weights(4, 4, 4, seed=2)
        module = copy_in(square, "numpy_to_torch(weights, MLP(4, 4, 4)), square layers")
        read_out(module, square, "torch_to_numpy on square layers")
        yield "square layers, where a missing transpose raises no error"

        copy_in({name: array.astype(np.float64) for name, array in weights.items()}, "numpy_to_torch with float64 arrays")
        yield "float64 arrays land in float32 parameters"

        module = given.torch_mlp(weights)
        found = read_out(module, weights, "torch_to_numpy(module)")
        with torch.no_grad():
            for parameter in module.parameters():
                parameter.add_(1.0)
        for name in WEIGHT_NAMES:
            if not np.array_equal(found[name], weights[name]):
                raise CheckFailed(
                    f"torch_to_numpy: [{name!r}] after the module's parameters changed",
                    "the arrays keep the values they were read with",
                    "they changed with the parameters (shared memory)",
                    "on the CPU, .numpy() shares memory with the tensor and .T is a view: take a .copy()",
                )
        yield "torch_to_numpy returns copies, not views of the parameters"

    def _weights_to_keras(self, numpy_to_keras, keras_to_numpy, *, hidden: bool) -> Iterator[str]:
        no_transpose = "Keras Dense keeps the kernel as (in, out), the canonical layout: no transpose here"
        given = self.given

        def copy_in(weights: dict, what: str) -> tf.keras.Model:
            (input_dim, hidden_units), num_classes = weights["hidden/kernel"].shape, weights["logits/kernel"].shape[1]
            model = _keras_mlp(input_dim, hidden_units, num_classes)
            variables = [id(v) for v in model.weights]
            result = _call(numpy_to_keras, weights, model, what=what, hint=no_transpose)
            for name in WEIGHT_NAMES:
                layer, kind = name.split("/")
                _compare(np.asarray(getattr(model.get_layer(layer), kind).numpy()), weights[name].astype(np.float32),
                         f"{what}: layer {layer!r} {kind}", exact=True, hint="copy every layer's kernel and bias",
                         transposed_hint=no_transpose)
            if [id(v) for v in model.weights] != variables:
                raise CheckFailed(f"{what}: the model's own variables", "the same variables, assigned in place",
                                  "new variables", "variable.assign(array) or layer.set_weights([kernel, bias])")
            if result is not model:
                raise CheckFailed(f"{what}: return value", "the model it filled", _describe(result),
                                  "end with `return model`: tf2_mlp(weights) uses it")
            return model

        def read_out(model: tf.keras.Model, weights: dict, what: str) -> dict:
            found = _weights_dict(_call(keras_to_numpy, model, what=what), what,
                                  "one entry per canonical name: 'hidden/kernel', 'hidden/bias', ...")
            for name in WEIGHT_NAMES:
                _compare(found[name], weights[name], f"{what}: [{name!r}]", exact=True, transposed_hint=no_transpose)
            return found

        weights = given.random_weights(6, 5, 3, seed=1)
        model = copy_in(weights, "numpy_to_keras(weights, model)")
        yield "numpy_to_keras copies the kernels (in, out) and biases into the Dense layers"
        read_out(model, weights, "keras_to_numpy(model)")
        yield "keras_to_numpy reads the weights back as canonical float32 arrays"
        if not hidden:
            return

        square = given.random_weights(4, 4, 4, seed=2)
        read_out(copy_in(square, "numpy_to_keras on square layers"), square, "keras_to_numpy on square layers")
        yield "square layers, where a stray transpose raises no error"

        copy_in({name: array.astype(np.float64) for name, array in weights.items()}, "numpy_to_keras with float64 arrays")
        yield "float64 arrays land in the float32 variables"

        found = read_out(model, weights, "keras_to_numpy(model)")
        for variable in model.weights:
            variable.assign(np.zeros(variable.shape, np.float32))
        if any(not np.array_equal(found[name], weights[name]) for name in WEIGHT_NAMES):
            raise CheckFailed("keras_to_numpy after the model's variables changed", "the arrays keep their values",
                              "they changed with the variables", "return copies (np.array(variable.numpy()))")
        yield "keras_to_numpy returns copies"

    def _same_logits(self, tf1_mlp, logits_in_three_frameworks, *, hidden: bool) -> Iterator[str]:
        given = self.given

        def check_tf1(weights: dict, batches: tuple[int, ...], seed: int) -> None:
            input_dim, num_classes = weights["hidden/kernel"].shape[0], weights["logits/kernel"].shape[1]
            what = f"tf1_mlp(weights) with D={input_dim}"
            model = _call(tf1_mlp, weights, what=what)
            try:
                _graph_handles(model, ("graph", "inputs", "logits", "session"), what, "TF1MLP")
                _placeholder(model.inputs, tf.float32, [None, input_dim], what, "inputs")
                if model.logits.shape.as_list() != [None, num_classes]:
                    raise CheckFailed(what, f".logits of shape [None, {num_classes}]",
                                      f"shape {model.logits.shape.as_list()}", "logits = relu(x @ k1 + b1) @ k2 + b2")
                for batch in batches:
                    x = _x(batch, input_dim, seed + batch)
                    logits = _call(model.session.run, model.logits, feed_dict={model.inputs: x},
                                   what=f"{what}: session.run(logits) on a batch of {batch}", name="session.run")
                    _compare(logits, given.numpy_mlp(weights, x), f"{what}: logits of a batch of {batch}",
                             hint="compare your graph with relu(x @ hidden/kernel + hidden/bias) @ logits/kernel + logits/bias",
                             candidates=_diagnose_linear(logits, weights, x))
                if hidden:
                    trainable = sorted(tuple(v.shape.as_list()) for v in
                                       model.graph.get_collection(v1.GraphKeys.TRAINABLE_VARIABLES))
                    wanted = sorted(tuple(a.shape) for a in weights.values())
                    if trainable != wanted:
                        raise CheckFailed(f"{what}: the graph's trainable variables", f"shapes {wanted}",
                                          f"shapes {trainable}",
                                          "make each weight a variable, v1.get_variable(name, initializer=array): "
                                          "a graph of constants cannot be trained")
            finally:
                _close(model)

        def check_three(weights: dict, x: np.ndarray) -> None:
            what = f"logits_in_three_frameworks(weights, x {x.shape})"
            found = _call(logits_in_three_frameworks, weights, x, what=what)
            if not isinstance(found, dict) or set(found) != set(FRAMEWORKS):
                keys = sorted(map(str, found)) if isinstance(found, dict) else _describe(found)
                raise CheckFailed(what, f"a dict with keys {list(FRAMEWORKS)}", str(keys),
                                  'return {"tf1": ..., "tf2": ..., "torch": ...}')
            hints = {
                "tf1": "tf1_mlp: feed x to its inputs, fetch its logits with session.run",
                "tf2": "numpy_to_keras and tf2_mlp; call the model, then .numpy()",
                "torch": "numpy_to_torch (" + TRANSPOSE_TORCH + "); call the module under torch.no_grad(), then .numpy()",
            }
            expected = given.numpy_mlp(weights, x)
            for framework in FRAMEWORKS:
                _compare(found[framework], expected, f"{what}[{framework!r}] against the NumPy logits",
                         hint=hints[framework], candidates=_diagnose_linear(found[framework], weights, x))

        weights = given.random_weights(6, 5, 3, seed=3)
        check_tf1(weights, (5,), seed=10)
        yield "tf1_mlp: a (None, D) placeholder, and logits equal to NumPy's"
        check_three(weights, _x(5, 6, seed=11))
        yield "logits_in_three_frameworks: TF1, TF2 and PyTorch agree with NumPy (rtol 1e-4, atol 1e-5)"
        if not hidden:
            return

        square = given.random_weights(4, 4, 4, seed=4)
        check_tf1(square, (1, 7), seed=20)
        yield "tf1_mlp: trainable variables, any batch size, square layers"
        check_three(square, 3.0 * _x(7, 4, seed=21))
        check_three(weights, _x(1, 6, seed=22))
        yield "logits_in_three_frameworks: square layers, a batch of one"

    # (b) variable-length inputs -------------------------------------------------------------
    def _pad_batch(self, pad_batch, *, hidden: bool) -> Iterator[str]:
        def check(sequences, pad_id: int = 0, max_len: int | None = None, *, what_extra: str = "") -> None:
            arguments = f"pad_id={pad_id}" + (f", max_len={max_len}" if max_len is not None else "")
            what = f"pad_batch({[list(map(int, s)) for s in sequences]}, {arguments}){what_extra}"
            kwargs = {"pad_id": pad_id} if max_len is None else {"pad_id": pad_id, "max_len": max_len}
            found = _call(pad_batch, sequences, what=what, **kwargs)
            if not isinstance(found, tuple | list) or len(found) != 2:
                raise CheckFailed(what, "a pair (ids, mask)", _describe(found), "return ids, mask")
            ids, mask = found
            expected_ids, expected_mask = self._padding(sequences, pad_id=pad_id, max_len=max_len)
            longest = max(len(s) for s in sequences)
            size_hint = "T is max_len when it is given, else the longest sequence's length"
            if isinstance(ids, np.ndarray) and ids.shape == (len(sequences), longest) and max_len not in (None, longest):
                size_hint = f"pad to max_len={max_len}, not to the longest sequence"
            zero_padded, _ = self._padding(sequences, pad_id=0, max_len=max_len)
            _compare(ids, expected_ids, f"{what}: ids", exact=True, show=True, hint=size_hint,
                     candidates=((zero_padded, f"pad with pad_id={pad_id}, not 0"),) if pad_id != 0 else ())
            from_ids = (expected_ids != pad_id).astype(np.float32)
            _compare(mask, expected_mask, f"{what}: mask", exact=True, show=True,
                     hint="1.0 for each real token, 0.0 for each padding position",
                     candidates=((1.0 - expected_mask, "the mask is 1.0 on real tokens and 0.0 on padding, not the "
                                  "other way round"),
                                 (from_ids, f"build the mask from the lengths, not from ids != pad_id: {pad_id} is "
                                  "also a real token in this batch")))

        check(SEQUENCES)
        yield "ids int64 (B, T) padded with pad_id, mask float32 (B, T)"
        if not hidden:
            return

        check([[7, 0, 2], [5], [0, 0, 7, 1]], pad_id=7)
        check([[7, 0, 2], [5], [0, 0, 7, 1]], pad_id=0)
        yield "pad_id is also a real token: the mask comes from the lengths"
        check(SEQUENCES, max_len=7)
        check([np.array([4, 2], np.int32), (3,), np.array([1, 1, 1], np.int32)], max_len=3, what_extra=" with arrays and tuples")
        check([[5]])
        yield "max_len, NumPy int32 arrays and tuples, a batch of one"
        what = "pad_batch([[1, 2, 3]], max_len=2)"
        try:
            with quiet():
                result = pad_batch([[1, 2, 3]], max_len=2)
        except ValueError:
            pass
        except Exception as error:
            raise CheckFailed(what, "ValueError", f"{type(error).__name__}: {_first_line(error)}",
                              "raise ValueError(...) when a sequence is longer than max_len") from error
        else:
            raise CheckFailed(what, "ValueError: the sequence does not fit the graph's placeholder",
                              f"it returned {_describe(result[0]) if isinstance(result, tuple) else _describe(result)}",
                              "raise ValueError when a sequence is longer than max_len; do not cut it silently")
        yield "a sequence longer than max_len raises ValueError"

    def _static_bag(self, masked_mean, static_bag, *, hidden: bool) -> Iterator[str]:
        given = self.given

        def check_masked_mean(lengths: list[int], width: int, embed_dim: int, seed: int, *, static_width: bool) -> None:
            rng = np.random.default_rng(seed)
            embedded = rng.normal(0.0, 1.0, (len(lengths), width, embed_dim)).astype(np.float32)
            mask = (np.arange(width) < np.array(lengths)[:, None]).astype(np.float32)
            embedded[mask == 0] = 100.0  # padding that would show in any unmasked sum
            count = mask.sum(axis=1, keepdims=True)
            masked_sum = (embedded * mask[:, :, None]).sum(axis=1)
            expected = (masked_sum / count).astype(np.float32)
            candidates = (
                (embedded.mean(axis=1), "that is the mean over all T positions, padding included: multiply by the "
                 "mask, then divide by the number of real tokens"),
                (masked_sum / width, "divide by each row's number of real tokens, tf.reduce_sum(mask, axis=1), not by T"),
                (masked_sum, "divide the masked sum by the number of real tokens"),
                (embedded.sum(axis=1) / count, "multiply the embeddings by the mask (mask[:, :, tf.newaxis]) before "
                 "summing"),
            )
            shape = (None, width if static_width else None, embed_dim)
            what = f"masked_mean in a TF1 graph, embedded placeholder {shape}"
            graph = tf.Graph()
            with graph.as_default():
                embedded_in = v1.placeholder(tf.float32, shape)
                mask_in = v1.placeholder(tf.float32, shape[:2])
                out = _call(masked_mean, embedded_in, mask_in, what=what,
                            hint="TensorFlow ops only, no static T: tf.reduce_sum(mask, axis=1) counts the real tokens")
            if not isinstance(out, tf.Tensor) or out.graph is not graph:
                raise CheckFailed(what, "a tf.Tensor in the same graph", _describe(out),
                                  "use TensorFlow ops (tf.reduce_sum, *, /), not NumPy, so it works on symbolic tensors")
            with v1.Session(graph=graph) as session:
                found = _call(session.run, out, feed_dict={embedded_in: embedded, mask_in: mask}, what=what,
                              name="session.run")
            _compare(found, expected, f"{what}: the mean of the real positions", candidates=candidates,
                     hint="sum of embedded * mask over T, divided by the sum of mask over T")
            if hidden:
                what = "masked_mean on eager tensors (as in a tf.function)"
                out = _call(masked_mean, tf.constant(embedded), tf.constant(mask), what=what,
                            hint="TensorFlow ops only, so it works eagerly as well as in a graph")
                if not tf.is_tensor(out):
                    raise CheckFailed(what, "a tf.Tensor", _describe(out), "use TensorFlow ops, not NumPy")
                _compare(np.asarray(out), expected, what, candidates=candidates)

        def check_graph(weights: dict, max_len: int, sequences: list) -> None:
            what = f"static_bag(weights, max_len={max_len})"
            model = _call(static_bag, weights, max_len, what=what)
            try:
                _graph_handles(model, ("graph", "ids", "mask", "logits", "session"), what, "BagGraph")
                _placeholder(model.ids, tf.int64, [None, max_len], what, "ids", time_axis=True)
                _placeholder(model.mask, tf.float32, [None, max_len], what, "mask", time_axis=True)
                what = f"padded + masked logits of {sequences} (max_len={max_len})"
                found = _call(given.run_static_bag, model, sequences, what=what,
                              name="session.run (feeding padded ids and mask)")
                padded, _ = given.pad_batch(sequences, max_len=max_len)
                unmasked = given.numpy_bag(weights, list(padded))
                _compare(found, given.numpy_bag(weights, sequences),
                         f"{what}, against the unpadded mean (the dynamic result)",
                         hint="embedding lookup (tf.nn.embedding_lookup), masked_mean with the mask placeholder, "
                              "then @ logits/kernel + logits/bias",
                         candidates=((unmasked, "the padding (id 0) went into the mean: pass the mask placeholder "
                                      "to masked_mean"),))
            finally:
                _close(model)

        check_masked_mean([5, 2, 3], 5, 4, seed=30, static_width=True)
        yield "masked_mean averages the real positions only"
        check_graph(_bag_weights(given, 12, 4, 3, seed=31), 6, SEQUENCES)
        yield "padded + masked logits of the TF1 graph equal the unpadded (dynamic) ones"
        if not hidden:
            return

        check_masked_mean([1, 6, 4, 2], 6, 3, seed=32, static_width=False)
        yield "masked_mean with an unknown T, and eagerly"
        weights = _bag_weights(given, 10, 5, 5, seed=33)
        check_graph(weights, 9, HIDDEN_SEQUENCES)
        check_graph(weights, 4, [[3, 3, 8]])
        yield "the graph at other sizes, a full-length row, a batch of one"

    def _dynamic_bag(self, torch_bag, dynamic_bag, *, hidden: bool) -> Iterator[str]:
        given = self.given

        def check_module(weights: dict, sequences: list) -> None:
            what = "torch_bag(weights)"
            bag = _call(torch_bag, weights, what=what, hint=TRANSPOSE_TORCH)
            if not isinstance(bag, nn.Module):
                raise CheckFailed(what, "an nn.Module (a TorchBag)", _describe(bag), "return the TorchBag you filled")
            for name in ("embedding", "logits"):
                if not isinstance(getattr(bag, name, None), nn.Embedding if name == "embedding" else nn.Linear):
                    raise CheckFailed(what, "layers .embedding (nn.Embedding) and .logits (nn.Linear)",
                                      f"{[n for n, _ in bag.named_children()]}", "see TorchBag's docstring")
            _compare(bag.embedding.weight.detach().cpu().numpy(), weights["embedding"], f"{what}: .embedding.weight",
                     exact=True, hint="nn.Embedding.weight is (V, E), as the canonical embedding: copy it as is")
            kernel = weights["logits/kernel"]
            _compare(bag.logits.weight.detach().cpu().numpy(), kernel.T, f"{what}: .logits.weight", exact=True,
                     transposed_hint=TRANSPOSE_TORCH, hint=TRANSPOSE_TORCH)
            _compare(bag.logits.bias.detach().cpu().numpy(), weights["logits/bias"], f"{what}: .logits.bias", exact=True)
            what = "TorchBag.forward on a list of int64 tensors of different lengths"
            tensors = [torch.as_tensor(s, dtype=torch.int64) for s in sequences]
            logits = _call(bag, tensors, what=what, name="bag(list of tensors)")
            if not isinstance(logits, torch.Tensor):
                raise CheckFailed(what, "a torch.Tensor (B, C)", _describe(logits),
                                  "stay in torch: stack the means (torch.stack) and apply self.logits")
            if hidden:
                if logits.grad_fn is None:
                    raise CheckFailed(f"{what}: autograd", "logits that autograd can differentiate",
                                      "no grad_fn: the graph was cut", "use torch ops only inside forward (no .numpy(), "
                                      "no torch.tensor(...) of results, no torch.no_grad())")
                with quiet():
                    logits.sum().backward()
                if bag.embedding.weight.grad is None:
                    raise CheckFailed(f"{what}: autograd", "a gradient for the embedding", "none",
                                      "compute the means from self.embedding(ids) with torch ops")
            _compare(logits.detach().cpu().numpy(), given.numpy_bag(weights, sequences), what,
                     hint="the mean over each sequence's tokens (dim=0), then self.logits")

        def check_function(weights: dict, sequences: list) -> None:
            what = f"dynamic_bag(weights, {[list(map(int, s)) for s in sequences]})"
            found = _call(dynamic_bag, weights, sequences, what=what,
                          hint="turn each sequence into an int64 tensor: torch.as_tensor(ids, dtype=torch.int64)")
            _compare(found, given.numpy_bag(weights, sequences), what,
                     hint="torch_bag(weights), called on the list of tensors under torch.no_grad(), then .numpy()")

        weights = _bag_weights(given, 12, 4, 3, seed=31)
        check_module(weights, SEQUENCES)
        yield "torch_bag: embedding as is, linear weight transposed; forward takes sequences of different lengths"
        check_function(weights, SEQUENCES)
        yield "dynamic_bag(weights, sequences) returns the logits of the unpadded means"
        if not hidden:
            return

        square = _bag_weights(given, 10, 5, 5, seed=33)
        check_module(square, HIDDEN_SEQUENCES)
        yield "torch_bag: square linear layer, autograd through the loop"
        check_function(square, HIDDEN_SEQUENCES)
        check_function(square, [(4,)])
        check_function(weights, [np.array([1, 2, 3], np.int32), (0, 0)])
        yield "dynamic_bag on tuples, NumPy int32 arrays, a batch of one"
