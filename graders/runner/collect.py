"""Submissions are data: only regular files leave a student's folder, and no link is ever followed.

Students can write into the exchange's ``inbound/``, so a submission folder may hold symbolic
links (to the gradebook, to ``source/``), FIFOs, devices or huge files; whoever copies it as the
TA, following links, hands the student what they point at. Here each folder below a trusted one
is opened with ``O_NOFOLLOW``, each entry is ``lstat``-ed, and each file is read through a
descriptor opened with ``O_NOFOLLOW | O_NONBLOCK`` and checked with ``fstat``. Anything else, and
any file over the size cap, is left out with the reason.

* `list_regular` and `read_regular`: how the runner reads ``submitted/`` (`graders.runner.gradebook`).
* `RegularFilesCollect`: nbgrader's default collect, copying that way. The course names it
  (``c.ExchangeFactory.collect``), so ``nbgrader collect`` and formgrader's Collect button use it.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

from nbgrader.exchange.default import ExchangeCollect
from traitlets import Integer

from graders.runner.sandbox import format_size

DEFAULT_MAX_FILE = 50 << 20  # bytes of one collected file (COURSE_MAX_SUBMISSION_FILE)
_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class LeftOut(Exception):
    """A path that is not taken; the message says why, e.g. ``a symbolic link``."""


@dataclass
class Listing:
    """A submission folder as taken: its regular files (relative path -> bytes) and what was left out (-> why)."""

    files: dict[str, int] = field(default_factory=dict)
    left_out: dict[str, str] = field(default_factory=dict)


def kind(mode: int) -> str:
    """What a file of this `st_mode` is, in words: ``a symbolic link``, ``a FIFO``, ..."""
    for test, words in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a device"),
                        (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"),
                        (stat.S_ISREG, "a file")):
        if test(mode):
            return words
    return "not a regular file"


def too_large(size: int, cap: int) -> str:
    return f"{format_size(size)}, over the {format_size(cap)} cap"


@contextmanager
def _folder(trusted: Path, parts: Sequence[str]) -> Iterator[int]:
    """A descriptor of ``trusted/parts...``, each part opened without following a link; LeftOut if one is no folder."""
    fd = os.open(trusted, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts:
            try:
                inner = os.open(part, _FOLDER, dir_fd=fd)
            except OSError as error:
                if error.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise LeftOut(f"{part}: {error.strerror}") from None
                raise LeftOut(f"{part} is {kind(os.stat(part, dir_fd=fd, follow_symlinks=False).st_mode)}") from None
            os.close(fd)
            fd = inner
        yield fd
    finally:
        os.close(fd)


def _parts(folder: Path, trusted: Path) -> tuple[str, ...]:
    return Path(os.path.normpath(folder)).relative_to(os.path.normpath(trusted)).parts


def list_regular(
    folder: Path, trusted: Path, ignore: Sequence[str] = (), include: Sequence[str] = ("*",), max_bytes: int | None = None
) -> Listing:
    """The regular files under `folder` (at most `max_bytes` each) and what is left out, found without following
    a link in `folder` or below `trusted`. Names matching `ignore`, and files matching no `include`, are
    skipped silently (nbgrader's CourseDirectory.ignore and include). LeftOut if `folder` itself is not a folder."""
    listing = Listing()

    def walk(fd: int, prefix: str) -> None:
        for name in sorted(os.listdir(fd)):
            if any(fnmatch(name, pattern) for pattern in ignore):
                continue
            try:
                info = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:  # removed since the listing
                continue
            relative, mode = prefix + name, info.st_mode
            if stat.S_ISDIR(mode):
                with _folder_at(fd, name, relative, listing) as inner:
                    if inner is not None:
                        walk(inner, relative + "/")
            elif not stat.S_ISREG(mode):
                listing.left_out[relative] = kind(mode)
            elif not any(fnmatch(name, pattern) for pattern in include):
                continue
            elif max_bytes is not None and info.st_size > max_bytes:
                listing.left_out[relative] = too_large(info.st_size, max_bytes)
            else:
                listing.files[relative] = info.st_size

    with _folder(trusted, _parts(folder, trusted)) as top:
        walk(top, "")
    return listing


@contextmanager
def _folder_at(fd: int, name: str, relative: str, listing: Listing) -> Iterator[int | None]:
    try:
        inner = os.open(name, _FOLDER, dir_fd=fd)
    except OSError as error:  # unreadable, or replaced since its lstat
        listing.left_out[relative] = f"not readable: {error.strerror}"
        yield None
        return
    try:
        yield inner
    finally:
        os.close(inner)


def read_regular(folder: Path, relative: str, trusted: Path, max_bytes: int | None = None) -> bytes:
    """The bytes of ``folder/relative``, opened without following a link in it or below `trusted`;
    LeftOut unless it is a regular file of at most `max_bytes`."""
    *folders, name = relative.split("/")
    with _folder(trusted, (*_parts(folder, trusted), *folders)) as fd:
        try:
            file = os.open(name, _FILE, dir_fd=fd)
        except OSError as error:
            raise LeftOut("a symbolic link" if error.errno == errno.ELOOP else f"not readable: {error.strerror}") from None
        with os.fdopen(file, "rb") as opened:
            info = os.fstat(opened.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise LeftOut(kind(info.st_mode))
            data = opened.read(-1 if max_bytes is None else max_bytes + 1)
    if max_bytes is not None and len(data) > max_bytes:
        raise LeftOut(too_large(max(info.st_size, len(data)), max_bytes))
    return data


class RegularFilesCollect(ExchangeCollect):
    """nbgrader's default collect, copying only regular files of at most `max_file_bytes` and following no link.
    Whatever is left behind in the exchange is one warning line, naming the student and the file."""

    max_file_bytes = Integer(DEFAULT_MAX_FILE, help="bytes of one collected file; larger ones stay behind").tag(config=True)

    def do_copy(self, src, dest, log=None):
        student, inbound = self._path_to_record(src)["username"], Path(self.inbound_path)
        cap = self.max_file_bytes
        if self.coursedir.max_file_size:  # nbgrader's own cap, in kilobytes
            cap = min(cap, 1000 * self.coursedir.max_file_size)
        try:
            listing = list_regular(Path(src), inbound, self.coursedir.ignore, self.coursedir.include, cap)
        except LeftOut as why:
            self.log.warning("%s: submission %s not collected: %s", student, Path(src).name, why)
            return
        for relative in listing.files:
            try:
                data = read_regular(Path(src), relative, inbound, cap)
            except LeftOut as why:
                listing.left_out[relative] = str(why)
                continue
            target = Path(dest, relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        Path(dest).mkdir(parents=True, exist_ok=True)
        for relative, why in sorted(listing.left_out.items()):
            self.log.warning(
                "%s: %s left behind in the exchange (%s): only regular files of at most %s are collected",
                student, relative, why, format_size(cap),
            )
        if self.coursedir.groupshared:  # as nbgrader's do_copy: folders ug+rwx (setgid), files ug+rw
            for folder, _, files in os.walk(dest):
                os.chmod(folder, (os.stat(folder).st_mode | 0o2770) & 0o2777)
                for name in files:
                    path = os.path.join(folder, name)
                    os.chmod(path, (os.stat(path).st_mode | 0o660) & 0o777)


def max_file_bytes(config) -> int:
    """The course's cap on one submitted file (its RegularFilesCollect.max_file_bytes)."""
    return int(config.RegularFilesCollect.get("max_file_bytes", DEFAULT_MAX_FILE))
