"""Event-camera and spiking-audio data sets from local files, read and binned through tonic. Nothing
is downloaded: tonic's own dataset classes download what they miss, so neurotep reads the files
with tonic's readers (``tonic.io.read_mnist_file``) or h5py and bins them with tonic's transforms
(``Denoise``, ``Downsample``, ``ToFrame``).

* **N-MNIST** (``--dataset nmnist`` / ``nmnist-seq --data-path DIR``): ``DIR/Train/<digit>/*.bin``
  and ``DIR/Test/<digit>/*.bin``, the folders of the official ``Train.zip`` / ``Test.zip``
  (Orchard et al. 2015). Each file holds 40-bit events: x (8 bits), y (8 bits), polarity (1 bit),
  timestamp in us (23 bits), big-endian; y = 240 marks a timestamp overflow. 34 x 34 pixels, two
  polarities, about 300 ms (three saccades).
* **DVS Gesture** (``--dataset dvsgesture`` / ``dvsgesture-seq``): the IBM DVS128 Gesture folder
  (Amir et al. 2017): ``DIR/trials_to_train.txt`` and ``DIR/trials_to_test.txt`` list AEDAT 3.1
  recordings ``DIR/userNN_<lighting>.aedat``, each with ``userNN_<lighting>_labels.csv`` (``class,
  startTime_usec,endTime_usec``, classes 1-11); one sample per labelled gesture. 128 x 128 pixels,
  downsampled to 32 x 32.
* **SHD**, the Spiking Heidelberg Digits (``--dataset shd`` / ``shd-seq``): ``DIR/shd_train.h5``
  and ``DIR/shd_test.h5`` (Cramer et al. 2020): ``spikes/times`` (seconds) and ``spikes/units``
  (0..699), one variable-length array per sample, and ``labels`` (0..19).

Two forms each. Static (``nmnist``, ``shd``): events counted per pixel (polarities summed) or per
channel over the whole sample (DVS Gesture: its first 2 s), divided by the training split's largest count, so x is in [0, 1]
(Poisson-encodable). Sequence (``*-seq``): ``ToFrame`` bins of equal length from t = 0, each step
one frame with every count clipped at 1, a spike per pixel-polarity or channel and bin, to be fed
as spike inputs step by step (N-MNIST downsampled to 17 x 17 to keep the steps small; DVS
Gesture 20 bins of 100 ms).

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

NAMES = ("nmnist", "nmnist-seq", "shd", "shd-seq", "dvsgesture", "dvsgesture-seq")
NMNIST_SENSOR = (34, 34, 2)
NMNIST_DTYPE = np.dtype([("x", int), ("y", int), ("t", int), ("p", int)])  # tonic's NMNIST.dtype
NMNIST_DURATION_US = 315_000  # three saccades of ~105 ms
NMNIST_DENOISE_US = 10_000  # tonic's example setting: drop events with no neighbour within 10 ms
NMNIST_SEQ_BINS, NMNIST_SEQ_FACTOR = 10, 0.5
SHD_CHANNELS, SHD_CLASSES = 700, 20
SHD_DURATION_US = 1_400_000  # the longest SHD sample is about 1.4 s
SHD_SEQ_BINS = 20
DVS_SENSOR, DVS_FACTOR, DVS_CLASSES = (128, 128, 2), 0.25, 11
DVS_DURATION_US, DVS_SEQ_BINS = 2_000_000, 20


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
    read, n_classes, steps = {"nmnist": (_nmnist, 10, NMNIST_SEQ_BINS), "shd": (_shd, SHD_CLASSES, SHD_SEQ_BINS),
                              "dvsgesture": (_dvsgesture, DVS_CLASSES, DVS_SEQ_BINS)}[base]
    (x_tr, y_tr), (x_te, y_te) = read(directory, seq)
    tr, te = np.arange(len(y_tr), dtype=np.int64), np.arange(len(y_te), dtype=np.int64)
    if seq:
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


# -- DVS Gesture -----------------------------------------------------------------------------------
_AEDAT_PACKET = np.dtype([("type", "<i2"), ("source", "<i2"), ("size", "<i4"), ("ts_offset", "<i4"),
                          ("ts_overflow", "<i4"), ("capacity", "<i4"), ("number", "<i4"), ("valid", "<i4")])
_POLARITY_EVENT = np.dtype([("data", "<u4"), ("t", "<i4")])


def _read_aedat31(path: Path) -> np.ndarray:
    """Polarity events (x, y, t, p) of an AEDAT 3.1 file: tonic reads its header; the packets are
    checked here (tonic 1.7's ``read_dvs_ibm`` fails on its own header reader's return value)."""
    _tonic()
    from tonic.io import read_aedat_header_from_file

    if not path.is_file():
        raise DataError(f"DVS Gesture recording not found: {path} (listed in the trials file)")
    try:
        version, start, _ = read_aedat_header_from_file(str(path))
    except (UnboundLocalError, ValueError, IndexError):  # no "#!AER-DAT" line
        version = None
    if version is None or not 3 <= version < 4:
        raise DataError(f"{path}: not an AEDAT 3.1 file (expected a '#!AER-DAT3.1' header, as DVS Gesture's .aedat files have)")
    raw = path.read_bytes()[start:]
    parts, pos = [], 0
    while pos < len(raw):
        if pos + _AEDAT_PACKET.itemsize > len(raw):
            raise DataError(f"{path}: truncated AEDAT packet header at byte {start + pos}")
        head = np.frombuffer(raw, _AEDAT_PACKET, 1, pos)[0]
        pos += _AEDAT_PACKET.itemsize
        n = int(head["capacity"]) * int(head["size"])
        if head["size"] <= 0 or head["capacity"] < 0 or pos + n > len(raw):
            raise DataError(f"{path}: truncated or corrupt AEDAT packet at byte {start + pos - _AEDAT_PACKET.itemsize}")
        if head["type"] == 1 and head["size"] == _POLARITY_EVENT.itemsize:  # polarity events; others skipped
            ev = np.frombuffer(raw, _POLARITY_EVENT, int(head["capacity"]), pos)
            ev = ev[(ev["data"] & 1) == 1]  # the validity bit
            out = np.zeros(len(ev), dtype=NMNIST_DTYPE)
            out["x"], out["y"] = (ev["data"] >> 17) & 0x1FFF, (ev["data"] >> 2) & 0x1FFF
            out["p"], out["t"] = (ev["data"] >> 1) & 1, ev["t"].astype(np.int64) + (int(head["ts_overflow"]) << 31)
            parts.append(out)
        pos += n
    ev = np.concatenate(parts) if parts else np.zeros(0, dtype=NMNIST_DTYPE)
    if ev.size and (ev["x"].max() >= DVS_SENSOR[0] or ev["y"].max() >= DVS_SENSOR[1]):
        raise DataError(f"{path}: event at x={int(ev['x'].max())}, y={int(ev['y'].max())} outside the 128 x 128 DVS128")
    return ev


def _gesture_labels(path: Path) -> list[tuple[int, int, int]]:
    if not path.is_file():
        raise DataError(f"DVS Gesture labels not found: {path} (expected class,startTime_usec,endTime_usec rows)")
    rows = []
    for i, line in enumerate(path.read_text().splitlines()):
        cells = [c.strip() for c in line.split(",")]
        if i == 0 and cells and not cells[0].isdigit():
            continue  # the header row
        if not line.strip():
            continue
        if len(cells) != 3 or not all(c.isdigit() for c in cells) or not 1 <= int(cells[0]) <= DVS_CLASSES:
            raise DataError(f"{path}: line {i + 1} is not 'class,startTime_usec,endTime_usec' with a class in "
                            f"1..{DVS_CLASSES}: {line.strip()!r}")
        rows.append((int(cells[0]) - 1, int(cells[1]), int(cells[2])))
    return rows


def _dvsgesture(directory: Path, seq: bool):
    _tonic()
    from tonic import transforms as T

    down = T.Downsample(spatial_factor=DVS_FACTOR)
    small = (int(DVS_SENSOR[0] * DVS_FACTOR), int(DVS_SENSOR[1] * DVS_FACTOR), 2)
    out = []
    for split in ("train", "test"):
        listing = directory / f"trials_to_{split}.txt"
        if not listing.is_file():
            raise DataError(f"DVS Gesture trials file not found: {listing} (expected the DvsGesture folder, "
                            "with trials_to_train.txt and trials_to_test.txt)")
        xs, ys = [], []
        for name in (n.strip() for n in listing.read_text().splitlines()):
            if not name:
                continue
            events = _read_aedat31(directory / name)
            for label, t0, t1 in _gesture_labels(directory / (Path(name).stem + "_labels.csv")):
                ev = events[(events["t"] >= t0) & (events["t"] < t1)].copy()
                ev["t"] -= t0
                ev = down(ev)
                if seq:
                    xs.append(np.minimum(_frames(ev, small, DVS_SEQ_BINS, DVS_DURATION_US), 1.0).reshape(-1))
                else:
                    xs.append(_frames(ev, small, 1, DVS_DURATION_US).sum(axis=(0, 1)).reshape(-1))
                ys.append(label)
        if not xs:
            raise DataError(f"{listing} lists no labelled recordings")
        out.append((np.stack(xs), np.asarray(ys, dtype=np.int64)))
    return out
