"""The grading sandbox: bubblewrap isolates a kernel, a cgroup caps its memory and processes.

`command(argv, ...)` wraps a kernel's command line so that it runs

* in bubblewrap (Debian's ``bubblewrap``) with read-only views of the system (``/usr`` and a
  few ``/etc`` files), of Python and of the course's packages; read-write only the kernel's
  private folder (connection file, IPC sockets) and two size-capped tmpfs mounts of its own: its
  working folder, where the grader copies the submission's regular files (`working_folder`), and
  ``/tmp``. Nothing else of the host is visible: not the course directory (gradebook, exchange,
  ``source/``, every student's folders, the submission's own included), not ``$HOME``;
* with no network (a loopback of its own), in its own PID namespace (everything it starts dies
  with it), without capabilities, with a clean environment;
* in a cgroup of its own (`Cgroup`): memory, swap included, and the number of tasks capped;
* with a cap on the size of any file it writes (``prlimit --fsize``).

`private_folder` makes the grader's own temp folders (a kernel's, a job's), each locked for as
long as the grader uses it, so that `leftovers` (the doctor) tells those of a grader that was
killed from those in use. `problems()` says what of this cannot be had on this machine, in words a TA can act on.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import re
import shlex
import shutil
import site
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

GiB = 1 << 30
MiB = 1 << 20
SYSTEM_DIRS = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32")
ETC_FILES = (
    "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "passwd", "group", "nsswitch.conf", "hosts",
    "localtime", "alternatives", "fonts", "ssl", "ca-certificates",
)
#: The course's packages, bound read-only wherever they are installed (editable installs included).
PACKAGES = ("course", "graders")
#: What of `graders` the grading kernel sees: the notebooks' fronts, the kernel's side of the checks (call the
#: student's function, convert, load what the grader hands in, quiet streams, locate the student's failing line, the
#: course kernel's start-up) and what the two sides share; and the three modules that older releases import.
#: Nothing else of it is in the sandbox: not the trusted side (judges, inputs, reference figures, held-out images,
#: model builder), not the runner, so that no answer can be imported, read or copied there.
KERNEL_SIDE = (
    "__init__.py", "notebook.py", "comparison.py", "kernel.py",
    "check/__init__.py", "check/front.py", "check/notebook.py", "check/comparison.py", "check/kernel", "check/shared",
)
#: Packages the grading kernel never sees: the reference answers. Where one lies inside a folder bound read-only
#: (a non-editable install in site-packages), an empty folder covers it.
HIDDEN_PACKAGES = ("solutions",)
#: Environment variables that reach the sandbox (names or prefixes ending in "_"); nothing else does.
PASSED_ENV = (
    "PATH", "LANG", "LANGUAGE", "TZ", "PYTHONHASHSEED", "MPLBACKEND", "NBGRADER_EXECUTION",
    "LC_", "TF_", "OMP_", "MKL_", "OPENBLAS_", "CUDA_", "CUBLAS_", "NVIDIA_", "COURSE_DATA_DIR",
)


BWRAP = os.environ.get("COURSE_BWRAP", "bwrap")  # bubblewrap's binary (a name on PATH, or a path)


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot be set up here; the message says what is missing and how to fix it."""


