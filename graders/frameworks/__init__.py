"""One adapter per framework, each turning that framework's objects into NumPy for the checks.

Every adapter module (`tf1`, `tf2`, `torch`) defines the same names:

- ``NAME``, ``reference`` (the `solutions.<fw>_pipeline` module; None where it is not installed),
  ``setup(seed) -> device str``, ``seed(seed)``, ``checking()`` (a context manager the checks run in);
- data: ``first_batch(batches) -> (x, y)``, ``collect(batches) -> (x, y)``,
  ``count_examples(batches) -> int``, ``count_batches(batches) -> int`` (all NumPy);
- models: ``check_model(model) -> str`` (raises CheckFailed), ``predict(model, x) -> logits``,
  ``parameter_count(model) -> int``, ``static_shapes(model) -> {name: shape}`` (TF1 only, else
  empty), ``close(model)`` (frees a TF1 session);
- steps: ``loss_value(loss, model, x, y) -> float``, ``metric_value(accuracy_fn, logits, labels) -> value``.

Only the adapter that is loaded imports its framework: a PyTorch notebook never imports TensorFlow.
"""

import importlib

FRAMEWORKS = ("tf1", "tf2", "torch")


def load(framework: str):
    """The adapter module for 'tf1', 'tf2' or 'torch'."""
    if framework not in FRAMEWORKS:
        raise ValueError(f"unknown framework {framework!r}; expected one of {', '.join(FRAMEWORKS)}")
    return importlib.import_module(f"graders.frameworks.{framework}")
