"""`SandboxProvisioner`: the `jupyter_client` kernel provisioner of the grading kernel.

The grading kernel spec (`graders.check.kernel.startup.GRADING_KERNEL_NAME`) names this provisioner, so every
kernel that grades student code is sandboxed, whoever starts it: ``python -m graders autograde``,
stock ``nbgrader autograde`` or formgrader's *Autograde* button (nbgrader's config sets
``Execute.kernel_name`` to it). Per kernel it

* talks to the kernel over IPC sockets in a private folder (the sandbox has no network);
* runs it in bubblewrap, in a fresh cgroup (memory, tasks) with a cap on written file sizes
  (`graders.runner.sandbox`), its output going to files (bubblewrap's to a log in the kernel's
  folder, the kernel's to its /tmp), never to a pipe that a process left behind could hold open;
* gives it a working folder of its own (`working_folder`): a tmpfs in the sandbox, capped in size
  with its /tmp (`disk_limit`), into which it copies the regular files of the folder the kernel
  was started in (``autograded/<student>/<assignment>/`` under stock nbgrader), following no link.
  The grader opens it once, through the sandbox's root (``/proc/<pid>/root``), before any file or
  code of the submission's is there, and reaches it through that descriptor after. Nothing the
  kernel leaves there is taken back, and it ends with the kernel. The folder the kernel was started
  in is not in the sandbox at all, so nbgrader, formgrader and the feedback never read what the
  kernel made;
* kills it when the submission's time is up (`submission_timeout`, counted from its first cell);
* says which limit ended it (`limit_exceeded`), for `graders.runner.execute.SandboxedExecute`.

Without a working sandbox it refuses to start a kernel, unless `unsafe_no_sandbox` is set
(``--unsafe-no-sandbox``, ``COURSE_UNSAFE_NO_SANDBOX=1``): then the working folder is a plain copy
on the host, without a size cap.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from jupyter_client.provisioning import LocalProvisioner
from traitlets import Bool, Dict, Float, Integer, Unicode

from graders.runner import sandbox
from graders.runner.sandbox import CGROUP_PREFIX, KERNEL_PREFIX, Cgroup, Limits, SandboxUnavailable, format_size

LOG_NAME = "kernel.log"
SETUP_SECONDS = 60  # bubblewrap's set-up of the sandbox, at most
_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class SandboxProvisioner(LocalProvisioner):
    """Launches the grading kernel sandboxed, in a private working folder, capped in memory, tasks, file size,
    disk and time."""

    memory_limit = Integer(Limits.memory, config=True, help="bytes of memory (swap included) for one kernel")
    process_limit = Integer(Limits.processes, config=True, help="tasks (processes and threads) in one kernel")
    file_size_limit = Integer(Limits.file_size, config=True, help="bytes of any one file the kernel writes")
    disk_limit = Integer(Limits.disk, config=True, help="bytes of one kernel's working folder and /tmp together")
    submission_timeout = Float(0.0, config=True, help="seconds one kernel (one submitted notebook) may live; 0: no cap")
    unsafe_no_sandbox = Bool(False, config=True, help="grade without the parts of the sandbox this machine lacks")
    environment = Dict(
        value_trait=Unicode(), config=True, help="variables set in the kernel's environment (a GPU, a thread budget)"
    )

    _folder: Path | None = None  # the kernel's own folder on the host (sandbox.KERNEL_PREFIX)
    _lock: int | None = None  # holds the folder's lock (sandbox.private_folder)
    _source: Path | None = None  # the folder the kernel was started in, whose regular files it gets
    _info: int | None = None  # bubblewrap's --info-fd, read end
    _mounts: tuple[int, ...] = ()  # descriptors of the working folder and /tmp in the sandbox, for their size
    _cgroup: Cgroup | None = None
    _timer: threading.Timer | None = None
    _exceeded: str | None = None

    @property
    def limits(self) -> Limits:
        return Limits(
            memory=self.memory_limit, processes=self.process_limit, file_size=self.file_size_limit, disk=self.disk_limit
        )

    @property
    def working_folder(self) -> Path | None:
        """Where the kernel works, by the same path for the grader and in the sandbox (None before its launch): a
        copy, made for this kernel, of the regular files of the folder it was started in."""
        return None if self._folder is None else self._folder / "work"

    def limit_exceeded(self) -> str | None:
        """'memory limit (4 GiB)', 'process limit (1024 tasks)', 'disk limit (1 GiB)' or the reason given to `stop`,
        when one of them ended the kernel."""
        exceeded = self._cgroup.exceeded() if self._cgroup is not None else None
        if exceeded == "processes":
            return f"process limit ({self.process_limit} tasks)"
        if exceeded == "memory":
            return f"memory limit ({format_size(self.memory_limit)})"
        if self._mounts and self.disk_used() >= self.disk_limit:
            return f"disk limit ({format_size(self.disk_limit)})"
        return self._exceeded

    def disk_used(self) -> int:
        """Bytes the kernel's working folder and /tmp hold."""
        used = {}
        for fd in self._mounts:
            size = os.fstatvfs(fd)
            used[os.fstat(fd).st_dev] = (size.f_blocks - size.f_bfree) * size.f_frsize
        return sum(used.values())

    def stop(self, reason: str) -> None:
        """Kill the kernel and everything it started, recording `reason` as the limit it exceeded."""
        self._exceeded = self._exceeded or reason
        self._kill()

    def _kill(self) -> None:
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
        self._folder, self._lock = sandbox.private_folder(KERNEL_PREFIX)
        try:
            return await self._prepare(missing, **kwargs)
        except BaseException:
            self._release()
            raise

    async def _prepare(self, missing: dict[str, str], **kwargs: Any) -> dict[str, Any]:
        """`pre_launch` in the kernel's new folder: its connection, its cgroup, its command line."""
        private = self._folder / "kernel"  # bound into the sandbox: connection file, sockets, Matplotlib's cache
        private.mkdir()
        km = self.parent
        km.transport, km.cache_ports = "ipc", False  # no network in the sandbox: sockets are files
        km.ip = str(private / "ipc")
        km.connection_file = str(private / "connection.json")
        self._source = Path(kwargs["cwd"]) if kwargs.get("cwd") else None
        kwargs = await super().pre_launch(**kwargs)
        sandbox.copy_font_cache(private)
        if "limits" not in missing:
            self._cgroup = Cgroup.create(self.limits, CGROUP_PREFIX + self._folder.name.removeprefix(KERNEL_PREFIX))
        info_write = None
        if "isolation" in missing:
            self.working_folder.mkdir()
            kwargs["cwd"] = str(self.working_folder)
        else:
            self._info, info_write = os.pipe()
            kwargs.update(cwd=str(private), pass_fds=(info_write,))
        kwargs["cmd"] = sandbox.command(
            kwargs["cmd"],
            workdir=self.working_folder,
            private_dir=private,
            env=kwargs["env"] | self.environment,
            limits=self.limits,
            cgroup=self._cgroup,
            info_fd=info_write,
        )
        return kwargs

    async def launch_kernel(self, cmd: list[str], **kwargs: Any):
        try:
            try:
                with open(self._folder / LOG_NAME, "wb") as log:  # the child keeps its own copy of the descriptor
                    kwargs.update(stdin=subprocess.DEVNULL, stdout=log, stderr=log)
                    info = await super().launch_kernel(cmd, **kwargs)
            finally:
                for fd in kwargs.get("pass_fds", ()):  # bubblewrap's end of the info pipe
                    os.close(fd)
            work = await self._open_sandbox() if self._info is not None else os.open(self.working_folder, _FOLDER)
            try:
                if self._source is not None:
                    copy_regular_files(self._source, work, self.file_size_limit, self.disk_limit)
            finally:
                if work not in self._mounts:
                    os.close(work)
        except BaseException:
            self._kill()
            self._release()
            raise
        return info

    async def _open_sandbox(self) -> int:
        """Once bubblewrap has set the sandbox up, before any of the submission's files is there: its working folder
        (a descriptor, kept with /tmp's in `_mounts`), opened through the sandbox's root, and `working_folder` on the
        host, a link to that descriptor, so that the grader never again resolves a path inside the sandbox."""
        pid = json.loads(await asyncio.to_thread(_read_all, self._info) or "{}").get("child-pid")
        os.close(self._info)
        self._info = None
        if pid is None:
            raise SandboxUnavailable(f"bubblewrap did not start the sandbox: {_tail(self._folder / LOG_NAME)}")
        root = f"/proc/{pid}/root"
        deadline = time.monotonic() + SETUP_SECONDS
        while True:  # until its set-up is done, the sandbox's root is the host's or bubblewrap's, without this path
            try:
                work = os.open(root + str(self.working_folder), _FOLDER)
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise SandboxUnavailable(f"bubblewrap did not set the sandbox up: {_tail(self._folder / LOG_NAME)}") from None
                await asyncio.sleep(0.002)
        self._mounts = (work, os.open(root + "/tmp", _FOLDER))
        self.working_folder.symlink_to(f"/proc/{os.getpid()}/fd/{work}")
        return work

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
            self._exceeded = self.limit_exceeded()  # read before the cgroup and the mounts go
        self._release()

    def _release(self) -> None:
        """Remove what the kernel had: its cgroup, its mounts (they end with the sandbox once no descriptor holds
        them), its folder on the host."""
        if self._folder is not None:  # first: its link to a descriptor of ours
            shutil.rmtree(self._folder, ignore_errors=True)
            os.close(self._lock)
            self._folder = self._lock = None
        for fd in (*self._mounts, *([self._info] if self._info is not None else [])):
            os.close(fd)
        self._mounts, self._info = (), None
        if self._cgroup is not None:
            self._cgroup.remove()
            self._cgroup = None