def parse_size(text: str | int) -> int:
    """Bytes from '4G', '4 GiB', '512M', '1.5g' or a plain number of bytes."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kmgt]?)(?:i?b)?\s*", str(text), re.IGNORECASE)
    if not match:
        raise ValueError(f"not a size: {text!r} (expected for example 4G, 512M or a number of bytes)")
    number, unit = match.groups()
    return int(float(number) * 1024 ** " kmgt".index(unit.lower() or " "))


def format_size(size: int) -> str:
    """'4 GiB', '512 MiB', '100 B'."""
    for unit, factor in (("GiB", GiB), ("MiB", MiB), ("KiB", 1024)):
        if size >= factor:
            return f"{size / factor:g} {unit}"
    return f"{size} B"


@dataclass(frozen=True)
class Limits:
    """What one grading kernel may use: bytes of memory (swap included), tasks, bytes per written file, bytes of
    its working folder and /tmp together."""

    memory: int = 4 * GiB
    processes: int = 1024
    file_size: int = GiB
    disk: int = GiB


# The cgroup ---------------------------------------------------------------------------------
def _mounts() -> list[tuple[str, str, str, set[str]]]:
    """(cgroup path of the mount's root, mount point, fstype, super options) of each cgroup mount."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        before, _, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if tail and tail[0] in ("cgroup", "cgroup2"):
            found.append((fields[3], fields[4], tail[0], set(tail[-1].split(","))))
    return found


def _own_cgroups() -> dict[str, str]:
    """This process's cgroup path per v1 controller, and under "" for cgroup v2."""
    own = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            own[controller] = path
    return own


def _inside(mount_root: str, mount_point: str, path: str) -> Path:
    return Path(mount_point) / os.path.relpath(path, mount_root)


def _cgroup_parents() -> tuple[str, list[Path]]:
    """("v1" or "v2", the folders to make the sandbox's cgroups in); SandboxUnavailable if none."""
    own, mounts = _own_cgroups(), _mounts()
    v1 = {}
    for root, point, fstype, options in mounts:
        for controller in ("memory", "pids"):
            if fstype == "cgroup" and controller in options and controller in own:
                v1[controller] = _inside(root, point, own[controller])
    if len(v1) == 2:
        return "v1", [v1["memory"], v1["pids"]]
    if configured := os.environ.get("COURSE_CGROUP_PARENT"):
        return "v2", [Path(configured)]
    for root, point, fstype, _ in mounts:
        if fstype == "cgroup2" and "" in own:
            parent = _inside(root, point, own[""])
            enabled = (parent / "cgroup.subtree_control").read_text().split() if parent.exists() else []
            if {"memory", "pids"} <= set(enabled):
                return "v2", [parent]
    raise SandboxUnavailable(
        "no cgroup for the memory cap: this machine has no writable cgroup v1 memory and pids hierarchies, "
        "and under cgroup v2 the grader's own cgroup delegates no memory and pids controllers. Run the grader "
        "in a cgroup delegated to it (e.g. `systemd-run --scope -p Delegate=yes ...`) or set COURSE_CGROUP_PARENT "
        "to a cgroup v2 folder it may create children in"
    )


CGROUP_PREFIX = "course-sandbox-"  # a kernel's cgroup: CGROUP_PREFIX + the id of its private folder


class Cgroup:
    """A fresh cgroup (v1: one per controller; v2: one) capping memory, swap included, and tasks."""

    def __init__(self, version: str, dirs: list[Path]):
        self.version, self.dirs = version, dirs

    @classmethod
    def create(cls, limits: Limits, name: str | None = None) -> Cgroup:
        """A cgroup named `name` (default: a new CGROUP_PREFIX name) in each of `_cgroup_parents()`."""
        version, parents = _cgroup_parents()
        name = name or f"{CGROUP_PREFIX}{uuid.uuid4().hex[:12]}"
        dirs = [parent / name for parent in parents]
        group = cls(version, [])
        try:
            for folder in dirs:
                folder.mkdir()
                group.dirs.append(folder)
            if version == "v1":
                memory, pids = dirs
                (memory / "memory.limit_in_bytes").write_text(str(limits.memory))
                if (memory / "memory.memsw.limit_in_bytes").exists():  # swap accounting: no swap either
                    (memory / "memory.memsw.limit_in_bytes").write_text(str(limits.memory))
                (pids / "pids.max").write_text(str(limits.processes))
            else:
                (folder,) = dirs
                (folder / "memory.max").write_text(str(limits.memory))
                if (folder / "memory.swap.max").exists():
                    (folder / "memory.swap.max").write_text("0")
                (folder / "pids.max").write_text(str(limits.processes))
        except OSError as error:
            group.remove()
            raise SandboxUnavailable(f"could not make a cgroup under {parents[0].parent}: {error}") from None
        return group

    @property
    def procs_files(self) -> list[Path]:
        return [folder / "cgroup.procs" for folder in self.dirs]

    def exceeded(self) -> str | None:
        """"processes" when a fork failed at the task cap, "memory" when the OOM killer ended a process of
        this cgroup, else None."""
        if not self.dirs:
            return None
        memory, pids = self.dirs[0], self.dirs[-1]
        if _count(pids / "pids.events", "max"):
            return "processes"
        if _count(memory / ("memory.oom_control" if self.version == "v1" else "memory.events"), "oom_kill"):
            return "memory"
        return None

    def remove(self) -> None:
        """Remove the cgroup once its last process is gone (waits up to a second)."""
        for folder in reversed(self.dirs):
            for _ in range(50):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)
        self.dirs = []


