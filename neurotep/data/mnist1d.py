"""MNIST-1D (Greydanus 2020), generated procedurally by the ``mnist1d`` package: nothing downloaded.

``mnist1d.data.make_dataset`` draws every sample from its ten hand-written 12-point templates
(padding, shear, translation, correlated and i.i.d. noise, resampling to 40 points) with the
package's default arguments: 5000 samples, seed 42, the first 80 % for training. That is how the
published split was made, so its table applies: logistic regression ~32 %, MLP ~68 %, GRU ~91 %,
CNN ~94 % test accuracy. ``get_dataset`` (which downloads or unpickles a cached file) is never
called.

Two forms, one split:

* ``mnist1d``: each sample a static vector of 40 features;
* ``mnist1d-seq``: the same values as a :class:`SequenceDataset` of 40 steps of 1 feature, read
  step by step by models with sequence inputs (TEP-SSR); other models see the 40 values at once.

x is the generator's own output: the whole set standardised (mean 0, std 1; values about -5.5
to 4.5), as the published table was measured. It is not in [0, 1] like the other data sets: a
version mapped to [0, 1] trains much worse (an sklearn MLP reached 44-49 % on a validation split
instead of 57-60 %: the map shrinks the signal's spread tenfold), so spiking runs feed it as input
current (``--encoding current``); Poisson encoding needs intensities in [0, 1] and refuses it.
"""

from __future__ import annotations

import numpy as np

from neurotep.data.digits import Dataset
from neurotep.data.sequences import SequenceDataset
from neurotep.errors import DataError

NAMES = ("mnist1d", "mnist1d-seq")
SEQUENCE_LENGTH = 40  # mnist1d's final_seq_length


def _generate() -> dict:
    """The published MNIST-1D split from the package's own generator (default arguments)."""
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ModuleNotFoundError as e:
        if not (e.name or "").startswith("mnist1d"):
            raise
        raise DataError("dataset 'mnist1d' needs the mnist1d package: pip install mnist1d (see pyproject.toml)") from None
    args = get_dataset_args()
    if (args.num_samples, args.train_split, args.final_seq_length, args.seed) != (5000, 0.8, SEQUENCE_LENGTH, 42):
        raise DataError(f"the installed mnist1d has other default arguments than the published set "
                        f"(num_samples, train_split, final_seq_length, seed = {args.num_samples}, {args.train_split}, "
                        f"{args.final_seq_length}, {args.seed}; expected 5000, 0.8, 40, 42)")
    # make_dataset seeds numpy's and random's global generators: keep the caller's streams as they were.
    import random

    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        return make_dataset(args)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)


def load_mnist1d(name: str = "mnist1d") -> Dataset:
    """``mnist1d`` (static, 40 features) or ``mnist1d-seq`` (40 steps x 1 feature); 4000 train / 1000
    test, x standardised as generated (see the module docstring), indices into the generator's order."""
    if name not in NAMES:
        raise DataError(f"unknown MNIST-1D form {name!r}; known: {', '.join(NAMES)}")
    d = _generate()
    x_tr, x_te = np.asarray(d["x"], dtype=np.float64), np.asarray(d["x_test"], dtype=np.float64)
    y_tr, y_te = np.asarray(d["y"], dtype=np.int64), np.asarray(d["y_test"], dtype=np.int64)
    tr = np.arange(len(y_tr), dtype=np.int64)
    te = np.arange(len(y_tr), len(y_tr) + len(y_te), dtype=np.int64)
    if name == "mnist1d-seq":
        return SequenceDataset(x_tr, y_tr, x_te, y_te, name, 10, tr, te, steps=SEQUENCE_LENGTH, step_features=1)
    return Dataset(x_tr, y_tr, x_te, y_te, name, 10, tr, te)
