"""`SandboxProvisioner`: the `jupyter_client` kernel provisioner of the grading kernel.

The grading kernel spec (`graders.kernel.GRADING_KERNEL_NAME`) names this provisioner, so every
kernel that grades student code is sandboxed, whoever starts it: ``python -m graders autograde``,
stock ``nbgrader autograde`` or formgrader's *Autograde* button (nbgrader's config sets
``Execute.kernel_name`` to it). Per kernel it

* talks to the kernel over IPC sockets in a private folder (the sandbox has no network);
* runs it in bubblewrap, in a fresh cgroup (memory, tasks) with a cap on written file sizes
  (`graders.runner.sandbox`), its output going to a log file, never to a pipe that a process
  left behind could hold open;
* kills it when the submission's time is up (`submission_timeout`, counted from its first cell);
* says which limit ended it (`limit_exceeded`), for `graders.runner.execute.SandboxedExecute`.

Without a working sandbox it refuses to start a kernel, unless `unsafe_no_sandbox` is set
(``--unsafe-no-sandbox``, ``COURSE_UNSAFE_NO_SANDBOX=1``).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from jupyter_client.provisioning import LocalProvisioner
from traitlets import Bool, Dict, Float, Integer, Unicode

from graders.runner import sandbox
from graders.runner.sandbox import Cgroup, Limits, SandboxUnavailable, format_size

LOG_NAME = "kernel.log"


class SandboxProvisioner(LocalProvisioner):
    """Launches the grading kernel sandboxed, capped in memory, tasks, file size and time."""

    memory_limit = Integer(Limits.memory, config=True, help="bytes of memory (swap included) for one kernel")
    process_limit = Integer(Limits.processes, config=True, help="tasks (processes and threads) in one kernel")
    file_size_limit = Integer(Limits.file_size, config=True, help="bytes of any one file the kernel writes")
    submission_timeout = Float(0.0, config=True, help="seconds one kernel (one submitted notebook) may live; 0: no cap")
    unsafe_no_sandbox = Bool(False, config=True, help="grade without the parts of the sandbox this machine lacks")
    environment = Dict(
        value_trait=Unicode(), config=True, help="variables set in the kernel's environment (a GPU, a thread budget)"
    )

    _private: Path | None = None
    _cgroup: Cgroup | None = None
    _timer: threading.Timer | None = None
    _exceeded: str | None = None

    @property
    def limits(self) -> Limits:
        return Limits(memory=self.memory_limit, processes=self.process_limit, file_size=self.file_size_limit)

    def limit_exceeded(self) -> str | None:
        """'memory limit (4 GiB)', 'process limit (1024 tasks)' or the reason given to `stop`, when one
        of them ended the kernel."""
        exceeded = self._cgroup.exceeded() if self._cgroup is not None else None
        if exceeded == "processes":
            return f"process limit ({self.process_limit} tasks)"
        if exceeded == "memory":
            return f"memory limit ({format_size(self.memory_limit)})"
        return self._exceeded

    def stop(self, reason: str) -> None:
        """Kill the kernel and everything it started, recording `reason` as the limit it exceeded."""
        self._exceeded = self._exceeded or reason
        if self.pgid:
            try:
                os.killpg(self.pgid, signal.SIGKILL)
            except OSError:
                pass

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        missing = sandbox.problems()
        if missing and not self.unsafe_no_sandbox:
            raise SandboxUnavailable(sandbox.refusal(missing))
        if missing:  # loud on the grader's own stderr, whatever logging the app that started us set up
            print(f"UNSAFE: grading student code without a full sandbox: {'; '.join(missing.values())}", file=sys.stderr)
        self._private = Path(tempfile.mkdtemp(prefix="course-kernel-"))
        km = self.parent
        km.transport, km.cache_ports = "ipc", False  # no network in the sandbox: sockets are files
        km.ip = str(self._private / "ipc")
        km.connection_file = str(self._private / "connection.json")
        kwargs = await super().pre_launch(**kwargs)
        sandbox.copy_font_cache(self._private)
        if "limits" not in missing:
            self._cgroup = Cgroup.create(self.limits)
        kwargs["cmd"] = sandbox.command(
            kwargs["cmd"],
            workdir=Path(kwargs.get("cwd") or os.getcwd()).resolve(),
            private_dir=self._private,
            env=kwargs["env"] | self.environment,
            limits=self.limits,
            cgroup=self._cgroup,
            isolate="isolation" not in missing,
        )
        return kwargs

    async def launch_kernel(self, cmd: list[str], **kwargs: Any):
        with open(self._private / LOG_NAME, "wb") as log:  # the child keeps its own copy of the descriptor
            kwargs.update(stdin=subprocess.DEVNULL, stdout=log, stderr=log)
            return await super().launch_kernel(cmd, **kwargs)

    def start_clock(self) -> None:
        """The submission's time starts now (its first cell): the kernel is killed `submission_timeout`
        seconds later. Once per kernel; a kernel started ahead of need waits without a clock."""
        if self.submission_timeout > 0 and self._timer is None:
            reason = f"time limit ({self.submission_timeout:g} s) for the submission"
            self._timer = threading.Timer(self.submission_timeout, self.stop, args=(reason,))
            self._timer.daemon = True
            self._timer.start()

    async def cleanup(self, restart: bool = False) -> None:
        await super().cleanup(restart=restart)
        if self._timer is not None:
            self._timer.cancel()
        if not restart:
            self._exceeded = self.limit_exceeded()  # read before the cgroup goes
            if self._cgroup is not None:
                self._cgroup.remove()
                self._cgroup = None
            if self._private is not None:
                shutil.rmtree(self._private, ignore_errors=True)
