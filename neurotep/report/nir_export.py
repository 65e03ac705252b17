"""Recorded spikes as NIR data (``nir.NIRGraphData``), so that other neuromorphic tools can read them.

The file holds one :class:`nir.NIRNodeData` per rastered population, named like the population
in the run's graph, with one observable ``"spikes"``: a :class:`nir.TimeGriddedData` of bool
shape (samples, steps, neurons) and ``dt = 1.0`` (one simulation step). It is written with
``nir.write_data`` (HDF5) and read back with ``nir.read_data``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neurotep.errors import NeurotepError
from neurotep.report.runs import RunData

NIR_SUFFIX = ".nir.h5"
OBSERVABLE = "spikes"
DT = 1.0  # one simulation step


def rasters_to_nir(rasters: dict[str, np.ndarray], dt: float = DT):
    """{population: (T, B, N) bool raster} -> ``nir.NIRGraphData`` (TimeGriddedData is (B, T, N))."""
    import nir

    nodes = {}
    for pop, r in rasters.items():
        r = np.asarray(r)
        if r.ndim != 3:
            raise NeurotepError(f"raster of {pop!r} has shape {r.shape}, expected (steps, samples, neurons)")
        data = np.ascontiguousarray(np.transpose(r.astype(bool, copy=False), (1, 0, 2)))
        nodes[pop] = nir.NIRNodeData(observables={OBSERVABLE: nir.TimeGriddedData(data=data, dt=float(dt))})
    return nir.NIRGraphData(nodes=nodes)


def write_spikes(rasters: dict[str, np.ndarray], path: str | Path, dt: float = DT) -> Path:
    """Write rasters as a NIR data file (HDF5, gzip-compressed)."""
    import nir

    path = Path(path)
    nir.write_data(path, rasters_to_nir(rasters, dt))
    return path


def read_spikes(path: str | Path) -> dict[str, np.ndarray]:
    """Read a NIR data file written by :func:`write_spikes` back as {population: (T, B, N) bool}."""
    import nir

    try:
        gd = nir.read_data(str(path))
    except (OSError, ValueError, KeyError) as e:
        raise NeurotepError(f"{path}: not a NIR data file ({' '.join(str(e).split())})") from None
    out = {}
    for pop, node in gd.nodes.items():
        obs = getattr(node, "observables", {}).get(OBSERVABLE)
        if isinstance(obs, nir.TimeGriddedData):
            out[pop] = np.transpose(np.asarray(obs.data), (1, 0, 2))
    return out


def export_run(run: RunData, path: str | Path) -> Path | None:
    """The run's recorded rasters as NIR data at ``path``; None when it recorded none."""
    if not run.raster_pops:
        return None
    return write_spikes({p: run.raster(p) for p in run.raster_pops}, path)
