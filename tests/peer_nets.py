"""Networks built and exported by the peers' own libraries, shared by the NIR tests."""

from __future__ import annotations

import torch


def snntorch_recurrent():
    """snnTorch's ``RLeaky`` (16, subtract reset, recurrent weights doubled so it fires) between
    two Linear layers and a ``Leaky`` readout (4): ``(net, rleaky, readout)``, seed 2."""
    import snntorch as snn

    torch.manual_seed(2)
    r1 = snn.RLeaky(beta=torch.full((16,), 0.85), threshold=torch.full((16,), 1.0), linear_features=16, init_hidden=True,
                    reset_mechanism="subtract")
    with torch.no_grad():
        r1.recurrent.weight.mul_(2)
    out = snn.Leaky(beta=torch.full((4,), 0.7), threshold=torch.full((4,), 1.0), init_hidden=True, output=True,
                    reset_mechanism="subtract")
    return torch.nn.Sequential(torch.nn.Linear(10, 16), r1, torch.nn.Linear(16, 4), out), r1, out
