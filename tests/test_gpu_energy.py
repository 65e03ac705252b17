"""benchmarks/gpu_energy: the arithmetic on NVML's energy counter (a scripted fake counter, not a
measurement) and the clean skip without a GPU."""

import pytest

from benchmarks import gpu_energy


class FakeCounter:
    """Stands in for pynvml: a scripted millijoule counter (NOT a measurement)."""

    def __init__(self, readings):
        self.readings = list(readings)

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        assert handle == "gpu0"
        return self.readings.pop(0)


class FakeClock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t

    def sleep(self, s):
        self.t += s


def test_energy_figures_subtract_idle_power():
    f = gpu_energy.energy_figures(idle_mj=200_000, idle_s=2.0, run_mj=450_000, run_s=3.0, inferences=1500)
    assert f["idle_watts"] == pytest.approx(100.0)
    assert f["energy_per_inference_joules"] == pytest.approx(450 / 1500)
    assert f["dynamic_energy_per_inference_joules"] == pytest.approx((450 - 100 * 3.0) / 1500)
    assert f["average_watts"] == pytest.approx(150.0) and f["seconds_per_inference"] == pytest.approx(0.002)
    with pytest.raises(ValueError):
        gpu_energy.energy_figures(1.0, 0.0, 1.0, 1.0, 1)


def test_measure_reads_the_counter_around_idle_and_work():
    clock = FakeClock()
    calls = []

    def work():  # 10 inferences taking 0.4 s each time
        calls.append(clock())
        clock.sleep(0.4)
        return 10

    # counter (mJ): before idle, after 2 s idle (+120 J = 60 W), before work, after 3 calls (+300 J)
    nvml = FakeCounter([1_000_000, 1_120_000, 1_120_000, 1_420_000])
    f = gpu_energy.measure(nvml, "gpu0", work, idle_s=2.0, min_s=1.0, clock=clock, sleep=clock.sleep)
    assert len(calls) == 3 and f["inferences"] == 30 and f["seconds"] == pytest.approx(1.2)
    assert f["idle_watts"] == pytest.approx(60.0)
    assert f["energy_per_inference_joules"] == pytest.approx(300 / 30)
    assert f["dynamic_energy_per_inference_joules"] == pytest.approx((300 - 60 * 1.2) / 30)
    assert nvml.readings == []


def test_without_a_gpu_it_says_so_and_writes_nothing(monkeypatch, capsys):
    import torch

    from benchmarks.__main__ import main
    from benchmarks.common import result_path

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    path = result_path("gpu_energy", True)
    before = path.read_bytes() if path.exists() else None
    assert gpu_energy.run(quick=True) is None
    assert "no CUDA GPU here" in capsys.readouterr().out
    assert main(["gpu_energy", "--quick"]) == 0
    assert "gpu_energy: skipped, nothing written" in capsys.readouterr().out
    assert (path.read_bytes() if path.exists() else None) == before
