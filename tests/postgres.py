"""A real PostgreSQL server for the tests: Debian's ``postgresql`` (15), in a temporary folder.

`running()` starts one with ``initdb`` and ``pg_ctl`` and stops it (and deletes its folder) on
exit. PostgreSQL refuses to run as root, so as root its commands run as the ``postgres`` user
(``runuser``). It listens on a Unix socket in its folder, where the superuser needs no password,
and on a free loopback port, where every role needs its password: the course connects there, as
a course on a real database server would. `Server.create_database` makes a fresh database.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROLE = "grader"  # the role the course connects as (the URL's user)
SUPERUSER = "postgres"


def bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` with initdb (Debian's layout), or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return found[-1].parent if found else None


@dataclass(frozen=True)
class Server:
    folder: Path  # data/, the Unix socket, server.log
    port: int
    password: str  # ROLE's

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of `database` over loopback TCP, as ROLE with its password (psycopg 3)."""
        return f"postgresql+psycopg://{ROLE}:{self.password}@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        """Run `sql` as the superuser, over the Unix socket."""
        import psycopg

        with psycopg.connect(host=str(self.folder), port=self.port, user=SUPERUSER, dbname="postgres", autocommit=True) as db:
            db.execute(sql)

    def create_database(self, name: str) -> str:
        """A new, empty database `name` owned by ROLE; its SQLAlchemy URL."""
        self.admin(f'CREATE DATABASE "{name}" OWNER {ROLE}')
        return self.url(name)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running(binaries: Path) -> Iterator[Server]:
    """A PostgreSQL server of `binaries` (see `bin_dir`) for the duration of the block."""
    folder = Path(tempfile.mkdtemp(prefix="course-pg-"))  # short: a socket path has at most 107 bytes
    as_owner = []
    if os.geteuid() == 0:
        shutil.chown(folder, SUPERUSER)
        as_owner = ["runuser", "-u", SUPERUSER, "--"]
    server = Server(folder, _free_port(), secrets.token_hex(12))
    pwfile = folder / "superuser-password"
    pwfile.write_text(secrets.token_hex(12) + "\n")
    if as_owner:
        shutil.chown(pwfile, SUPERUSER)
    data, log = folder / "data", folder / "server.log"

    def run(*command: str) -> None:
        done = subprocess.run([*as_owner, *command], capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            said = (done.stdout + done.stderr).strip() + (log.read_text()[-2000:] if log.is_file() else "")
            raise RuntimeError(f"{' '.join(command[:2])} failed (exit {done.returncode}):\n{said}")

    try:
        run(str(binaries / "initdb"), "-D", str(data), "-U", SUPERUSER, "--pwfile", str(pwfile), "--auth-local=trust",
            "--auth-host=scram-sha-256", "--no-sync", "--no-instructions", "-E", "UTF8", "--locale=C")
        options = f"-k {folder} -h 127.0.0.1 -p {server.port} -F"  # fsync off: a throwaway server
        run(str(binaries / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "30", "start")
        server.admin(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{server.password}'")
        yield server
    finally:
        if (data / "postmaster.pid").is_file():
            run(str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")  # throwaway: no checkpoint
        shutil.rmtree(folder, ignore_errors=True)
