"""One adapter per framework, each turning that framework's objects into NumPy for the checks.

Every adapter module (`tf1`, `tf2`, `torch`) defines the same names:

- ``NAME``, ``reference`` (the `solutions.<fw>_pipeline` module; None where it is not installed),
  ``setup(seed) -> device str``, ``seed(seed)``, ``checking()`` (a context manager the checks run in);
- data: ``first_batch(batches) -> (x, y)``, ``collect(batches) -> (x, y)``,
  ``count_examples(batches) -> int``, ``count_batches(batches) -> int`` (all NumPy),
  ``check_batch(batches) -> str`` (the batches hold what the framework's other steps take; raises CheckFailed);
- models: ``check_model(model) -> str`` (raises CheckFailed), ``predict(model, x) -> logits``,
  ``parameter_count(model) -> int``, ``static_shapes(model) -> {name: shape}`` (TF1 only, else
  empty), ``close(model)`` (frees a TF1 session);
- steps: ``loss_value(loss, model, x, y) -> float``, ``loss_on(loss, model, x, predictions, y)`` (the loss
  given `predictions` in place of the model's logits), ``check_optimizer(optimizer, model) -> str``,
  ``metric_value(accuracy_fn, logits, labels) -> value`` (as the function returns it: a tensor in TF2 and
  PyTorch, a NumPy value in TF1), ``check_metric_type(value) -> str``, ``probe_loss(loss)`` (the loss
  wrapped so that it counts its calls and what they computed: ``.calls``, ``.computed(steps)``; None in TF1).

Only the adapter that is loaded imports its framework: a PyTorch notebook never imports TensorFlow.
"""

import importlib

FRAMEWORKS = ("tf1", "tf2", "torch")


def load(framework: str):
    """The adapter module for 'tf1', 'tf2' or 'torch'."""
    if framework not in FRAMEWORKS:
        raise ValueError(f"unknown framework {framework!r}; expected one of {', '.join(FRAMEWORKS)}")
    return importlib.import_module(f"graders.frameworks.{framework}")