def copy_regular_files(source: Path, target: int, max_file: int, max_total: int) -> None:
    """Copy the regular files under `source` (each of at most `max_file` bytes, `max_total` in all) into the folder
    `target` (a descriptor), keeping their relative paths, without following a link: other entries, larger files
    and those past the total are left out."""
    left = max_total

    def copy(folder: int, into: int) -> None:
        nonlocal left
        for name in sorted(os.listdir(folder)):
            try:
                info = os.stat(name, dir_fd=folder, follow_symlinks=False)
                if stat.S_ISDIR(info.st_mode):
                    os.mkdir(name, 0o755, dir_fd=into)
                    inner, inner_into = os.open(name, _FOLDER, dir_fd=folder), os.open(name, _FOLDER, dir_fd=into)
                    try:
                        copy(inner, inner_into)
                    finally:
                        os.close(inner)
                        os.close(inner_into)
                elif stat.S_ISREG(info.st_mode) and info.st_size <= min(max_file, left):
                    left -= _copy_file(name, folder, into, min(max_file, left))
            except OSError:  # replaced since it was listed, or no room: left out
                continue

    top = os.open(source, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        copy(top, target)
    finally:
        os.close(top)


def _copy_file(name: str, folder: int, into: int, most: int) -> int:
    """Copy the regular file `name` of `folder` into `into` (both descriptors), at most `most` bytes; bytes copied."""
    with os.fdopen(os.open(name, _FILE, dir_fd=folder), "rb") as reader:
        if not stat.S_ISREG(os.fstat(reader.fileno()).st_mode):
            return 0
        with os.fdopen(os.open(name, _NEW_FILE, 0o644, dir_fd=into), "wb") as writer:
            copied = 0
            while copied < most and (chunk := reader.read(min(1 << 20, most - copied))):
                writer.write(chunk)
                copied += len(chunk)
    return copied


def _read_all(fd: int) -> str:
    data = b""
    while chunk := os.read(fd, 4096):
        data += chunk
    return data.decode()


def _tail(log: Path) -> str:
    try:
        return log.read_bytes()[-2000:].decode(errors="replace").strip() or "(it said nothing)"
    except OSError:
        return "(no log)"
