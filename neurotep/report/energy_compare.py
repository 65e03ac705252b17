"""The report's "Loihi 2 against the GPU" section: energy per inference at both ends of the
constants' ranges, side by side with the GPU rate model (batch 1 and a large batch, modelled and,
where stored, measured), synaptic operations against the rate model's dense MACs, the verdict in
one sentence, and the measured system-level anchors from the literature.

Everything comes from the profiles in the run directories (``profile-loihi2.json``,
``profile-gpu-rate.json``, or a Loihi 2 profile written with ``--baseline RATE_RUN``): the report
computes no energy of its own except the verdict of a pair it finds in two runs.
"""

from __future__ import annotations

from neurotep.profile.verdict import compare
from neurotep.report.figures import format_energy
from neurotep.report.runs import Profile, RunData

# Measured on hardware, from the shared REFERENCES (searched 2026-12); not neurotep's figures.
ANCHORS = [
    ["Loihi 2 vs Jetson Orin Nano, S4D token by token", "~1000x less energy, 75x lower latency on Loihi 2; "
     "the Jetson wins in offline batched mode", "Meyer et al., arXiv 2409.15022, 2024"],
    ["Loihi 2 vs embedded GPU, SHD/SSC keyword spotting with synaptic delays", "up to 250x less energy, 18x faster",
     "Mészáros et al., arXiv 2510.13757, 2025"],
    ["Loihi 1 vs GPU at batch 1, keyword spotting (dynamic energy, idle subtracted)",
     "0.27 mJ vs 29.8 mJ per inference (110x less); idle 0.029 W vs 14.97 W", "Blouw et al., arXiv 1812.01739, 2018"],
]


def _rng(r: dict) -> str:
    return format_energy(r["low"]) if r["low"] == r["high"] else f"{format_energy(r['low'])} – {format_energy(r['high'])}"


def _chip_rng(p: Profile) -> dict:
    return p.data.get("energy_range_joules") or {"low": p.energy, "high": p.energy}


def _pairs(runs: list[RunData]) -> list[tuple[RunData, Profile, dict, str]]:
    """(run, its Loihi 2 profile, the comparison, the GPU run's name): a profile's own comparison
    (``--baseline``), else one against the first gpu-rate profile among the runs."""
    gpu = next(((r, p) for r in runs for p in r.profiles if p.hardware == "gpu-rate"), None)
    out = []
    for r in runs:
        p = r.profile("loihi2")
        if p is None or "energy_range_joules" not in p.data:
            continue
        if isinstance(p.data.get("comparison"), dict):
            out.append((r, p, p.data["comparison"], str(p.data["comparison"].get("baseline_run"))))
        elif gpu is not None:
            out.append((r, p, compare(p.data, gpu[1].data, str(gpu[0].path)), gpu[0].name))
    return out


def _synops(p: Profile) -> float | None:
    so = (p.data.get("neurobench") or {}).get("SynapticOperations") or {}
    try:
        return float(so["Effective_ACs"]) + float(so["Effective_MACs"])
    except (KeyError, TypeError, ValueError):
        return None


def section(doc, runs: list[RunData]) -> None:
    """Append the section to ``doc`` (a writer.Doc) when the runs hold a Loihi 2 / GPU pair."""
    pairs = _pairs(runs)
    gpus = [(r, p) for r in runs for p in r.profiles if p.hardware == "gpu-rate"]
    if not pairs and not gpus:
        return
    doc.h(2, "Energy: Loihi 2 against the GPU", "energy-vs-gpu")
    doc.p("Energy per inference at both ends of the constants' ranges (low – high). Totals include static power: "
          "the chip's over its steps x time per step, the GPU's idle power over its launch-bound wall time; "
          "'dynamic' leaves static power out on both sides (idle subtracted, as Blouw et al. 2018 measured). "
          "Modelled figures are estimates from `neurotep/hardware/energy_*.json`, not measurements.")
    rows = []
    for r, p, c, _ in pairs:
        steps = r.summary.get("mean_steps_per_sample")  # a delta-coded run's samples exit early
        ran = f"{steps:.1f} steps per sample" if steps is not None else f"{r.steps} steps"
        rows.append([f"Loihi 2, `{r.name}` ({ran})", "model", "–", _rng(c["chip_joules"]),
                     _rng(c["chip_dynamic_joules"])])
    seen = set()
    for r, p, c, gname in pairs:
        for b, g in c["batches"].items():
            if (gname, b) not in seen:
                seen.add((gname, b))
                rows.append([f"GPU rate model, `{gname}`", "model", b, _rng(g["gpu_joules"]), _rng(g["gpu_dynamic_joules"])])
    for r, p in gpus:
        m = p.data.get("measured")
        for b, v in ((m or {}).get("batches") or {}).items():
            rows.append([f"GPU rate model, measured on {m['gpu']} ({str(m['date'])[:10]})", "NVML", b,
                         format_energy(v["energy_per_inference_joules"]),
                         format_energy(v["dynamic_energy_per_inference_joules"])])
    doc.table(["system", "how", "batch", "energy / inference", "dynamic / inference"], rows)
    for r, p, c, gname in pairs:
        b1 = c["batches"]["1"]
        ratio = b1["gpu_over_chip"]
        doc.p(f"**Conclusion (`{r.name}` against `{gname}`):** {c['sentence']} "
              f"GPU / Loihi 2 energy at batch 1: {ratio['worst']:.3g} (worst case for the chip) to {ratio['best']:.3g} "
              f"(best case); dynamic only: {b1['gpu_over_chip_dynamic']['worst']:.3g} to "
              f"{b1['gpu_over_chip_dynamic']['best']:.3g}. The 10x goal at both ends is "
              f"{'met' if c.get('goal_10x_at_both_ends') else 'not met'}.")
        big = [b for b in c["batches"] if b != "1"]
        if big:
            doc.p(c["batches"][big[0]]["sentence"])
    gpu = next((g for _, g in gpus if "batches" in g.data), None)
    syn = [(r.name, _synops(p)) for r, p, _, _ in pairs if _synops(p) is not None]
    if gpu is not None and syn:
        macs = float(gpu.data["batches"]["1"]["macs"])
        dense = float(((gpu.data.get("neurobench") or {}).get("SynapticOperations") or {}).get("Dense") or 0)
        doc.table(["run", "synaptic operations / inference (Effective ACs + MACs)", "rate model's dense MACs",
                   "ratio", "GPU rate model's MACs (input drive once)", "ratio"],
                  [[n, f"{s:,.0f}", f"{dense:,.0f}", f"{s / dense:.3g}" if dense else "–", f"{macs:,.0f}",
                    f"{s / macs:.3g}"] for n, s in syn], numeric={1, 2, 3, 4, 5})
        doc.p("Dense MACs: NeuroBench's Dense count of the rate run (every weight every relaxation step, the input "
              "drive included); the GPU rate model computes the constant input drive once.")
    doc.p("Measured system-level anchors from the literature (other networks and tasks; for scale, not for this model):")
    doc.table(["comparison", "measured", "source"], ANCHORS)
