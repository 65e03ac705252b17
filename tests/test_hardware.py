"""Hardware profiles, the core mapper and Loihi 2 detection (all fast, no Lava run)."""

import json
import shutil

import numpy as np
import pytest

from neurotep.backends.lava.plan import compile_graph
from neurotep.errors import BackendError
from neurotep.graph import Connection, Graph, Population
from neurotep.graph.transforms import rate_to_spiking
from neurotep.hardware import (
    HOST,
    PROFILES,
    STATUSES,
    detect_loihi2,
    load_profile,
    map_to_cores,
    placement_of,
    profile_value,
)
from neurotep.variants import base

LIF = {"beta": 0.9, "threshold": 1.0, "reset": "zero"}  # compiles to Lava's own LIF


@pytest.mark.parametrize("name", PROFILES)
def test_profiles_load_and_every_entry_is_sourced(name):
    prof = load_profile(name)
    assert prof["name"] == name and prof["entries"]
    for key, entry in prof["entries"].items():
        assert set(entry) >= {"value", "unit", "source", "status", "note"}, key
        assert entry["status"] in STATUSES, key
        assert isinstance(entry["source"], str) and entry["source"].strip(), key
        assert entry["value"] is not None, key


def test_profile_figures():
    l2, l1 = load_profile("loihi2"), load_profile("loihi")
    assert profile_value(l2, "neuro_cores_per_chip") == 128
    assert profile_value(l2, "embedded_x86_cores_per_chip") == 6
    assert profile_value(l2, "memory_per_core") == 192 * 1024
    assert profile_value(l2, "max_synaptic_delay") == 63 and profile_value(l2, "synaptic_delay_bits") == 6
    assert profile_value(l2, "membrane_state_bits") == 24
    assert l2["entries"]["neurons_per_core"]["status"] == "derived"
    assert l2["entries"]["bytes_per_synapse"]["status"] == "estimate"
    assert "Loihi (gen 1)" in l2["entries"]["fan_in_axons_per_core_loihi1"]["note"]
    assert profile_value(l1, "compartments_per_core") == 1024
    assert profile_value(l1, "fan_in_axons_per_core") == profile_value(l1, "fan_out_axons_per_core") == 4096
    assert profile_value(l1, "max_synaptic_delay", "none") == "none"
    l2["entries"].clear()  # a fresh copy each time
    assert load_profile("loihi2")["entries"]


def test_unknown_profile_lists_known_ones():
    with pytest.raises(BackendError, match=r"unknown hardware profile 'loihi3'.*loihi2, loihi"):
        load_profile("loihi3")


def test_base_model_fits_loihi2_with_python_processes_on_the_host():
    plan = compile_graph(rate_to_spiking(base.build(seed=0)), batch=1)
    cmap = map_to_cores(plan, "loihi2")
    assert cmap.fits and cmap.violations == []
    assert 1 <= cmap.cores <= 4 and cmap.chips == 1
    assert cmap.row("x").cores == 0
    assert cmap.row("h0").neurons == 256 and cmap.row("h0").synapses_in == 256 * 64 + 256 * 10
    for name in ("pop_x", "pop_h0", "pop_y", "torus_h0"):  # h0 and y count their own spikes
        assert name in cmap.host_processes
    assert cmap.host_classes["pop_h0"].startswith("neurotep.backends.lava.procs.")
    assert not any(n.startswith("conn_") for n in cmap.host_processes)
    assert any("SubtractiveLIF" in w and "Python ProcessModel" in w for w in cmap.warnings)
    doc = json.loads(json.dumps(cmap.describe()))
    assert doc["fits"] is True and doc["cores"] == cmap.cores
    assert {h["name"] for h in doc["host_processes"]} == set(cmap.host_processes)
    text = "\n".join(cmap.lines())
    assert "Loihi 2" in text and "fits" in text and HOST in text


def test_placement():
    assert placement_of("lava.proc.lif.process.LIF") == "neuro-core"
    assert placement_of("lava.proc.dense.process.Dense") == "neuro-core"
    assert placement_of("lava.proc.io.source.RingBuffer") == HOST
    assert placement_of("neurotep.backends.lava.procs.processes.RateUnits") == HOST


