"""Training and evaluation of a graph on a data set, by EqProp or by BPTT (or, for graphs whose rule
is ``predictive`` such as TPEqProp, by single-phase predictive learning: ``method="eqprop"``, the
default, then means the graph's own local rule).

The reported test accuracy is the one after the last epoch: no epoch is picked on the test set.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from neurotep.backends.torch import TorchNetwork
from neurotep.data import Dataset, one_hot
from neurotep.errors import NeurotepError
from neurotep.graph import Graph
from neurotep.learning import predictive
from neurotep.learning.bptt import bptt_gradients, cost
from neurotep.learning.constraints import spectral_normalise
from neurotep.learning.eqprop import EqPropConfig, apply_gradients, eqprop_gradients

METHODS = ("eqprop", "bptt", "predictive")


@dataclass
class TrainResult:
    graph: Graph
    metrics: dict
    history: list[dict] = field(default_factory=list)


def predict(net: TorchNetwork, x: np.ndarray, cfg: EqPropConfig, batch: int = 512) -> tuple[np.ndarray, float]:
    """Class predictions from the free equilibrium (argmax of the output); also the mean number
    of relaxation steps it took."""
    g = net.graph
    preds, steps = [], []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            xb = torch.as_tensor(x[i:i + batch], device=net.device_, dtype=net.dtype)
            st, n = net.relax({g.meta["input"]: xb}, cfg.free_steps, cfg.tol)
            preds.append(st.out[g.meta["output"]].argmax(1).cpu().numpy())
            steps.append(n)
    return np.concatenate(preds), float(np.mean(steps))


def train(graph: Graph, data: Dataset, method: str = "eqprop", epochs: int = 30, batch_size: int = 32,
          lr: float = 1e-3, seed: int = 0, device: str = "cpu", bptt_steps: int = 40,
          progress: bool = True, weight_decay: float = 0.0) -> TrainResult:
    """Train ``graph`` on ``data``; returns the trained graph and its metrics."""
    if method not in METHODS:
        raise NeurotepError(f"unknown training method {method!r}: use one of {', '.join(METHODS)}")
    if predictive.is_predictive(graph):
        method = "predictive" if method == "eqprop" else method  # the graph's own local rule
    elif method == "predictive":
        raise NeurotepError("method 'predictive' needs a graph whose connections learn by the predictive rule "
                            "(e.g. the tpeqprop variant)")
    torch.manual_seed(seed)
    rs = np.random.default_rng(seed)
    net = TorchNetwork(graph, device=device)
    spectral = bool(graph.meta.get("spectral"))
    cfg = predictive.PredictiveConfig.from_meta(graph.meta) if method == "predictive" else EqPropConfig.from_meta(graph.meta)
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    x_all = torch.as_tensor(data.x_train, device=net.device_, dtype=net.dtype)
    t_all = torch.as_tensor(one_hot(data.y_train, data.n_classes), device=net.device_, dtype=net.dtype)
    out = graph.meta["output"]
    history = []
    t0 = time.perf_counter()
    bar = tqdm(range(epochs), desc=f"train {graph.meta.get('variant', '')} ({method})", disable=not progress, unit="epoch")
    for epoch in bar:
        perm = torch.as_tensor(rs.permutation(len(x_all)), device=net.device_)
        losses, correct, free_steps = [], 0, []
        for i in range(0, len(perm), batch_size):
            idx = perm[i:i + batch_size]
            xb, tb = x_all[idx], t_all[idx]
            opt.zero_grad(set_to_none=True)
            if method == "eqprop":
                grads, info, free = eqprop_gradients(net, xb, tb, cfg)
                y = free.out[out]
                free_steps.append(info.free_steps)
            elif method == "predictive":  # single clamped phase; y = the top-down prediction there
                grads, info, clamped = predictive.predictive_gradients(net, xb, tb, cfg)
                y = clamped.out[out]
                free_steps.append(info.free_steps)
            else:
                grads, y = bptt_gradients(net, xb, tb, bptt_steps)
            apply_gradients(net, grads)
            opt.step()
            if spectral:  # the graph's constraint (TEP-SSR): spectral normalisation of the listed weights
                spectral_normalise(net)
            losses.append(float(cost(y.detach(), tb)))
            correct += int((y.detach().argmax(1) == tb.argmax(1)).sum())
        pred, test_steps = predict(net, data.x_test, cfg)
        rec = dict(epoch=epoch + 1, train_loss=float(np.mean(losses)), train_accuracy=correct / len(x_all),
                   test_accuracy=float((pred == data.y_test).mean()), test_relax_steps=test_steps,
                   train_free_steps=float(np.mean(free_steps)) if free_steps else float(bptt_steps))
        history.append(rec)
        bar.set_postfix(loss=f"{rec['train_loss']:.3f}", test=f"{rec['test_accuracy']:.3f}")
    seconds = time.perf_counter() - t0
    trained = net.to_graph()
    last = history[-1] if history else {}
    metrics = dict(method=method, epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay, seed=seed,
                   device=str(net.device_),
                   test_accuracy=last.get("test_accuracy"), train_accuracy=last.get("train_accuracy"),
                   train_seconds=seconds, relax_steps_free=last.get("test_relax_steps"))
    if method == "bptt":
        metrics["bptt_steps"] = bptt_steps
    trained.meta.setdefault("training", {}).update(metrics)
    return TrainResult(trained, metrics, history)
