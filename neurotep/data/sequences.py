"""Sequence tasks for sequence models (TEP-SSR): the embedded digits read row by row or pixel by
pixel, and a synthetic cue-recall task whose length can grow.

A :class:`SequenceDataset` is a :class:`~neurotep.data.Dataset` whose ``x`` rows are flattened
sequences, time-major: sample ``i`` is ``x[i].reshape(steps, step_features)``. Models that do
not read sequences see the whole flattened sequence as one static input (the honest baseline).

* ``digits-rows``: the 8x8 digits (same fixed split as ``digits``), 8 steps of 8 pixels;
* ``digits-pixels``: the same images, 64 steps of 1 pixel (row-major);
* ``cue-recall[-T]`` (default T = 64): at t = 0 a one-hot cue among ``CUE_CLASSES`` classes on
  the cue channels, then ``T - 2`` steps of uniform distractor noise in [0, ``CUE_NOISE``) on the
  cue channels, then at t = T - 1 a query flag on its own channel; the label is the cue. Drawn
  deterministically from ``CUE_SEED`` (the data never depends on a training seed), balanced
  classes in each split, ``CUE_TRAIN`` / ``CUE_TEST`` samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurotep.data.digits import Dataset, load_digits_split
from neurotep.errors import DataError

CUE_CLASSES = 4
CUE_NOISE = 0.2
CUE_SEED = 0
CUE_TRAIN, CUE_TEST = 800, 200
CUE_DEFAULT_LENGTH = 64
CUE_MAX_LENGTH = 65536
SEQUENCE_DATASETS = ("digits-rows", "digits-pixels", "cue-recall[-T]")


@dataclass(frozen=True, eq=False)
class SequenceDataset(Dataset):
    """A data set of sequences: ``x`` rows are ``steps * step_features`` values, time-major."""

    steps: int = 1
    step_features: int = 0


def is_sequence_name(name: str) -> bool:
    return name in ("digits-rows", "digits-pixels") or name == "cue-recall" or name.startswith("cue-recall-")


def load_sequence_dataset(name: str) -> SequenceDataset:
    """``digits-rows``, ``digits-pixels`` or ``cue-recall[-T]``; a one-line error otherwise."""
    if name in ("digits-rows", "digits-pixels"):
        d = load_digits_split()
        steps, feats = (8, 8) if name == "digits-rows" else (64, 1)
        return SequenceDataset(d.x_train, d.y_train, d.x_test, d.y_test, name, d.n_classes, d.train_index,
                               d.test_index, steps=steps, step_features=feats)
    if name == "cue-recall":
        return cue_recall(CUE_DEFAULT_LENGTH)
    if name.startswith("cue-recall-"):
        tail = name[len("cue-recall-"):]
        if not tail.isdigit():
            raise DataError(f"dataset {name!r}: the length after 'cue-recall-' must be an integer, e.g. cue-recall-256")
        return cue_recall(int(tail))
    raise DataError(f"unknown sequence dataset {name!r}; known: {', '.join(SEQUENCE_DATASETS)}")


def cue_recall(length: int, n_train: int = CUE_TRAIN, n_test: int = CUE_TEST, classes: int = CUE_CLASSES,
               noise: float = CUE_NOISE, seed: int = CUE_SEED) -> SequenceDataset:
    """The cue-recall task of ``length`` steps (see the module docstring); ``classes + 1`` features
    per step (the cue channels, then the query flag)."""
    if not (isinstance(length, (int, np.integer)) and 3 <= length <= CUE_MAX_LENGTH):
        raise DataError(f"cue-recall length must be an integer in 3..{CUE_MAX_LENGTH}, got {length!r}")
    if classes < 2 or n_train < classes or n_test < classes or not 0 <= noise <= 1:
        raise DataError(f"cue-recall needs classes >= 2, n_train/n_test >= classes and noise in [0, 1], "
                        f"got classes={classes}, n_train={n_train}, n_test={n_test}, noise={noise}")
    rs = np.random.default_rng(seed)
    n = n_train + n_test
    # balanced classes in each split
    y = np.concatenate([rs.permutation(np.arange(k, dtype=np.int64) % classes) for k in (n_train, n_test)])
    f = classes + 1
    x = np.zeros((n, length, f))
    x[:, 1:length - 1, :classes] = noise * rs.random((n, length - 2, classes))
    x[np.arange(n), 0, y] = 1.0
    x[:, length - 1, classes] = 1.0
    x = x.reshape(n, length * f)
    idx = np.arange(n, dtype=np.int64)
    return SequenceDataset(x[:n_train], y[:n_train], x[n_train:], y[n_train:], f"cue-recall-{length}", classes,
                           idx[:n_train], idx[n_train:], steps=length, step_features=f)
