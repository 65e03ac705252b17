"""Loihi 2 against the GPU baseline, at both ends of the constants' ranges, in one sentence.

The claim "Loihi 2 uses less energy than the GPU" holds at both ends only if it holds when the
chip's constants sit at their high end and the GPU's at their low end (the worst case for the
chip), and it is reported with the best case beside it. Totals include static power on both
sides (the chip's over its steps, the GPU's idle power over its launch-bound wall time); the
dynamic-only figures (idle subtracted on both sides, as Blouw et al. 2018 measured) are given too.
"""

from __future__ import annotations

GOAL = 10.0  # issue 21: Loihi 2 at least 10x below the GPU at batch 1, at both ends
CHIPS = {"loihi2": "Loihi 2", "loihi": "Loihi"}  # the hardware --baseline compares with the GPU


def _ratios(chip: dict, gpu: dict) -> dict:
    """GPU energy / chip energy: worst case (chip high, GPU low) and best case (chip low, GPU high)."""
    return {"worst": gpu["low"] / chip["high"] if chip["high"] else float("inf"),
            "best": gpu["high"] / chip["low"] if chip["low"] else float("inf")}


def _fmt(x: float) -> str:
    return f"{x:.3g}x less" if x >= 1 else f"{1 / x:.3g}x more"


def sentence(r: dict, batch: str, chip: str = "Loihi 2") -> str:
    if r["worst"] >= 1:
        return (f"At batch {batch} {chip} uses less energy per inference than the GPU rate model at both ends of the "
                f"ranges ({_fmt(r['worst'])} to {_fmt(r['best'])}), so the conclusion holds at both ends.")
    if r["best"] < 1:
        return (f"At batch {batch} {chip} uses more energy per inference than the GPU rate model at both ends of the "
                f"ranges ({_fmt(r['best'])} to {_fmt(r['worst'])}), so the conclusion goes against the chip at both ends.")
    return (f"At batch {batch} the conclusion does not hold at both ends: {chip} uses {_fmt(r['worst'])} energy per "
            f"inference than the GPU rate model at the chip's high / the GPU's low end and {_fmt(r['best'])} at the "
            "other.")


def compare(chip_doc: dict, gpu_doc: dict, baseline: str) -> dict:
    """The ``comparison`` block of a chip profile against ``gpu_doc`` (a gpu-rate profile)."""
    chip = chip_doc["energy_range_joules"]
    static = {e: chip_doc[f"energy_breakdown{'_low' if e == 'low' else ''}"]["by_operation"].get("static", 0.0)
              for e in ("low", "high")}
    chip_dyn = {e: chip[e] - static[e] for e in ("low", "high")}
    out = {"baseline_run": baseline, "chip_joules": chip, "chip_dynamic_joules": chip_dyn, "batches": {}}
    for b, g in gpu_doc["batches"].items():
        r, rd = _ratios(chip, g["energy_range_joules"]), _ratios(chip_dyn, g["dynamic_range_joules"])
        out["batches"][b] = {"gpu_joules": g["energy_range_joules"], "gpu_dynamic_joules": g["dynamic_range_joules"],
                             "gpu_over_chip": r, "gpu_over_chip_dynamic": rd, "holds_at_both_ends": r["worst"] >= 1,
                             "sentence": sentence(r, b, CHIPS.get(chip_doc["hardware"], chip_doc["hardware"]))}
    one = out["batches"]["1"]
    out["goal_10x_at_both_ends"] = one["gpu_over_chip"]["worst"] >= GOAL
    out["sentence"] = one["sentence"]
    return out
