"""Training one variant on one data set, as ``neurotep train`` and each sweep trial do it: build the
variant for the data (sequence inputs where it reads them), train on torch (EqProp or BPTT) or
inside the Lava simulator, and return the metrics with the trained graph."""

from __future__ import annotations

import inspect

from neurotep import variants
from neurotep.data import load_dataset
from neurotep.errors import NeurotepError


def sequence_layout(builder, data) -> dict:
    """``{"step_features": F}`` for a sequence data set and a builder that reads sequences (TEP-SSR);
    other builders see the flattened sequence as one static input."""
    feats = getattr(data, "step_features", 0)
    return {"step_features": feats} if feats and "step_features" in inspect.signature(builder.build).parameters else {}


def train_variant(variant: str, dataset: str = "digits", data_path: str | None = None, epochs: int = 40, seed: int = 0,
                  method: str = "eqprop", backend: str = "torch", lr: float = 1e-3, lr_lava: float = 0.05,
                  device: str = "cpu", progress: bool = True, data=None, build: dict | None = None,
                  weight_decay: float = 0.0) -> dict:
    """Train ``variant`` on ``dataset`` (or on ``data``, an already loaded split), built with the
    hyperparameters ``build`` over its defaults (``train --set``); the metrics, with the trained
    graph under ``"graph"``."""
    from neurotep.learning.train import train

    builder = variants.get(variant)
    data = load_dataset(dataset, data_path) if data is None else data
    build = dict(build or {})
    try:
        graph = builder.build(n_in=data.n_features, n_out=data.n_classes, seed=seed,
                              **{**sequence_layout(builder, data), **build})
    except (TypeError, ValueError, ArithmeticError) as e:  # a value the builder cannot use (GraphErrors name their node)
        raise NeurotepError(f"{variant} cannot be built with {', '.join(f'{k}={v!r}' for k, v in build.items())}: "
                            f"{e}") from None
    if backend == "lava":
        trained, metrics = _train_on_lava(variant, graph, data, method, epochs, lr_lava, seed, progress)
        history = []
    elif backend == "torch":
        result = train(graph, data, method=method, epochs=epochs, seed=seed, lr=lr, device=device, progress=progress,
                       weight_decay=weight_decay)
        trained, metrics, history = result.graph, result.metrics, result.history
    else:
        raise NeurotepError(f"unknown backend {backend!r}: use torch or lava")
    return dict(variant=variant, dataset=data.name, seed=seed, epochs=epochs, backend=backend,
                **({"build": {k: list(v) if isinstance(v, tuple) else v for k, v in build.items()}} if build else {}),
                **{k: v for k, v in metrics.items() if k not in ("seed", "epochs")},
                split={"train": len(data.x_train), "test": len(data.x_test)}, history=history, graph=trained)


def _train_on_lava(variant, graph, data, method, epochs, lr, seed, progress):
    """EqProp (or a predictive graph's own rule) on the Lava simulator alone (plain SGD on the chip),
    evaluated on Lava: :mod:`neurotep.lava_training`."""
    from neurotep.lava_training import train_and_evaluate

    if method != "eqprop":
        raise NeurotepError("--backend lava trains by eqprop only")
    if graph.stages:
        raise NeurotepError(f"{variant} plays its input in stages (a sequence), which the Lava trainer cannot feed yet: "
                            "train with --backend torch")
    return train_and_evaluate(graph, data, epochs=epochs, lr=lr, seed=seed, verbose=progress)
