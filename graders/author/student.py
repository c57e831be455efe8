"""The students' install: a wheel of what a student's environment (or a hub image) needs, without the answers.

``python -m graders student-wheel [--dist DIR]`` builds ``tf_pytorch_course_student-<version>-py3-none-any.whl``
holding `course/` and `graders.check` (the checks, the course kernel) with the ``python -m graders check``
command and ``graders/check/trusted/references.json``. It leaves out
`solutions/` (the reference answers), `graders.author` (authoring), `graders.runner` (batch
grading), `graders.check.trusted.holdout` (the held-out images), `graders.check.trusted.inputs` and `graders.check.trusted.comparison_inputs` (the
checks' inputs, which compute answers: the contract's preprocessing, fitted weights, gradients, padding). Its self-checks read
their inputs as made here, when the wheel is built (`self_check_inputs`): the public inputs of
every step on the course's dataset, and the contract models saved in each framework's format.
Its dependencies are the course's (pyproject.toml) minus the staff-only tools.

The wheel is built by pip from a small project staged in a temporary folder.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import tomllib

from graders.author.build import REPO, ToolError

NAME = "tf-pytorch-course-student"
PACKAGES = (
    "course", "graders", "graders.check", "graders.check.kernel", "graders.check.kernel.frameworks", "graders.check.shared",
    "graders.check.shared.checks", "graders.check.shared.hints", "graders.check.trusted",
)  # every .py file of each
GENERATED_DATA = {"graders.check.trusted": ["check_inputs/*.npz", "check_models/*/*"]}  # made for the wheel: self_check_inputs
TRUSTED_ONLY = {f"graders/check/trusted/{name}.py" for name in ("holdout", "inputs", "comparison_inputs")}  # stay with the graders
DATASET = "digits"  # the dataset of the course's exercises, whose self-check inputs the wheel carries
STAFF_ONLY = {"jupytext", "distributed", "psycopg", "copydetect"}  # building notebooks, a cluster, PostgreSQL, the class report
DESCRIPTION = "The students' part of the TensorFlow and PyTorch course: datasets, self-checks and the course kernel."


def project(pyproject: Path = REPO / "pyproject.toml") -> dict:
    """The course's [project] table."""
    return tomllib.loads(pyproject.read_text())["project"]


def package_data(pyproject: Path = REPO / "pyproject.toml") -> dict[str, list[str]]:
    """package -> its data files' patterns: the staff project's (pyproject.toml's package-data), and GENERATED_DATA."""
    shipped = tomllib.loads(pyproject.read_text())["tool"]["setuptools"]["package-data"]
    return {package: shipped.get(package, []) + GENERATED_DATA.get(package, []) for package in shipped | GENERATED_DATA}


def student_dependencies(course: dict) -> list[str]:
    """The course's dependencies that a student needs: all but the STAFF_ONLY tools."""
    return [spec for spec in course["dependencies"] if re.match(r"[A-Za-z0-9_.-]+", spec).group(0) not in STAFF_ONLY]


def pyproject_text(course: dict, data: dict[str, list[str]]) -> str:
    """The staged project's pyproject.toml (TOML's strings and arrays are written as JSON's)."""
    lines = [
        "[build-system]",
        'requires = ["setuptools>=69"]',
        'build-backend = "setuptools.build_meta"',
        "",
        "[project]",
        f"name = {json.dumps(NAME)}",
        f"version = {json.dumps(course['version'])}",
        f"description = {json.dumps(DESCRIPTION)}",
        f"requires-python = {json.dumps(course['requires-python'])}",
        f"dependencies = {json.dumps(student_dependencies(course))}",
        "",
        "[tool.setuptools]",
        f"packages = {json.dumps(list(PACKAGES))}",
        "",
        "[tool.setuptools.package-data]",
        *(f"{json.dumps(package)} = {json.dumps(files)}" for package, files in data.items()),
    ]
    return "\n".join(lines) + "\n"


def stage(folder: Path, course: dict, root: Path = REPO) -> None:
    """Copy the packages' .py files and data from `root` into `folder`, beside a pyproject.toml."""
    data = package_data(root / "pyproject.toml")
    for package in PACKAGES:
        source, target = root / package.replace(".", "/"), folder / package.replace(".", "/")
        target.mkdir(parents=True)
        for path in sorted(source.glob("*.py")) + [source / name for name in data.get(package, []) if "*" not in name]:
            if path.relative_to(root).as_posix() not in TRUSTED_ONLY:
                shutil.copy2(path, target / path.name)
    self_check_inputs(folder / "graders/check/trusted")
    (folder / "pyproject.toml").write_text(pyproject_text(course, data))


def self_check_inputs(folder: Path) -> None:
    """What the self-checks hand the student's functions, made now from the course's data: each step's public inputs
    (`graders.check.trusted.judge.PACKAGED_INPUTS`) and the contract models of every framework (`graders.check.trusted.model_files.PACKAGED`);
    for the comparison, each step's public inputs, the answers its judge compares with, and its models."""
    from graders.check.shared.checks import STEPS
    from graders.check.shared.comparison_contract import STEPS as COMPARISON_STEPS
    from graders.check.shared.observation import arrays_to_bytes
    from graders.check.shared.protocol import FRAMEWORKS
    from graders.check.trusted import comparison_inputs, model_files
    from graders.check.trusted.comparison_judge import ComparisonCase
    from graders.check.trusted.inputs import make_inputs
    from graders.check.trusted.judge import Case

    (folder / "check_inputs").mkdir()
    for step in STEPS:
        (folder / "check_inputs" / f"{DATASET}-{step}.npz").write_bytes(arrays_to_bytes(make_inputs(Case("torch", DATASET), step, hidden=False)))
    comparison_inputs.package(folder / "check_inputs")
    keys = [model.key for framework in FRAMEWORKS for step in STEPS for model in Case(framework, DATASET).files(step, hidden=False).values()]
    keys += [model.key for step in COMPARISON_STEPS for model in ComparisonCase().files(step, hidden=False).values()]
    model_files.package(sorted(set(keys)), folder / "check_models")


def build_wheel(dist: Path = Path("dist"), root: Path = REPO) -> Path:
    """Build the students' wheel into `dist`; return its path. ToolError with pip's output if pip fails."""
    course = project(root / "pyproject.toml")
    dist = Path(dist).resolve()
    dist.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        stage(Path(tmp) / "project", course, root)
        done = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "--wheel-dir", str(dist),
             str(Path(tmp) / "project")],
            capture_output=True,
            text=True,
        )
    wheel = dist / f"{NAME.replace('-', '_')}-{course['version']}-py3-none-any.whl"
    if done.returncode != 0 or not wheel.is_file():
        raise ToolError(f"pip wheel failed (exit {done.returncode}):\n{(done.stdout + done.stderr)[-2000:]}")
    return wheel
