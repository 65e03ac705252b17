"""Event data sets from local files through tonic: tiny N-MNIST binaries and SHD HDF5 files written
here in each format's real layout; binning into static counts and spike sequences; a missing or
malformed file is one line naming it."""

import numpy as np
import pytest

from neurotep.cli import main
from neurotep.data import load_dataset
from neurotep.errors import DataError

pytest.importorskip("tonic")


def nmnist_bytes(events) -> bytes:
    """N-MNIST's 40-bit events: x, y, polarity<<7 | t>>16, t>>8, t (t in us, 23 bits)."""
    out = bytearray()
    for x, y, t, p in events:
        out += bytes([x, y, (p << 7) | ((t >> 16) & 0x7F), (t >> 8) & 0xFF, t & 0xFF])
    return bytes(out)


def _burst(x, y, t0, n=4, p=1):
    """n events at one pixel and its neighbour, 1 ms apart: they survive tonic's Denoise."""
    return [(x + (i % 2), y, t0 + 1000 * i, p) for i in range(n)]


def make_nmnist(root, per_class=1):
    for folder, n in (("Train", per_class), ("Test", 1)):
        for digit in range(10):
            d = root / folder / str(digit)
            d.mkdir(parents=True)
            for k in range(n):
                ev = _burst(2 + 3 * digit, 5 + k, 1000) + _burst(20, 30, 200_000, p=0)
                (d / f"{k:05d}.bin").write_bytes(nmnist_bytes(ev))


def make_shd(root, n=6):
    import h5py

    for split in ("train", "test"):
        with h5py.File(root / f"shd_{split}.h5", "w") as f:
            vf, vu = h5py.vlen_dtype(np.float32), h5py.vlen_dtype(np.uint16)
            t = f.create_dataset("spikes/times", (n,), dtype=vf)
            u = f.create_dataset("spikes/units", (n,), dtype=vu)
            for i in range(n):
                t[i] = np.asarray([0.01, 0.02, 0.5 + 0.01 * i, 1.2], dtype=np.float32)
                u[i] = np.asarray([10 * i, 10 * i, 699, 3 * i], dtype=np.uint16)
            f.create_dataset("labels", data=np.arange(n, dtype=np.uint16) % 20)


def test_nmnist_static_and_sequence(tmp_path):
    make_nmnist(tmp_path, per_class=2)
    d = load_dataset("nmnist", str(tmp_path))
    assert d.x_train.shape == (20, 34 * 34) and d.x_test.shape == (10, 34 * 34) and d.n_classes == 10
    assert list(d.y_train) == [c for c in range(10) for _ in range(2)]
    assert d.x_train.max() == 1.0 and d.x_train.min() == 0.0
    img = d.x_test[3].reshape(34, 34)  # digit 3's burst: pixels (x=11, 12), y=5 (rows are y)
    assert img[5, 11] > 0 and img[5, 12] > 0 and img[30, 20] > 0 and img.sum() > 0
    s = load_dataset("nmnist-seq", str(tmp_path))
    assert (s.steps, s.step_features) == (10, 17 * 17 * 2)
    frames = s.x_test[3].reshape(10, 2, 17, 17)
    assert set(np.unique(frames)) <= {0.0, 1.0}
    assert frames[0].sum() > 0 and frames[6].sum() > 0 and frames[9].sum() == 0  # bursts at 1 ms and 200 ms


def test_nmnist_bad_files_are_one_line(tmp_path):
    with pytest.raises(DataError, match="N-MNIST folder not found: .*Train"):
        load_dataset("nmnist", str(tmp_path))
    make_nmnist(tmp_path)
    bad = tmp_path / "Test" / "4" / "00000.bin"
    bad.write_bytes(b"\x01\x02\x03\x04\x05\x06")
    with pytest.raises(DataError, match="multiple of 5") as e:
        load_dataset("nmnist", str(tmp_path))
    assert str(bad) in str(e.value) and "\n" not in str(e.value)
    bad.write_bytes(nmnist_bytes([(40, 3, 10, 1)]))
    with pytest.raises(DataError, match="outside N-MNIST's 34 x 34"):
        load_dataset("nmnist", str(tmp_path))
    with pytest.raises(DataError, match="needs local files"):
        load_dataset("nmnist")


def test_shd_static_and_sequence(tmp_path):
    make_shd(tmp_path)
    d = load_dataset("shd", str(tmp_path))
    assert d.x_train.shape == (6, 700) and d.n_classes == 20 and list(d.y_test) == [0, 1, 2, 3, 4, 5]
    # counts over the training split's largest (3: sample 0 fires unit 0 three times)
    assert d.x_train[2, 20] == pytest.approx(2 / 3) and d.x_train[2, 699] == d.x_train[2, 6] == pytest.approx(1 / 3)
    assert d.x_train[0, 0] == 1.0 and d.x_train.sum(1) == pytest.approx(np.full(6, 4 / 3))
    s = load_dataset("shd-seq", str(tmp_path))
    assert (s.steps, s.step_features) == (20, 700)
    frames = s.x_train[2].reshape(20, 700)
    assert frames[0, 20] == 1.0 and frames[:, 699].sum() == 1 and frames[17, 6] == 1  # 1.2 s / 70 ms bins