def _count(events: Path, key: str) -> int:
    """The number after `key` in a cgroup events file (0 when absent)."""
    try:
        lines = [line.split() for line in events.read_text().splitlines()]
    except OSError:
        return 0
    return next((int(fields[1]) for fields in lines if len(fields) == 2 and fields[0] == key), 0)


# bubblewrap ---------------------------------------------------------------------------------
#: Run by the grading kernel's interpreter, as the kernel starts (isolated: no PYTHONPATH, no user site, no
#: working folder on sys.path): where it imports each package named in argv from, and its prefixes.
_WHERE_IMPORTED = """
import importlib.util, json, site, sys
def where(name):
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    return None if spec is None else [str(path) for path in spec.submodule_search_locations or []]
found = {name: where(name) for name in sys.argv[1:]}
print(json.dumps({"packages": {k: v for k, v in found.items() if v}, "prefixes": [sys.prefix, sys.base_prefix, *site.getsitepackages()]}))
"""


@dataclass(frozen=True)
class KernelImports:
    """What the grading kernel's interpreter `python` imports: `packages`, each of PACKAGES it can import -> the
    folders it imports it from (real paths; a package it cannot import is absent), and its `prefixes` and
    site-packages."""

    python: str
    packages: dict[str, list[str]]
    prefixes: list[str]


def grading_python() -> str:
    """The interpreter of the grading kernel: the first argument of its kernel spec (this one when there is no spec)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    from graders.check.kernel.startup import GRADING_KERNEL_NAME

    try:
        argv = KernelSpecManager().get_kernel_spec(GRADING_KERNEL_NAME).argv
    except NoSuchKernel:
        return sys.executable
    return (shutil.which(argv[0]) or argv[0]) if argv else sys.executable


def kernel_imports(python: str | None = None) -> KernelImports:
    """Where the grading kernel's interpreter (`python`, default `grading_python()`) imports the course's packages
    from, asked of that interpreter itself, as the kernel will run it. The one source of truth for the packages
    the sandbox binds (`_readable_dirs`) and for the checks that they are the ones this process uses
    (`graders.runner.canary`, the doctor): a course folder holding its own copy of the packages, or an environment
    installed from another checkout, cannot make the two disagree."""
    python = python or grading_python()
    try:
        done = subprocess.run(
            [python, "-I", "-c", _WHERE_IMPORTED, *PACKAGES], cwd="/", capture_output=True, text=True, timeout=60
        )
        found = json.loads(done.stdout) if done.returncode == 0 else {}
    except (OSError, subprocess.TimeoutExpired, ValueError):  # no such interpreter, or it does not answer
        found = {}
    packages = {name: [os.path.realpath(path) for path in dirs] for name, dirs in found.get("packages", {}).items()}
    return KernelImports(python, packages, [os.path.realpath(path) for path in found.get("prefixes", [])])


def _package_dirs(imports: KernelImports) -> list[str]:
    """The folders of the course's packages that the grading kernel imports (`kernel_imports`), but `graders`, of
    which it sees the KERNEL_SIDE only (`_kernel_side_arguments`)."""
    return [path for name in PACKAGES if name != "graders" for path in imports.packages.get(name, [])]


def _kernel_side_arguments(imports: KernelImports) -> list[str]:
    """bubblewrap's options that show the grading kernel the KERNEL_SIDE of `graders` (and its compiled files) alone,
    wherever it is installed: an empty folder in its place, then each part bound read-only."""
    import importlib.util

    arguments = []
    for folder in imports.packages.get("graders", []):
        arguments += ["--tmpfs", folder]
        for name in KERNEL_SIDE:
            path = os.path.join(folder, name)
            compiled = importlib.util.cache_from_source(path) if name.endswith(".py") else None
            arguments += [a for part in (path, compiled) if part and os.path.exists(part) for a in ("--ro-bind", part, part)]
    return arguments


def _readable_dirs(imports: KernelImports) -> list[str]:
    """Python's prefixes and site-packages (this process's and the grading kernel's interpreter's), the course's
    packages where the grading kernel imports them, and the dataset cache; never the course directory itself."""
    candidates = {sys.base_prefix, sys.prefix, *site.getsitepackages(), *imports.prefixes, *_package_dirs(imports)}
    if site.ENABLE_USER_SITE and os.path.isdir(site.getusersitepackages()):
        candidates.add(site.getusersitepackages())
    try:
        from course.data import cache_dir

        candidates.add(str(cache_dir()))
    except ImportError:  # pragma: no cover - course is part of every install
        pass
    return sorted(path for path in map(os.path.realpath, candidates) if os.path.isdir(path))


def _system_arguments() -> list[str]:
    arguments = []
    for name in SYSTEM_DIRS:
        path = Path("/") / name
        if path.is_symlink():
            arguments += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            arguments += ["--ro-bind", str(path), str(path)]
    for name in ETC_FILES:
        arguments += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    return arguments


def _gpu_arguments() -> list[str]:
    devices = sorted(str(p) for p in Path("/dev").glob("nvidia*"))
    if not devices:
        return []
    arguments = ["--ro-bind", "/sys", "/sys"]  # CUDA and TensorFlow read the PCI topology
    for device in devices:
        arguments += ["--dev-bind", device, device]
    return arguments


def sandbox_environment(env: dict[str, str], private_dir: Path) -> dict[str, str]:
    """The kernel's environment inside the sandbox: the passed variables of `env`, and homes in private places."""
    kept = {k: v for k, v in env.items() if any(k == p or (p.endswith("_") and k.startswith(p)) for p in PASSED_ENV)}
    return kept | {
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "IPYTHONDIR": "/tmp/ipython",
        "MPLCONFIGDIR": str(private_dir / "matplotlib"),
    }


