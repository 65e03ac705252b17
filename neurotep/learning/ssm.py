"""TEP-SSR's SSM gradients from forward eligibility traces (measured against BPTT; training does
not apply them: B and lambda keep their S4D initialisation). See :mod:`neurotep.variants.tepssr`."""

from __future__ import annotations

import torch

from neurotep.neurons.s4d import modes_of


def split_sequence(graph, x: torch.Tensor) -> torch.Tensor:
    """(B, L*F) flattened sequences of the graph's input stream -> (B, L, F)."""
    inp = graph.meta["input"]
    stream = graph.stream_of(inp)
    return x.reshape(x.shape[0], stream.length, graph.populations[inp].size)


def ssm_gradients(net, x: torch.Tensor, plus: dict, minus: dict, beta: float) -> dict[str, torch.Tensor]:
    """EqProp + forward-trace estimate of the gradients of the mean cost w.r.t. ``B`` and ``A``.

    The block's nudged states give ``dL/ds_L ~= -(1/2 beta) C^T (h^+ - h^-)`` (``s`` is an input
    of the block), packed per mode as ``g_n = dL/dRe z_n + i dL/dIm z_n``. Forward traces, run
    with the sequence: ``e_nj = sum_t lambda_n^(L-1-t) u_tj`` (``= dz_n/db_nj``) and ``q_n =
    dz_n/dlambda_n``, ``q(t) = lambda q(t-1) + z(t-1)``. Then ``dL/db_nj = Re(conj(g_n) e_nj)``
    and, for ``lambda = a + ib``, ``dL/da = Re(conj(g) q)``, ``dL/db = -Im(conj(g) q)``. Returned
    as gradients of the graph's ``B_x_s`` and ``A_s`` weight matrices on their parameterisation's
    entries (``B``'s imaginary rows and ``A``'s off-pattern entries get zero; ``A``'s pair of
    diagonal entries each get half of ``dL/da`` and its two off-diagonal ones ``-/+ dL/db / 2``):
    compare with autograd after projecting onto that parameterisation (:func:`project_ssm`)."""
    g = net.graph
    xs = split_sequence(g, x).to(torch.float64)
    lam = torch.as_tensor(modes_of(net.weights["A_s"].detach().cpu().double().numpy()), device=xs.device)
    b = net.weights["B_x_s"].detach().to(torch.float64)[0::2].to(lam.dtype)
    n, m, f = xs.shape[0], lam.shape[0], xs.shape[2]
    e = torch.zeros(n, m, f, dtype=lam.dtype, device=xs.device)
    z = torch.zeros(n, m, dtype=lam.dtype, device=xs.device)
    q = torch.zeros_like(z)
    for t in range(xs.shape[1]):
        u = xs[:, t].to(lam.dtype)
        q = lam * q + z
        z = lam * z + u @ b.T
        e = lam[None, :, None] * e + u[:, None, :]
    C = net.weights["C_s_h"].detach().to(torch.float64)
    ds = -(1.0 / (2 * beta * n)) * (plus["h"].double() - minus["h"].double()) @ C  # (n, 2M)
    gz = torch.complex(ds[:, 0::2], ds[:, 1::2])
    dB = torch.zeros(2 * m, f, dtype=torch.float64, device=xs.device)
    dB[0::2] = torch.einsum("bn,bnj->nj", gz.conj(), e).real
    w = (gz.conj() * q).sum(0)
    da, db = w.real, -w.imag
    dA = torch.zeros(2 * m, 2 * m, dtype=torch.float64, device=xs.device)
    i = torch.arange(m, device=xs.device) * 2
    dA[i, i], dA[i + 1, i + 1] = da / 2, da / 2
    dA[i, i + 1], dA[i + 1, i] = -db / 2, db / 2
    return {"weight:B_x_s": dB, "weight:A_s": dA}


def project_ssm(grads: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Autograd gradients of ``B_x_s`` / ``A_s`` projected onto the SSM's parameterisation (real
    rows of ``B``; per mode ``a`` and ``b`` of ``[[a, -b], [b, a]]``), in the layout of
    :func:`ssm_gradients`."""
    out = {}
    dB = grads["weight:B_x_s"].double().clone()
    dB[1::2] = 0
    out["weight:B_x_s"] = dB
    G = grads["weight:A_s"].double()
    m = G.shape[0] // 2
    i = torch.arange(m, device=G.device) * 2
    da = G[i, i] + G[i + 1, i + 1]
    db = G[i + 1, i] - G[i, i + 1]
    dA = torch.zeros_like(G)
    dA[i, i], dA[i + 1, i + 1] = da / 2, da / 2
    dA[i, i + 1], dA[i + 1, i] = -db / 2, db / 2
    out["weight:A_s"] = dA
    return out
