"""Submissions are data: only regular files leave a student's folder, and no link is ever followed.

Students can write into the exchange's ``inbound/``, so a submission folder may hold symbolic
links (to the gradebook, to ``source/``), FIFOs, devices or huge files; whoever copies it as the
TA, following links, hands the student what they point at. Here each folder below a trusted one
is opened with ``O_NOFOLLOW``, each entry is ``lstat``-ed, and each file is read through a
descriptor opened with ``O_NOFOLLOW | O_NONBLOCK`` and checked with ``fstat``. Anything else, and
any file over the size cap, is left out with the reason. A submission over a cap on its files in
all (their number; for the runner, their bytes) is taken without them: only its notebooks and
``timestamp.txt`` (`FIRST`) at its top.

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
DEFAULT_MAX_FILES = 1000  # regular files of one submission (COURSE_MAX_SUBMISSION_FILES)
FIRST = ("*.ipynb", "timestamp.txt")  # what a submission over a cap on its files in all is taken with, from its top
_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class LeftOut(Exception):
    """A path that is not taken; the message says why, e.g. ``a symbolic link``."""


class _Over(Exception):
    """The files of a submission, in all, over a cap; the message says which."""


@dataclass
class Listing:
    """A submission folder as taken: its regular files (relative path -> bytes) and what was left out (-> why);
    `over`: the cap on its files in all that it is over, in words (``""``: none), and then `files` holds its top
    folder's `FIRST` files only."""

    files: dict[str, int] = field(default_factory=dict)
    left_out: dict[str, str] = field(default_factory=dict)
    over: str = ""


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
    folder: Path, trusted: Path, ignore: Sequence[str] = (), include: Sequence[str] = ("*",), max_bytes: int | None = None,
    max_files: int | None = None, max_total: int | None = None,
) -> Listing:
    """The regular files under `folder` (at most `max_bytes` each) and what is left out, found without following
    a link in `folder` or below `trusted`. Names matching `ignore`, and files matching no `include`, are
    skipped silently (nbgrader's CourseDirectory.ignore and include). More than `max_files` files, or more than
    `max_total` bytes in the files other than `FIRST` ones: the walk stops there, and the listing holds the top
    folder's `FIRST` files only (`Listing.over`). LeftOut if `folder` itself is not a folder."""
    listing, total = Listing(), 0

    def walk(fd: int, prefix: str, only: Sequence[str] = ()) -> None:
        nonlocal total
        for name in sorted(os.listdir(fd)):
            if any(fnmatch(name, pattern) for pattern in ignore) or (only and not any(fnmatch(name, p) for p in only)):
                continue
            try:
                info = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:  # removed since the listing
                continue
            relative, mode = prefix + name, info.st_mode
            if stat.S_ISDIR(mode) and only:
                continue
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
                total += 0 if "/" not in relative and any(fnmatch(name, p) for p in FIRST) else info.st_size
                if only:  # taken whatever the caps
                    continue
                if max_files is not None and len(listing.files) > max_files:
                    raise _Over(f"more than {max_files} files (the cap, COURSE_MAX_SUBMISSION_FILES)")
                if max_total is not None and total > max_total:
                    raise _Over(f"more than {format_size(max_total)} of files besides its notebooks (the cap)")

    with _folder(trusted, _parts(folder, trusted)) as top:
        try:
            walk(top, "")
        except _Over as over:
            listing = Listing(over=str(over))
            walk(top, "", only=FIRST)
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
            data = read_sized(opened, info.st_size, max_bytes)
    if max_bytes is not None and len(data) > max_bytes:
        raise LeftOut(too_large(max(info.st_size, len(data)), max_bytes))
    return data


def read_sized(opened, size: int, max_bytes: int | None) -> bytes:
    """The bytes of an open file of `size` bytes by its fstat (it may have grown since), at most `max_bytes` + 1.

    Asked for no more than it holds: a read asked for the cap allocates the cap (a memory mapping of its own
    above 128 KiB), shrunk to the data but never unmapped while the bytes live, one mapping per file; a class
    of small files would pass the kernel's 65,530 mappings a process may hold, and the grader could not start
    a thread."""
    cap = max_bytes + 1 if max_bytes is not None else None
    data = opened.read(size + 1 if cap is None else min(size + 1, cap))
    if len(data) > size and (cap is None or len(data) < cap):  # it grew: the rest, up to the cap
        data += opened.read(-1 if cap is None else cap - len(data))
    return data


class RegularFilesCollect(ExchangeCollect):
    """nbgrader's default collect, copying only regular files of at most `max_file_bytes` and following no link,
    and of a submission of more than `max_files` files only its notebooks and timestamp.txt.
    Whatever is left behind in the exchange is one warning line, naming the student and the file."""

    max_file_bytes = Integer(DEFAULT_MAX_FILE, help="bytes of one collected file; larger ones stay behind").tag(config=True)
    max_files = Integer(
        DEFAULT_MAX_FILES, help="files of one submission; over it, only its notebooks and timestamp.txt are collected"
    ).tag(config=True)

    def do_copy(self, src, dest, log=None):
        student, inbound = self._path_to_record(src)["username"], Path(self.inbound_path)
        cap = self.max_file_bytes
        if self.coursedir.max_file_size:  # nbgrader's own cap, in kilobytes
            cap = min(cap, 1000 * self.coursedir.max_file_size)
        try:
            listing = list_regular(Path(src), inbound, self.coursedir.ignore, self.coursedir.include, cap, self.max_files)
        except LeftOut as why:
            self.log.warning("%s: submission %s not collected: %s", student, Path(src).name, why)
            return
        if listing.over:
            self.log.warning("%s: %s: only its notebooks and timestamp.txt collected, the rest left behind in the exchange",
                             student, listing.over)
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


def max_files(config) -> int:
    """The course's cap on the files of one submission (its RegularFilesCollect.max_files)."""
    return int(config.RegularFilesCollect.get("max_files", DEFAULT_MAX_FILES))
