"""The 8x8 digits set shipped with scikit-learn, under one fixed stratified 80/20 split.

The split is part of the results (1437 train / 360 test), so it never depends on a training
seed: it is drawn once with ``random_state=SPLIT_SEED`` and its indices into
``sklearn.datasets.load_digits()`` order are kept on the :class:`Dataset` for the record.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SPLIT_SEED = 0
TEST_SIZE = 0.2


@dataclass(frozen=True, eq=False)
class Dataset:
    """A train/test split. ``x`` is float64 in [0, 1] of shape (n, features); ``y`` int64 labels.

    ``train_index``/``test_index`` are int64 indices into the source set's own order.
    """

    # repr=False: printing a Dataset should not dump whole arrays.
    x_train: np.ndarray = field(repr=False)
    y_train: np.ndarray = field(repr=False)
    x_test: np.ndarray = field(repr=False)
    y_test: np.ndarray = field(repr=False)
    name: str
    n_classes: int
    train_index: np.ndarray = field(repr=False)
    test_index: np.ndarray = field(repr=False)

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[1])


def load_digits_split() -> Dataset:
    """The digits set (x = pixels / 16) under the fixed stratified split; indices sorted ascending."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x = np.asarray(bunch.data, dtype=np.float64) / 16.0
    y = np.asarray(bunch.target, dtype=np.int64)
    tr, te = train_test_split(
        np.arange(len(y), dtype=np.int64), test_size=TEST_SIZE, stratify=y, random_state=SPLIT_SEED
    )
    # Sorted so the recorded split is a set, not an artefact of sklearn's shuffle order.
    tr, te = np.sort(tr).astype(np.int64), np.sort(te).astype(np.int64)
    return Dataset(x[tr], y[tr], x[te], y[te], "digits", 10, tr, te)
