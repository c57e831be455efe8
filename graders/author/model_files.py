"""The contract's model saved in each framework's own format, for the checks to hand to a student's function.

    python -m graders.author.model_files REQUEST.npz FOLDER

REQUEST.npz holds ``framework`` and the canonical weights (`graders.check.trusted.network.WEIGHT_NAMES`);
FOLDER receives the model: (B, D) float32 -> ``hidden`` (ReLU) -> ``logits``, standard layers holding
those weights, saved as

* ``torch``: ``model.pt``, ``torch.save`` of an ``nn.Sequential`` (``hidden``, ``relu``, ``logits``);
* ``tf2``: ``model.keras``, a Keras ``Sequential`` of ``Dense`` layers ``hidden`` and ``logits``;
* ``tf1``: ``model.meta`` + ``model.index`` + ``model.data-*``, a ``MetaGraphDef`` with placeholders
  ``inputs`` (None, D) and ``labels`` (None,), the logits tensor ``logits_output`` and a checkpoint.

Staff side: it imports the frameworks, so the grading process runs it in a subprocess
(`graders.check.trusted.model_files`), and it is not in the students' install or the grading sandbox. The kernel
loads what it writes with the framework's own loader (`load_model` of `graders.check.kernel.frameworks`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from graders.check.trusted.network import WEIGHT_NAMES  # noqa: E402


def save_torch(weights: dict, folder: Path) -> None:
    from collections import OrderedDict

    import torch

    (d, h), c = weights["hidden/kernel"].shape, weights["logits/kernel"].shape[1]
    model = torch.nn.Sequential(OrderedDict(hidden=torch.nn.Linear(d, h), relu=torch.nn.ReLU(), logits=torch.nn.Linear(h, c)))
    with torch.no_grad():
        for layer in ("hidden", "logits"):
            getattr(model, layer).weight.copy_(torch.from_numpy(weights[f"{layer}/kernel"].T.copy()))
            getattr(model, layer).bias.copy_(torch.from_numpy(weights[f"{layer}/bias"]))
    torch.save(model, folder / "model.pt")


def save_tf2(weights: dict, folder: Path) -> None:
    import tensorflow as tf

    (d, h), c = weights["hidden/kernel"].shape, weights["logits/kernel"].shape[1]
    model = tf.keras.Sequential(
        [tf.keras.Input(shape=(d,)), tf.keras.layers.Dense(h, activation="relu", name="hidden"), tf.keras.layers.Dense(c, name="logits")]
    )
    model.set_weights([weights[name] for name in WEIGHT_NAMES])
    model.save(folder / "model.keras")


def save_tf1(weights: dict, folder: Path) -> None:
    import tensorflow as tf

    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        inputs = v1.placeholder(tf.float32, (None, weights["hidden/kernel"].shape[0]), name="inputs")
        v1.placeholder(tf.int64, (None,), name="labels")
        x = inputs
        for layer, activation in (("hidden", tf.nn.relu), ("logits", None)):
            with v1.variable_scope(layer):
                kernel = v1.get_variable("kernel", initializer=tf.constant(weights[f"{layer}/kernel"]))
                bias = v1.get_variable("bias", initializer=tf.constant(weights[f"{layer}/bias"]))
            x = tf.matmul(x, kernel) + bias
            x = activation(x) if activation else x
        tf.identity(x, name="logits_output")
        with v1.Session(graph=graph) as session:
            session.run(v1.global_variables_initializer())
            v1.train.Saver().save(session, str(folder / "model"), write_meta_graph=True, write_state=False)


SAVE = {"torch": save_torch, "tf2": save_tf2, "tf1": save_tf1}


def main(argv: list[str]) -> None:
    request, folder = Path(argv[0]), Path(argv[1])
    with np.load(request, allow_pickle=False) as archive:
        framework = str(archive["framework"])
        weights = {name: archive[name] for name in WEIGHT_NAMES}
    folder.mkdir(parents=True, exist_ok=True)
    SAVE[framework](weights, folder)


if __name__ == "__main__":
    main(sys.argv[1:])
