"""The paper's momentum ramp (pylearn2 ``MomentumAdjustor``)."""

import lightning.pytorch as pl

from ganbench.errors import ConfigError


class MomentumRamp(pl.Callback):
    """Raises every optimiser's ``momentum`` linearly from its initial value to ``final_momentum``.

    pylearn2's ``MomentumAdjustor(start=1, saturate=250, final_momentum=0.7)``, as in the MNIST
    recipe, sets the momentum after each epoch; during (0-based) epoch ``e`` it is::

        m(e) = m0 + (final - m0) * clip((e + 1 - start) / (saturate - start), 0, 1)

    so 0.5 in the first epoch, rising by 0.2 / 249 an epoch, and 0.7 from epoch 249 on.
    The value depends only on the epoch, so a resumed run continues the same ramp.

    Args:
        start_epoch: pylearn2's ``start``.
        saturate_epoch: pylearn2's ``saturate``.
        final_momentum: the momentum reached at saturation.
    """

    def __init__(self, start_epoch: int = 1, saturate_epoch: int = 250, final_momentum: float = 0.7) -> None:
        if saturate_epoch < start_epoch:
            raise ConfigError(
                f"MomentumRamp: saturate_epoch must be >= start_epoch ({start_epoch!r}), got {saturate_epoch!r}."
            )
        if not 0 <= final_momentum < 1:
            raise ConfigError(f"MomentumRamp: final_momentum must be in [0, 1), got {final_momentum!r}.")
        self.start_epoch = start_epoch
        self.saturate_epoch = saturate_epoch
        self.final_momentum = final_momentum

    def momentum(self, initial_momentum: float, epoch: int) -> float:
        """Momentum during 0-based ``epoch`` for an optimiser that started at ``initial_momentum``."""
        width = self.saturate_epoch - self.start_epoch
        count = epoch + 1  # pylearn2 counts monitor calls, one before training and one per epoch
        if width == 0:
            fraction = 1.0 if count >= self.start_epoch else 0.0
        else:
            fraction = min(max((count - self.start_epoch) / width, 0.0), 1.0)
        return initial_momentum * (1 - fraction) + self.final_momentum * fraction

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        for optimizer in trainer.optimizers:
            for group in optimizer.param_groups:
                if "momentum" not in group:
                    continue
                group.setdefault("initial_momentum", group["momentum"])
                group["momentum"] = self.momentum(group["initial_momentum"], trainer.current_epoch)
