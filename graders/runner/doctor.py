"""``python -m graders doctor``: can this machine grade the course, and with what?

`diagnose(course)` looks at everything a grading run uses and returns one `Finding` each: what an
earlier grader that was killed left behind (removed: `sandbox.leftovers`), the frameworks and the
devices they see, the grading sandbox and the limits in force, the exchange, the gradebook, the grading kernel spec, where that kernel imports the course's packages
from, the GPUs that jobs are placed on, and, last, the canary of each assignment
(`graders.runner.canary`): its reference answers graded in the grading kernel, as a batch does first.
A finding is OK, WARN (grading runs, but read this) or MISSING (grading cannot run until its
fix is done). `report` renders them as lines.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from graders.runner import sandbox
from graders.runner.gradebook import display_url
from graders.runner.sandbox import format_size

OK, WARN, MISSING = "ok", "WARN", "MISSING"
INSTALL = "install the course's dependencies: make setup (pip install -e .)"
GPU_INSTALL = "for CUDA-enabled builds: make gpu (pip install -e '.[gpu]')"


@dataclass(frozen=True)
class Finding:
    """What was looked at (`topic`), its `status`, what was found, and what to do (for WARN and MISSING)."""

    topic: str
    status: str
    found: str
    fix: str = ""


def diagnose(course: str | Path, assignments: list[str] | None = None) -> list[Finding]:
    """Every finding about grading `course` (a course directory) on this machine, in report order; the canary runs
    for `assignments` (default: every assignment in its source folder)."""
    from graders.runner.gradebook import course_config
    from graders.runner.placement import gpu_ids

    course = Path(course).resolve()
    config = course_config(course)
    gpus = gpu_ids()
    return [
        _course(course),
        _leftovers(),
        _tensorflow(gpus),
        _torch(gpus),
        *_sandbox(config),
        _limits(config),
        _exchange(config),
        _gradebook(config),
        _kernel(),
        _packages(),
        _gpus(gpus),
        *_references(course, config, assignments),
    ]


def ready(findings: list[Finding]) -> bool:
    """Whether grading can run: nothing is MISSING."""
    return all(finding.status != MISSING for finding in findings)


def report(findings: list[Finding]) -> str:
    """One line per finding (and one per fix), then the verdict."""
    lines = []
    for finding in findings:
        lines.append(f"{finding.status:<8} {finding.topic:<18} {finding.found}")
        if finding.fix:
            lines.append(f"{'':<8} {'':<18} fix: {finding.fix}")
    missing = sum(finding.status == MISSING for finding in findings)
    lines.append("grading can run here." if not missing else f"grading cannot run here: {missing} MISSING above.")
    return "\n".join(lines)


# The findings ------------------------------------------------------------------------------
def _course(course: Path) -> Finding:
    if not (course / "nbgrader_config.py").is_file():
        return Finding("course", MISSING, f"{course} has no nbgrader_config.py", "pass the course directory with --root")
    return Finding("course", OK, str(course))


def _leftovers() -> Finding:
    """Remove what a grader that was killed left (`sandbox.leftovers`), and say what it was."""
    removed, failed = [], []
    for path in sandbox.leftovers():
        try:
            if path.name.startswith(sandbox.CGROUP_PREFIX):
                path.rmdir()  # a cgroup's files go with its folder
            else:
                shutil.rmtree(path)
            removed.append(str(path))
        except OSError as error:
            failed.append(f"{path} ({error.strerror})")
    if failed:
        found = f"could not remove what an earlier grader left: {', '.join(failed)}"
        return Finding("leftovers", WARN, found, "remove them as root")
    if removed:
        return Finding("leftovers", WARN, f"removed what an earlier grader that was killed left: {', '.join(removed)}")
    return Finding("leftovers", OK, "none: no cgroup or folder of an earlier grader")


def _tensorflow(gpus: list[str]) -> Finding:
    from graders.check.kernel.quiet import import_tensorflow

    try:
        tf = import_tensorflow()
    except ImportError as error:
        return Finding("TensorFlow", MISSING, f"cannot be imported: {error}", INSTALL)
    devices = [device.name.removeprefix("/physical_device:") for device in tf.config.list_physical_devices()]
    found = f"{tf.__version__}; devices: {', '.join(devices) or 'none'}"
    if gpus and not tf.config.list_physical_devices("GPU"):
        return Finding("TensorFlow", WARN, f"{found}: no GPU, although {len(gpus)} are visible", GPU_INSTALL)
    return Finding("TensorFlow", OK, found)


def _torch(gpus: list[str]) -> Finding:
    try:
        import torch
    except ImportError as error:
        return Finding("PyTorch", MISSING, f"cannot be imported: {error}", INSTALL)
    if torch.cuda.is_available():
        names = [torch.cuda.get_device_name(index) for index in range(torch.cuda.device_count())]
        return Finding("PyTorch", OK, f"{torch.__version__}; CUDA available: {len(names)} devices ({', '.join(names)})")
    found = f"{torch.__version__}; CUDA available: no (0 devices), CPU only"
    if gpus:
        return Finding("PyTorch", WARN, f"{found}, although {len(gpus)} GPUs are visible", GPU_INSTALL)
    return Finding("PyTorch", OK, found)


def _sandbox(config) -> list[Finding]:
    problems = sandbox.problems()
    if not problems:
        return [Finding("sandbox", OK, "works: bubblewrap isolation and cgroup limits")]
    if config.SandboxProvisioner.get("unsafe_no_sandbox", False):
        fix = "COURSE_UNSAFE_NO_SANDBOX=1 is set: student code runs with your rights; fix the problem, then unset it"
        return [Finding(f"sandbox {part}", WARN, problem, fix) for part, problem in problems.items()]
    fix = "do what it says (README: Security model, Where it runs), or grade at your own risk with --unsafe-no-sandbox"
    return [Finding(f"sandbox {part}", MISSING, problem, fix) for part, problem in problems.items()]


def _limits(config) -> Finding:
    from nbgrader.preprocessors import Execute

    from graders.runner.provisioner import SandboxProvisioner

    kernel = SandboxProvisioner(config=config)
    notebook = f"{kernel.submission_timeout:g} s" if kernel.submission_timeout > 0 else "no limit"
    return Finding(
        "limits", OK,
        f"a cell {Execute(config=config).timeout} s, a notebook {notebook}; memory {format_size(kernel.memory_limit)} "
        f"(swap included), {kernel.process_limit} tasks, any file {format_size(kernel.file_size_limit)}, "
        f"working folder and /tmp {format_size(kernel.disk_limit)}",
    )


def _exchange(config) -> Finding:
    from nbgrader.exchange.default.exchange import Exchange

    root = Path(Exchange(config=config).root)
    if not (root.is_dir() and os.access(root, os.W_OK)):
        fix = "nbgrader release_assignment and collect need it: create it, or set NBGRADER_EXCHANGE"
        return Finding("exchange", WARN, f"{root} is not a folder this user can write", fix)
    return Finding("exchange", OK, str(root))


def _gradebook(config) -> Finding:
    from nbgrader.coursedir import CourseDirectory
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = CourseDirectory(config=config).db_url
    shown = display_url(url)
    try:
        parsed = make_url(url)
    except Exception:  # SQLAlchemy's ArgumentError, or a ValueError from a bad port
        fix = "set COURSE_DB_URL to dialect+driver://user:password@host/database"
        return Finding("gradebook", MISSING, "its URL (COURSE_DB_URL) is not one SQLAlchemy can read", fix)
    if parsed.get_backend_name() == "sqlite":
        folder = Path(parsed.database or ".").resolve().parent
        if not os.access(folder, os.W_OK):
            return Finding("gradebook", MISSING, f"{shown}: cannot write in {folder}", "make it writable, or set COURSE_DB_URL")
        return Finding("gradebook", OK, shown)
    timeout = {"connect_timeout": 10} if parsed.get_backend_name() == "postgresql" else {}
    try:
        engine = create_engine(url, connect_args=timeout)
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        finally:
            engine.dispose()
    except ImportError as error:  # the URL's driver is not installed
        fix = "install that driver, or name psycopg 3, which the course installs: postgresql+psycopg://..."
        return Finding("gradebook", MISSING, f"{shown}: {error}", fix)
    except Exception as error:  # SQLAlchemy's OperationalError and its kin: the server said no, or did not answer
        said = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        if parsed.password:
            said = said.replace(parsed.password, "***")
        return Finding("gradebook", MISSING, f"{shown}: cannot connect: {said}", "start the database server, or correct COURSE_DB_URL")
    return Finding("gradebook", OK, f"{shown} (connected)")


def _kernel() -> Finding:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    from jupyter_client.provisioning import KernelProvisionerFactory

    from graders.check.kernel.startup import GRADING_KERNEL_NAME, PROVISIONER

    reinstall = "python -m graders install-kernel (make kernel)"
    try:
        spec = KernelSpecManager().get_kernel_spec(GRADING_KERNEL_NAME)
    except NoSuchKernel:
        return Finding("grading kernel", MISSING, f"no kernel spec {GRADING_KERNEL_NAME}", reinstall)
    where = f"{GRADING_KERNEL_NAME} in {spec.resource_dir}"
    provisioner = spec.metadata.get("kernel_provisioner", {}).get("provisioner_name")
    if provisioner != PROVISIONER or not KernelProvisionerFactory.instance().is_provisioner_available(spec):
        return Finding("grading kernel", MISSING, f"{where} is not launched by the {PROVISIONER} sandbox provisioner", reinstall)
    if not Path(spec.argv[0]).is_file():
        return Finding("grading kernel", MISSING, f"{where} runs {spec.argv[0]}, which does not exist", reinstall)
    return Finding("grading kernel", OK, f"{where}, running {spec.argv[0]}")


def _packages() -> Finding:
    import importlib.util

    from graders.runner.canary import mixed_packages

    imports = sandbox.kernel_imports()  # what the sandbox binds, as the grading kernel imports it
    lacking = [name for name in sandbox.PACKAGES if name not in imports.packages and importlib.util.find_spec(name)]
    if lacking:
        found = f"the grading kernel's Python ({imports.python}) cannot import {', '.join(lacking)}"
        return Finding("course packages", MISSING, found, "install the course into it: make setup (pip install -e .) in your checkout")
    if mixed := mixed_packages(imports):
        fix = "run python -m graders from outside the course folder, or install its checkout: pip install -e <course folder>"
        return Finding("course packages", MISSING, mixed, fix)
    where = ", ".join(f"{name} from {dirs[0]}" for name, dirs in imports.packages.items())
    return Finding("course packages", OK, f"the grading kernel imports {where}")


def _references(course: Path, config, assignments: list[str] | None) -> list[Finding]:
    from graders.runner.canary import check_references

    topic = "reference answers"
    if sandbox.problems() and not config.SandboxProvisioner.get("unsafe_no_sandbox", False):
        return [Finding(topic, WARN, "not graded: the grading sandbox cannot run here (above)", "fix the sandbox first")]
    source = course / "source"
    names = assignments or sorted(folder.name for folder in source.glob("*") if any(folder.glob("*.ipynb")))
    if not names:
        return [Finding(topic, WARN, f"{source} holds no assignment to grade them in")]
    findings = []
    for run in check_references(course, names):
        if run.passed:
            found = f"{run.assignment}: {run.earned:g} / {run.available:g} in the grading kernel ({run.seconds:.1f} s)"
            findings.append(Finding(topic, OK, found))
        else:
            fix = "every submission would score as this does: python -m graders autograde refuses to grade it"
            findings.append(Finding(topic, MISSING, f"{run.assignment}: {run.failure}", fix))
    return findings


def _gpus(gpus: list[str]) -> Finding:
    if not gpus:
        return Finding("GPUs for jobs", OK, "none visible: grading jobs run on the CPU")
    return Finding("GPUs for jobs", OK, f"{', '.join(gpus)}: one grading job per GPU by default, each sees its own")