def _hidden_dirs(readable: list[str]) -> list[str]:
    """The folders of HIDDEN_PACKAGES inside the folders bound read-only."""
    return [path for base in readable for name in HIDDEN_PACKAGES if os.path.isdir(path := os.path.join(base, name))]


def private_working_folder(workdir: Path, size: int) -> list[str]:
    """bubblewrap's options for the kernel's working folder `workdir`: a tmpfs of `size` bytes of its own, which
    nothing of the host's is (the grader copies files into it, and takes nothing back)."""
    return ["--size", str(size), "--tmpfs", str(workdir)]


def bwrap_arguments(workdir: Path, private_dir: Path, env: dict[str, str], disk: int, info_fd: int) -> list[str]:
    """bubblewrap's options for a kernel working in `workdir` (`private_working_folder`), with a /tmp of `disk`
    bytes and its sockets in `private_dir`; bubblewrap writes the sandbox's first process (`child-pid`) to `info_fd`."""
    arguments = [BWRAP, "--unshare-all", "--die-with-parent", "--hostname", "grading", "--clearenv", "--info-fd", str(info_fd)]
    if os.geteuid() == 0:  # root keeps its capabilities in the sandbox unless told otherwise
        arguments += ["--cap-drop", "ALL"]
    # Later mounts cover earlier ones: the private /tmp first, so that what is bound below may live in /tmp.
    arguments += ["--proc", "/proc", "--dev", "/dev", "--size", str(disk), "--tmpfs", "/tmp"]
    arguments += [*_system_arguments(), *_gpu_arguments()]
    imports = kernel_imports()
    readable = _readable_dirs(imports)
    for path in readable:
        arguments += ["--ro-bind", path, path]
    for path in _hidden_dirs(readable):
        arguments += ["--tmpfs", path]
    arguments += _kernel_side_arguments(imports)
    arguments += ["--bind", str(private_dir), str(private_dir), *private_working_folder(workdir, disk)]
    for key, value in sorted(sandbox_environment(env, private_dir).items()):
        arguments += ["--setenv", key, value]
    # The kernel's own output (not its messages) goes to its /tmp, within the disk cap; bubblewrap's, to the grader's log.
    return [*arguments, "--chdir", str(workdir), "--", "/bin/sh", "-c", 'exec "$@" > /tmp/kernel.log 2>&1', "kernel"]


def command(
    argv: list[str], *, workdir: Path, private_dir: Path, env: dict[str, str], limits: Limits,
    cgroup: Cgroup | None, info_fd: int | None = None,
) -> list[str]:
    """`argv` wrapped: joins `cgroup` first, caps file sizes, and (given bubblewrap's `info_fd`) runs in bubblewrap."""
    isolation = [] if info_fd is None else bwrap_arguments(workdir, private_dir, env, limits.disk, info_fd)
    wrapped = ["prlimit", f"--fsize={limits.file_size}", "--", *isolation, *argv]
    if cgroup is None:
        return wrapped
    join = " && ".join(f"echo $$ > {shlex.quote(str(p))}" for p in cgroup.procs_files)
    return ["/bin/sh", "-c", f'{join} && exec "$@"', "course-sandbox", *wrapped]


