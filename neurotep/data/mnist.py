"""MNIST from local IDX files (plain or gzip-compressed). Nothing is ever downloaded.

IDX layout: a big-endian magic ``0x000008NN`` (0x08 = uint8, NN = number of dims), NN big-endian
uint32 dims, then the raw bytes. Labels are 0x00000801 (1-D), images 0x00000803 (3-D).
"""

from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

from neurotep.data.digits import Dataset
from neurotep.errors import DataError

_MAGIC_NDIM = {0x00000801: 1, 0x00000803: 3}
_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def _read_bytes(path: str) -> bytes:
    if not os.path.isfile(path):
        raise DataError(f"IDX file not found: {path}")
    with open(path, "rb") as f:
        raw = f.read()
    # Sniff gzip by its magic rather than the suffix: IDX files always start with 0x00.
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise DataError(f"{path}: corrupt gzip stream ({e})") from None
    return raw


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read a uint8 IDX file (labels: 1-D, images: 3-D); ``.gz`` files are decompressed."""
    path = os.fspath(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise DataError(f"{path}: truncated IDX file ({len(raw)} bytes, no header)")
    magic = int.from_bytes(raw[:4], "big")
    if magic not in _MAGIC_NDIM:
        raise DataError(f"{path}: wrong IDX magic 0x{magic:08X} (expected 0x00000801 labels or 0x00000803 images)")
    ndim = _MAGIC_NDIM[magic]
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise DataError(f"{path}: truncated IDX file ({len(raw)} bytes, header needs {head})")
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    need = head + int(np.prod(dims, dtype=np.int64))
    if len(raw) < need:
        raise DataError(f"{path}: truncated IDX file ({len(raw)} bytes, dims {dims} need {need})")
    if len(raw) != need:
        raise DataError(f"{path}: file length {len(raw)} does not match header dims {dims} ({need} bytes)")
    return np.frombuffer(raw, dtype=np.uint8, offset=head).reshape(dims).copy()


def _find(directory: str, stem: str) -> str:
    for name in (stem, stem + ".gz"):
        p = os.path.join(directory, name)
        if os.path.isfile(p):
            return p
    raise DataError(f"MNIST file {stem}[.gz] not found in {directory}")


def _take(n: int | None, avail: int, what: str) -> int:
    if n is None:
        return avail
    if not 0 < n <= avail:
        raise DataError(f"{what} must be in 1..{avail}, got {n}")
    return int(n)


def load_mnist_dir(directory: str | os.PathLike, n_train: int | None = None, n_test: int | None = None) -> Dataset:
    """Load the four standard MNIST IDX files from ``directory``; x = pixels / 255, flattened to 784.

    ``n_train``/``n_test`` keep the first n samples of each file (indices are then ``arange(n)``).
    """
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise DataError(f"MNIST directory not found: {directory}")
    arrays = {k: read_idx(_find(directory, stem)) for k, stem in _FILES.items()}
    out = {}
    for split, n_req in (("train", n_train), ("test", n_test)):
        xi, yi = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if xi.ndim != 3 or yi.ndim != 1:
            raise DataError(f"MNIST {split}: expected 3-D images and 1-D labels, got {xi.ndim}-D and {yi.ndim}-D")
        if len(xi) != len(yi):
            raise DataError(f"MNIST {split}: {len(xi)} images but {len(yi)} labels")
        if yi.size and yi.max() > 9:
            raise DataError(f"MNIST {split}: label {int(yi.max())} outside 0..9")
        n = _take(n_req, len(yi), f"n_{split}")
        out[f"x_{split}"] = xi[:n].reshape(n, -1).astype(np.float64) / 255.0
        out[f"y_{split}"] = yi[:n].astype(np.int64)
        out[f"{split}_index"] = np.arange(n, dtype=np.int64)
    return Dataset(name="mnist", n_classes=10, **out)
