"""What a probe hands back from the kernel: values and failures, as data that needs no pickle to read.

An `Observation` holds what the student's code gave for one step's inputs: NumPy arrays,
numbers, strings, lists of numbers (`values`), the contract failures the kernel met on the way
(`failures`: a wrong type, say), and the failure that stopped it, if any. The judge
(`graders.check.trusted.judge`) decides from it; nothing in it can pass a check by itself: a failure that the
kernel reports only ever costs the student, and every value is compared with the grader's own.

On disk it is one `.npz` file: the arrays, plus a JSON document under `JSON_KEY`. Reading it
(`read`) never follows a link, refuses anything but a regular file of at most `MAX_BYTES` that
unpacks to at most as much, and loads with `allow_pickle=False`: a file the kernel wrote is data, never code.
It reads within a memory budget, whatever the file claims: before any array is loaded, each one's
header must declare plain numbers (booleans, integers, floats) or text, never objects, records or
complex numbers, and all of them, each converted to float64, must fit in `MAX_BYTES` together; the
JSON document holds at most `MAX_DOCUMENT` characters. So the judge may convert any value it reads to
float64 (never wider) and hold at most `MAX_BYTES` more.
"""

from __future__ import annotations

import io
import json
import math
import os
import stat
import zipfile
from dataclasses import dataclass, field

import numpy as np

from graders.check.shared.ast_lock import AST_LOCK
from graders.check.shared.checks.failures import _ABSENT, CheckFailed, show

JSON_KEY = "__observation__"
MAX_BYTES = 128 << 20  # an observation larger than this, its arrays as float64, is not read (the checks' data is far smaller)
MAX_DOCUMENT = 16 << 20  # characters of its JSON document
MAX_ARRAYS = 1024
WIDEST = 8  # bytes of an element once converted (float64)


class ObservationError(Exception):
    """An observation file that could not be read as one: missing, a link, too large, not an .npz of plain arrays."""


@dataclass
class Observation:
    """Values the student's code produced, the failures met on the way, and the one that stopped it (if any)."""

    values: dict = field(default_factory=dict)
    failures: list[dict] = field(default_factory=list)  # {"key", "what", "expected"?, "found"?, "hint", "step"}
    stopped: dict | None = None

    # -- the kernel's side ---------------------------------------------------------------------
    def failed(self, key: str, failure: CheckFailed) -> None:
        """Record `failure` (each of its lines) under `key`, where the judge looks for it."""
        for single in failure.failures:
            self.failures.append({"key": key, **_failure_fields(single)})

    # -- the judge's side ----------------------------------------------------------------------
    def failures_at(self, key: str) -> list[CheckFailed]:
        return [_failure(record) for record in self.failures if record["key"] == key]


def _failure_fields(failure: CheckFailed) -> dict:
    fields = {"what": failure.what, "hint": failure.hint, "step": failure.step}
    fields.update({name: show(value) for name, value in (("expected", failure._expected), ("found", failure._found)) if value is not _ABSENT})
    return fields


def _failure(record: dict) -> CheckFailed:
    values = {name: _text(record[name]) for name in ("expected", "found") if name in record}
    return CheckFailed(_text(record.get("what")) or "a check", **values, hint=_text(record.get("hint")), step=_text(record.get("step")))


def _text(value, limit: int = 2000) -> str | None:
    return None if value is None else str(value)[:limit]


# -- files ---------------------------------------------------------------------------------------
def to_bytes(observation: Observation) -> bytes:
    arrays = {key: value for key, value in observation.values.items() if isinstance(value, np.ndarray)}
    plain = {key: value for key, value in observation.values.items() if key not in arrays}
    document = {"values": plain, "failures": observation.failures, "stopped": observation.stopped, "arrays": list(arrays)}
    buffer = io.BytesIO()
    np.savez(buffer, **{f"a{i}": array for i, array in enumerate(arrays.values())}, **{JSON_KEY: np.array(json.dumps(document, default=_plain))})
    return buffer.getvalue()


