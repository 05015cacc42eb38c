"""Weight constraints applied after every optimiser step: pylearn2's ``max_col_norm``."""

from collections.abc import Sequence

import lightning.pytorch as pl
import torch
from torch import nn
from torch.optim import Optimizer
from torch.utils.hooks import RemovableHandle

from ganbench.errors import ConfigError


class MaxColumnNorm(pl.Callback):
    """Caps the norm of every unit's incoming weight vector at ``max_norm`` after each optimiser step.

    pylearn2's ``max_col_norm`` (TFD recipe: 1.9365 on every layer of G and D): a pylearn2 column is
    one unit's incoming weights, a row of torch's ``(out, in)`` ``nn.Linear`` weight; for a maxout
    layer every piece is a unit. Vectors longer than ``max_norm`` are scaled back to it, shorter ones
    are left alone; biases are not constrained. Convolutions get pylearn2's ``max_kernel_norm``: the
    cap applies to each output channel's whole kernel.

    Why a callback holding optimiser hooks: the constraint belongs to the update rule, not to the
    networks' forward pass, so the nets stay plain modules (and a user's own net is constrained with
    no change to it). The hook runs right after each ``optimizer.step()``, so under the alternating
    schedule the generator's update already sees the constrained discriminator, and with
    ``discriminator_steps > 1`` every step is constrained, exactly as pylearn2 applied it inside
    each update. Initial weights are not touched (pylearn2 constrains updates only).

    Args:
        max_norm: the largest allowed L2 norm.
        modules: attributes of the LightningModule to constrain (default: both networks).
    """

    def __init__(self, max_norm: float = 1.9365, modules: Sequence[str] = ("generator", "discriminator")) -> None:
        if not max_norm > 0:
            raise ConfigError(f"MaxColumnNorm needs max_norm > 0, got {max_norm}.")
        self.max_norm = max_norm
        self.modules = tuple(modules)
        self._handles: list[RemovableHandle] = []

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        layers = []
        for name in self.modules:
            module = getattr(pl_module, name, None)
            if not isinstance(module, nn.Module):
                raise ConfigError(f"MaxColumnNorm: the model has no network called {name!r}.")
            layers += [layer for layer in module.modules() if _unit_dimension(layer) is not None]
        for optimizer in trainer.optimizers:
            owned = {id(parameter) for group in optimizer.param_groups for parameter in group["params"]}
            mine = [layer for layer in layers if id(layer.weight) in owned]
            if mine:
                self._handles.append(optimizer.register_step_post_hook(self._constrainer(mine)))

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.teardown(trainer, pl_module, "fit")

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _constrainer(self, layers: list[nn.Module]):
        def constrain(optimizer: Optimizer, args: tuple, kwargs: dict) -> None:
            for layer in layers:
                renorm_units_(layer, self.max_norm)

        return constrain


def renorm_units_(layer: nn.Module, max_norm: float) -> None:
    """Scales each unit's incoming weights (a row of a Linear, an output channel's kernel) to norm <= ``max_norm``."""
    dimension = _unit_dimension(layer)
    with torch.no_grad():
        layer.weight.copy_(torch.renorm(layer.weight, p=2, dim=dimension, maxnorm=max_norm))


def _unit_dimension(layer: nn.Module) -> int | None:
    """The weight dimension that indexes output units, ``None`` for layers without a constrained weight."""
    if isinstance(layer, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        return 0
    if isinstance(layer, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
        return 1  # weight is (in, out, *kernel)
    return None
