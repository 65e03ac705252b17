"""Shared test fixtures."""

from __future__ import annotations

import numpy as np
import pytest

from neurotep.graph import Connection, Graph, Population, ToroidalBuffer

# Spatial layouts of the hidden rate population ``r`` of :func:`htsep_like_graph`: (grid, radius, decays).
R_TORI = {"3d": ((2, 2, 3), (0, 0, 1), (0.8, 0.5, 0.5, 0.7)), "2d": ((3, 4), (1, 1), (0.8, 0.6, 0.5))}


def htsep_like_graph(seed: int = 0, reset: str = "zero", r_torus: str = "3d") -> Graph:
    """A small HTSEP-like graph: gated stochastic neurons ``a`` on a 4 x 5 torus (radius (1, 2),
    depth 3), gated hard-sigmoid units ``r`` on a 2-D or 3-D torus, a gated linear readout ``y``;
    every delay 1. Backend parity tests run it."""
    rs = np.random.default_rng(seed)
    g = Graph()
    g.add(Population("x", 6, "input"))
    g.add(Population("a", 20, "stochastic", {"beta": 0.6, "threshold": 0.8, "temperature": 0.25, "reset": reset,
                                             "seed": seed + 3, "gate": 0.6}, bias=rs.uniform(-0.1, 0.3, 20)))
    g.add(Population("r", 12, "hard_sigmoid", {"damping": 0.5, "gate": 0.5, "seed": seed + 7}, bias=rs.uniform(0, 0.4, 12)))
    g.add(Population("y", 3, "linear", {"damping": 0.5, "gate": 0.7, "seed": seed + 11}, bias=rs.uniform(-0.1, 0.1, 3)))
    g.add(Connection("xa", "x", "a", rs.uniform(-0.3, 1.2, (20, 6))))
    g.add(Connection("aa", "a", "a", rs.uniform(-0.3, 0.3, (20, 20))))
    g.add(Connection("ar", "a", "r", rs.uniform(-0.5, 0.5, (12, 20)), symmetric=True))
    g.add(Connection("ry", "r", "y", rs.uniform(-1, 1, (3, 12)), symmetric=True))
    g.add(ToroidalBuffer("torus_a", "a", 3, (0.7, 0.5, 0.6), 0.12, shape=(4, 5), radius=(1, 2)))
    grid, radius, decay = R_TORI[r_torus]
    g.add(ToroidalBuffer("torus_r", "r", 2, decay, 0.08, shape=grid, radius=radius))
    g.meta.update(input="x", output="y")
    return g.validate()


@pytest.fixture
def quiet_peers():
    """snnTorch's importer prints, Norse logs a warning per ignored r, nirtorch warns of
    deprecations: silenced for the NIR tests (``pytestmark = pytest.mark.usefixtures(...)``)."""
    import logging
    import warnings

    logging.disable(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
    logging.disable(logging.NOTSET)


@pytest.fixture
def htsep_like():
    return htsep_like_graph


def run_quick_benchmark(name: str, timeout: int = 300) -> tuple[str, dict]:
    """Run ``python -m benchmarks NAME --quick``; returns its stdout and its result file."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    p = subprocess.run([sys.executable, "-m", "benchmarks", name, "--quick"], cwd=root, capture_output=True,
                       text=True, timeout=timeout)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "reproduce:" in p.stdout
    return p.stdout, json.loads((root / f"benchmarks/results/{name}.quick.json").read_text())


@pytest.fixture
def quick_benchmark():
    return run_quick_benchmark
