"""Tests of course/data.py against a real HTTP server on the loopback interface."""

from __future__ import annotations

import collections
import gzip
import hashlib
import http.server
import re
import socket
import struct
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from course.data import (
    DATASETS,
    FILES,
    HOLDOUT_SIZE,
    SOURCES,
    ChecksumError,
    CorruptFileError,
    DatasetError,
    DownloadError,
    RawData,
    Source,
    cache_dir,
    download_file,
    load_dataset,
    load_published,
    read_idx,
    split_arrays,
)

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared/data/mnist"
# The sums in shared/data/mnist/README.md (re-gzipped copies, not the public files).
SHARED_SUMS = {
    "t10k-images-idx3-ubyte.gz": "167310007f03058885c7e95e6c0b19c20de5c7fd3031f4cbdadc9014a523d80b",
    "t10k-labels-idx1-ubyte.gz": "fc607395669ec21321ea83e4b82c0544b7e8e63ff5b34337c06bc0a17cc0da3c",
}
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


# --- helpers ---------------------------------------------------------------------------


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array in the IDX format."""
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def synthetic_files(n_train=12, n_test=5 + HOLDOUT_SIZE["mnist"], size=(4, 3), seed=1) -> tuple[RawData, dict[str, bytes]]:
    rng = np.random.default_rng(seed)
    data = RawData(
        rng.integers(0, 256, (n_train, *size), dtype=np.uint8),
        rng.integers(0, 10, n_train, dtype=np.uint8),
        rng.integers(0, 256, (n_test, *size), dtype=np.uint8),
        rng.integers(0, 10, n_test, dtype=np.uint8),
    )
    return data, {name: gz(idx_bytes(array)) for name, array in zip(FILES, data)}


def files_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def free_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """Routes of a loopback HTTP server: files, error statuses, truncated and slow bodies."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.status: dict[str, int] = {}
        self.truncated: set[str] = set()
        self.slow: set[str] = set()
        self.chunked_cut: set[str] = set()
        self.counts: collections.Counter[str] = collections.Counter()
        self.lock = threading.Lock()
        self.url = ""

    def serve(self, name: str, body: bytes) -> None:
        self.files[name] = body


