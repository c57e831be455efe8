"""`make hub`: set the course's JupyterHub up on this machine (as root), then run it until Ctrl-C.

The set-up (`set_up`) is idempotent: a second start reuses the accounts, their passwords, the
course directory and its gradebook, and builds only what is missing. It makes

* the accounts (hub/layout.py): the instructors and students, who log in through JupyterHub's
  PAM authenticator with the passwords in ``<hub root>/state/passwords.json`` (root's only), and the
  grading account, which logs in nowhere: it owns the course directory and runs formgrader;
* every home folder mode 0700, so no account reads another's;
* the exchange, as nbgrader documents it for a hub: one folder every account may write (mode
  1777: the sticky bit keeps one account from renaming what another made); nbgrader makes its
  course folder, the students' ``inbound/`` they cannot list and ``feedback/`` they cannot list;
* the course directory in the grading account's home: this checkout's nbgrader_config.py and
  ``source/``; what grading adds (``gradebook.db``, ``submitted/``, ...) stays from start to start;
* each account's ``~/.jupyter/nbgrader_config.py``: the exchange and the course id;
* the students' environment, a venv of their own: the students' wheel (``python -m graders
  student-wheel``), its kernel, JupyterLab with nbgrader's assignment list and without formgrader;
  its third-party packages are hard links to this venv's (the same versions, no download). The
  staff's servers and formgrader run this venv; every account must be able to run its Python;
* the proxy, configurable-http-proxy, from npm into hub/.proxy (git ignores it);
* a cgroup delegated to the grading account (owned by it), which its server joins, so that the
  grading sandbox can cap each kernel's memory and tasks without root.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from layout import (  # noqa: E402
    CGROUP_NAME,
    COURSE_ID,
    GRADER,
    INSTRUCTORS,
    PROXY,
    PROXY_PACKAGE,
    REPO,
    STUDENTS,
    Layout,
)

ASSIGNMENTS = ("tf1_pipeline", "tf2_pipeline", "torch_pipeline", "framework_comparison")
EDITABLE_INSTALL = ("__editable__", "tf_pytorch_course-")  # this checkout's own install: not the students'
STUDENT_EXTENSIONS_OFF = {  # what students do not get: nbgrader's staff extensions
    "server": ["nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.course_list"],
    "lab": ["@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment", "@jupyter/nbgrader:course-list"],
}


def run(*command, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run([str(part) for part in command], capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        raise SystemExit(f"hub set-up: {' '.join(map(str, command))} failed (exit {done.returncode}): {done.stderr.strip()}")
    return done


def set_up(layout: Layout) -> None:
    """Everything the hub needs, made or checked (see the module's docstring); root only."""
    if os.geteuid() != 0:
        raise SystemExit("hub set-up: run as root: it creates Unix accounts, their homes and a delegated cgroup")
    for folder, mode in ((layout.root, 0o755), (layout.root / "home", 0o755), (layout.state, 0o700)):
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(mode)
    install_proxy()
    for user in (GRADER, *INSTRUCTORS, *STUDENTS):
        make_account(layout, user)
    set_passwords(layout)
    layout.exchange.mkdir(exist_ok=True)
    layout.exchange.chmod(0o1777)
    make_course(layout)
    for user in (*INSTRUCTORS, *STUDENTS):
        write_nbgrader_config(layout, user)
    for user in (GRADER, *INSTRUCTORS, *STUDENTS):
        write_lab_settings(layout, user)
    open_interpreter()
    make_student_venv(layout)
    layout.cgroup.write_text(json.dumps(delegate_cgroup(pwd.getpwnam(GRADER))))


def install_proxy() -> None:
    if PROXY.exists():
        return
    if shutil.which("npm") is None:
        raise SystemExit("hub set-up: npm is missing (Debian: apt-get install npm); it installs configurable-http-proxy")
    run("npm", "install", "--prefix", PROXY.parents[2], "--no-save", "--no-package-lock", "--no-audit", "--no-fund",
        PROXY_PACKAGE)


def make_account(layout: Layout, user: str) -> None:
    """The Unix account `user` with its home under the hub root (mode 0700); the grading account gets no shell."""
    home = layout.home(user)
    shell = "/usr/sbin/nologin" if user == GRADER else "/bin/bash"
    try:
        if pwd.getpwnam(user).pw_dir != str(home):
            run("usermod", "-d", home, user)
    except KeyError:
        run("useradd", "--no-create-home", "--user-group", "-d", home, "-s", shell, user)
    account = pwd.getpwnam(user)
    home.mkdir(exist_ok=True)
    os.chown(home, account.pw_uid, account.pw_gid)
    home.chmod(0o700)


def set_passwords(layout: Layout) -> None:
    """The login accounts' passwords (made once, kept in the state folder), set with chpasswd."""
    saved = json.loads(layout.passwords.read_text()) if layout.passwords.exists() else {}
    passwords = {user: saved.get(user) or secrets.token_urlsafe(12) for user in (*INSTRUCTORS, *STUDENTS)}
    layout.passwords.write_text(json.dumps(passwords, indent=1))
    layout.passwords.chmod(0o600)
    run("chpasswd", input="".join(f"{user}:{password}\n" for user, password in passwords.items()))


def make_course(layout: Layout) -> None:
    """The course directory, owned by the grading account: the course's config, and each assignment's source
    where it is missing (grading's folders and the gradebook are never touched)."""
    course = layout.course
    course.mkdir(exist_ok=True)
    shutil.copy(REPO / "nbgrader_config.py", course / "nbgrader_config.py")
    for assignment in ASSIGNMENTS:
        if not (course / "source" / assignment).exists():
            shutil.copytree(REPO / "source" / assignment, course / "source" / assignment)
    run("chown", "-R", f"{GRADER}:{GRADER}", course)


def write_nbgrader_config(layout: Layout, user: str) -> None:
    """`user`'s ~/.jupyter/nbgrader_config.py: the exchange and the course (the student id is the user name)."""
    account = pwd.getpwnam(user)
    folder = layout.home(user) / ".jupyter"
    folder.mkdir(exist_ok=True)
    os.chown(folder, account.pw_uid, account.pw_gid)
    (folder / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        f"c.Exchange.root = {str(layout.exchange)!r}\n"
        f"c.CourseDirectory.course_id = {COURSE_ID!r}\n"
    )


def open_interpreter() -> None:
    """Let every account run this venv's Python: traversal (o+x) on each folder above its interpreter that
    lacks it (pyenv puts it under /root, mode 0700), said in one line; nothing else changes."""
    interpreter = Path(sys._base_executable).resolve()
    opened = [folder for folder in interpreter.parents if not folder.stat().st_mode & 0o001]
    for folder in opened:
        folder.chmod(folder.stat().st_mode | 0o001)
    if opened:
        print(f"hub set-up: every account may now run {interpreter}: o+x on {', '.join(map(str, opened))}", flush=True)


def make_student_venv(layout: Layout) -> None:
    """The students' environment (this venv's third-party packages as hard links, the same versions, no
    download; made again when this venv's packages change), and the students' wheel installed again in
    it whenever it changed."""
    venv, python = layout.student_venv, layout.student_venv / "bin" / "python"
    packages = "\n".join(sorted(path.name for path in Path(sysconfig.get_paths()["purelib"]).glob("*.dist-info")))
    linked = venv / ".packages-linked"  # the staff venv's distributions when the links were made
    if not linked.exists() or linked.read_text() != packages:
        run("rm", "-rf", venv)
        run(sys.executable, "-m", "venv", "--without-pip", venv)
        link_packages(venv, python)
        switch_off_staff_extensions(venv / "etc" / "jupyter")
        linked.write_text(packages)
    built = run(sys.executable, "-m", "graders", "student-wheel", "--dist", layout.state / "dist", cwd=REPO)
    wheel = Path(built.stdout.strip().splitlines()[-1])
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    marker = venv / ".wheel-sha256"
    if not marker.exists() or marker.read_text() != digest:
        run(sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps", "--no-index",
            "--force-reinstall", wheel)
        run(python, "-m", "graders", "install-kernel", cwd=venv)  # not from the checkout, whose `graders` -m would find
        marker.write_text(digest)


def write_lab_settings(layout: Layout, user: str) -> None:
    """No "get notified about Jupyter news?" prompt over `user`'s notebooks, no update check (once; theirs to change)."""
    folder = layout.home(user) / ".jupyter" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings = folder / "notification.jupyterlab-settings"
    if not settings.exists():
        folder.mkdir(parents=True, exist_ok=True)
        settings.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        run("chown", "-R", f"{user}:{user}", layout.home(user) / ".jupyter")


def link_packages(venv: Path, python: Path) -> None:
    """Hard links (`cp -al`) to this venv's packages (but this checkout's editable install) and Jupyter
    files (but its kernel specs); its Jupyter config and console scripts, copied."""
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
    for staff_site in dict.fromkeys(Path(sysconfig.get_paths()[key]) for key in ("purelib", "platlib")):
        run("cp", "-al", *(e for e in staff_site.iterdir() if not e.name.startswith(EDITABLE_INSTALL)), site)
    staff = Path(sys.prefix)
    (venv / "share" / "jupyter").mkdir(parents=True)
    run("cp", "-al", *(e for e in (staff / "share" / "jupyter").iterdir() if e.name != "kernels"), venv / "share" / "jupyter")
    shutil.copytree(staff / "etc" / "jupyter", venv / "etc" / "jupyter", dirs_exist_ok=True)
    copy_scripts(staff / "bin", venv / "bin")


def copy_scripts(staff_bin: Path, bin_dir: Path) -> None:
    """This venv's console scripts (`jupyter`, `nbgrader`, `alembic`, which nbgrader runs from PATH, ...),
    each started by the new venv's Python."""
    shebang = f"#!{staff_bin / 'python'}".encode()
    for script in staff_bin.iterdir():
        if script.is_file() and not script.is_symlink() and not (bin_dir / script.name).exists():
            text = script.read_bytes()
            if text.startswith(shebang):
                (bin_dir / script.name).write_bytes(f"#!{bin_dir / 'python'}".encode() + text[len(shebang):])
                (bin_dir / script.name).chmod(0o755)


def switch_off_staff_extensions(config: Path) -> None:
    """No formgrader, assignment creation or course list in the students' JupyterLab."""
    server = config / "jupyter_server_config.d" / "nbgrader.json"
    switches = json.loads(server.read_text())
    switches["ServerApp"]["jpserver_extensions"].update(dict.fromkeys(STUDENT_EXTENSIONS_OFF["server"], False))
    server.write_text(json.dumps(switches, indent=2))
    (config / "labconfig").mkdir(exist_ok=True)
    (config / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": dict.fromkeys(STUDENT_EXTENSIONS_OFF["lab"], True)}, indent=2)
    )


def delegate_cgroup(grader: pwd.struct_passwd) -> dict:
    """A cgroup of the grading account's own, beside where the sandbox would make its cgroups as root:
    {"join": the cgroup.procs files its server joins, "environment": for the sandbox, "problem": why none}.

    cgroup v1: one folder per controller (memory, pids), owned by the account; its server joins them
    and the sandbox makes each kernel's cgroup inside (in the grader's own cgroup, as ever).
    cgroup v2: one folder with the memory and pids controllers enabled for its children, owned by the
    account; its server joins the child ``server`` (a cgroup with children holds no process) and
    COURSE_CGROUP_PARENT names the folder for the kernels' cgroups.
    """
    from graders.runner.sandbox import SandboxUnavailable, _cgroup_parents

    try:
        version, parents = _cgroup_parents()
    except SandboxUnavailable as error:
        return {"join": [], "environment": {}, "problem": str(error)}
    folders = [parent / CGROUP_NAME for parent in parents]
    for folder in folders:
        folder.mkdir(exist_ok=True)
    if version == "v1":
        join, environment = [folder / "cgroup.procs" for folder in folders], {}
    else:
        (delegated,) = folders
        (delegated / "server").mkdir(exist_ok=True)
        (delegated / "cgroup.subtree_control").write_text("+memory +pids")
        join, environment = [delegated / "server" / "cgroup.procs"], {"COURSE_CGROUP_PARENT": str(delegated)}
    for folder in folders:
        for path in (folder, *folder.rglob("*")):
            os.chown(path, grader.pw_uid, grader.pw_gid)
    return {"join": [str(path) for path in join], "environment": environment, "problem": ""}


def main() -> None:
    layout = Layout.from_environment()
    set_up(layout)
    passwords = json.loads(layout.passwords.read_text())
    print(f"The course's JupyterHub: {layout.url}  (Ctrl-C stops it)", flush=True)
    print("Accounts (passwords in " + str(layout.passwords) + "): " + ", ".join(f"{u} {p}" for u, p in passwords.items()))
    print(f"Formgrader for {', '.join(INSTRUCTORS)}: {layout.url}/services/{COURSE_ID}/formgrader", flush=True)
    hub = Path(sys.prefix) / "bin" / "jupyterhub"
    os.execv(hub, [str(hub), "-f", str(Path(__file__).with_name("jupyterhub_config.py"))])


if __name__ == "__main__":
    main()
