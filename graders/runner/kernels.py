"""Grading kernels started ahead of need.

`WarmKernels` keeps a few sandboxed grading kernels started, each in its own empty working
folder (`SandboxProvisioner.working_folder`), with the assignment's imports already done
(`warm_up_code`), so that a job's notebook starts at once while the previous one is still running.
A kernel serves one notebook and is then shut down: every student still gets a fresh process. The
imports run before any student code, as `import` statements of the assignment's own locked setup
cells, and bind no name: the student's namespace is as a fresh kernel's, and the course kernel's
seeding still happens at the first cell.
"""

from __future__ import annotations

import ast
import asyncio
import queue
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import nbformat
from jupyter_client.manager import AsyncKernelManager
from traitlets.config import Config

from graders.check.shared.ast_lock import AST_LOCK


def warm_up_code(notebook: nbformat.NotebookNode) -> str:
    """`__import__(...)` of every module that the notebook's locked setup cells import (no name bound)."""
    modules = []
    for cell in notebook.cells:
        nbgrader = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type != "code" or not nbgrader.get("locked") or nbgrader.get("grade") or nbgrader.get("solution"):
            continue
        try:
            with AST_LOCK:
                tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Import):
                modules += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                modules.append(node.module)
    return "\n".join(f"__import__({name!r})" for name in dict.fromkeys(modules))


@dataclass
class WarmKernel:
    """A started grading kernel (its working folder: `manager.provisioner.working_folder`), and the seconds its
    start-up and its warm-up imports took."""

    manager: AsyncKernelManager
    start_seconds: float = 0.0
    import_seconds: float = 0.0

    def close(self) -> None:
        """Shut the kernel down (at once: it is thrown away); its working folder ends with it."""
        asyncio.run(self.manager.shutdown_kernel(now=True))


async def _start(config: Config, warm_up: str) -> WarmKernel:
    manager = AsyncKernelManager(kernel_name=config.Execute.kernel_name, config=config)
    kernel, start = WarmKernel(manager), time.perf_counter()
    try:
        await manager.start_kernel()  # no folder to start in: its working folder starts empty
        client = manager.client()
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=config.Execute.get("startup_timeout", 60))
            kernel.start_seconds, start = time.perf_counter() - start, time.perf_counter()
            if warm_up:
                await client.execute_interactive(warm_up, silent=True, store_history=False, timeout=300)
            kernel.import_seconds = time.perf_counter() - start
        finally:
            client.stop_channels()
    except BaseException:
        await manager.shutdown_kernel(now=True)
        raise
    return kernel


class WarmKernels:
    """Up to `size` grading kernels kept started and warmed, `total` in all; `take` hands one out and
    starts its successor.

    `configs(n)` gives the config of the n-th kernel (its GPU, its thread budget); `warm_up` is
    the code run in each before it is handed out.
    """

    def __init__(self, configs, size: int, total: int, warm_up: str = ""):
        self._configs, self._total, self._warm_up = configs, total, warm_up
        self._starting = ThreadPoolExecutor(max_workers=size, thread_name_prefix="warm-kernel")
        self._ready: queue.Queue[Future] = queue.Queue()
        self._count, self._lock = 0, threading.Lock()
        for _ in range(min(size, total)):
            self._start_one()

    def _start_one(self) -> None:
        with self._lock:
            if self._count == self._total:
                return
            config, self._count = self._configs(self._count), self._count + 1
        self._ready.put(self._starting.submit(lambda: asyncio.run(_start(config, self._warm_up))))

    def take(self) -> WarmKernel:
        """A warm kernel (waiting for one if need be); a new one starts in its place."""
        kernel = self._ready.get().result()
        self._start_one()
        return kernel

    def close(self) -> None:
        """Shut down the kernels not taken."""
        self._starting.shutdown(wait=True)
        while not self._ready.empty():
            future = self._ready.get()
            if future.exception() is None:
                future.result().close()

    def __enter__(self) -> WarmKernels:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
