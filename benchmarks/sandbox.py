"""What the grading sandbox costs: the same notebooks executed in the sandboxed grading kernel and in
the plain course kernel, alternately, in one process.

    .venv/bin/python benchmarks/sandbox.py [--rounds 3] [ASSIGNMENT ...]

For each assignment (default: the three pipelines) the source notebook (the course's solution
with its hidden tests, as a correct submission is graded) runs `--rounds` times each way with
`SandboxedExecute`; a one-cell notebook measures the kernel's start alone. Prints the median
seconds each way, the extra seconds the sandbox costs per notebook, and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import nbformat
from nbformat.v4 import new_code_cell, new_notebook
from traitlets.config import Config

from graders.author import build
from graders.check.kernel.startup import GRADING_KERNEL_NAME, KERNEL_NAME
from graders.runner.execute import SandboxedExecute

PIPELINES = ("tf1_pipeline", "tf2_pipeline", "torch_pipeline")


def seconds(notebook: nbformat.NotebookNode, kernel: str) -> float:
    """Wall seconds to execute a copy of `notebook` in `kernel`, in a fresh working folder."""
    copy = nbformat.from_dict(notebook)
    with tempfile.TemporaryDirectory() as workdir:
        # IPC sockets for the plain kernel too (as the sandbox uses): no TCP, so no "without encryption" warning
        ipc = {"transport": "ipc", "ip": f"{workdir}/kernel-ipc"}
        config = Config({"Execute": {"kernel_name": kernel, "timeout": 600}, "KernelManager": ipc})
        start = time.perf_counter()
        SandboxedExecute(config=config).preprocess(copy, {"metadata": {"path": workdir}})
        return time.perf_counter() - start


def compare(name: str, notebook: nbformat.NotebookNode, rounds: int) -> tuple[float, float]:
    """Median seconds (plain, sandboxed) over `rounds` alternating runs."""
    plain, sandboxed = [], []
    for round_ in range(rounds):
        order = [(KERNEL_NAME, plain), (GRADING_KERNEL_NAME, sandboxed)]
        for kernel, times in order if round_ % 2 == 0 else reversed(order):
            times.append(seconds(notebook, kernel))
    return statistics.median(plain), statistics.median(sandboxed)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*", default=list(PIPELINES))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    cases = [("kernel start (one empty cell)", new_notebook(cells=[new_code_cell("pass")]))]
    cases += [(a, nbformat.read(build.source_notebook(a), as_version=4)) for a in args.assignments]
    print(f"{'notebook':<32} {'plain s':>8} {'sandboxed s':>12} {'extra s':>8} {'ratio':>6}")
    for name, notebook in cases:
        plain, sandboxed = compare(name, notebook, args.rounds)
        print(f"{name:<32} {plain:8.2f} {sandboxed:12.2f} {sandboxed - plain:+8.2f} {sandboxed / plain:6.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
