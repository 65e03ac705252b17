"""The ``neurotep train --backend lava`` job: train a graph inside one Lava simulation, then
evaluate the trained graph on Lava with the runner.

EqProp graphs train by the free, +beta, free, -beta schedule of
:mod:`neurotep.backends.lava.training`; graphs whose rule is ``predictive`` (TPEqProp) by their
single clamped phase, :mod:`neurotep.backends.lava.predictive`. Both use plain SGD on the chip.
The backend only trains; evaluating needs :func:`neurotep.runner.run_model`, so the job sits
here, at the runner's level, and the backend never imports the runner.
"""

from __future__ import annotations

import time

from neurotep.backends.lava.predictive import train_predictive_on_lava
from neurotep.backends.lava.training import check_trainable, train_on_lava
from neurotep.data import one_hot
from neurotep.graph import Graph
from neurotep.graph.phases import PhaseSchedule
from neurotep.graph.rules import is_predictive
from neurotep.runner import run_model


def train_and_evaluate(graph: Graph, data, epochs: int = 1, lr: float = 0.05, seed: int = 0,
                       verbose: bool = True) -> tuple[Graph, dict]:
    """Train ``graph`` on ``data``'s train split inside the Lava simulator by its own rule (EqProp,
    or the predictive rule), then evaluate it on Lava on the test split; ``(trained graph, metrics)``."""
    if is_predictive(graph):  # TPEqProp: its single-phase local rule, on the chip
        return train_predictive_and_evaluate(graph, data, epochs=epochs, lr=lr, seed=seed, verbose=verbose)
    return train_eqprop_and_evaluate(graph, data, epochs=epochs, lr=lr, seed=seed, verbose=verbose)


def train_eqprop_and_evaluate(graph: Graph, data, epochs: int = 1, lr: float = 0.05, seed: int = 0,
                              verbose: bool = True) -> tuple[Graph, dict]:
    """EqProp on the Lava simulator alone (40 free and 20 nudged steps per phase, the graph's beta,
    plain SGD on the chip), evaluated on Lava (rate mode) on the test split."""
    check_trainable(graph)  # before reading EqProp's settings: a graph with another rule fails in one line
    t0 = time.perf_counter()
    schedule = PhaseSchedule(free=40, nudge=20, beta=graph.meta["hyperparameters"]["beta"], lr=lr)
    if verbose:
        print(f"training on the Lava simulator: {epochs} epoch(s), phases {schedule.as_dict()}")
    trained, info = train_on_lava(graph, data.x_train, one_hot(data.y_train, data.n_classes), epochs=epochs,
                                  batch=32, schedule=schedule, seed=seed)
    seconds = time.perf_counter() - t0
    acc = run_model(trained, data, backend="lava").summary["test_accuracy"]
    return trained, dict(method="eqprop", test_accuracy=acc, train_seconds=seconds, lava_steps=info["steps"],
                         schedule=info["schedule"], optimizer="sgd")


def train_predictive_and_evaluate(graph: Graph, data, epochs: int = 1, lr: float = 0.05, seed: int = 0,
                                  period: int = 60, verbose: bool = True) -> tuple[Graph, dict]:
    """Single-phase predictive learning on Lava (one clamped phase of ``period`` steps per
    mini-batch, SGD), then evaluation on Lava (rate mode, the model's free relaxation) on the test split."""
    if verbose:
        print(f"training on the Lava simulator: {epochs} epoch(s), single clamped phase of {period} steps, SGD lr {lr}")
    t0 = time.perf_counter()
    trained, info = train_predictive_on_lava(graph, data.x_train, one_hot(data.y_train, data.n_classes), batch=32,
                                             period=period, lr=lr, epochs=epochs, seed=seed)
    seconds = time.perf_counter() - t0
    acc = run_model(trained, data, backend="lava").summary["test_accuracy"]
    return trained, dict(method="predictive", test_accuracy=acc, train_seconds=seconds, lava_steps=info["steps"],
                         period=period, optimizer="sgd")
