"""The kernel's side of the comparison's checks: call the student's objects on the grader's data, keep what came out.

    observe(step, objects, inputs, hidden) -> Observation

`objects` are the notebook's objects that the step's checks take (`comparison_judge.OBJECTS`),
in order; `inputs` are data (`ComparisonCase.inputs`): the weights, the inputs x, the sequences,
the padded rectangles. The models that the student's functions fill or read are the probe's own,
built from the frameworks' standard layers (`nn.Linear` in an `nn.Sequential`, Keras `Dense`
layers): never the reference's code, which is not in the grading sandbox. What comes back is
values: logits, weights as arrays, padded ids and masks, the bag's outputs, shapes, and the
contract failures met on the way (a wrong type, a graph without its placeholders, an error the
student's code raised). The verdict is the judge's (`graders.comparison_judge`).

Each step walks its cases in the judge's order and under the judge's keys; the first failure
stops it. A value that is not a NumPy array of numbers comes back as what it was
(`{"type": ..., "hint": ...}`), which the judge reports as such.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow is imported

from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import tensorflow as tf
import torch
from torch import nn

from graders.checks import CheckFailed
from graders.comparison_judge import (
    BAG_FORWARD,
    BAG_FUNCTIONS,
    BAG_NAMES,
    CANONICAL_NAMES,
    COPIES,
    EAGER_MEAN,
    FRAMEWORKS,
    NO_GRAD,
    NO_TRANSPOSE,
    OBJECTS,
    STEPS,
    THREE_RUNS,
    TF1_RUNS,
    TRANSPOSE_TORCH,
    WEIGHT_NAMES,
    bag_run_what,
    dynamic_what,
    masked_mean_shape,
    masked_mean_what,
    pad_what,
    sequences_from,
    tf1_what,
    three_what,
    weights_in,
)
from graders.observation import Observation
from graders.probe import Probe
from graders.quiet import quiet
from course.devices import tensorflow_device

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


# The models the student's functions fill or read: standard layers, on the CPU ----------------------------
def torch_mlp(input_dim: int, hidden_units: int, num_classes: int) -> nn.Module:
    """An MLP of standard layers `hidden` and `logits` (nn.Linear), initialised by PyTorch, for numpy_to_torch to fill."""
    return nn.Sequential(OrderedDict(hidden=nn.Linear(input_dim, hidden_units), relu=nn.ReLU(), logits=nn.Linear(hidden_units, num_classes)))


def keras_mlp(input_dim: int, hidden_units: int, num_classes: int) -> tf.keras.Model:
    """A Keras MLP with Dense layers "hidden" and "logits" (Keras's initial weights), for numpy_to_keras to fill."""
    return tf.keras.Sequential([
        tf.keras.Input(shape=(input_dim,)),
        tf.keras.layers.Dense(hidden_units, activation="relu", name="hidden"),
        tf.keras.layers.Dense(num_classes, name="logits"),
    ])


def _sizes(weights: dict) -> tuple[int, int, int]:
    (input_dim, hidden_units), num_classes = weights["hidden/kernel"].shape, weights["logits/kernel"].shape[1]
    return input_dim, hidden_units, num_classes


def _filled(weights: dict, to: str):
    """The probe's own model holding `weights` (the copies check reads it with the student's function)."""
    if to == "torch":
        module = torch_mlp(*_sizes(weights))
        with torch.no_grad():
            for layer in ("hidden", "logits"):
                getattr(module, layer).weight.copy_(torch.from_numpy(weights[f"{layer}/kernel"].T.copy()))
                getattr(module, layer).bias.copy_(torch.from_numpy(weights[f"{layer}/bias"]))
        return module
    model = keras_mlp(*_sizes(weights))
    model.set_weights([weights[name] for name in WEIGHT_NAMES])
    return model


# (a) weights ----------------------------------------------------------------------------------
def _weights_to_torch(p: Probe, numpy_to_torch, torch_to_numpy, inputs: dict, hidden: bool) -> None:
    _copies(p, numpy_to_torch, torch_to_numpy, inputs, hidden, "torch")


def _weights_to_keras(p: Probe, numpy_to_keras, keras_to_numpy, inputs: dict, hidden: bool) -> None:
    _copies(p, numpy_to_keras, keras_to_numpy, inputs, hidden, "keras")


def _copies(p: Probe, copy_in, read_out, inputs: dict, hidden: bool, to: str) -> None:
    what = COPIES[to]
    fill = _torch_copy_in if to == "torch" else _keras_copy_in
    model = fill(p, copy_in, inputs, "weights", what["weights"][0])
    _read_out(p, read_out, model, "weights", what["weights"][1], to)
    if not hidden:
        return
    model = fill(p, copy_in, inputs, "square", what["square"][0])
    _read_out(p, read_out, model, "square", what["square"][1], to)
    fill(p, copy_in, inputs, "float64", what["float64"][0])
    model = _filled(weights_in(inputs, "copies"), to)
    found = _read_out(p, read_out, model, "copies", what["copies"][1], to)
    if to == "torch":
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(1.0)
    else:
        for variable in model.weights:
            variable.assign(np.zeros(variable.shape, np.float32))
    p.values.update({f"copies:after:{name}": _value(found[name]) for name in WEIGHT_NAMES})


def _torch_copy_in(p: Probe, numpy_to_torch, inputs: dict, case: str, what: str) -> nn.Module:
    weights = weights_in(inputs, case)
    module = torch_mlp(*_sizes(weights))
    parameters = list(module.parameters())
    result = _run(p, f"{case}:call", numpy_to_torch, weights, module, what=what, hint=TRANSPOSE_TORCH)
    p.check(f"{case}:parameters", _same_parameters, parameters, list(module.parameters()), what)
    p.check(f"{case}:dtypes", _float32_parameters, module, what)
    for layer in ("hidden", "logits"):
        linear = getattr(module, layer)
        p.values[f"{case}:{layer}.weight"], p.values[f"{case}:{layer}.bias"] = _torch_array(linear.weight), _torch_array(linear.bias)
    p.check(f"{case}:returned", _returned, result, module, what, "the module it filled", "end with `return module`: torch_mlp(weights) uses it")
    return module


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


def _keras_copy_in(p: Probe, numpy_to_keras, inputs: dict, case: str, what: str) -> tf.keras.Model:
    weights = weights_in(inputs, case)
    model = keras_mlp(*_sizes(weights))
    variables = [id(v) for v in model.weights]
    result = _run(p, f"{case}:call", numpy_to_keras, weights, model, what=what, hint=NO_TRANSPOSE)
    for name in WEIGHT_NAMES:
        layer, kind = name.split("/")
        p.values[f"{case}:{name}"] = _value(np.asarray(getattr(model.get_layer(layer), kind).numpy()))
    p.check(f"{case}:variables", _same_variables, variables, model, what)
    p.check(f"{case}:returned", _returned, result, model, what, "the model it filled", "end with `return model`: tf2_mlp(weights) uses it")
    return model


def _same_variables(before: list, model, what: str) -> None:
    if [id(v) for v in model.weights] != before:
        raise CheckFailed(f"{what}: the model's own variables", "the same variables, assigned in place",
                          "new variables", "variable.assign(array) or layer.set_weights([kernel, bias])")


def _read_out(p: Probe, read_out, model, case: str, what: str, to: str) -> dict:
    found = _run(p, f"{case}:read", read_out, model, what=what)
    p.check(f"{case}:keys", _weights_dict, found, what, CANONICAL_NAMES)
    p.values.update({f"{case}:read:{name}": _value(found[name]) for name in WEIGHT_NAMES})
    return found


# (a) the same logits ---------------------------------------------------------------------------
def _same_logits(p: Probe, tf1_mlp, logits_in_three_frameworks, inputs: dict, hidden: bool) -> None:
    _tf1(p, tf1_mlp, inputs, *TF1_RUNS[0], hidden)
    _three(p, logits_in_three_frameworks, inputs, 0)
    if not hidden:
        return
    _tf1(p, tf1_mlp, inputs, *TF1_RUNS[1], hidden)
    _three(p, logits_in_three_frameworks, inputs, 1)
    _three(p, logits_in_three_frameworks, inputs, 2)


def _tf1(p: Probe, tf1_mlp, inputs: dict, case: str, batches: tuple, seed: int, hidden: bool) -> None:
    weights = weights_in(inputs, case)
    what, key = tf1_what(weights), f"tf1:{case}"
    model = _run(p, f"{key}:call", tf1_mlp, weights, what=what)
    try:
        p.check(f"{key}:graph", _graph_handles, model, ("graph", "inputs", "logits", "session"), what, "TF1MLP")
        p.check(f"{key}:graph", _placeholder, model.inputs, tf.float32, [None, weights["hidden/kernel"].shape[0]], what, "inputs")
        p.values[f"{key}:logits_shape"] = model.logits.shape.as_list() if model.logits.shape.rank is not None else "unknown"
        for batch in batches:
            found = _run(p, f"{key}:run{batch}", model.session.run, model.logits, feed_dict={model.inputs: inputs[f"{key}:x{batch}"]},
                         what=f"{what}: session.run(logits) on a batch of {batch}", name="session.run")
            p.values[f"{key}:logits{batch}"] = _value(found)
        if hidden:
            trainable = model.graph.get_collection(v1.GraphKeys.TRAINABLE_VARIABLES)
            p.values[f"{key}:trainable"] = [v.shape.as_list() if v.shape.rank is not None else None for v in trainable]
    finally:
        _close(model)


def _three(p: Probe, logits_in_three_frameworks, inputs: dict, number: int) -> None:
    key, weights, x = f"three{number}", weights_in(inputs, THREE_RUNS[number][0]), inputs[f"three{number}:x"]
    what = three_what(x)
    found = _run(p, f"{key}:call", logits_in_three_frameworks, weights, x, what=what)
    p.check(f"{key}:keys", _frameworks_dict, found, what)
    p.values.update({f"{key}:{framework}": _value(found[framework]) for framework in FRAMEWORKS})


def _frameworks_dict(found, what: str) -> None:
    if not isinstance(found, dict) or set(found) != set(FRAMEWORKS):
        keys = sorted(map(str, found)) if isinstance(found, dict) else _describe(found)
        raise CheckFailed(what, f"a dict with keys {list(FRAMEWORKS)}", str(keys), 'return {"tf1": ..., "tf2": ..., "torch": ...}')


# (b) variable-length inputs ---------------------------------------------------------------------
def _pad_batch(p: Probe, pad_batch, inputs: dict, hidden: bool) -> None:
    for number in range(int(inputs["cases"])):
        key = f"pad{number}"
        sequences, pad_id, max_len = sequences_from(inputs, key), int(inputs[f"{key}:pad_id"]), int(inputs[f"{key}:max_len"])
        arguments = {"pad_id": pad_id} | ({} if max_len < 0 else {"max_len": max_len})
        what = pad_what(sequences, pad_id, None if max_len < 0 else max_len)
        found = _run(p, f"{key}:call", pad_batch, sequences, what=what, **arguments)
        p.check(f"{key}:pair", _pair, found, what)
        p.values[f"{key}:ids"], p.values[f"{key}:mask"] = _value(found[0]), _value(found[1])
    if hidden:
        try:
            result = pad_batch(sequences_from(inputs, "too_long"), max_len=int(inputs["too_long:max_len"]))
        except ValueError:
            p.values["too_long:outcome"] = "ValueError"
        except Exception as error:
            p.values["too_long:outcome"], p.values["too_long:error"] = "error", f"{type(error).__name__}: {_first_line(error)}"
        else:
            p.values["too_long:outcome"] = "returned"
            p.values["too_long:returned"] = _describe(result[0]) if isinstance(result, tuple) else _describe(result)


def _pair(found, what: str) -> None:
    if not isinstance(found, tuple | list) or len(found) != 2:
        raise CheckFailed(what, "a pair (ids, mask)", _describe(found), "return ids, mask")


def _static_bag(p: Probe, masked_mean, static_bag, inputs: dict, hidden: bool) -> None:
    _masked_mean(p, masked_mean, inputs, 0, hidden)
    _bag_graph(p, static_bag, inputs, 0)
    if not hidden:
        return
    _masked_mean(p, masked_mean, inputs, 1, hidden)
    _bag_graph(p, static_bag, inputs, 1)
    _bag_graph(p, static_bag, inputs, 2)


def _masked_mean(p: Probe, masked_mean, inputs: dict, number: int, hidden: bool) -> None:
    key = f"mm{number}"
    embedded, mask = inputs[f"{key}:embedded"], inputs[f"{key}:mask"]
    shape = masked_mean_shape(embedded, bool(inputs[f"{key}:static"]))
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
    if hidden:
        out = _run(p, f"{key}:eager_call", masked_mean, tf.constant(embedded), tf.constant(mask), what=EAGER_MEAN,
                   hint="TensorFlow ops only, so it works eagerly as well as in a graph")
        p.check(f"{key}:eager_tensor", _eager_tensor, out, EAGER_MEAN)
        p.values[f"{key}:eager"] = _value(np.asarray(out))


def _bag_graph(p: Probe, static_bag, inputs: dict, number: int) -> None:
    key = f"g{number}"
    weights, max_len = weights_in(inputs, key, BAG_NAMES), int(inputs[f"{key}:max_len"])
    what = f"static_bag(weights, max_len={max_len})"
    model = _run(p, f"{key}:call", static_bag, weights, max_len, what=what)
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


def _dynamic_bag(p: Probe, torch_bag, dynamic_bag, inputs: dict, hidden: bool) -> None:
    _bag_module(p, torch_bag, inputs, 0, hidden)
    _bag_function(p, dynamic_bag, inputs, 0)
    if not hidden:
        return
    _bag_module(p, torch_bag, inputs, 1, hidden)
    for number in range(1, len(BAG_FUNCTIONS)):
        _bag_function(p, dynamic_bag, inputs, number)


def _bag_module(p: Probe, torch_bag, inputs: dict, number: int, hidden: bool) -> None:
    key, what = f"m{number}", "torch_bag(weights)"
    bag = _run(p, f"{key}:call", torch_bag, weights_in(inputs, key, BAG_NAMES), what=what, hint=TRANSPOSE_TORCH)
    p.check(f"{key}:module", _bag_layers, bag, what)
    p.values[f"{key}:embedding.weight"] = _torch_array(bag.embedding.weight)
    p.values[f"{key}:logits.weight"], p.values[f"{key}:logits.bias"] = _torch_array(bag.logits.weight), _torch_array(bag.logits.bias)
    tensors = [torch.as_tensor(s, dtype=torch.int64) for s in sequences_from(inputs, key)]
    logits = _run(p, f"{key}:forward", bag, tensors, what=BAG_FORWARD, name="bag(list of tensors)")
    p.check(f"{key}:tensor", _torch_tensor, logits)
    if hidden:
        p.check(f"{key}:autograd", _autograd, bag, logits)
    p.values[f"{key}:logits"] = _torch_array(logits)


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


def _bag_function(p: Probe, dynamic_bag, inputs: dict, number: int) -> None:
    key = f"f{number}"
    sequences = sequences_from(inputs, key)
    found = _run(p, f"{key}:call", dynamic_bag, weights_in(inputs, key, BAG_NAMES), sequences, what=dynamic_what(sequences),
                 hint="turn each sequence into an int64 tensor: torch.as_tensor(ids, dtype=torch.int64)")
    p.values[f"{key}:logits"] = _value(found)


OBSERVE = {
    "weights_to_torch": _weights_to_torch,
    "weights_to_keras": _weights_to_keras,
    "same_logits": _same_logits,
    "pad_batch": _pad_batch,
    "static_bag": _static_bag,
    "dynamic_bag": _dynamic_bag,
}


def observe(step: str, objects: tuple, inputs: dict, hidden: bool) -> Observation:
    """What the notebook's `objects` (those `OBJECTS[step]` names, in order) give for `inputs`."""
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
        return p.observe(OBSERVE[step], *objects, inputs, hidden)
