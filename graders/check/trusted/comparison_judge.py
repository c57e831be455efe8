"""The verdict of each `framework_comparison` step, decided from values: the grader's data and NumPy figures.

    case = ComparisonCase()
    inputs = case.inputs("same_logits", hidden=True)        # data only: NumPy arrays
    files = case.files("weights_to_torch", hidden=True)     # the models a step hands out, in their framework's format
    observation = comparison_probe.observe("comparison", "same_logits", (tf1_mlp, logits_in_three_frameworks), inputs, True)  # kernel
    verdict = case.judge("same_logits", inputs, observation, hidden=True)                                         # here

This module needs NumPy only: no framework, no student object, no reference solution. It holds
no answer that the notebook does not give: the logits it compares with come from the notebook's
given code (`random_weights`, `bag_weights`, `numpy_mlp`, `numpy_bag`); the data of every case and
the answers nothing given computes (the padded rectangle of a batch, the masked mean) come from
`graders.check.trusted.comparison_inputs`, the grader's, which neither the students' install nor the grading
sandbox holds. In the students' install, which carries this module for its self-checks, the
public inputs and answers are read as they were made when its wheel was built (`packaged`), and
the models from those it carries (`graders.check.trusted.model_files.PACKAGED`).

At grading it runs in the grading process (`graders.runner.verdict`), so nothing the kernel does
can turn a failed check into a passed one; a failure the kernel reports (a wrong type, a graph
without placeholders) only ever costs the student. The grading kernel cannot import it.

The models a student's function fills or reads are files in their framework's own format
(`files`, made by `graders.check.trusted.model_files`), which the grader writes beside the inputs; the kernel
loads them with the framework's own loader. The kernel's side is `graders.check.kernel.comparison_probe`;
both walk each step through `graders.check.shared.comparison_contract.WALKS`, under the same keys.
"""

from __future__ import annotations

import importlib

import numpy as np

