"""Datasets for the course, as uint8 MNIST-format arrays.

``digits`` ships with the course (digits.csv.gz). ``mnist`` and ``fashion_mnist``
are downloaded once into a cache, and every file is checked against a pinned
SHA-256 sum before it is used.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import struct
import tempfile
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

DATASETS = ("digits", "mnist", "fashion_mnist")
DIGITS_CSV = Path(__file__).with_name("digits.csv.gz")  # UCI's digits as scikit-learn ships them; why here: DIGITS.md
HOLDOUT_SIZE = {"digits": 180, "mnist": 1000, "fashion_mnist": 1000}  # test images left out for the graders
FILES = (  # the order of the RawData fields
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


class DatasetError(RuntimeError):
    """A dataset could not be obtained or read."""


class ChecksumError(DatasetError):
    """A downloaded file's SHA-256 sum is not the pinned one."""


class DownloadError(DatasetError):
    """A file could not be downloaded (HTTP error, no network, truncated body)."""


class CorruptFileError(DatasetError):
    """A file is not valid IDX data, or the loaded arrays are inconsistent."""


class RawData(NamedTuple):
    """MNIST-format data: uint8 images (N, H, W) in [0, 255], uint8 labels (N,) in [0, 9]."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


@dataclass(frozen=True)
class Source:
    """Where a dataset's four FILES come from: base URL and file name -> SHA-256."""

    base_url: str
    files: dict[str, str]


