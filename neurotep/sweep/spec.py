"""A sweep spec (TOML, or YAML by its suffix): variants x seeds x a grid of settings.

::

    variants = ["toreqprop", "htsep", "mstep"]
    seeds = [0, 1, 2, 3, 4]
    frontier = "train_seconds"        # optional: plot accuracy against this metric
    data_path = "/data/mnist"         # optional: for data sets read from local files

    [settings]                        # a value, or a list of values (one grid axis)
    dataset = "mnist1d"
    epochs = [5, 10]
    steps = 200                       # optional: also run the spiking mode for this many steps

Every key and value is checked here, before any trial starts: an unknown key, variant, data set,
method or encoding is one line naming it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from neurotep.errors import NeurotepError


class SpecError(NeurotepError):
    """A sweep spec that cannot be run: the message names the file and the key."""


TOP_KEYS = ("variants", "seeds", "settings", "frontier", "data_path")
# setting -> (default, check of one value, what it must be)
_METHODS = ("eqprop", "bptt")
_BACKENDS = ("torch", "lava")


def _whole(lo):
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= lo


SETTINGS = {
    "dataset": ("digits", lambda v: isinstance(v, str), "a data set name"),
    "epochs": (10, _whole(1), "a whole number >= 1"),
    "method": ("eqprop", lambda v: v in _METHODS, f"one of {', '.join(_METHODS)}"),
    "backend": ("torch", lambda v: v in _BACKENDS, f"one of {', '.join(_BACKENDS)} (where the model trains)"),
    "lr": (None, lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < 10,
           "a learning rate in (0, 10) (leave out for the backend's default: Adam 1e-3 on torch, SGD 0.05 on Lava)"),
    "steps": (None, _whole(1), "a whole number >= 1 (spiking steps; leave out for no spiking run)"),
    "encoding": ("poisson", lambda v: v in ("poisson", "current", "delta"),
                 "poisson, current or delta (the delta form: sigma-delta neurons, the input sent once, early exit)"),
    "delta_threshold": (None, lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < 1e3,
                        "a number > 0 (the smallest change a sigma-delta neuron sends; with encoding delta, default 0.01)"),
    "neuron": (None, lambda v: v in ("lif", "stochastic"), "lif or stochastic"),
    "samples": (None, _whole(1), "a whole number >= 1 (test samples of the spiking run)"),
}
METRICS = ("test_accuracy", "train_accuracy", "train_seconds", "spiking_accuracy", "spikes_per_neuron_per_step",
           "mean_exit_step")


@dataclass(frozen=True)
class Trial:
    """One training run: a variant, a seed and one point of the settings grid."""

    variant: str
    seed: int
    settings: dict = field(hash=False)

    @property
    def config(self) -> dict:
        return {"variant": self.variant, "seed": self.seed, **self.settings}

    @property
    def group(self) -> str:
        """The configuration without its seed: what the summary averages over."""
        return json.dumps({"variant": self.variant, **self.settings}, sort_keys=True)

    @property
    def name(self) -> str:
        """A directory name: readable, and unique per configuration (a changed setting is a new trial)."""
        digest = hashlib.sha256(json.dumps(self.config, sort_keys=True).encode()).hexdigest()[:8]
        return re.sub(r"[^A-Za-z0-9_.-]", "_", f"{self.variant}-{self.settings['dataset']}-seed{self.seed}-{digest}")


@dataclass(frozen=True)
class Spec:
    path: str
    trials: list[Trial]
    frontier: str | None
    data_path: str | None


def _read(path: Path) -> dict:
    if not path.is_file():
        raise SpecError(f"sweep spec {path} not found: give a .toml (or .yaml) file")
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yaml", ".yml"):
        import yaml

        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise SpecError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    else:
        try:
            import tomllib as toml  # Python >= 3.11
        except ModuleNotFoundError:
            try:
                import tomli as toml
            except ModuleNotFoundError:
                raise SpecError("reading a TOML sweep spec needs tomli on Python 3.10: pip install -e '.[sweep]'") from None
        try:
            doc = toml.loads(text)
        except toml.TOMLDecodeError as e:
            raise SpecError(f"{path}: not valid TOML ({e})") from None
    if not isinstance(doc, dict):
        raise SpecError(f"{path}: the spec must be a table of keys ({', '.join(TOP_KEYS)})")
    return doc


def _values(path: Path, key: str, v) -> list:
    vals = v if isinstance(v, list) else [v]
    if not vals:
        raise SpecError(f"{path}: {key} is an empty list")
    return vals


def load_spec(path: str | Path) -> Spec:
    """Parse and check a sweep spec; its trials in a fixed order (variant, settings grid, seed)."""
    from neurotep import variants as registry
    from neurotep.data import DATASETS
    from neurotep.data.sequences import is_sequence_name

    path = Path(path)
    doc = _read(path)
    unknown = sorted(set(doc) - set(TOP_KEYS))
    if unknown:
        raise SpecError(f"{path}: unknown key(s) {', '.join(unknown)}; known: {', '.join(TOP_KEYS)}")
    for key in ("variants", "seeds"):
        if key not in doc:
            raise SpecError(f"{path}: missing key {key!r} (a list)")
    names = _values(path, "variants", doc["variants"])
    bad = [n for n in names if not (isinstance(n, str) and n in registry.REGISTRY)]
    if bad:
        raise SpecError(f"{path}: unknown variant(s) {', '.join(map(str, bad))}; known: {', '.join(registry.REGISTRY)}")
    seeds = _values(path, "seeds", doc["seeds"])
    if not all(_whole(0)(s) and s < 2**32 for s in seeds) or len(set(seeds)) != len(seeds):
        raise SpecError(f"{path}: seeds must be distinct whole numbers in 0..2**32-1, got {seeds}")
    settings = doc.get("settings", {})
    if not isinstance(settings, dict):
        raise SpecError(f"{path}: settings must be a table of {', '.join(SETTINGS)}")
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise SpecError(f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(SETTINGS)}")
    axes = {}
    for key, (default, ok, what) in SETTINGS.items():
        vals = _values(path, f"settings.{key}", settings[key]) if key in settings else [default]
        for v in vals:
            if v is not None and not ok(v):
                raise SpecError(f"{path}: settings.{key} = {v!r}: must be {what}")
        axes[key] = vals
    if any(t is not None for t in axes["delta_threshold"]) and axes["encoding"] != ["delta"]:
        raise SpecError(f"{path}: settings.delta_threshold applies to encoding = \"delta\" only")
    for ds in axes["dataset"]:
        if ds not in DATASETS and not is_sequence_name(ds):
            raise SpecError(f"{path}: unknown dataset {ds!r}; known: {', '.join(DATASETS)} and the sequence tasks")
    frontier = doc.get("frontier")
    if frontier is not None and frontier not in METRICS:
        raise SpecError(f"{path}: frontier = {frontier!r}: name the metric to plot accuracy against, one of "
                        f"{', '.join(m for m in METRICS if 'accuracy' not in m)}")
    data_path = doc.get("data_path")
    if data_path is not None and not (isinstance(data_path, str) and Path(data_path).is_dir()):
        raise SpecError(f"{path}: data_path = {data_path!r} is not a directory")
    grid = [dict(zip(axes, point)) for point in itertools.product(*axes.values())]
    trials = [Trial(v, int(s), point) for v in names for point in grid for s in seeds]
    return Spec(str(path), trials, frontier, data_path)
