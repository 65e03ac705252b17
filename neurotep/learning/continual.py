"""Continual learning without replay: train on one set of classes, then on another, and measure
how much of the first task survives.

The protocol (the HTSEP seed's "continual learning on non-stationary data", on digits):

* task A = the training images of classes ``0-4``, task B = those of ``5-9`` (by default), from
  the fixed digits split; nothing of task A is seen again during task B (no replay buffer, no
  regulariser, a fresh Adam optimiser per task, the same epochs and learning rate for both);
* the output has all 10 units throughout (**class-incremental**): a test image counts as correct
  when the argmax over all 10 outputs is its label. This is the hard setting: nothing tells the
  network which task an image belongs to;
* also reported, **task-incremental** (a masked head): the argmax only over the classes of the
  image's own task. Training is identical; only the evaluation is told the task;
* **retention** = accuracy on task A's test images after task B / accuracy on them after task A.

Nothing is selected on the test images: every figure is the one after the last epoch.
"""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np
import torch

from neurotep.backends.torch import TorchNetwork
from neurotep.data import Dataset
from neurotep.errors import DataError
from neurotep.graph import Graph
from neurotep.learning.eqprop import EqPropConfig
from neurotep.learning.train import train

TASK_A, TASK_B = (0, 1, 2, 3, 4), (5, 6, 7, 8, 9)


def task_subset(data: Dataset, classes: Sequence[int]) -> Dataset:
    """The images of ``classes`` only, train and test, keeping all ``n_classes`` labels."""
    classes = [int(c) for c in classes]
    bad = [c for c in classes if not 0 <= c < data.n_classes]
    if not classes or bad:
        raise DataError(f"task classes must be a non-empty subset of 0..{data.n_classes - 1}, got {classes}")
    tr, te = np.isin(data.y_train, classes), np.isin(data.y_test, classes)
    if not tr.any() or not te.any():
        raise DataError(f"classes {classes} have no training or no test images in {data.name}")
    return Dataset(data.x_train[tr], data.y_train[tr], data.x_test[te], data.y_test[te],
                   f"{data.name}[{','.join(map(str, classes))}]", data.n_classes, data.train_index[tr], data.test_index[te])


def outputs(graph: Graph, x: np.ndarray, batch: int = 512) -> np.ndarray:
    """The output population at the free equilibrium for every row of ``x`` (relaxation as in
    training and prediction)."""
    net = TorchNetwork(graph)
    cfg = EqPropConfig.from_meta(graph.meta)
    inp, out = graph.meta["input"], graph.meta["output"]
    ys = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            xb = torch.as_tensor(x[i:i + batch], dtype=net.dtype)
            st, _ = net.relax({inp: xb}, cfg.free_steps, cfg.tol)
            ys.append(st.out[out].double().numpy())
    return np.concatenate(ys)


def accuracies(graph: Graph, x: np.ndarray, y: np.ndarray, task_classes: Sequence[int]) -> dict[str, float]:
    """Class-incremental accuracy (argmax over every output) and task-incremental accuracy
    (argmax over ``task_classes`` only) on ``(x, y)``."""
    out = outputs(graph, x)
    masked = np.full_like(out, -np.inf)
    cls = list(task_classes)
    masked[:, cls] = out[:, cls]
    return dict(class_incremental=float((out.argmax(1) == y).mean()),
                task_incremental=float((masked.argmax(1) == y).mean()))


def continual_experiment(graph: Graph, data: Dataset, tasks: Sequence[Sequence[int]] = (TASK_A, TASK_B),
                         epochs: int = 20, lr: float = 1e-3, batch_size: int = 32, seed: int = 0,
                         progress: bool = False) -> dict:
    """Train ``graph`` by EqProp on ``tasks[0]``, then on ``tasks[1]`` (no replay), and report the
    accuracies on every task's test images after each task, and the retention of task A.

    Returns a JSON-ready dict; ``graphs`` (not JSON) holds the network after each task."""
    if len(tasks) != 2:
        raise DataError(f"continual_experiment takes two tasks, got {len(tasks)}")
    if set(map(int, tasks[0])) & set(map(int, tasks[1])):
        raise DataError(f"the two tasks share classes: {sorted(set(tasks[0]) & set(tasks[1]))}")
    subsets = [task_subset(data, t) for t in tasks]
    g = graph
    after, graphs, seconds, histories = [], [], [], []
    for k, sub in enumerate(subsets):
        t0 = time.perf_counter()
        res = train(g, sub, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed + k, progress=progress)
        seconds.append(time.perf_counter() - t0)
        g = res.graph
        graphs.append(g)
        histories.append([{k2: h[k2] for k2 in ("epoch", "train_loss", "train_accuracy")} for h in res.history])
        after.append({f"task{j}": accuracies(g, s.x_test, s.y_test, tasks[j]) for j, s in enumerate(subsets)})
    first, second = after[0]["task0"], after[1]["task0"]

    def ratio(a: float, b: float) -> float | None:
        return None if b == 0 else a / b

    return dict(
        tasks=[list(map(int, t)) for t in tasks], epochs_per_task=epochs, lr=lr, batch_size=batch_size, seed=seed,
        train_images=[len(s.x_train) for s in subsets], test_images=[len(s.x_test) for s in subsets],
        after_task=after, train_seconds=seconds, train_history=histories,
        retention=dict(class_incremental=ratio(second["class_incremental"], first["class_incremental"]),
                       task_incremental=ratio(second["task_incremental"], first["task_incremental"])),
        graphs=graphs,
    )