def _plain(value):
    """JSON for NumPy's numbers and small arrays."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not data")


def from_bytes(data: bytes) -> Observation:
    with AST_LOCK:  # the arrays' headers are parsed by ast.literal_eval
        return _from_bytes(data)


def _from_bytes(data: bytes) -> Observation:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as members:  # what it unpacks to, before anything is unpacked
            unpacked = sum(member.file_size for member in members.infolist())
            if unpacked > MAX_BYTES:
                raise ObservationError(f"the observation unpacks to {unpacked >> 20} MiB, more than {MAX_BYTES >> 20} MiB")
            within_budget(members)
    except (zipfile.BadZipFile, ValueError) as error:
        raise ObservationError(f"not an observation ({type(error).__name__}: {error})") from None
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            document = json.loads(str(archive[JSON_KEY]))
            names = [str(name) for name in document.get("arrays", [])]
            arrays = {name: archive[f"a{i}"] for i, name in enumerate(names)}
    except Exception as error:
        raise ObservationError(f"not an observation ({type(error).__name__}: {error})") from None
    values = dict(document.get("values") or {})
    values.update(arrays)
    failures = [record for record in document.get("failures") or [] if isinstance(record, dict)]
    stopped = document.get("stopped")
    return Observation(values, failures, stopped if isinstance(stopped, dict) else None)


def within_budget(members: zipfile.ZipFile) -> None:
    """ObservationError unless every member of the archive is a plain array (`declared`) and all of them, each
    converted to float64 (text as it is), hold at most MAX_BYTES, the JSON document at most MAX_DOCUMENT characters."""
    infos = members.infolist()
    if len(infos) > MAX_ARRAYS:
        raise ObservationError(f"the observation holds {len(infos)} arrays, more than {MAX_ARRAYS}")
    total = 0
    for info in infos:
        shape, dtype = declared(members, info)
        size = math.prod(shape) * (dtype.itemsize if dtype.kind in "US" else max(dtype.itemsize, WIDEST))
        if info.filename == f"{JSON_KEY}.npy" and (dtype.kind != "U" or shape != () or dtype.itemsize // 4 > MAX_DOCUMENT):
            raise ObservationError(f"the observation's document is not one text of at most {MAX_DOCUMENT >> 20} Mi characters")
        total += size
        if total > MAX_BYTES:
            raise ObservationError(f"the observation's arrays as float64 hold more than {MAX_BYTES >> 20} MiB")


def declared(members: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype that the .npy header of member `info` declares, read without loading the array;
    ObservationError unless it is booleans, integers, floats or text."""
    try:
        with members.open(info) as file:
            version = np.lib.format.read_magic(file)
            read_header = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}[version]
            shape, _, dtype = read_header(file)
    except Exception as error:
        name = info.filename[:80]
        raise ObservationError(f"not an observation: member {name!r} is not an array ({type(error).__name__})") from None
    if dtype.kind not in "biufUS" or dtype.fields is not None or dtype.subdtype is not None:
        raise ObservationError(f"not an observation: array {info.filename[:80]!r} holds {dtype.str[:40]}, not numbers or text")
    return shape, dtype


def write(path: str | os.PathLike, observation: Observation) -> None:
    """Write an observation into the file the grader created (the kernel's side: its own working folder), or a new one
    (a self-check)."""
    with open(path, "wb") as file:
        file.write(to_bytes(observation))


def read(directory_fd: int, name: str) -> Observation:
    """Read the observation file `name` in the folder open as `directory_fd`, never following a link."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=directory_fd)
    except FileNotFoundError:
        raise ObservationError("the kernel wrote no observation") from None
    except OSError as error:
        raise ObservationError(f"the observation could not be opened ({error.strerror})") from None
    try:
        return read_open(fd)
    finally:
        os.close(fd)


def read_open(fd: int) -> Observation:
    """Read the observation in the file open as `fd` (from its start): a regular file of at most MAX_BYTES."""
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise ObservationError("the observation is not a regular file")
    if info.st_size == 0:
        raise ObservationError("the kernel wrote no observation")
    if info.st_size > MAX_BYTES:
        raise ObservationError(f"the observation holds {info.st_size >> 20} MiB, more than {MAX_BYTES >> 20} MiB")
    return from_bytes(os.pread(fd, MAX_BYTES + 1, 0))


def create_new(directory_fd: int, name: str) -> int:
    """Create the empty file `name` in the folder open as `directory_fd` for the kernel to write into: never through a
    link or over a file that is already there; the descriptor, read and write, that the grader reads it through."""
    return os.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666, dir_fd=directory_fd)


def write_new(directory_fd: int, name: str, data: bytes) -> None:
    """Create the file `name` in the folder open as `directory_fd` and write `data`: never through a link
    or over a file that is already there (the judge's side, writing inputs where the kernel can write too)."""
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=directory_fd)
    with os.fdopen(fd, "wb") as file:
        file.write(data)


def arrays_to_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def arrays_from_file(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The arrays of an .npz file, never unpickled: the inputs the judge wrote (the kernel's side), or those packaged
    for the students' self-checks."""
    with AST_LOCK, np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}