def test_shd_bad_files_are_one_line(tmp_path):
    import h5py

    with pytest.raises(DataError, match="shd_train.h5"):
        load_dataset("shd", str(tmp_path))
    make_shd(tmp_path)
    (tmp_path / "shd_test.h5").write_bytes(b"not hdf5")
    with pytest.raises(DataError, match="not an HDF5 file") as e:
        load_dataset("shd", str(tmp_path))
    assert "shd_test.h5" in str(e.value)
    with h5py.File(tmp_path / "shd_test.h5", "w") as f:
        f.create_dataset("labels", data=np.zeros(2, dtype=np.uint16))
    with pytest.raises(DataError, match="no 'spikes/times'"):
        load_dataset("shd", str(tmp_path))


def test_train_on_nmnist_from_the_cli(tmp_path, capsys):
    make_nmnist(tmp_path / "data")
    out = tmp_path / "model"
    assert main(["train", "toreqprop", "--dataset", "nmnist", "--data-path", str(tmp_path / "data"), "--epochs", "1",
                 "--out", str(out), "--json"]) == 0
    assert (out / "model" / "graph.json").exists()
    assert main(["train", "toreqprop", "--dataset", "shd", "--data-path", str(tmp_path / "none"), "--epochs", "1",
                 "--out", str(tmp_path / "m2")]) == 2
    assert "shd directory not found" in capsys.readouterr().err and not (tmp_path / "m2").exists()


def aedat31_bytes(events, overflow=0) -> bytes:
    """An AEDAT 3.1 file as DVS Gesture's: '#' header lines, then one packet of polarity events
    (28-byte header: type 1, source, size 8, ts offset 4, ts overflow, capacity, number, valid)."""
    head = b"#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n#!END-HEADER\r\n"
    body = bytearray(np.array([(1, 1, 8, 4, overflow, len(events), len(events), len(events))],
                              dtype="<i2,<i2,<i4,<i4,<i4,<i4,<i4,<i4").tobytes())
    for x, y, t, p in events:
        body += np.array([(x << 17) | (y << 2) | (p << 1) | 1, t], dtype="<u4").tobytes()
    return head + bytes(body)


def make_dvsgesture(root):
    """Two recordings (train, test), each with two labelled gestures of their own classes."""
    for split, user, classes in (("train", "user01_led", (1, 5)), ("test", "user24_led", (3, 11))):
        (root / f"trials_to_{split}.txt").write_text(f"{user}.aedat\n")
        ev = [(8 * c, 100, 1_000_000 * k + 1000 * i, i % 2) for k, c in enumerate(classes) for i in range(6)]
        ev += [(127, 127, 1_000_000 * k + 150_000, 1) for k in range(len(classes))]  # a second spot, 150 ms in
        (root / f"{user}.aedat").write_bytes(aedat31_bytes(sorted(ev, key=lambda e: e[2])))
        rows = "".join(f"{c},{1_000_000 * k},{1_000_000 * k + 900_000}\n" for k, c in enumerate(classes))
        (root / f"{user}_labels.csv").write_text("class,startTime_usec,endTime_usec\n" + rows)


def test_dvsgesture_static_and_sequence(tmp_path):
    make_dvsgesture(tmp_path)
    d = load_dataset("dvsgesture", str(tmp_path))
    assert d.x_train.shape == (2, 32 * 32) and d.n_classes == 11
    assert list(d.y_train) == [0, 4] and list(d.y_test) == [2, 10]
    img = d.x_test[1].reshape(32, 32)  # class 11: x = 88 -> 22, y = 100 -> 25 after downsampling by 4
    assert img[25, 22] == 1.0 and img[31, 31] == pytest.approx(1 / 6) and img.sum() == pytest.approx(7 / 6)
    s = load_dataset("dvsgesture-seq", str(tmp_path))
    assert (s.steps, s.step_features) == (20, 32 * 32 * 2)
    frames = s.x_train[0].reshape(20, 2, 32, 32)
    assert frames[0, :, 25, 2].tolist() == [1.0, 1.0] and frames[1, 1, 31, 31] == 1.0 and frames.sum() == 3


def test_dvsgesture_bad_files_are_one_line(tmp_path):
    with pytest.raises(DataError, match="trials_to_train.txt"):
        load_dataset("dvsgesture", str(tmp_path))
    make_dvsgesture(tmp_path)
    rec = tmp_path / "user24_led.aedat"
    rec.write_bytes(rec.read_bytes()[:-5])
    with pytest.raises(DataError, match="truncated or corrupt AEDAT packet") as e:
        load_dataset("dvsgesture", str(tmp_path))
    assert str(rec) in str(e.value)
    rec.write_bytes(b"#!AER-DAT2.0\r\n" + b"\0" * 16)
    with pytest.raises(DataError, match="not an AEDAT 3.1 file"):
        load_dataset("dvsgesture", str(tmp_path))
    make_dvsgesture(tmp_path)
    (tmp_path / "user01_led_labels.csv").write_text("class,startTime_usec,endTime_usec\n12,0,5\n")
    with pytest.raises(DataError, match="line 2 is not"):
        load_dataset("dvsgesture", str(tmp_path))
