"""Helpers of tests/test_browser.py: Debian's Chromium, and a real JupyterLab server on a temp course.

* `find_chromium()`: the Chromium binary, installed by ``.ci/install-system-packages`` when it is
  missing and this user is root; otherwise the reason it cannot be had (the test skips).
* `launched_chromium()`: that Chromium, launched by Playwright (the `browser` fixture of conftest.py).
* `JupyterLab`: ``python -m jupyterlab`` on a free local port with a random token, its own Jupyter
  config and runtime folders, started in a context manager and shut down (kernels included)
  when it exits; no process it started outlives it. `python` picks the environment it runs in
  (default: this one), `env` adds or overrides variables (a home folder, an exchange).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
INSTALL_SCRIPT = REPO / ".ci" / "install-system-packages"
CHROMIUM = Path(os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium"))
# Playwright launches it through executable_path; no sandbox (root in a container), no GPU,
# and nothing that reaches the network by itself.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CANNOT_INSTALL = 3  # its exit status when it cannot install here


@dataclass(frozen=True)
class Chromium:
    path: Path | None  # None: not available
    reason: str = ""  # why not
    can_install: bool = True  # False: absent and cannot be installed here (the test skips)


def find_chromium() -> Chromium:
    """Chromium at CHROMIUM, installing it with .ci/install-system-packages first when missing (root only)."""
    if os.access(CHROMIUM, os.X_OK):
        return Chromium(CHROMIUM)
    try:
        done = subprocess.run(
            ["bash", str(INSTALL_SCRIPT)], capture_output=True, text=True, timeout=600,
            env={**os.environ, "COURSE_CHROMIUM": str(CHROMIUM)},
        )
    except subprocess.TimeoutExpired:
        return Chromium(None, f"{INSTALL_SCRIPT.name} did not finish within 600 s")
    said = " ".join((done.stdout + done.stderr).split())
    if done.returncode == CANNOT_INSTALL:
        return Chromium(None, f"chromium is absent and cannot be installed here: {said}", can_install=False)
    if done.returncode != 0 or not os.access(CHROMIUM, os.X_OK):
        return Chromium(None, f".ci/install-system-packages failed (exit {done.returncode}): {said[-2000:]}")
    return Chromium(CHROMIUM)


@contextlib.contextmanager
def launched_chromium():
    """Chromium launched by Playwright (closed after the block); the test skips where Chromium is absent and
    cannot be installed, and fails where it should be there but is not, or Playwright is missing."""
    import pytest

    found = find_chromium()
    if found.path is None:
        if not found.can_install:
            pytest.skip(found.reason)
        pytest.fail(found.reason)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the playwright package is missing: pip install -e '.[test]' (it is a test dependency)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(found.path), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children() -> dict[int, list[int]]:
    """Parent pid -> child pids, from /proc (Linux); empty elsewhere."""
    tree: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        ppid = int(text.rsplit(")", 1)[1].split()[1])  # the field after "(command)" is the state, then ppid
        tree.setdefault(ppid, []).append(int(stat.parent.name))
    return tree


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (kernels run in sessions of their own, so a process group misses them)."""
    tree, found, todo = _children(), [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - not ours
        return False
    try:  # a zombie is dead
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


class JupyterLab:
    """``jupyter lab`` serving `root` (the working directory too, so nbgrader's server extensions
    read ``<root>/nbgrader_config.py``), with Jupyter config/runtime folders under `state`, run by
    `python` (its environment's JupyterLab, bin folder first on PATH) with `env` on top of ours."""

    def __init__(
        self, root: Path, state: Path, *, start_timeout: float = 60, python: Path | None = None, env: dict | None = None
    ):
        self.root, self.state, self.start_timeout = Path(root), Path(state), start_timeout
        self.python = Path(python or sys.executable)
        self.extra_env = dict(env or {})
        self.token = secrets.token_hex(16)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = self.state / "jupyter-lab.log"
        self.process: subprocess.Popen | None = None
        self._spawned: set[int] = set()

    # -- urls ---------------------------------------------------------------------------------
    def url(self, path: str) -> str:
        """The address of `path` with the token (the first page sets the login cookie)."""
        return f"{self.base}/{path.lstrip('/')}?token={self.token}"

    def api(self, path: str, method: str = "GET", timeout: float = 5):
        request = urllib.request.Request(
            f"{self.base}/{path.lstrip('/')}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    # -- life cycle ---------------------------------------------------------------------------
    def __enter__(self) -> JupyterLab:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        for folder in ("config", "runtime", "ipython"):
            (self.state / folder).mkdir(parents=True, exist_ok=True)
        settings = self.state / "config" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
        settings.mkdir(parents=True, exist_ok=True)
        # no "get notified about Jupyter news?" toast over the notebook, no update check
        (settings / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False})
        )
        env = dict(os.environ)
        env.pop("NBGRADER_EXCHANGE", None)  # the temp course's own .exchange
        bin_dir = str(self.python.parent)
        env.update(
            PATH=os.pathsep.join([bin_dir, env.get("PATH", "")]),  # nbgrader runs `alembic` from PATH
            JUPYTER_CONFIG_DIR=str(self.state / "config"),  # no user settings, workspaces or news prompt
            JUPYTER_RUNTIME_DIR=str(self.state / "runtime"),
            IPYTHONDIR=str(self.state / "ipython"),
            TF_CPP_MIN_LOG_LEVEL="3",
        )
        env.update(self.extra_env)
        command = [
            str(self.python), "-m", "jupyterlab",
            "--no-browser",
            "--allow-root",  # CI runs as root
            f"--ServerApp.token={self.token}",
            f"--port={self.port}",
            "--port-retries=0",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.root_dir={self.root}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            command, cwd=self.root, env=env, stdout=self._log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        self._wait_until_up()

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"jupyter lab exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                self.api("api/status", timeout=2)
                return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"jupyter lab did not answer within {self.start_timeout:g} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def kernels(self) -> list[dict]:
        return self.api("api/kernels")

    def stop(self) -> None:
        """Shut the server down (it shuts its kernels down), then end whatever it started that is left."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            self._spawned.update(descendants(process.pid))
            try:
                self.api("api/shutdown", method="POST", timeout=10)
            except Exception:
                pass
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._spawned.update(descendants(process.pid))
                with contextlib.suppress(OSError):
                    os.killpg(process.pid, signal.SIGTERM)  # its own session: start_new_session
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(OSError):
                        os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)
        deadline = time.monotonic() + 10
        for pid in sorted(self._spawned):  # kernels (own sessions) it started and did not end
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _alive(pid):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
        self.process = None
        self._log.close()

    def leftovers(self) -> list[int]:
        """Processes the server started that are still alive (empty after `stop`)."""
        return [pid for pid in sorted(self._spawned) if _alive(pid)]

    def remember_children(self) -> None:
        """Record the processes the server started so far (kernels), to check they end with it."""
        if self.process is not None and self.process.poll() is None:
            self._spawned.update(descendants(self.process.pid))

