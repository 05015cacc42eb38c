"""The paper's building blocks: maxout units and weight initialisation."""

import torch
from torch import Tensor, nn

from ganbench.nets.arguments import check_at_least


class Maxout(nn.Module):
    """A maxout layer (Goodfellow et al. 2013): a linear map to ``units * pieces`` outputs,
    then the max over each group of ``pieces`` consecutive outputs.

    Args:
        in_features: input size.
        units: number of maxout units (outputs).
        pieces: linear pieces per unit.

    Shapes: ``(B, in_features) -> (B, units)``.
    """

    def __init__(self, in_features: int, units: int, pieces: int) -> None:
        super().__init__()
        check_at_least("Maxout", "units", units, 1)
        check_at_least("Maxout", "pieces", pieces, 1)
        self.units = units
        self.pieces = pieces
        self.linear = nn.Linear(in_features, units * pieces)

    def forward(self, inputs: Tensor) -> Tensor:
        outputs = self.linear(inputs)  # (B, units * pieces), groups are consecutive
        return outputs.view(-1, self.units, self.pieces).amax(dim=-1)


def init_uniform_(layer: nn.Linear | nn.Module, bound: float, bias: float = 0.0) -> None:
    """pylearn2's ``irange`` initialisation: weights ``U(-bound, bound)``, biases constant."""
    with torch.no_grad():
        layer.weight.uniform_(-bound, bound)
        if layer.bias is not None:
            layer.bias.fill_(bias)


def init_sparse_(layer: nn.Linear, nonzero: int, std: float = 1.0, bias: float = 0.0) -> None:
    """pylearn2's ``sparse_init``: each output unit gets ``nonzero`` incoming weights ``N(0, std^2)``, the rest 0.

    The inputs that get a weight are drawn without replacement, independently for every unit.
    """
    units, inputs = layer.weight.shape
    if not 0 < nonzero <= inputs:
        raise ValueError(f"sparse init needs 0 < nonzero <= {inputs} (the layer's inputs), got {nonzero}.")
    with torch.no_grad():
        chosen = torch.rand(units, inputs).argsort(dim=1)[:, :nonzero]
        layer.weight.zero_().scatter_(1, chosen, torch.randn(units, nonzero) * std)
        if layer.bias is not None:
            layer.bias.fill_(bias)
