"""The kernel's side of the comparison's checks: call the student's objects on the grader's data, keep what came out.

    observe(step, objects, inputs, hidden) -> Observation

`objects` are the notebook's objects that the step's checks take (`comparison_contract.OBJECTS`),
in order; `inputs` are data (`ComparisonCase.inputs`): the weights, the inputs x, the sequences,
the padded rectangles, and the paths of the models the grader saved (``inputs["file:<key>"]``,
`ComparisonCase.files`). Those models, which the student's copy functions fill or read, are
loaded here with their framework's own loader (`torch.load`, `tf.keras.models.load_model`):
nothing here builds a model, computes a step's answer, or imports the grader's side
(`graders.check.trusted.comparison_judge`), which the grading kernel cannot import. What comes back is values:
logits, weights as arrays, padded ids and masks, the bag's outputs, shapes, and the contract
failures met on the way (a wrong type, a graph without its placeholders, an error the student's
code raised). The verdict is the judge's.

Each step walks its cases (`comparison_contract.walk`) in the judge's order and under the judge's
keys; the first failure stops it. A value that is not a NumPy array of numbers comes back as what
it was (`{"type": ..., "hint": ...}`), which the judge reports as such.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow is imported

from collections.abc import Callable

import numpy as np
import tensorflow as tf
import torch
from torch import nn

from course.devices import tensorflow_device
from graders.check.kernel.probe import Probe
from graders.check.kernel.quiet import quiet
from graders.check.shared.checks import CheckFailed
from graders.check.shared.comparison_contract import (
    BAG_FORWARD,
    BAG_NAMES,
    CANONICAL_NAMES,
    COPIES,
    EAGER_MEAN,
    FILE,
    MODEL_FRAMEWORK,
    NO_GRAD,
    NO_TRANSPOSE,
    OBJECTS,
    STEPS,
    TF1_BATCHES,
    THREE_WEIGHTS,
    TRANSPOSE_TORCH,
    WEIGHT_NAMES,
    bag_run_what,
    dynamic_what,
    masked_mean_shape,
    masked_mean_what,
    optional_length,
    pad_what,
    sequences_from,
    tf1_what,
    three_what,
    walk,
    weights_in,
)
from graders.check.shared.observation import Observation
from graders.check.shared.protocol import FRAMEWORKS

v1 = tf.compat.v1


def setup() -> None:
    """Grow TensorFlow's GPU memory (before TF first touches the GPU) and compute matrix products in full float32:
    tolerances of 1e-5 need that, where TensorFloat-32 on Ampere and later GPUs rounds them to about 1e-3."""
    tensorflow_device()
    tf.config.experimental.enable_tensor_float_32_execution(False)
    torch.backends.cuda.matmul.allow_tf32 = False
    tf.get_logger().setLevel("ERROR")


# Running student code ---------------------------------------------------------------------------
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


def _explained(fn: Callable, *args, what: str, hint: str, name: str, **kwargs):
    """`fn(*args, **kwargs)`; any exception becomes a CheckFailed that says where to look."""
    try:
        return fn(*args, **kwargs)
    except CheckFailed:
        raise
    except NotImplementedError:
        raise CheckFailed(f"not written yet: fill in the cell of {name} (replace `raise NotImplementedError()`)") from None
    except Exception as error:
        raise CheckFailed(
            what, f"{name} to run without an error", f"{type(error).__name__}: {_first_line(error)}", _hint_for(error, hint),
        ) from error


def _run(p: Probe, key: str, fn: Callable, *args, what: str, hint: str = "", name: str = "", **kwargs):
    """Run student code (or a session on the student's graph); when it raises, record why under `key` and stop."""
    name = name or getattr(fn, "__name__", type(fn).__name__)
    return p.call(key, what, _explained, fn, *args, what=what, hint=hint, name=name, **kwargs)


# What came back --------------------------------------------------------------------------------
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


def _value(found):
    """An array of numbers as a plain copy; anything else as what it is and how to make it an array."""
    if isinstance(found, np.ndarray) and found.dtype.kind in "biuf":
        return np.array(found)
    return {"type": _describe(found), "hint": _to_numpy_hint(found)}


def _torch_array(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy().copy()


# Contract checks of the kernel's objects ------------------------------------------------------------
def _weights_dict(found, what: str, hint: str) -> None:
    """Fail unless `found` is a dict with exactly the canonical MLP weight names."""
    if not isinstance(found, dict):
        raise CheckFailed(what, f"a dict with keys {list(WEIGHT_NAMES)}", _describe(found), hint)
    if set(found) != set(WEIGHT_NAMES):
        raise CheckFailed(what, f"keys {sorted(WEIGHT_NAMES)}", f"keys {sorted(map(str, found))}", hint)


def _graph_handles(model, fields: tuple[str, ...], what: str, returns: str) -> None:
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
        raise CheckFailed(what, f".{name} of dtype {dtype.name}", f"dtype {tensor.dtype.name}", f"v1.placeholder({dtype.name}, ...)")
    found = tensor.shape.as_list() if tensor.shape.rank is not None else None
    allowed = [shape] + ([[shape[0], None]] if time_axis else [])
    if found not in allowed:
        raise CheckFailed(what, f".{name} of shape {shape}", f"shape {found}", "None for the batch axis, so that one graph takes any batch size")


def _graph_tensor(out, graph: tf.Graph, what: str) -> None:
    if not isinstance(out, tf.Tensor) or out.graph is not graph:
        raise CheckFailed(what, "a tf.Tensor in the same graph", _describe(out),
                          "use TensorFlow ops (tf.reduce_sum, *, /), not NumPy, so it works on symbolic tensors")


def _eager_tensor(out, what: str) -> None:
    if not tf.is_tensor(out):
        raise CheckFailed(what, "a tf.Tensor", _describe(out), "use TensorFlow ops, not NumPy")


def _close(model) -> None:
    session = getattr(model, "session", None)
    if isinstance(session, v1.Session):
        session.close()


def _same_parameters(before: list, after: list, what: str) -> None:
    if len(after) != len(before) or any(a is not b for a, b in zip(after, before)):
        raise CheckFailed(f"{what}: the module's own parameters", "the same nn.Parameter objects, filled in place",
                          "new parameter objects", NO_GRAD + ": an optimizer built earlier holds the old ones")


def _float32_parameters(module: nn.Module, what: str) -> None:
    changed = [name for name, p in module.named_parameters() if p.dtype != torch.float32 or not p.requires_grad]
    if changed:
        raise CheckFailed(f"{what}: parameter dtypes", "float32 parameters that require grad",
                          f"{changed} changed", "NumPy defaults to float64: " + NO_GRAD + " (copy_ casts to float32)")


def _returned(result, model, what: str, expected: str, hint: str) -> None:
    if result is not model:
        raise CheckFailed(f"{what}: return value", expected, _describe(result), hint)


def _same_variables(before: list, model, what: str) -> None:
    if [id(v) for v in model.weights] != before:
        raise CheckFailed(f"{what}: the model's own variables", "the same variables, assigned in place",
                          "new variables", "variable.assign(array) or layer.set_weights([kernel, bias])")


def _frameworks_dict(found, what: str) -> None:
    if not isinstance(found, dict) or set(found) != set(FRAMEWORKS):
        keys = sorted(map(str, found)) if isinstance(found, dict) else _describe(found)
        raise CheckFailed(what, f"a dict with keys {list(FRAMEWORKS)}", str(keys), 'return {"tf1": ..., "tf2": ..., "torch": ...}')


def _pair(found, what: str) -> None:
    if not isinstance(found, tuple | list) or len(found) != 2:
        raise CheckFailed(what, "a pair (ids, mask)", _describe(found), "return ids, mask")


def _bag_layers(bag, what: str) -> None:
    if not isinstance(bag, nn.Module):
        raise CheckFailed(what, "an nn.Module (a TorchBag)", _describe(bag), "return the TorchBag you filled")
    for name, kind in (("embedding", nn.Embedding), ("logits", nn.Linear)):
        if not isinstance(getattr(bag, name, None), kind):
            raise CheckFailed(what, "layers .embedding (nn.Embedding) and .logits (nn.Linear)",
                              f"{[n for n, _ in bag.named_children()]}", "see TorchBag's docstring")


def _torch_tensor(logits) -> None:
    if not isinstance(logits, torch.Tensor):
        raise CheckFailed(BAG_FORWARD, "a torch.Tensor (B, C)", _describe(logits), "stay in torch: stack the means (torch.stack) and apply self.logits")


def _autograd(bag: nn.Module, logits: torch.Tensor) -> None:
    """Autograd differentiates through the loop: the logits have a grad_fn, and the embedding gets a gradient."""
    what = f"{BAG_FORWARD}: autograd"
    if logits.grad_fn is None:
        raise CheckFailed(what, "logits that autograd can differentiate", "no grad_fn: the graph was cut",
                          "use torch ops only inside forward (no .numpy(), no torch.tensor(...) of results, no torch.no_grad())")
    logits.sum().backward()
    if bag.embedding.weight.grad is None:
        raise CheckFailed(what, "a gradient for the embedding", "none", "compute the means from self.embedding(ids) with torch ops")


# The models the grader saved, loaded with their framework's own loader ------------------------------------------------
def load_model(framework: str, path: str):
    """The model file at `path` (`graders.check.trusted.model_files`): a `torch.save`d nn.Sequential, on the CPU, or a `.keras` model."""
    if framework == "torch":
        return torch.load(path, weights_only=False, map_location="cpu")
    return tf.keras.models.load_model(path)


class _Observer:
    """One step's run over its cases: a method per check of `comparison_contract.WALKS`, on the student's objects."""

    def __init__(self, p: Probe, step: str, objects: tuple, inputs: dict, hidden: bool):
        self.p, self.inputs, self.hidden = p, inputs, hidden
        self.objects = dict(zip(OBJECTS[step], objects))
        self.framework = MODEL_FRAMEWORK.get(step)
        self.to = "torch" if self.framework == "torch" else "keras"
        self.filled = {}  # case key -> the model its copy-in filled, which the read-out of that key reads

    def _model(self, key: str):
        return load_model(self.framework, str(self.inputs[FILE + key]))

    # (a) weights ------------------------------------------------------------------------------
    def copy_in(self, key: str) -> None:
        """The student's copy-in on the grader's model file `key` and the weights `key`; its parameters as arrays."""
        weights, what, model = weights_in(self.inputs, key), COPIES[self.to][key][0], self._model(key)
        if self.to == "torch":
            self._torch_copy_in(model, weights, key, what)
        else:
            self._keras_copy_in(model, weights, key, what)
        self.filled[key] = model

    def _torch_copy_in(self, module: nn.Module, weights: dict, key: str, what: str) -> None:
        p, parameters = self.p, list(module.parameters())
        result = _run(p, f"{key}:call", self.objects["numpy_to_torch"], weights, module, what=what, hint=TRANSPOSE_TORCH)
        p.check(f"{key}:parameters", _same_parameters, parameters, list(module.parameters()), what)
        p.check(f"{key}:dtypes", _float32_parameters, module, what)
        for layer in ("hidden", "logits"):
            linear = getattr(module, layer)
            p.values[f"{key}:{layer}.weight"], p.values[f"{key}:{layer}.bias"] = _torch_array(linear.weight), _torch_array(linear.bias)
        p.check(f"{key}:returned", _returned, result, module, what, "the module it filled", "end with `return module`: torch_mlp(weights) uses it")

    def _keras_copy_in(self, model, weights: dict, key: str, what: str) -> None:
        p, variables = self.p, [id(v) for v in model.weights]
        result = _run(p, f"{key}:call", self.objects["numpy_to_keras"], weights, model, what=what, hint=NO_TRANSPOSE)
        for name in WEIGHT_NAMES:
            layer, kind = name.split("/")
            p.values[f"{key}:{name}"] = _value(np.asarray(getattr(model.get_layer(layer), kind).numpy()))
        p.check(f"{key}:variables", _same_variables, variables, model, what)
        p.check(f"{key}:returned", _returned, result, model, what, "the model it filled", "end with `return model`: tf2_mlp(weights) uses it")

    def read_out(self, key: str) -> dict:
        """The student's read-out of the model the copy-in of `key` filled (of the grader's model file, for "copies")."""
        model = self.filled[key] if key in self.filled else self._model(key)
        self.filled[key] = model
        what = COPIES[self.to][key][1]
        found = _run(self.p, f"{key}:read", self.objects[f"{self.to}_to_numpy"], model, what=what)
        self.p.check(f"{key}:keys", _weights_dict, found, what, CANONICAL_NAMES)
        self.p.values.update({f"{key}:read:{name}": _value(found[name]) for name in WEIGHT_NAMES})
        return found

    def copies(self, key: str) -> None:
        """The read-out of the grader's model `key`, then the arrays it gave once the model's weights changed."""
        found = self.read_out(key)
        model = self.filled[key]
        if self.to == "torch":
            with torch.no_grad():
                for parameter in model.parameters():
                    parameter.add_(1.0)
        else:
            for variable in model.weights:
                variable.assign(np.zeros(variable.shape, np.float32))
        self.p.values.update({f"{key}:after:{name}": _value(found[name]) for name in WEIGHT_NAMES})

    # (a) the same logits -----------------------------------------------------------------------
    def tf1(self, key: str) -> None:
        p, inputs = self.p, self.inputs
        weights = weights_in(inputs, key)
        what, prefix = tf1_what(weights), f"tf1:{key}"
        model = _run(p, f"{prefix}:call", self.objects["tf1_mlp"], weights, what=what)
        try:
            p.check(f"{prefix}:graph", _graph_handles, model, ("graph", "inputs", "logits", "session"), what, "TF1MLP")
            p.check(f"{prefix}:graph", _placeholder, model.inputs, tf.float32, [None, weights["hidden/kernel"].shape[0]], what, "inputs")
            p.values[f"{prefix}:logits_shape"] = model.logits.shape.as_list() if model.logits.shape.rank is not None else "unknown"
            for batch in TF1_BATCHES[key]:
                found = _run(p, f"{prefix}:run{batch}", model.session.run, model.logits, feed_dict={model.inputs: inputs[f"{prefix}:x{batch}"]},
                             what=f"{what}: session.run(logits) on a batch of {batch}", name="session.run")
                p.values[f"{prefix}:logits{batch}"] = _value(found)
            if self.hidden:
                trainable = model.graph.get_collection(v1.GraphKeys.TRAINABLE_VARIABLES)
                p.values[f"{prefix}:trainable"] = [v.shape.as_list() if v.shape.rank is not None else None for v in trainable]
        finally:
            _close(model)

    def three(self, key: str) -> None:
        weights, x = weights_in(self.inputs, THREE_WEIGHTS[key]), self.inputs[f"{key}:x"]
        what = three_what(x)
        found = _run(self.p, f"{key}:call", self.objects["logits_in_three_frameworks"], weights, x, what=what)
        self.p.check(f"{key}:keys", _frameworks_dict, found, what)
        self.p.values.update({f"{key}:{framework}": _value(found[framework]) for framework in FRAMEWORKS})

    # (b) variable-length inputs -------------------------------------------------------------
    def pad(self, key: str) -> None:
        p, inputs = self.p, self.inputs
        sequences, pad_id, max_len = sequences_from(inputs, key), int(inputs[f"{key}:pad_id"]), optional_length(inputs, f"{key}:max_len")
        arguments = {"pad_id": pad_id} | ({} if max_len is None else {"max_len": max_len})
        what = pad_what(sequences, pad_id, max_len)
        found = _run(p, f"{key}:call", self.objects["pad_batch"], sequences, what=what, **arguments)
        p.check(f"{key}:pair", _pair, found, what)
        p.values[f"{key}:ids"], p.values[f"{key}:mask"] = _value(found[0]), _value(found[1])

    def too_long(self, key: str) -> None:
        values = self.p.values
        try:
            result = self.objects["pad_batch"](sequences_from(self.inputs, key), max_len=int(self.inputs[f"{key}:max_len"]))
        except ValueError:
            values[f"{key}:outcome"] = "ValueError"
        except Exception as error:
            values[f"{key}:outcome"], values[f"{key}:error"] = "error", f"{type(error).__name__}: {_first_line(error)}"
        else:
            values[f"{key}:outcome"] = "returned"
            values[f"{key}:returned"] = _describe(result[0]) if isinstance(result, tuple) else _describe(result)

    def masked_mean(self, key: str) -> None:
        p, masked_mean = self.p, self.objects["masked_mean"]
        embedded, mask = self.inputs[f"{key}:embedded"], self.inputs[f"{key}:mask"]
        shape = masked_mean_shape(embedded, bool(self.inputs[f"{key}:static"]))
        what = masked_mean_what(shape)
        graph = tf.Graph()
        with graph.as_default():
            embedded_in, mask_in = v1.placeholder(tf.float32, shape), v1.placeholder(tf.float32, shape[:2])
            out = _run(p, f"{key}:call", masked_mean, embedded_in, mask_in, what=what,
                       hint="TensorFlow ops only, no static T: tf.reduce_sum(mask, axis=1) counts the real tokens")
        p.check(f"{key}:tensor", _graph_tensor, out, graph, what)
        with v1.Session(graph=graph) as session:
            found = _run(p, f"{key}:run", session.run, out, feed_dict={embedded_in: embedded, mask_in: mask}, what=what, name="session.run")
        p.values[f"{key}:graph"] = _value(found)
        if self.hidden:
            out = _run(p, f"{key}:eager_call", masked_mean, tf.constant(embedded), tf.constant(mask), what=EAGER_MEAN,
                       hint="TensorFlow ops only, so it works eagerly as well as in a graph")
            p.check(f"{key}:eager_tensor", _eager_tensor, out, EAGER_MEAN)
            p.values[f"{key}:eager"] = _value(np.asarray(out))

    def bag_graph(self, key: str) -> None:
        p, inputs = self.p, self.inputs
        weights, max_len = weights_in(inputs, key, BAG_NAMES), int(inputs[f"{key}:max_len"])
        what = f"static_bag(weights, max_len={max_len})"
        model = _run(p, f"{key}:call", self.objects["static_bag"], weights, max_len, what=what)
        try:
            p.check(f"{key}:graph", _graph_handles, model, ("graph", "ids", "mask", "logits", "session"), what, "BagGraph")
            p.check(f"{key}:graph", _placeholder, model.ids, tf.int64, [None, max_len], what, "ids", time_axis=True)
            p.check(f"{key}:graph", _placeholder, model.mask, tf.float32, [None, max_len], what, "mask", time_axis=True)
            found = _run(p, f"{key}:run", model.session.run, model.logits,
                         feed_dict={model.ids: inputs[f"{key}:ids"], model.mask: inputs[f"{key}:mask"]},
                         what=bag_run_what(sequences_from(inputs, key), max_len), name="session.run (feeding padded ids and mask)")
            p.values[f"{key}:logits"] = _value(found)
        finally:
            _close(model)

    def bag_module(self, key: str) -> None:
        p, what = self.p, "torch_bag(weights)"
        bag = _run(p, f"{key}:call", self.objects["torch_bag"], weights_in(self.inputs, key, BAG_NAMES), what=what, hint=TRANSPOSE_TORCH)
        p.check(f"{key}:module", _bag_layers, bag, what)
        p.values[f"{key}:embedding.weight"] = _torch_array(bag.embedding.weight)
        p.values[f"{key}:logits.weight"], p.values[f"{key}:logits.bias"] = _torch_array(bag.logits.weight), _torch_array(bag.logits.bias)
        tensors = [torch.as_tensor(s, dtype=torch.int64) for s in sequences_from(self.inputs, key)]
        logits = _run(p, f"{key}:forward", bag, tensors, what=BAG_FORWARD, name="bag(list of tensors)")
        p.check(f"{key}:tensor", _torch_tensor, logits)
        if self.hidden:
            p.check(f"{key}:autograd", _autograd, bag, logits)
        p.values[f"{key}:logits"] = _torch_array(logits)

    def bag_function(self, key: str) -> None:
        sequences = sequences_from(self.inputs, key)
        found = _run(self.p, f"{key}:call", self.objects["dynamic_bag"], weights_in(self.inputs, key, BAG_NAMES), sequences,
                     what=dynamic_what(sequences), hint="turn each sequence into an int64 tensor: torch.as_tensor(ids, dtype=torch.int64)")
        self.p.values[f"{key}:logits"] = _value(found)


def _walk(p: Probe, step: str, objects: tuple, inputs: dict, hidden: bool) -> None:
    """Each case of the step's walk (`comparison_contract.walk`), in order, by the observer's method of its check."""
    observer = _Observer(p, step, objects, inputs, hidden)
    for case in walk(step, hidden):
        getattr(observer, case.check)(case.key)


def observe(kind: str, step: str, objects: tuple, inputs: dict, hidden: bool) -> Observation:
    """What the notebook's `objects` (those `OBJECTS[step]` names, in order) give for `inputs`. The comparison
    exercise's probe (`graders.check.shared.exercises`; `kind` is "comparison")."""
    p = Probe(step, None)
    names = OBJECTS.get(step)
    if names is None:
        p._stop("objects", CheckFailed("the step's name", f"one of {list(STEPS)}", repr(step), "keep the test cell as given"))
        return p.observation
    if len(objects) != len(names):
        p._stop("objects", CheckFailed(f"the objects passed to check for {step!r}", ", ".join(names), f"{len(objects)} object(s)",
                                       "keep the test cell as given"))
        return p.observation
    for name, given in zip(names, objects):
        if not callable(given):
            found = "nothing" if given is None else type(given).__name__
            p._stop("objects", CheckFailed(f"{name}, defined in the notebook", "a function", found, f"run the cell that defines {name} first"))
            return p.observation
    with quiet():
        setup()
        return p.observe(_walk, step, objects, inputs, hidden)