from graders.check.shared.checks import CheckFailed
from graders.check.shared.comparison_contract import (
    BAG_FORWARD,
    BAG_NAMES,
    COPIES,
    EAGER_MEAN,
    MODEL_FRAMEWORK,
    NO_TRANSPOSE,
    OBJECTS,
    STEPS,
    TF1_BATCHES,
    THREE_WEIGHTS,
    TRANSPOSE_TORCH,
    WEIGHT_NAMES,
    as_lists,
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
from graders.check.shared.observation import Observation, arrays_from_file
from graders.check.shared.protocol import FRAMEWORKS
from graders.check.trusted import network
from graders.check.trusted.judge import PACKAGED_INPUTS, Verdict, _Judge, _Stop
from graders.check.trusted.model_files import ModelFiles, model_files

RTOL, ATOL = 1e-4, 1e-5
FILLED_SEED = 99  # the weights the models a copy-in fills hold before: none that a case copies
MASKED_MEAN_MISTAKES = {  # masked_mean: the known mistakes `graders.check.trusted.comparison_inputs.masked_means` computes, by name
    "all_positions": "that is the mean over all T positions, padding included: multiply by the mask, then divide by the "
                     "number of real tokens",
    "over_T": "divide by each row's number of real tokens, tf.reduce_sum(mask, axis=1), not by T",
    "sum": "divide the masked sum by the number of real tokens",
    "unmasked_sum": "multiply the embeddings by the mask (mask[:, :, tf.newaxis]) before summing",
}
SHARED_MEMORY = {  # the read-out changed with the weights it was read from
    "torch": ("the arrays keep the values they were read with", "they changed with the parameters (shared memory)",
              "on the CPU, .numpy() shares memory with the tensor and .T is a view: take a .copy()"),
    "keras": ("keras_to_numpy after the model's variables changed", "the arrays keep their values", "they changed with the variables",
              "return copies (np.array(variable.numpy()))"),
}


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


def numpy_bag(weights: dict, sequences) -> np.ndarray:
    """The bag's logits of B sequences of ids, unpadded (the notebook's given `numpy_bag`)."""
    embedding = weights["embedding"].astype(np.float64)
    means = np.stack([embedding[np.asarray(ids, dtype=np.int64)].mean(axis=0) for ids in sequences])
    return (means @ weights["logits/kernel"].astype(np.float64) + weights["logits/bias"]).astype(np.float32)


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


# Where the answers come from -------------------------------------------------------------------
def _made():
    """`graders.check.trusted.comparison_inputs`, which computes the inputs and answers; None where it is not installed (the students')."""
    try:
        return importlib.import_module("graders.check.trusted.comparison_inputs")
    except ImportError:
        return None


def packaged(step: str, hidden: bool, part: str) -> dict[str, np.ndarray]:
    """The public inputs (`part` "") or expected values (".expected") of `step`, as made when the students' wheel was
    built (`graders.check.trusted.comparison_inputs.package`)."""
    if hidden:
        raise CheckFailed("the hidden checks run when the notebook is graded, not in the students' install")
    path = PACKAGED_INPUTS / f"comparison-{step}{part}.npz"
    if not path.is_file():
        raise CheckFailed(f"the checks of {step} are not in this install", hint="the course's install instructions")
    return arrays_from_file(path)


# The verdicts ---------------------------------------------------------------------------------
class ComparisonCase:
    """The grader's side of the comparison's checks: the inputs and model files it hands out, and the verdicts."""

    def __init__(self, kind: str = "comparison", dataset: str | None = None):
        """The comparison has one kind and no dataset to choose (`graders.check.shared.exercises`)."""

    def explanation_kit(self, verdicts: dict[str, bool]) -> None:
        """None: the comparison's whole-pipeline cell takes no kit (see `Case.explanation_kit`)."""

    def known(self, step: str) -> None:
        """CheckFailed for a step this assignment does not have."""
        if step not in OBJECTS:
            raise CheckFailed("the step's name", f"one of {list(STEPS)}", repr(step), "keep the test cell as given", step=step)

    # -- inputs: what the probe gets, as data ----------------------------------------------------
    def inputs(self, step: str, hidden: bool) -> dict[str, np.ndarray]:
        """The arrays the probe of `step` reads, each case's under its key (`graders.check.trusted.comparison_inputs.make_inputs`); in
        the students' install, the public ones made when its wheel was built."""
        if step not in OBJECTS:
            raise ValueError(f"unknown step {step!r}; expected one of {', '.join(STEPS)}")
        made = _made()
        return made.make_inputs(step, hidden) if made else packaged(step, hidden, "")

    def expected(self, step: str, hidden: bool) -> dict[str, np.ndarray]:
        """The answers the judge of `step` compares with that no given code computes
        (`graders.check.trusted.comparison_inputs.make_expected`); never handed to the kernel. In the students' install, the public
        ones made when its wheel was built."""
        made = _made()
        return made.make_expected(step, hidden) if made else packaged(step, hidden, ".expected")

    def files(self, step: str, hidden: bool) -> dict[str, ModelFiles]:
        """The models the probe of `step` loads, by case key (`inputs["file:<key>"]` names each one's entry): for a
        copy-in, a model of the same sizes holding other weights than it copies (`FILLED_SEED`); for the copies case,
        the weights of its inputs. In the students' install, read from those it carries (`graders.check.trusted.model_files`)."""
        if step not in MODEL_FRAMEWORK:
            return {}
        inputs, files = self.inputs(step, hidden), {}
        for case in walk(step, hidden):
            weights = weights_in(inputs, case.key)
            if case.check == "copies":
                files[case.key] = model_files(MODEL_FRAMEWORK[step], weights)
            elif case.check == "copy_in":
                (d, h), c = weights["hidden/kernel"].shape, weights["logits/kernel"].shape[1]
                files[case.key] = model_files(MODEL_FRAMEWORK[step], random_weights(d, h, c, seed=FILLED_SEED))
        return files

    # -- verdicts ----------------------------------------------------------------------------------
    def judge(self, step: str, inputs: dict, observation: Observation, hidden: bool) -> Verdict:
        """Each case of the step's walk judged in order, its note added to the ✓ line once it passed; the first failure stops."""
        expected = self.expected(step, hidden)

        def judge_step(j: _Judge) -> None:
            j.kernel("objects")
            for case in walk(step, hidden):
                getattr(self, f"_{case.check}")(j, inputs, expected, case.key, hidden)
                if case.note:
                    j.verdict.passed.append(case.note)

        return _Judge(step, observation).run(judge_step)

    # (a) weights ----------------------------------------------------------------------------
    def _copy_in(self, j: _Judge, inputs: dict, expected: dict, key: str, hidden: bool) -> None:
        to = _copies_to(j)
        what, weights = COPIES[to][key][0], weights_in(inputs, key)
        j.kernel(f"{key}:call")
        if to == "torch":
            j.kernel(f"{key}:parameters")
            j.kernel(f"{key}:dtypes")
            for layer in ("hidden", "logits"):
                kernel = weights[f"{layer}/kernel"].astype(np.float32)
                j.check(compare, j.need(f"{key}:{layer}.weight"), kernel.T, f"{what}: module.{layer}.weight", exact=True,
                        candidates=((kernel.reshape(kernel.shape[::-1]),
                                     "reshape/view keeps the memory order and only relabels the axes: it is not a "
                                     "transpose; use .T"),),
                        transposed_hint=TRANSPOSE_TORCH + " A square layer raises no shape error: only the values tell.")
                j.check(compare, j.need(f"{key}:{layer}.bias"), weights[f"{layer}/bias"].astype(np.float32),
                        f"{what}: module.{layer}.bias", exact=True)
        else:
            for name in WEIGHT_NAMES:
                layer, kind = name.split("/")
                j.check(compare, j.need(f"{key}:{name}"), weights[name].astype(np.float32), f"{what}: layer {layer!r} {kind}",
                        exact=True, hint="copy every layer's kernel and bias", transposed_hint=NO_TRANSPOSE)
            j.kernel(f"{key}:variables")
        j.kernel(f"{key}:returned")

    def _read_out(self, j: _Judge, inputs: dict, expected: dict, key: str, hidden: bool) -> None:
        to = _copies_to(j)
        what, weights = COPIES[to][key][1], weights_in(inputs, key)
        j.kernel(f"{key}:read")
        j.kernel(f"{key}:keys")
        hint = "canonical kernels are (in, out): transpose nn.Linear's (out, in) weight back (.T)" if to == "torch" else NO_TRANSPOSE
        for name in WEIGHT_NAMES:
            j.check(compare, j.need(f"{key}:read:{name}"), weights[name], f"{what}: [{name!r}]", exact=True, transposed_hint=hint)

    def _copies(self, j: _Judge, inputs: dict, expected: dict, key: str, hidden: bool) -> None:
        """The read-out of a model the grader saved, then, once the model's weights changed, the arrays it gave unchanged."""
        self._read_out(j, inputs, expected, key, hidden)
        to, weights = _copies_to(j), weights_in(inputs, key)
        for name in WEIGHT_NAMES:
            after = j.need(f"{key}:after:{name}")
            if not (isinstance(after, np.ndarray) and np.array_equal(after, weights[name])):
                _refuse(j, CheckFailed(*SHARED_MEMORY[to]) if to == "keras" else CheckFailed(
                    f"torch_to_numpy: [{name!r}] after the module's parameters changed", *SHARED_MEMORY[to]))

    # (a) the same logits -----------------------------------------------------------------------
    def _tf1(self, j: _Judge, inputs: dict, expected: dict, key: str, hidden: bool) -> None:
        weights = weights_in(inputs, key)
        what, num_classes = tf1_what(weights), weights["logits/kernel"].shape[1]
        j.kernel(f"tf1:{key}:call")
        j.kernel(f"tf1:{key}:graph")
        shape = j.need(f"tf1:{key}:logits_shape")
        if shape != [None, num_classes]:
            _refuse(j, CheckFailed(what, f".logits of shape [None, {num_classes}]", f"shape {shape}", "logits = relu(x @ k1 + b1) @ k2 + b2"))
        for batch in TF1_BATCHES[key]:
            x = inputs[f"tf1:{key}:x{batch}"]
            j.kernel(f"tf1:{key}:run{batch}")
            j.check(compare, j.need(f"tf1:{key}:logits{batch}"), numpy_mlp(weights, x), f"{what}: logits of a batch of {batch}",
                    hint="compare your graph with relu(x @ hidden/kernel + hidden/bias) @ logits/kernel + logits/bias",
                    candidates=diagnose_linear(weights, x))
        if hidden:
            found = j.need(f"tf1:{key}:trainable")
            trainable = _shapes(found)
            wanted = sorted(tuple(a.shape) for a in weights.values())
            if trainable != wanted:
                _refuse(j, CheckFailed(f"{what}: the graph's trainable variables", f"shapes {wanted}", f"shapes {trainable}",
                                       "make each weight a variable, v1.get_variable(name, initializer=array): "
                                       "a graph of constants cannot be trained"))

    def _three(self, j: _Judge, inputs: dict, expected: dict, key: str, hidden: bool) -> None:
        weights, x = weights_in(inputs, THREE_WEIGHTS[key]), inputs[f"{key}:x"]
        what = three_what(x)
        j.kernel(f"{key}:call")
        j.kernel(f"{key}:keys")
        hints = {
            "tf1": "tf1_mlp: feed x to its inputs, fetch its logits with session.run",
            "tf2": "numpy_to_keras and tf2_mlp; call the model, then .numpy()",
            "torch": "numpy_to_torch (" + TRANSPOSE_TORCH + "); call the module under torch.no_grad(), then .numpy()",
        }
        logits = numpy_mlp(weights, x)
        for framework in FRAMEWORKS:
            j.check(compare, j.need(f"{key}:{framework}"), logits, f"{what}[{framework!r}] against the NumPy logits",
                    hint=hints[framework], candidates=diagnose_linear(weights, x))

    # (b) variable-length inputs -------------------------------------------------------------
    def _pad(self, j: _Judge, inputs: dict, expected: dict, key: str, hidden: bool) -> None:
        sequences, pad_id = sequences_from(inputs, key), int(inputs[f"{key}:pad_id"])
        max_len = optional_length(inputs, f"{key}:max_len")
        what = pad_what(sequences, pad_id, max_len)
        j.kernel(f"{key}:call")
        j.kernel(f"{key}:pair")
        ids, mask = j.need(f"{key}:ids"), j.need(f"{key}:mask")
        expected_ids, expected_mask = expected[f"{key}:ids"], expected[f"{key}:mask"]
        longest = max(len(s) for s in sequences)
        size_hint = "T is max_len when it is given, else the longest sequence's length"
        if isinstance(ids, np.ndarray) and ids.shape == (len(sequences), longest) and max_len not in (None, longest):
            size_hint = f"pad to max_len={max_len}, not to the longest sequence"
        zero_padded = np.where(expected_mask == 1.0, expected_ids, 0)
        j.check(compare, ids, expected_ids, f"{what}: ids", exact=True, show=True, hint=size_hint,
                candidates=((zero_padded, f"pad with pad_id={pad_id}, not 0"),) if pad_id != 0 else ())
        from_ids = (expected_ids != pad_id).astype(np.float32)
        j.check(compare, mask, expected_mask, f"{what}: mask", exact=True, show=True,
                hint="1.0 for each real token, 0.0 for each padding position",
                candidates=((1.0 - expected_mask, "the mask is 1.0 on real tokens and 0.0 on padding, not the other way round"),
                            (from_ids, f"build the mask from the lengths, not from ids != pad_id: {pad_id} is "
                             "also a real token in this batch")))

    def _too_long(self, j: _Judge, inputs: dict, expected: dict, key: str, hidden: bool) -> None:
        what = f"pad_batch({as_lists(sequences_from(inputs, key))}, max_len={int(inputs[f'{key}:max_len'])})"
        outcome = j.need(f"{key}:outcome")
        if outcome == "error":
            _refuse(j, CheckFailed(what, "ValueError", str(j.need(f"{key}:error")),
                                   "raise ValueError(...) when a sequence is longer than max_len"))
        elif outcome != "ValueError":
            _refuse(j, CheckFailed(what, "ValueError: the sequence does not fit the graph's placeholder",
                                   f"it returned {j.need(f'{key}:returned')}",
                                   "raise ValueError when a sequence is longer than max_len; do not cut it silently"))

    def _masked_mean(self, j: _Judge, inputs: dict, expected: dict, key: str, hidden: bool) -> None:
        mean = expected[f"{key}:mean"]
        candidates = tuple((expected[f"{key}:{mistake}"], hint) for mistake, hint in MASKED_MEAN_MISTAKES.items())
        what = masked_mean_what(masked_mean_shape(inputs[f"{key}:embedded"], bool(inputs[f"{key}:static"])))
        j.kernel(f"{key}:call")
        j.kernel(f"{key}:tensor")
        j.kernel(f"{key}:run")
        j.check(compare, j.need(f"{key}:graph"), mean, f"{what}: the mean of the real positions", candidates=candidates,
                hint="sum of embedded * mask over T, divided by the sum of mask over T")
        if hidden:
            j.kernel(f"{key}:eager_call")
            j.kernel(f"{key}:eager_tensor")
            j.check(compare, j.need(f"{key}:eager"), mean, EAGER_MEAN, candidates=candidates)

    def _bag_graph(self, j: _Judge, inputs: dict, expected: dict, key: str, hidden: bool) -> None:
        weights, sequences = weights_in(inputs, key, BAG_NAMES), sequences_from(inputs, key)
        max_len = int(inputs[f"{key}:max_len"])
        j.kernel(f"{key}:call")
        j.kernel(f"{key}:graph")
        j.kernel(f"{key}:run")
        unmasked = numpy_bag(weights, list(inputs[f"{key}:ids"]))
        j.check(compare, j.need(f"{key}:logits"), numpy_bag(weights, sequences),
                f"{bag_run_what(sequences, max_len)}, against the unpadded mean (the dynamic result)",
                hint="embedding lookup (tf.nn.embedding_lookup), masked_mean with the mask placeholder, then @ logits/kernel + logits/bias",
                candidates=((unmasked, "the padding (id 0) went into the mean: pass the mask placeholder to masked_mean"),))

    def _bag_module(self, j: _Judge, inputs: dict, expected: dict, key: str, hidden: bool) -> None:
        what = "torch_bag(weights)"
        weights, sequences = weights_in(inputs, key, BAG_NAMES), sequences_from(inputs, key)
        j.kernel(f"{key}:call")
        j.kernel(f"{key}:module")
        j.check(compare, j.need(f"{key}:embedding.weight"), weights["embedding"], f"{what}: .embedding.weight", exact=True,
                hint="nn.Embedding.weight is (V, E), as the canonical embedding: copy it as is")
        j.check(compare, j.need(f"{key}:logits.weight"), weights["logits/kernel"].T, f"{what}: .logits.weight", exact=True,
                transposed_hint=TRANSPOSE_TORCH, hint=TRANSPOSE_TORCH)
        j.check(compare, j.need(f"{key}:logits.bias"), weights["logits/bias"], f"{what}: .logits.bias", exact=True)
        j.kernel(f"{key}:forward")
        j.kernel(f"{key}:tensor")
        if hidden:
            j.kernel(f"{key}:autograd")
        j.check(compare, j.need(f"{key}:logits"), numpy_bag(weights, sequences), BAG_FORWARD,
                hint="the mean over each sequence's tokens (dim=0), then self.logits")

    def _bag_function(self, j: _Judge, inputs: dict, expected: dict, key: str, hidden: bool) -> None:
        weights, sequences = weights_in(inputs, key, BAG_NAMES), sequences_from(inputs, key)
        j.kernel(f"{key}:call")
        j.check(compare, j.need(f"{key}:logits"), numpy_bag(weights, sequences), dynamic_what(sequences),
                hint="torch_bag(weights), called on the list of tensors under torch.no_grad(), then .numpy()")


def _copies_to(j: _Judge) -> str:
    """The framework a weights step copies into: "torch" or "keras"."""
    return "torch" if j.verdict.step == "weights_to_torch" else "keras"


def _refuse(j: _Judge, failure: CheckFailed):
    """Report `failure` and end the step's judgement: every check of this assignment stops at the first failure."""
    j.fail(failure)
    raise _Stop