def _bad_graph() -> Graph:
    rs = np.random.default_rng(0)
    g = Graph()
    g.add(Population("x", 4, "input"))
    g.add(Population("h", 8, "lif", dict(LIF)))
    g.add(Population("wide", 8, "lif", dict(LIF)))
    g.add(Population("big", 9000, "lif", dict(LIF)))
    g.add(Connection("W_slow", "x", "h", rs.uniform(0.5, 1.0, (8, 4)), delay=71))
    g.add(Connection("W_wide", "x", "wide", np.logspace(-4, 0, 32).reshape(8, 4)))
    g.add(Connection("W_big", "x", "big", rs.uniform(0.5, 1.0, (9000, 4))))
    return g.validate()


def test_violations_name_the_offender_and_the_limit():
    plan = compile_graph(_bad_graph(), batch=1)
    assert plan.proc("conn_W_slow").params["delay"] == 70
    cmap = map_to_cores(plan, "loihi2")
    assert not cmap.fits
    v = cmap.violations
    delay = [s for s in v if "conn_W_slow" in s]
    assert len(delay) == 1 and "delay 70 > 63" in delay[0] and "6-bit synaptic delay of Loihi 2" in delay[0]
    big = [s for s in v if "population big" in s]
    assert len(big) == 1 and "9,000 neurons" in big[0] and "7,812 neurons per neuro-core" in big[0]
    assert "split it across 2 cores" in big[0] and cmap.row("big").cores == 2
    assert cmap.row("big").limiting == "neurons per core"
    wide = [s for s in v if "conn_W_wide" in s]
    assert len(wide) == 1 and "8-bit weight mantissa" in wide[0] and "shared exponent" in wide[0]
    assert "loses" in wide[0] and "span 2^" in wide[0]
    assert not any("conn_W_big" in s for s in v)  # its weights span less than 2^8
    # Lava's LIF has a neuro-core model: those populations are not host processes.
    assert "pop_big" not in cmap.host_processes and "pop_x" in cmap.host_processes
    assert any(s.startswith("violation: connection conn_W_slow") for s in cmap.lines())


def test_memory_and_fan_in_limits():
    g = Graph()
    g.add(Population("x", 5000, "input"))
    g.add(Population("h", 40, "lif", dict(LIF)))
    g.add(Connection("W", "x", "h", np.full((40, 5000), 0.5)))
    plan = compile_graph(g.validate(), batch=1)
    l2 = map_to_cores(plan, "loihi2")  # 200,000 synapses x 2 B: more than 192 KB
    row = l2.row("h")
    assert row.cores == 3 and row.limiting == "synaptic + neuron memory per core"
    assert any("population h" in s and "192 KB per neuro-core of Loihi 2" in s for s in l2.violations)
    assert any("5,000 presynaptic neurons" in s and "Loihi (gen 1)" in s for s in l2.warnings)
    l1 = map_to_cores(plan, load_profile("loihi"))
    assert any("5,000 presynaptic neurons" in s and "4,096 input axons (fan-in) per core of Loihi (gen 1)" in s
               for s in l1.violations)
    assert any("delay" in s for s in l1.unchecked)


def test_detect_loihi2_here_without_sinfo(monkeypatch):
    import lava.utils.slurm as slurm

    calls = []
    monkeypatch.setattr(shutil, "which", lambda *a, **k: None)
    monkeypatch.setattr(slurm, "is_available", lambda: calls.append("is_available") or True)
    monkeypatch.setattr(slurm, "try_run_command", lambda cmd: calls.append(cmd) or [])
    monkeypatch.setenv("SLURM", "1")
    for k in ("NOSLURM", "NXSDKHOST", "PARTITION", "BOARD", "LOIHI_GEN"):
        monkeypatch.delenv(k, raising=False)
    info = detect_loihi2()
    assert calls == []
    assert info["available"] is False and info["lava_loihi_installed"] is False
    assert info["host_configured"] is False and info["host"]["sinfo"] is None
    assert info["host"]["env"] == {"SLURM": "1"}
    assert "lava-loihi is not installed" in info["reason"] and "\n" not in info["reason"]
    json.dumps(info)
