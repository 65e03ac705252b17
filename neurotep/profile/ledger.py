"""Energy per inference at both ends of the constants' ranges, by operation and by population."""

from __future__ import annotations

ENDS = ("low", "high")


def const_record(entry: dict) -> dict:
    """What a profile lists for a constant: its range (and ``value`` when single-valued)."""
    rec = {k: entry[k] for k in ("low", "high", "unit", "source", "status")}
    if entry["low"] == entry["high"]:
        rec["value"] = entry["low"]
    return rec


class Ledger:
    """Joules per inference, low and high, by operation and by population; the constants used."""

    def __init__(self, model: dict, populations, operations: tuple[str, ...]):
        self.entries = model["entries"]
        self.ops = {end: {op: 0.0 for op in operations} for end in ENDS}
        self.pops = {end: {p: 0.0 for p in populations} for end in ENDS}
        self.used: dict[str, dict] = {}

    def const(self, name: str) -> tuple[float, float]:
        """``(low, high)`` of constant ``name``, recorded as used."""
        e = self.entries[name]
        self.used[name] = const_record(e)
        return float(e["low"]), float(e["high"])

    def add(self, op: str, pop: str, count: float, constant: str) -> None:
        """``count`` (per inference) operations of kind ``op`` by ``pop``, each costing ``constant``."""
        lo, hi = self.const(constant)
        self.add_joules(op, pop, count * lo, count * hi)

    def add_joules(self, op: str, pop: str, low: float, high: float) -> None:
        for end, j in (("low", low), ("high", high)):
            self.ops[end][op] = self.ops[end].get(op, 0.0) + j
            self.pops[end][pop] = self.pops[end].get(pop, 0.0) + j

    def total(self, end: str, without: tuple[str, ...] = ()) -> float:
        return float(sum(v for k, v in self.ops[end].items() if k not in without))

    def breakdown(self, end: str) -> dict:
        return {"by_operation": {k: float(v) for k, v in self.ops[end].items()},
                "by_population": {k: float(v) for k, v in self.pops[end].items()}}

    def as_profile(self) -> dict:
        """The profile fields: the high end as ``energy_joules``/``energy_breakdown`` (what older
        readers take), the range and the low end's breakdown beside them."""
        return {"energy_joules": self.total("high"),
                "energy_range_joules": {end: self.total(end) for end in ENDS},
                "energy_breakdown": self.breakdown("high"),
                "energy_breakdown_low": self.breakdown("low")}