SOURCES: dict[str, Source] = {
    # SHA-256 sums from pytorch/vision torchvision/prototype/datasets/_builtin/mnist.py
    # (MNIST._CHECKSUMS, commit 01c11a0564b8417561ae4c414fe659fc97476987), which lists
    # this mirror; ankane/torchvision-ruby lib/torchvision/datasets/mnist.rb pins the same.
    "mnist": Source(
        base_url="https://ossci-datasets.s3.amazonaws.com/mnist/",
        files={
            "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        },
    ),
    # SHA-256 sums of Zalando's files, from the same pytorch/vision file
    # (FashionMNIST._CHECKSUMS) and ankane/torchvision-ruby fashion_mnist.rb. The Keras
    # mirror below (keras/src/datasets/fashion_mnist.py) serves files of the same sizes.
    "fashion_mnist": Source(
        base_url="https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
        files={
            "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        },
    ),
}

_IDX_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def cache_dir() -> Path:
    """$COURSE_DATA_DIR if set, else $XDG_CACHE_HOME/tf-pytorch-course (default ~/.cache/...)."""
    if os.environ.get("COURSE_DATA_DIR"):
        return Path(os.environ["COURSE_DATA_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "tf-pytorch-course"


_default_cache_dir = cache_dir  # load_dataset's keyword argument shadows the name


def _hint(folder: Path) -> str:
    return (
        f"To use a mirror, set COURSE_DATA_MIRROR to a base URL that serves {', '.join(FILES)}; "
        f"to work offline, copy those files into {folder}/ (they are checked by SHA-256)."
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_file(url: str, dest: Path, sha256: str, *, timeout: float = 30.0) -> Path:
    """Download url to dest, atomically, only if its SHA-256 is sha256; return dest.

    On any failure nothing is left at dest and no temporary file remains.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    hint = _hint(dest.parent)
    tmp = tempfile.NamedTemporaryFile(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part", delete=False)
    try:
        with tmp:
            digest, received, length, cut = hashlib.sha256(), 0, None, False
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    length = response.headers.get("Content-Length")
                    while chunk := response.read(1 << 16):
                        tmp.write(chunk)
                        digest.update(chunk)
                        received += len(chunk)
            except urllib.error.HTTPError as e:
                e.close()
                raise DownloadError(f"could not download {url}: HTTP {e.code} {e.reason}. {hint}") from e
            except http.client.IncompleteRead as e:  # how some Python versions report a short body
                received, cut = received + len(e.partial), True
            except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
                reason = getattr(e, "reason", None) or e
                raise DownloadError(f"could not download {url}: {reason}. {hint}") from e
        if cut or (length is not None and received != int(length)):
            raise DownloadError(
                f"download of {url} truncated: got {received} of {length or '?'} bytes. {hint}"
            )
        actual = digest.hexdigest()
        if actual != sha256.lower():
            raise ChecksumError(
                f"checksum mismatch for {dest.name} from {url}: expected sha256 {sha256}, "
                f"got {actual}. The server sent different bytes than the course pins. {hint}"
            )
        os.replace(tmp.name, dest)
    except BaseException:
        Path(tmp.name).unlink(missing_ok=True)
        raise
    return dest


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (gzip-compressed if its name ends in .gz) into a native-endian array."""
    path = Path(path)
    try:
        with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as f:
            data = f.read()
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise CorruptFileError(f"{path}: not a complete gzip file ({e})") from e
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[3] == 0:
        raise CorruptFileError(f"{path}: not an IDX file (magic number {data[:4].hex() or 'missing'})")
    if data[2] not in _IDX_DTYPES:
        raise CorruptFileError(f"{path}: unknown IDX type code 0x{data[2]:02x}")
    ndim, dtype = data[3], np.dtype(_IDX_DTYPES[data[2]])
    header = 4 + 4 * ndim
    if len(data) < header:
        raise CorruptFileError(f"{path}: IDX header truncated ({len(data)} of {header} bytes)")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise CorruptFileError(
            f"{path}: IDX payload is {len(data) - header} bytes but header {dims} of {dtype} needs {expected}"
        )
    return np.frombuffer(data, dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def split_arrays(x, y, n_test: int, seed: int = 0) -> RawData:
    """Split (x, y) by a permutation seeded with seed: the first n_test shuffled rows are the test set."""
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"x and y differ in length: {len(x)} vs {len(y)}")
    if not 0 < n_test < len(x):
        raise ValueError(f"n_test must be in 1..{len(x) - 1}, got {n_test}")
    order = np.random.default_rng(seed).permutation(len(x))
    test, train = order[:n_test], order[n_test:]
    return RawData(x[train], y[train], x[test], y[test])


def digits_levels() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 digits as published (`DIGITS_CSV`): (N, 8, 8) float64 levels 0..16, and (N,) uint8 labels."""
    with gzip.open(DIGITS_CSV, "rt") as csv:
        table = np.loadtxt(csv, delimiter=",")
    return table[:, :-1].reshape(-1, 8, 8), table[:, -1].astype(np.uint8)


def _load_digits() -> RawData:
    """The digits, pixels 0..16 scaled to 0..255, split as the course splits them."""
    levels, labels = digits_levels()
    x = np.rint(levels * (255 / 16)).astype(np.uint8)
    return split_arrays(x, labels, n_test=360 + HOLDOUT_SIZE["digits"], seed=0)


def _validate(data: RawData, paths: list[Path]) -> None:
    """Raise CorruptFileError, after deleting the files at paths, unless data is MNIST-like."""
    problems = []
    for split, x, y in (("train", data.x_train, data.y_train), ("test", data.x_test, data.y_test)):
        if x.dtype != np.uint8 or y.dtype != np.uint8:
            problems.append(f"{split} dtypes are {x.dtype}/{y.dtype}, not uint8")
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            problems.append(f"{split} shapes {x.shape} and {y.shape} are not (N, H, W) and (N,)")
        elif y.size and y.max() > 9:
            problems.append(f"{split} labels go up to {y.max()}, not 0..9")
    if not problems and data.x_train.shape[1:] != data.x_test.shape[1:]:
        problems.append(f"image sizes differ: {data.x_train.shape[1:]} vs {data.x_test.shape[1:]}")
    if problems:
        for path in paths:
            path.unlink(missing_ok=True)
        problems = "; ".join(problems)
        raise CorruptFileError(f"the files in {paths[0].parent} are inconsistent ({problems}); removed them")


def load_dataset(name: str = "digits", **where) -> RawData:
    """Load a dataset of DATASETS as RawData, downloading and caching its files if needed.

    Files live in <cache_dir>/<name>/ (cache_dir defaults to cache_dir()); they are
    fetched from base_url, else $COURSE_DATA_MIRROR, else the source's base URL.
    The last HOLDOUT_SIZE[name] test images are left out: the graders make their held-out
    images from them, and keep those on their side.
    Keywords: cache_dir, base_url, source (see `load_published`).
    """
    data = load_published(name, **where)
    n = HOLDOUT_SIZE[name]
    return data._replace(x_test=data.x_test[:-n], y_test=data.y_test[:-n])


def load_published(
    name: str,
    *,
    cache_dir: str | os.PathLike | None = None,
    base_url: str | None = None,
    source: Source | None = None,
) -> RawData:
    """The dataset as published, its test split still ending with the HOLDOUT_SIZE[name] images `load_dataset` leaves out."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {DATASETS}")
    if name == "digits":
        return _load_digits()
    source = source or SOURCES[name]
    if missing := [f for f in FILES if f not in source.files]:
        raise ValueError(f"source for {name!r} lacks sums for {missing}")
    base = (base_url or os.environ.get("COURSE_DATA_MIRROR") or source.base_url).rstrip("/") + "/"
    folder = Path(cache_dir if cache_dir is not None else _default_cache_dir()).expanduser() / name
    paths = [folder / f for f in FILES]
    arrays = []
    for path in paths:
        if path.exists() and _sha256(path) != source.files[path.name].lower():
            path.unlink()  # a damaged or stale cached file: fetch it again
        if not path.exists():
            download_file(base + path.name, path, source.files[path.name])
        try:
            arrays.append(read_idx(path))
        except CorruptFileError as e:
            path.unlink()  # verified bytes that do not load must not be reused
            raise CorruptFileError(f"{e}; removed it from the cache") from e
    data = RawData(*arrays)
    _validate(data, paths)
    return data
