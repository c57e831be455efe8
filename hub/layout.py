"""Where the course's JupyterHub keeps everything, and who uses it (read by the set-up, the hub's config, the test).

Everything lives under the hub root (``HUB_ROOT``, default /srv/tf-pytorch-course-hub), which
survives a restart: the accounts' homes, the exchange, the course directory (in the grading
account's home), the students' environment, the hub's own state. The ports are ``HUB_PORT``
(the public one, default 8000) and the three after it: the proxy's API, the hub's API, formgrader.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAFF_PYTHON = Path(sys.prefix) / "bin" / "python"  # the staff install: this checkout's venv
PROXY = REPO / "hub" / ".proxy" / "node_modules" / ".bin" / "configurable-http-proxy"  # npm, by the set-up
PROXY_PACKAGE = "configurable-http-proxy@4.6.3"

COURSE_ID = "tf-pytorch"  # nbgrader_config.py's; the formgrader service is named after it, as nbgrader asks
GRADER = f"grader-{COURSE_ID}"  # the account that owns the course directory and runs formgrader and grading
INSTRUCTORS = ("instructor1", "instructor2")  # staff: the instructor and a second grader
STUDENTS = ("student1", "student2", "student3")
STAFF_GROUP = f"formgrade-{COURSE_ID}"  # JupyterHub group whose members may open formgrader (nbgrader's naming)
CGROUP_NAME = "course-hub-grading"  # the cgroup delegated to the grading account


@dataclass(frozen=True)
class Layout:
    root: Path
    port: int

    @classmethod
    def from_environment(cls) -> Layout:
        return cls(Path(os.environ.get("HUB_ROOT", "/srv/tf-pytorch-course-hub")), int(os.environ.get("HUB_PORT", "8000")))

    def home(self, user: str) -> Path:
        return self.root / "home" / user

    @property
    def course(self) -> Path:
        """The nbgrader course directory: the grading account's, in its home (mode 0700)."""
        return self.home(GRADER) / COURSE_ID

    @property
    def exchange(self) -> Path:
        return self.root / "exchange"

    @property
    def student_venv(self) -> Path:
        """The students' install: the students' wheel, without `solutions`."""
        return self.root / "student-venv"

    def python(self, user: str) -> Path:
        """The interpreter of `user`'s server: the students' environment's or the staff's."""
        return self.student_venv / "bin" / "python" if user in STUDENTS else STAFF_PYTHON

    @property
    def state(self) -> Path:
        """The hub's own files (database, cookie secret, passwords, the delegated cgroup): root's only."""
        return self.root / "state"

    @property
    def passwords(self) -> Path:
        return self.state / "passwords.json"

    @property
    def cgroup(self) -> Path:
        """What the grading server joins and the sandbox's environment (written by the set-up)."""
        return self.state / "grading-cgroup.json"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def proxy_api_port(self) -> int:
        return self.port + 1

    @property
    def hub_api_port(self) -> int:
        return self.port + 2

    @property
    def formgrader_port(self) -> int:
        return self.port + 3
