"""Event-camera and spiking-audio data sets from local files, read and binned through tonic. Nothing
is downloaded: tonic's own dataset classes download what they miss, so neurotep reads the files
with tonic's readers (``tonic.io.read_mnist_file``) or h5py and bins them with tonic's transforms
(``Denoise``, ``Downsample``, ``ToFrame``).

* **N-MNIST** (``--dataset nmnist`` / ``nmnist-seq --data-path DIR``): ``DIR/Train/<digit>/*.bin``
  and ``DIR/Test/<digit>/*.bin``, the folders of the official ``Train.zip`` / ``Test.zip``
  (Orchard et al. 2015). Each file holds 40-bit events: x (8 bits), y (8 bits), polarity (1 bit),
  timestamp in us (23 bits), big-endian; y = 240 marks a timestamp overflow. 34 x 34 pixels, two
  polarities, about 300 ms (three saccades).
* **SHD**, the Spiking Heidelberg Digits (``--dataset shd`` / ``shd-seq``): ``DIR/shd_train.h5``
  and ``DIR/shd_test.h5`` (Cramer et al. 2020): ``spikes/times`` (seconds) and ``spikes/units``
  (0..699), one variable-length array per sample, and ``labels`` (0..19).

Two forms each. Static (``nmnist``, ``shd``): events counted per pixel (polarities summed) or per
channel over the whole sample, divided by the training split's largest count, so x is in [0, 1]
(Poisson-encodable). Sequence (``*-seq``): ``ToFrame`` bins of equal length from t = 0, each step
one frame with every count clipped at 1, a spike per pixel-polarity or channel and bin, to be fed
as spike inputs step by step (N-MNIST downsampled to 17 x 17 to keep the steps small).

A missing folder or file, or a file that is not in its format, is one line naming the file and
what was expected.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from neurotep.data.digits import Dataset
from neurotep.data.sequences import SequenceDataset
from neurotep.errors import DataError

NAMES = ("nmnist", "nmnist-seq", "shd", "shd-seq")
NMNIST_SENSOR = (34, 34, 2)
NMNIST_DTYPE = np.dtype([("x", int), ("y", int), ("t", int), ("p", int)])  # tonic's NMNIST.dtype
NMNIST_DURATION_US = 315_000  # three saccades of ~105 ms
NMNIST_DENOISE_US = 10_000  # tonic's example setting: drop events with no neighbour within 10 ms
NMNIST_SEQ_BINS, NMNIST_SEQ_FACTOR = 10, 0.5
SHD_CHANNELS, SHD_CLASSES = 700, 20
SHD_DURATION_US = 1_400_000  # the longest SHD sample is about 1.4 s
SHD_SEQ_BINS = 20


def _tonic():
    try:
        import tonic
    except ModuleNotFoundError as e:
        if not (e.name or "").startswith("tonic"):
            raise
        raise DataError("event data sets are read through tonic: pip install -e '.[events]' (or pip install tonic)") from None
    return tonic


def load_events(name: str, path: str | os.PathLike | None) -> Dataset:
    """One of :data:`NAMES` from the files under ``path`` (see the module docstring)."""
    if name not in NAMES:
        raise DataError(f"unknown event data set {name!r}; known: {', '.join(NAMES)}")
    base = name.split("-")[0]
    if path is None:
        raise DataError(f"dataset {name!r} needs local files: pass --data-path DIR (see docs/getting-started.md)")
    directory = Path(path)
    if not directory.is_dir():
        raise DataError(f"{base} directory not found: {directory}")
    seq = name.endswith("-seq")
    splits = _nmnist(directory, seq) if base == "nmnist" else _shd(directory, seq)
    (x_tr, y_tr), (x_te, y_te) = splits
    n_classes = 10 if base == "nmnist" else SHD_CLASSES
    tr, te = np.arange(len(y_tr), dtype=np.int64), np.arange(len(y_te), dtype=np.int64)
    if seq:
        steps = NMNIST_SEQ_BINS if base == "nmnist" else SHD_SEQ_BINS
        return SequenceDataset(x_tr, y_tr, x_te, y_te, name, n_classes, tr, te, steps=steps,
                               step_features=x_tr.shape[1] // steps)
    scale = max(float(x_tr.max()), 1.0)  # the training split's largest count: x in [0, 1]
    return Dataset(x_tr / scale, y_tr, np.minimum(x_te / scale, 1.0), y_te, name, n_classes, tr, te)


def _frames(ev: np.ndarray, sensor: tuple, bins: int, duration_us: int) -> np.ndarray:
    """``bins`` frames of ``duration_us / bins`` each from t = 0 (tonic's ToFrame by time window;
    its ``n_time_bins`` would stretch the bins over each sample's own first to last event)."""
    from tonic import transforms as T

    ev = ev[ev["t"] < duration_us]
    shape = (bins, sensor[2], sensor[1], sensor[0])
    if ev.size == 0:
        return np.zeros(shape)
    frames = T.ToFrame(sensor_size=sensor, time_window=duration_us / bins, start_time=0, end_time=duration_us)(ev)
    out = np.zeros(shape)
    out[:min(bins, len(frames))] = frames[:bins].reshape(-1, *shape[1:])
    return out


# -- N-MNIST ---------------------------------------------------------------------------------------
def _nmnist_files(directory: Path, folder: str) -> list[tuple[Path, int]]:
    root = directory / folder
    if not root.is_dir():
        raise DataError(f"N-MNIST folder not found: {root} (expected {folder}/0 ... {folder}/9 of *.bin files, "
                        f"as in the official {folder}.zip)")
    files = [(f, int(d.name)) for d in sorted(root.iterdir()) if d.is_dir() and d.name in "0123456789" and len(d.name) == 1
             for f in sorted(d.glob("*.bin"))]
    if not files:
        raise DataError(f"N-MNIST folder {root} holds no <digit>/*.bin files")
    return files


def _read_nmnist(path: Path) -> np.ndarray:
    _tonic()
    from tonic.io import read_mnist_file

    size = path.stat().st_size
    if size % 5:
        raise DataError(f"{path}: not an N-MNIST event file ({size} bytes; expected 40-bit events, a multiple of 5 bytes)")
    ev = read_mnist_file(str(path), dtype=NMNIST_DTYPE)
    if ev.size and (ev["x"].max() >= NMNIST_SENSOR[0] or ev["y"].max() >= NMNIST_SENSOR[1]):
        raise DataError(f"{path}: event at x={int(ev['x'].max())}, y={int(ev['y'].max())} outside N-MNIST's "
                        f"{NMNIST_SENSOR[0]} x {NMNIST_SENSOR[1]} sensor")
    return ev


def _nmnist(directory: Path, seq: bool):
    _tonic()
    from tonic import transforms as T

    denoise = T.Denoise(filter_time=NMNIST_DENOISE_US)
    down = T.Downsample(spatial_factor=NMNIST_SEQ_FACTOR)
    small = tuple(int(s * NMNIST_SEQ_FACTOR) for s in NMNIST_SENSOR[:2]) + (2,)
    out = []
    for folder in ("Train", "Test"):
        xs, ys = [], []
        for f, label in _nmnist_files(directory, folder):
            ev = denoise(_read_nmnist(f))
            if seq:  # (bins, polarities, y, x), a spike per pixel-polarity and bin
                xs.append(np.minimum(_frames(down(ev), small, NMNIST_SEQ_BINS, NMNIST_DURATION_US), 1.0).reshape(-1))
            else:  # counts per pixel, polarities summed
                xs.append(_frames(ev, NMNIST_SENSOR, 1, NMNIST_DURATION_US).sum(axis=(0, 1)).reshape(-1))
            ys.append(label)
        out.append((np.stack(xs), np.asarray(ys, dtype=np.int64)))
    return out


# -- SHD -------------------------------------------------------------------------------------------
def _shd(directory: Path, seq: bool):
    _tonic()
    bins = SHD_SEQ_BINS if seq else 1
    dtype = np.dtype([("t", np.int64), ("x", np.int64), ("p", np.int64)])
    out = []
    for split in ("train", "test"):
        times, units, labels = _read_shd(directory / f"shd_{split}.h5")
        xs = []
        for t, u in zip(times, units):
            ev = np.zeros(len(t), dtype=dtype)
            ev["t"], ev["x"] = np.round(np.asarray(t, dtype=np.float64) * 1e6), u
            frames = _frames(ev, (SHD_CHANNELS, 1, 1), bins, SHD_DURATION_US).reshape(bins, SHD_CHANNELS)
            xs.append(np.minimum(frames, 1.0).reshape(-1) if seq else frames.sum(0))
        out.append((np.stack(xs), labels))
    return out


def _read_shd(path: Path):
    import h5py

    if not path.is_file():
        raise DataError(f"SHD file not found: {path} (expected shd_train.h5 and shd_test.h5, unzipped)")
    try:
        with h5py.File(path, "r") as f:
            for key in ("spikes/times", "spikes/units", "labels"):
                if key not in f:
                    raise DataError(f"{path}: not an SHD file: no {key!r} (expected spikes/times, spikes/units, labels)")
            times, units = list(f["spikes/times"][:]), list(f["spikes/units"][:])
            labels = np.asarray(f["labels"][:], dtype=np.int64)
    except OSError as e:
        raise DataError(f"{path}: not an HDF5 file ({e}); expected SHD's shd_*.h5") from None
    if not len(times) == len(units) == len(labels):
        raise DataError(f"{path}: {len(times)} spike-time arrays, {len(units)} unit arrays and {len(labels)} labels "
                        "(expected one of each per sample)")
    for i, (t, u) in enumerate(zip(times, units)):
        if len(t) != len(u):
            raise DataError(f"{path}: sample {i} has {len(t)} spike times but {len(u)} units")
        if len(u) and (np.max(u) >= SHD_CHANNELS or np.min(u) < 0):
            raise DataError(f"{path}: sample {i} has a unit outside 0..{SHD_CHANNELS - 1}")
    if labels.size and (labels.min() < 0 or labels.max() >= SHD_CLASSES):
        raise DataError(f"{path}: labels must lie in 0..{SHD_CLASSES - 1}, got {labels.min()}..{labels.max()}")
    return times, units, labels
