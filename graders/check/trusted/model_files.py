"""The contract's model in a framework's own format, as bytes the grader hands to the kernel; no framework here.

    found = model_files("torch", weights)   # ModelFiles(entry="model.pt", files={"model.pt": b"..."})

A check that hands a student's function a model (step 4, `train`, `report`) writes these files beside
its inputs; the kernel loads them with the framework's own loader (`load_model` of
`graders.check.kernel.frameworks`): nothing in the kernel builds a model. The files are made once per framework,
weights and library version by `graders.author.model_files`, in a subprocess (this process stays
free of TensorFlow and PyTorch), and kept in a cache of the grader's (`cache_dir()`), which the
grading sandbox does not bind. The students' install carries the ones its self-checks need
(`PACKAGED`, filled when the wheel is built: `graders.author.student`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from graders.check.shared.observation import arrays_to_bytes
from graders.check.trusted.network import WEIGHT_NAMES

#: What each framework's loader takes: the file, or TF1's checkpoint prefix.
ENTRY = {"torch": "model.pt", "tf2": "model.keras", "tf1": "model"}
LIBRARY = {"torch": "torch", "tf2": "tensorflow", "tf1": "tensorflow"}
#: The students' install: the models its self-checks need, made when the wheel is built.
PACKAGED = Path(__file__).with_name("check_models")


class ModelFilesError(RuntimeError):
    """The model's files could not be made; the message holds the builder's last lines."""


@dataclass(frozen=True)
class ModelFiles:
    """A saved model: `files` (name -> bytes) and `entry`, the name its framework's loader takes."""

    key: str
    entry: str
    files: dict[str, bytes]


def cache_dir() -> Path:
    """$XDG_CACHE_HOME/tf-pytorch-course-grader/models (default ~/.cache/...): the grader's, never bound in the sandbox."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "tf-pytorch-course-grader" / "models"


def model_key(framework: str, weights: dict[str, np.ndarray]) -> str:
    """A name for these files: the framework, its library's version and the weights, hashed."""
    digest = hashlib.sha256(f"{framework} {metadata.version(LIBRARY[framework])}".encode())
    for name in WEIGHT_NAMES:
        array = np.ascontiguousarray(weights[name], np.float32)
        digest.update(f"{name} {array.shape}".encode())
        digest.update(array.tobytes())
    return f"{framework}-{digest.hexdigest()[:24]}"


def model_files(framework: str, weights: dict[str, np.ndarray]) -> ModelFiles:
    """The contract model of `framework` holding `weights`, saved in its format: read from the students' install or
    the cache, or made now."""
    key = model_key(framework, weights)
    for folder in (PACKAGED / key, cache_dir() / key):
        if folder.is_dir():
            return _read(framework, key, folder)
    return _read(framework, key, _build(framework, weights, key))


def _read(framework: str, key: str, folder: Path) -> ModelFiles:
    return ModelFiles(key, ENTRY[framework], {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()})


def _build(framework: str, weights: dict[str, np.ndarray], key: str) -> Path:
    """Run the builder in a subprocess into a fresh folder, then move it into the cache under `key`."""
    target = cache_dir() / key
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".building-") as tmp:
        request = Path(tmp) / "request.npz"
        request.write_bytes(arrays_to_bytes({"framework": np.array(framework), **{n: np.asarray(weights[n], np.float32) for n in WEIGHT_NAMES}}))
        environment = os.environ | {"CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"}
        done = subprocess.run(
            [sys.executable, "-m", "graders.author.model_files", str(request), str(Path(tmp) / "model")],
            capture_output=True, text=True, env=environment,
        )
        if done.returncode != 0:
            raise ModelFilesError(f"could not save the {framework} contract model: {(done.stdout + done.stderr)[-1500:]}")
        try:
            os.rename(Path(tmp) / "model", target)
        except OSError:  # another grading process made it meanwhile
            if not target.is_dir():
                raise
    return target


def package(keys: list[str], folder: Path) -> None:
    """Copy the cached models `keys` into `folder` (the students' install's `PACKAGED`)."""
    for key in keys:
        shutil.copytree(cache_dir() / key, folder / key)
