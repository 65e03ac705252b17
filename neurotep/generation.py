"""DiffTorEqProp's generation and noise-robustness evaluation: jobs that run a trained graph.

:mod:`neurotep.variants.difftor` builds the graphs (the Langevin model, and
:func:`~neurotep.variants.difftor.generative_graph`, the same network with its input set free);
this module runs them on the torch path: :func:`generate` samples inputs by the Langevin chain,
:func:`score_samples` scores them with a classifier trained on the real digits, :func:`save_grid`
draws them, :func:`write_generated` leaves samples and scores in a run directory for
``neurotep report``, and :func:`accuracy_under_noise` measures the test accuracy under Gaussian
input noise. Running and evaluating networks sits at the runner's level, above the variants, the
learning code and the backends: a variant only builds graphs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from neurotep.backends.torch import TorchNetwork
from neurotep.errors import NeurotepError
from neurotep.graph import Graph
from neurotep.learning.eqprop import EqPropConfig
from neurotep.learning.train import predict
from neurotep.variants.difftor import GEN_DEFAULTS, generative_graph, noisy_inputs


def _fail(msg: str):
    raise NeurotepError(f"difftor: {msg}")


# -- robustness -----------------------------------------------------------------------------------
def accuracy_under_noise(graph: Graph, x: np.ndarray, y: np.ndarray, sigmas: Sequence[float],
                         seed: int = 0) -> dict[float, dict]:
    """Test accuracy and mean relaxation steps of ``graph`` for Gaussian input noise at each sigma
    (the same noise draws, keyed by ``seed``, for every graph)."""
    net = TorchNetwork(graph)
    cfg = EqPropConfig.from_meta(graph.meta)
    out = {}
    for i, s in enumerate(sigmas):
        pred, steps = predict(net, noisy_inputs(x, float(s), seed + i), cfg)
        out[float(s)] = dict(accuracy=float((pred == y).mean()), relax_steps=steps)
    return out


# -- generation -----------------------------------------------------------------------------------
def generate(graph: Graph, n: int, classes: Sequence[int] | None = None, seed: int = 0, class_scale: float = 1.0,
             **gen) -> np.ndarray:
    """``n`` samples (n, n_in) of the input decoded after the Langevin chain, from uniform noise;
    with ``classes`` (length n) each sample's output is clamped to its one-hot class times
    ``class_scale`` (1 = the training target; larger pulls harder towards the class)."""
    hp = dict(GEN_DEFAULTS, **gen)
    g = generative_graph(graph, classes is not None, seed=seed, **hp)
    net = TorchNetwork(g, dtype=torch.float64)
    inp = g.meta["output"]
    rs = np.random.default_rng(seed)
    start = {inp: torch.as_tensor(rs.uniform(0, 1, (n, g.populations[inp].size)))}
    inputs = {g.meta["input"]: torch.zeros(n, 1, dtype=torch.float64)}
    if classes is not None:
        classes = np.asarray(classes)
        if classes.shape != (n,):
            _fail(f"classes must have length n={n}, got shape {classes.shape}")
        code = np.zeros((n, g.populations[g.meta["input"]].size))
        code[np.arange(n), classes] = float(class_scale)
        inputs = {g.meta["input"]: torch.as_tensor(code)}
        start.update(inputs)
    with torch.no_grad():
        st = net.init_state(n, static=start)
        w = net.effective_weights()
        for _ in range(int(hp["steps"])):
            st = net.step(st, inputs, w)
    return st.out[inp].numpy().copy()


def score_samples(samples: np.ndarray, classes: np.ndarray | None, x_train: np.ndarray, y_train: np.ndarray,
                  x_ref: np.ndarray, y_ref: np.ndarray) -> dict:
    """Score generated digits with a logistic-regression classifier trained on the real train
    split. Class-conditional (``classes`` given): the fraction classified as their class, and per
    class the mean pairwise distance between samples over the same for real digits ``x_ref`` of
    that class (diversity ratio; 0 = all samples identical). Unconditional: the histogram of
    predicted classes and its entropy in bits (log2 10 = 3.32 for uniform)."""
    from sklearn.linear_model import LogisticRegression
    from scipy.spatial.distance import pdist

    clf = LogisticRegression(max_iter=3000).fit(x_train, y_train)
    pred = clf.predict(samples)
    out = dict(classifier_test_accuracy=float(clf.score(x_ref, y_ref)))
    if classes is None:
        hist = np.bincount(pred, minlength=len(clf.classes_))
        p = hist[hist > 0] / hist.sum()
        out.update(class_histogram=hist.tolist(), entropy_bits=abs(float((p * np.log2(p)).sum())),
                   diversity=float(pdist(samples).mean() / pdist(x_ref).mean()))
        return out
    ratios = []
    for c in np.unique(classes):
        s, r = samples[classes == c], x_ref[y_ref == c]
        if len(s) > 1 and len(r) > 1:
            ratios.append(pdist(s).mean() / pdist(r).mean())
    out.update(class_accuracy=float((pred == classes).mean()), diversity=float(np.mean(ratios)) if ratios else 0.0)
    return out


def save_grid(images: np.ndarray, path: str | Path, labels: Sequence | None = None, cols: int = 10,
              title: str | None = None) -> Path:
    """Write ``images`` (n, 64) as a grid of 8x8 pictures to a PNG; returns the path."""
    from matplotlib.figure import Figure  # no pyplot: leaves the caller's backend alone

    n = len(images)
    side = int(round(np.sqrt(images.shape[1])))
    rows = max(1, -(-n // cols))
    fig = Figure(figsize=(cols * 0.9, rows * 0.95 + (0.3 if title else 0)))
    axes = fig.subplots(rows, cols, squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < n:
            ax.imshow(np.clip(images[k], 0, 1).reshape(side, side), cmap="gray_r", vmin=0, vmax=1)
            if labels is not None:
                ax.set_title(str(labels[k]), fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


def write_generated(run_dir: str | Path, graph: Graph, data, per_class: int = 4, class_scale: float = 3.0,
                    seed: int = 0, **gen) -> dict:
    """Generate ``per_class`` class-conditional samples per class with ``graph``, score them
    (:func:`score_samples` on ``data``) and leave ``generated-samples.png`` and
    ``generated.json`` in ``run_dir``, where ``neurotep report`` picks them up."""
    import json

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        _fail(f"run directory {str(run_dir)!r} does not exist")
    classes = np.repeat(np.arange(data.n_classes), per_class)
    x = generate(graph, len(classes), classes, seed=seed, class_scale=class_scale, **gen)
    scores = score_samples(x, classes, data.x_train, data.y_train, data.x_test, data.y_test)
    info = dict(variant=graph.meta.get("variant"), samples=len(classes), class_scale=class_scale, seed=seed,
                steps=int(dict(GEN_DEFAULTS, **gen)["steps"]), **scores)
    save_grid(x, run_dir / "generated-samples.png", labels=classes, cols=per_class * 2 if per_class <= 5 else 10)
    (run_dir / "generated.json").write_text(json.dumps(info, indent=2) + "\n")
    return info