def make_handler(state: Server):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            name = self.path.lstrip("/")
            with state.lock:
                state.counts[name] += 1
            if name in state.status:
                self.send_error(state.status[name])
                return
            if name not in state.files:
                self.send_error(404)
                return
            if name in state.slow:
                time.sleep(2)
            body = state.files[name]
            if name in state.chunked_cut:  # a chunk that promises more than it delivers
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                self.wfile.write(b"%x\r\n" % len(body) + body[: len(body) // 2])
                self.close_connection = True
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if name in state.truncated:  # promise everything, send half, hang up
                self.wfile.write(body[: len(body) // 2])
                self.close_connection = True
                return
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def server():
    state = Server()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """No proxy or course settings from the caller's environment."""
    for var in ("COURSE_DATA_DIR", "COURSE_DATA_MIRROR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def synthetic(server):
    data, files = synthetic_files()
    for name, body in files.items():
        server.serve(name, body)
    visible = data._replace(x_test=data.x_test[:5], y_test=data.y_test[:5])  # the rest is held out
    return visible, Source(base_url=server.url, files={n: sha(b) for n, b in files.items()})


def assert_same(a: RawData, b: RawData) -> None:
    for x, y in zip(a, b):
        assert x.dtype == y.dtype and x.shape == y.shape
        np.testing.assert_array_equal(x, y)


@pytest.fixture(scope="module")
def mnist_test_set():
    if not SHARED_MNIST.is_dir():
        pytest.skip(f"real MNIST test set not found at {SHARED_MNIST} (expected ../shared beside the repo)")
    return (
        read_idx(SHARED_MNIST / "t10k-images-idx3-ubyte.gz"),
        read_idx(SHARED_MNIST / "t10k-labels-idx1-ubyte.gz"),
    )


# --- 1. digits -------------------------------------------------------------------------


def test_digits_shapes_dtypes_and_ranges():
    d = load_dataset("digits")
    assert isinstance(d, RawData)
    assert d.x_train.shape == (1257, 8, 8) and d.y_train.shape == (1257,)
    assert d.x_test.shape == (360, 8, 8) and d.y_test.shape == (360,)
    published = load_published("digits")
    x_left_out, y_left_out = published.x_test[-HOLDOUT_SIZE["digits"] :], published.y_test[-HOLDOUT_SIZE["digits"] :]
    assert x_left_out.shape == (180, 8, 8) and set(np.unique(y_left_out)) == set(range(10))
    seen = {row.tobytes() for row in np.concatenate([d.x_train, d.x_test])}
    assert sum(row.tobytes() not in seen for row in x_left_out) > 170  # digits has a few duplicate images
    for a in d:
        assert a.dtype == np.uint8
    assert d.x_train.min() == 0 and d.x_train.max() == 255
    assert set(np.unique(d.y_train)) == set(range(10)) == set(np.unique(d.y_test))
    # values are round(v * 255 / 16) for v in 0..16
    allowed = {round(v * 255 / 16) for v in range(17)}
    assert set(np.unique(np.concatenate([d.x_train.ravel(), d.x_test.ravel()]))) <= allowed


def test_digits_is_deterministic_and_pinned(tmp_path):
    a, b = load_dataset(), load_dataset("digits", cache_dir=tmp_path)
    assert_same(a, b)
    assert files_in(tmp_path) == []  # digits caches nothing
    # the split is fixed forever: any change of the digits file, scaling or permutation shows here
    assert a.y_test[:20].tolist() == [6, 6, 6, 2, 5, 6, 6, 2, 2, 1, 1, 9, 0, 4, 1, 9, 5, 5, 3, 0]
    assert sha(b"".join(x.tobytes() for x in a)) == (
        "c7e0e8267988c8c3485a682792b03fa9a651b4c6a76c2c73add36017dd58c0c8"
    )


def test_digits_are_scikit_learns_file():
    """The shipped CSV file is scikit-learn 1.9.1's `digits.csv.gz`, byte for byte: the sha256 that its record
    (course/DIGITS.md) gives; read as published."""
    from course.data import DIGITS_CSV, digits_levels

    recorded = re.search(r"sha256\s+`([0-9a-f]{64})`", DIGITS_CSV.with_name("DIGITS.md").read_text())
    assert recorded, "course/DIGITS.md names no sha256 of the file"
    assert hashlib.sha256(DIGITS_CSV.read_bytes()).hexdigest() == recorded.group(1)
    levels, labels = digits_levels()
    assert levels.shape == (1797, 8, 8) and set(np.unique(levels)) == set(range(17))
    assert np.bincount(labels).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_unknown_dataset_is_rejected():
    assert DATASETS == ("digits", "mnist", "fashion_mnist")
    with pytest.raises(ValueError, match="cifar"):
        load_dataset("cifar")


def test_pinned_sources_are_complete():
    for name in ("mnist", "fashion_mnist"):
        src = SOURCES[name]
        assert src.base_url.startswith("https://")
        assert sorted(src.files) == sorted(FILES)
        assert all(len(s) == 64 and int(s, 16) >= 0 for s in src.files.values())
    assert SOURCES["mnist"].files["t10k-images-idx3-ubyte.gz"] != SHARED_SUMS["t10k-images-idx3-ubyte.gz"]


# --- 2. download, cache, environment ----------------------------------------------------


def test_download_round_trip_and_cache_reuse(tmp_path, server, synthetic):
    expected, source = synthetic
    got = load_dataset("mnist", cache_dir=tmp_path, source=source)
    assert_same(got, expected)
    assert dict(server.counts) == dict.fromkeys(FILES, 1)
    assert files_in(tmp_path) == sorted(tmp_path / "mnist" / n for n in FILES)

    again = load_dataset("mnist", cache_dir=tmp_path, source=source)
    assert_same(again, expected)
    assert dict(server.counts) == dict.fromkeys(FILES, 1)  # no second request


def test_env_cache_dir_and_mirror(tmp_path, monkeypatch, server, synthetic):
    expected, source = synthetic
    dead = Source(base_url=f"http://127.0.0.1:{free_port()}/", files=source.files)
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "env-cache"))
    monkeypatch.setenv("COURSE_DATA_MIRROR", server.url.rstrip("/"))  # no trailing slash
    assert cache_dir() == tmp_path / "env-cache"
    assert_same(load_dataset("fashion_mnist", source=dead), expected)
    assert files_in(tmp_path) == sorted(tmp_path / "env-cache" / "fashion_mnist" / n for n in FILES)

    # an explicit base_url beats the environment
    monkeypatch.setenv("COURSE_DATA_MIRROR", dead.base_url)
    assert_same(load_dataset("mnist", cache_dir=tmp_path / "c2", base_url=server.url, source=dead), expected)
    assert dict(server.counts) == dict.fromkeys(FILES, 2)


def test_default_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "tf-pytorch-course"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "tf-pytorch-course"
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "course"))
    assert cache_dir() == tmp_path / "course"


def test_invalid_cached_file_is_replaced(tmp_path, server, synthetic):
    expected, source = synthetic
    folder = tmp_path / "mnist"
    folder.mkdir()
    (folder / FILES[1]).write_bytes(b"damaged")
    assert_same(load_dataset("mnist", cache_dir=tmp_path, source=source), expected)
    assert sha((folder / FILES[1]).read_bytes()) == source.files[FILES[1]]
    assert dict(server.counts) == dict.fromkeys(FILES, 1)


# --- 3. errors --------------------------------------------------------------------------


def test_http_404(tmp_path, server):
    source = Source(base_url=server.url, files=dict.fromkeys(FILES, "0" * 64))
    with pytest.raises(DownloadError) as err:
        load_dataset("mnist", cache_dir=tmp_path, source=source)
    msg = str(err.value)
    assert f"{server.url}{FILES[0]}" in msg and "HTTP 404" in msg
    assert "COURSE_DATA_MIRROR" in msg and str(tmp_path / "mnist") in msg
    assert files_in(tmp_path) == []


def test_http_500(tmp_path, server):
    server.status["x.gz"] = 500
    with pytest.raises(DownloadError, match="HTTP 500") as err:
        download_file(server.url + "x.gz", tmp_path / "x.gz", "0" * 64)
    assert server.url + "x.gz" in str(err.value) and "COURSE_DATA_MIRROR" in str(err.value)
    assert files_in(tmp_path) == []


def test_connection_refused(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/"
    source = Source(base_url=url, files=dict.fromkeys(FILES, "0" * 64))
    with pytest.raises(DownloadError) as err:
        load_dataset("mnist", cache_dir=tmp_path, source=source)
    msg = str(err.value)
    assert url + FILES[0] in msg and "refused" in msg.lower() and "COURSE_DATA_MIRROR" in msg
    assert files_in(tmp_path) == []


def test_timeout(tmp_path, server):
    server.serve("slow.gz", b"x")
    server.slow.add("slow.gz")
    with pytest.raises(DownloadError, match="timed out") as err:
        download_file(server.url + "slow.gz", tmp_path / "slow.gz", sha(b"x"), timeout=0.3)
    assert "COURSE_DATA_MIRROR" in str(err.value)
    assert files_in(tmp_path) == []


def test_checksum_mismatch(tmp_path, server, synthetic):
    _, source = synthetic
    server.serve(FILES[0], b"not what was pinned")
    with pytest.raises(ChecksumError) as err:
        load_dataset("mnist", cache_dir=tmp_path, source=source)
    msg = str(err.value)
    assert FILES[0] in msg and server.url + FILES[0] in msg
    assert source.files[FILES[0]] in msg and sha(b"not what was pinned") in msg
    assert "COURSE_DATA_MIRROR" in msg
    assert isinstance(err.value, DatasetError)
    assert files_in(tmp_path) == []


def test_truncated_body(tmp_path, server):
    body = bytes(range(256)) * 40
    server.serve("big.gz", body)
    server.truncated.add("big.gz")
    with pytest.raises(DownloadError, match=f"truncated: got {len(body) // 2} of {len(body)} bytes") as err:
        download_file(server.url + "big.gz", tmp_path / "big.gz", sha(body))
    assert server.url + "big.gz" in str(err.value) and "COURSE_DATA_MIRROR" in str(err.value)
    assert files_in(tmp_path) == []


def test_truncated_chunked_body(tmp_path, server):
    body = bytes(range(256)) * 40
    server.serve("chunked.gz", body)
    server.chunked_cut.add("chunked.gz")
    with pytest.raises(DownloadError, match="truncated") as err:
        download_file(server.url + "chunked.gz", tmp_path / "chunked.gz", sha(body))
    assert server.url + "chunked.gz" in str(err.value)
    assert files_in(tmp_path) == []


def test_corrupt_idx_with_correct_checksum(tmp_path, server, synthetic):
    _, source = synthetic
    bad = gz(b"this is not an IDX file")
    server.serve(FILES[0], bad)
    source = Source(base_url=server.url, files={**source.files, FILES[0]: sha(bad)})
    with pytest.raises(CorruptFileError, match=FILES[0]):
        load_dataset("mnist", cache_dir=tmp_path, source=source)
    assert files_in(tmp_path) == []
    with pytest.raises(CorruptFileError):  # not reused: downloaded again, rejected again
        load_dataset("mnist", cache_dir=tmp_path, source=source)
    assert server.counts[FILES[0]] == 2


@pytest.mark.parametrize(
    "damage, message",
    [
        ({FILES[1]: np.arange(12, dtype=np.uint8)}, "labels go up to 11"),
        ({FILES[3]: np.zeros(4, dtype=np.uint8)}, r"shapes \(1005, 4, 3\) and \(4,\)"),
        ({FILES[2]: np.zeros((1005, 4, 4), dtype=np.uint8)}, "image sizes differ"),
    ],
)
def test_inconsistent_files_are_rejected(tmp_path, server, damage, message):
    _, files = synthetic_files()
    files.update({name: gz(idx_bytes(a)) for name, a in damage.items()})
    for name, body in files.items():
        server.serve(name, body)
    source = Source(base_url=server.url, files={n: sha(b) for n, b in files.items()})
    with pytest.raises(CorruptFileError, match=message):
        load_dataset("mnist", cache_dir=tmp_path, source=source)
    assert files_in(tmp_path) == []


# --- 4./5. the real MNIST test set ---------------------------------------------------


def test_read_idx_real_mnist(mnist_test_set):
    x, y = mnist_test_set
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8
    assert y.shape == (10000,) and y.dtype == np.uint8
    assert np.bincount(y).tolist() == MNIST_TEST_COUNTS
    readme = (SHARED_MNIST / "README.md").read_text()
    for name, digest in SHARED_SUMS.items():
        assert digest in readme
        assert sha((SHARED_MNIST / name).read_bytes()) == digest


def test_real_files_over_loopback(tmp_path, server, mnist_test_set):
    for name, digest in SHARED_SUMS.items():
        server.serve(name, (SHARED_MNIST / name).read_bytes())
        path = download_file(server.url + name, tmp_path / name, digest)
        assert path == tmp_path / name and sha(path.read_bytes()) == digest
    np.testing.assert_array_equal(read_idx(tmp_path / FILES[2]), mnist_test_set[0])
    np.testing.assert_array_equal(read_idx(tmp_path / FILES[3]), mnist_test_set[1])
    assert files_in(tmp_path) == sorted(tmp_path / n for n in SHARED_SUMS)


def test_split_real_mnist(mnist_test_set):
    x, y = mnist_test_set
    d = split_arrays(x, y, n_test=2000, seed=0)
    assert d.x_train.shape == (8000, 28, 28) and d.x_test.shape == (2000, 28, 28)
    assert d.y_train.shape == (8000,) and d.y_test.shape == (2000,)
    idx = split_arrays(np.arange(10000), np.arange(10000), n_test=2000, seed=0)
    assert not set(idx.x_train) & set(idx.x_test)
    assert sorted([*idx.x_train, *idx.x_test]) == list(range(10000))
    np.testing.assert_array_equal(d.x_train, x[idx.x_train])
    np.testing.assert_array_equal(d.y_test, y[idx.x_test])
    assert_same(d, split_arrays(x, y, n_test=2000, seed=0))
    other = split_arrays(np.arange(10000), np.arange(10000), n_test=2000, seed=1)
    assert not np.array_equal(other.x_test, idx.x_test)
    assert (np.bincount(d.y_test, minlength=10) > 150).all()


def test_split_arrays_rejects_bad_arguments():
    with pytest.raises(ValueError):
        split_arrays(np.zeros(5), np.zeros(4), 2)
    with pytest.raises(ValueError):
        split_arrays(np.zeros(5), np.zeros(5), 5)


# --- 6. read_idx --------------------------------------------------------------------


def test_read_idx_plain_and_other_dtypes(tmp_path):
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a.idx").write_bytes(idx_bytes(a))
    np.testing.assert_array_equal(read_idx(tmp_path / "a.idx"), a)
    b = np.array([[1, -2], [3, 70000]], dtype=">i4")
    (tmp_path / "b.idx.gz").write_bytes(gz(bytes([0, 0, 0x0C, 2]) + struct.pack(">2I", 2, 2) + b.tobytes()))
    got = read_idx(str(tmp_path / "b.idx.gz"))
    assert got.dtype == np.int32 and got.dtype.isnative
    np.testing.assert_array_equal(got, b)


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("magic.gz", gz(b"\x01\x00\x08\x01" + struct.pack(">I", 2) + b"ab"), "magic"),
        ("dtype.gz", gz(b"\x00\x00\x07\x01" + struct.pack(">I", 2) + b"ab"), "type code 0x07"),
        ("ndim.gz", gz(b"\x00\x00\x08\x00"), "magic"),
        ("short.gz", gz(idx_bytes(np.zeros((3, 2, 2)))[:-1]), "payload is 11 bytes .* needs 12"),
        ("long.gz", gz(idx_bytes(np.zeros((3, 2, 2))) + b"\x00"), "payload is 13 bytes .* needs 12"),
        ("header.gz", gz(b"\x00\x00\x08\x03" + struct.pack(">I", 3)), "header truncated"),
        ("cut.gz", gz(idx_bytes(np.zeros((50, 8, 8))))[:-20], "gzip"),
        ("notgzip.gz", idx_bytes(np.zeros((3, 2, 2))), "gzip"),
        ("empty", b"", "magic"),
    ],
)
def test_read_idx_rejects(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CorruptFileError, match=message) as err:
        read_idx(path)
    assert str(path) in str(err.value)


def test_the_tail_of_the_test_file_is_left_out_of_load_dataset(tmp_path, server, synthetic):
    """The graders make their held-out images from that tail (graders/check/trusted/holdout.py); `course` hands out none of them."""
    import course.data

    visible, source = synthetic
    assert_same(load_dataset("mnist", cache_dir=tmp_path, source=source), visible)
    assert_same(load_published("mnist", cache_dir=tmp_path, source=source), synthetic_files()[0])
    assert dict(server.counts) == dict.fromkeys(FILES, 1)  # one download serves both
    assert not hasattr(course.data, "load_holdout")