def copy_font_cache(private_dir: Path) -> None:
    """Give the kernel Matplotlib's font cache, so it does not rebuild it (seconds) in every sandbox."""
    source = Path(os.environ.get("MPLCONFIGDIR") or Path.home() / ".cache" / "matplotlib")
    target = private_dir / "matplotlib"
    target.mkdir(exist_ok=True)
    for cache in source.glob("fontlist-*.json"):
        shutil.copy(cache, target / cache.name)


# The grader's temp folders ------------------------------------------------------------------
KERNEL_PREFIX, JOB_PREFIX = "course-kernel-", "course-job-"  # a kernel's private folder; a job's folder


def private_folder(prefix: str) -> tuple[Path, int]:
    """A new folder `prefix`+id in the temp folder, and a descriptor that holds a lock on it: the folder is in use
    until the descriptor is closed (by the grader, or by its end). It is locked before it gets its name, so that
    `leftovers` never takes a folder in use for one left behind."""
    hidden = Path(tempfile.mkdtemp(prefix=f".{prefix}"))
    fd = os.open(hidden, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    fcntl.flock(fd, fcntl.LOCK_EX)
    folder = hidden.with_name(hidden.name[1:])
    hidden.rename(folder)
    return folder, fd


@contextmanager
def job_folder():
    """A `private_folder` for a job (JOB_PREFIX), removed afterwards."""
    folder, lock = private_folder(JOB_PREFIX)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        os.close(lock)


def in_use(folder: Path) -> bool:
    """Whether a grader holds `folder`'s lock (`private_folder`)."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def leftovers() -> list[Path]:
    """What a grader that was killed left: its kernels' and jobs' folders in the temp folder that no grader holds,
    and its kernels' cgroups that hold no process and whose kernel's folder is in the temp folder, held by no grader.
    (Cgroups are the machine's, temp folders each grader's own: an empty cgroup whose folder is not here may be
    another grader's, between making it and starting its kernel in it.)"""
    temp = Path(tempfile.gettempdir())
    found = [p for prefix in (KERNEL_PREFIX, JOB_PREFIX) for p in temp.glob(f"{prefix}*") if not p.is_symlink() and not in_use(p)]
    try:
        _, parents = _cgroup_parents()
    except SandboxUnavailable:
        parents = []
    for group in (group for parent in parents for group in parent.glob(f"{CGROUP_PREFIX}*")):
        kernel = temp / (KERNEL_PREFIX + group.name.removeprefix(CGROUP_PREFIX))
        if not _read(group / "cgroup.procs").strip() and kernel.is_dir() and not in_use(kernel):
            found.append(group)
    return found


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


# What works here ----------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def problems() -> dict[str, str]:
    """What of the sandbox this machine cannot provide: {"isolation": why, "limits": why} (empty: all works)."""
    found = {}
    if shutil.which(BWRAP) is None:
        found["isolation"] = f"bubblewrap is not installed ({BWRAP} not found; Debian/Ubuntu: apt-get install bubblewrap)"
    else:
        probe = [BWRAP, "--unshare-all", "--die-with-parent", *_system_arguments(), "--proc", "/proc",
                 "--size", str(MiB), "--tmpfs", "/tmp", "--", "true"]  # --size: bubblewrap 0.7 or newer
        done = subprocess.run(probe, capture_output=True, text=True)
        if done.returncode != 0:
            found["isolation"] = f"bubblewrap cannot make a sandbox here: {done.stderr.strip() or done.returncode}"
    try:
        Cgroup.create(Limits()).remove()
    except SandboxUnavailable as error:
        found["limits"] = str(error)
    return found


def refusal(missing: dict[str, str]) -> str:
    """Why grading will not run student code here, and the two ways on."""
    return (
        "refusing to run student code without the grading sandbox: " + "; ".join(missing.values())
        + ". Fix that, or grade at your own risk with --unsafe-no-sandbox (COURSE_UNSAFE_NO_SANDBOX=1)."
    )
