"""The released code's optimiser and learning-rate decay (docs/paper.md#optimisation-sgd-with-classic-momentum).

pylearn2's ``Momentum`` learning rule is *classic* momentum with the learning rate inside the
velocity::

    v <- momentum * v - lr * g
    p <- p + v

``torch.optim.SGD`` keeps ``b <- momentum * b + g; p <- p - lr * b`` instead. The two agree
while ``lr`` is constant, but the paper's recipe decays ``lr`` after every minibatch, and then
torch's form rescales the whole velocity by the new ``lr``. :class:`ClassicMomentumSGD` is the
released rule exactly; ``torch.optim.SGD`` remains a drop-in choice from the config.
"""

import math
from collections.abc import Iterable

import torch
from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from ganbench.errors import ConfigError


class ClassicMomentumSGD(Optimizer):
    """SGD with classic momentum, ``v = m v - lr g; p += v`` (pylearn2 ``Momentum``).

    Args:
        params: parameters or parameter groups.
        lr: learning rate (the paper's MNIST recipe: 0.1).
        momentum: initial momentum coefficient in ``[0, 1)`` (0.5); see
            :class:`ganbench.callbacks.MomentumRamp` for the paper's ramp to 0.7.
    """

    def __init__(self, params: Iterable, lr: float = 0.1, momentum: float = 0.5) -> None:
        if not (math.isfinite(lr) and lr > 0):
            raise ConfigError(f"ClassicMomentumSGD: lr must be a finite number > 0, got {lr!r}.")
        if not 0 <= momentum < 1:
            raise ConfigError(
                f"ClassicMomentumSGD: momentum must be in [0, 1), got {momentum!r}; 0 is plain SGD, the paper uses 0.5."
            )
        super().__init__(params, {"lr": lr, "momentum": momentum})

    @torch.no_grad()
    def step(self, closure=None) -> Tensor | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                velocity = self._velocity(param)
                velocity.mul_(group["momentum"]).add_(param.grad, alpha=-group["lr"])
                param.add_(velocity)
        return loss

    def _velocity(self, param: Tensor) -> Tensor:
        state = self.state[param]
        if "velocity" not in state:
            state["velocity"] = torch.zeros_like(param, memory_format=torch.preserve_format)
        return state["velocity"]


def fused_unless_chosen(optimizer: Optimizer) -> Optimizer:
    """``optimizer`` rebuilt with torch's fused kernel, when its config left the kernel to torch.

    torch's Adam, AdamW, SGD and Adagrad take ``fused``: the whole update in one kernel, instead of several
    per parameter (on the 16-unit networks of ``bench/overhead.py``, Adam's two updates take ~115 us a
    step fused against ~280 us, on the CPU). It computes the same update; torch leaves it off by default
    only because it is newer. ganbench turns it on where the config sets neither ``fused`` nor ``foreach``
    (both ``None``, their defaults), nor does any parameter group, and the parameters' device and dtype have
    the kernel; ``fused: false`` or a ``foreach`` value keeps torch's choice. Optimisers without ``fused``
    (``ClassicMomentumSGD``) are returned as they are.
    """
    settings = [optimizer.defaults, *optimizer.param_groups]  # a parameter group may choose for itself
    if "fused" not in optimizer.defaults or any(
        setting.get("fused") is not None or setting.get("foreach") is not None for setting in settings
    ):
        return optimizer
    groups = [{**group, "fused": True} for group in optimizer.param_groups]
    try:
        return type(optimizer)(groups, **{**optimizer.defaults, "fused": True})
    except (RuntimeError, TypeError, ValueError):  # no fused kernel for this device, dtype or option
        return optimizer


class ExponentialDecay(LRScheduler):
    """``lr_t = max(lr_0 / decay_factor ** t, min_lr)`` after ``t`` steps (pylearn2 ``ExponentialDecay``).

    Stepped once per optimiser update. The paper's MNIST recipe: ``decay_factor=1.000004``,
    ``min_lr=1e-6``.

    Args:
        optimizer: the optimiser whose learning rate decays.
        decay_factor: divisor applied after every step, ``>= 1``.
        min_lr: floor of the learning rate.
        last_epoch: index of the last step, ``-1`` to start afresh (torch's convention).
    """

    def __init__(
        self, optimizer: Optimizer, decay_factor: float = 1.000004, min_lr: float = 1e-6, last_epoch: int = -1
    ) -> None:
        if not (math.isfinite(decay_factor) and decay_factor >= 1):
            raise ConfigError(
                f"ExponentialDecay: decay_factor must be a finite number >= 1 (the learning rate is divided by it "
                f"after every step; 1 keeps it constant), got {decay_factor!r}."
            )
        if not (math.isfinite(min_lr) and min_lr >= 0):
            raise ConfigError(f"ExponentialDecay: min_lr must be a finite number >= 0, got {min_lr!r}.")
        self.decay_factor = decay_factor
        self.min_lr = min_lr
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [self._closed_form(base_lr) for base_lr in self.base_lrs]

    def _get_closed_form_lr(self) -> list[float]:
        return self.get_lr()

    def _closed_form(self, base_lr: float) -> float:
        return max(base_lr / self.decay_factor**self.last_epoch, self.min_lr)
