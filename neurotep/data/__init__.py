"""Data sets (embedded 8x8 digits, local MNIST IDX files) and spike encoders."""

from __future__ import annotations

import numpy as np

from neurotep.data.digits import SPLIT_SEED, TEST_SIZE, Dataset, load_digits_split
from neurotep.data.encoders import ENCODINGS, check_batch, poisson_spikes_np, poisson_spikes_torch, rate_encode
from neurotep.data.mnist import load_mnist_dir, read_idx
from neurotep.data.events import NAMES as EVENT_DATASETS, load_events
from neurotep.data.mnist1d import load_mnist1d
from neurotep.data.sequences import SEQUENCE_DATASETS, SequenceDataset, is_sequence_name, load_sequence_dataset
from neurotep.errors import DataError

DATASETS = ("digits", "mnist", "mnist1d", "mnist1d-seq", "nmnist", "nmnist-seq", "shd", "shd-seq", "dvsgesture",
            "dvsgesture-seq")


def load_dataset(name: str, path: str | None = None) -> Dataset:
    """Load a data set by name: "digits" (embedded, fixed split), "mnist" (IDX files under ``path``),
    "mnist1d" / "mnist1d-seq" (generated, published split) or a sequence task."""
    if name == "digits":
        return load_digits_split()
    if name in ("mnist1d", "mnist1d-seq"):
        return load_mnist1d(name)
    if name in EVENT_DATASETS:  # event files under path, through tonic
        return load_events(name, path)
    if is_sequence_name(name):  # digits-rows, digits-pixels, cue-recall[-T] (neurotep.data.sequences)
        return load_sequence_dataset(name)
    if name == "mnist":
        if path is None:
            raise DataError("dataset 'mnist' needs local files: pass --data-path DIR with the four MNIST IDX files")
        return load_mnist_dir(path)
    raise DataError(f"unknown dataset {name!r}; known: {', '.join(DATASETS + SEQUENCE_DATASETS)}")


def one_hot(y: np.ndarray, n_classes: int) -> np.ndarray:
    """float64 (n, n_classes) one-hot targets for integer labels in 0..n_classes-1."""
    y = np.asarray(y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"labels must be a 1-D integer array, got {y.ndim}-D {y.dtype}")
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise DataError(f"labels must lie in 0..{n_classes - 1}, got range {y.min()}..{y.max()}")
    out = np.zeros((y.size, n_classes), dtype=np.float64)
    out[np.arange(y.size), y] = 1.0
    return out


__all__ = [
    "DATASETS", "ENCODINGS", "SPLIT_SEED", "TEST_SIZE", "Dataset", "check_batch", "load_dataset",
    "load_digits_split", "load_events", "load_mnist1d", "load_mnist_dir", "one_hot", "poisson_spikes_np", "poisson_spikes_torch",
    "rate_encode", "read_idx",
]
