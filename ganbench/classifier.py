"""``ganbench-classifier fit|validate|test``: trains the domain classifier used for MNIST-FID and sample accuracy.

    ganbench-classifier fit --config configs/classifier/mnist.yaml
    ganbench-classifier test --config configs/classifier/mnist.yaml --ckpt_path runs/classifier/mnist.ckpt

The checkpoint is what :class:`ganbench.nets.ClassifierFeatures` loads. Log keys: ``train/loss``,
``train/accuracy``, ``val/loss``, ``val/accuracy``, ``test/loss``, ``test/accuracy``.
"""

import math
from typing import Any

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from jsonargparse import lazy_instance
from lightning.pytorch import LightningDataModule
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn

import ganbench.callbacks  # noqa: F401  (short class names in configs)
import ganbench.data  # noqa: F401
import ganbench.nets  # noqa: F401
from ganbench.cli_errors import OneLineErrorsCLI, run_cli
from ganbench.data.base import to_unit_range
from ganbench.errors import ConfigError
from ganbench.nets.classifier import MNISTClassifier


class ClassifierModule(pl.LightningModule):
    """Cross-entropy training of an image classifier, with small random affine augmentation.

    Batches are ``(images, labels)`` with images in the data module's ``pixel_range``; they are mapped to
    ``[0, 1]`` first, the range :class:`ganbench.nets.ClassifierFeatures` feeds the network at FID time.

    Args:
        network: maps ``(B, C, H, W)`` images in ``[0, 1]`` to logits ``(B, classes)``; needs ``features``.
        optimizer: builds the optimiser from the parameters.
        scheduler: builds a learning-rate schedule (stepped every epoch), or ``None``.
        max_shift: training images are shifted by up to this many pixels in x and y.
        max_rotation: ... rotated by up to this many degrees.
        max_scale: ... scaled by a factor in ``[1 - max_scale, 1 + max_scale]``.
    """

    def __init__(
        self,
        network: nn.Module = lazy_instance(MNISTClassifier),
        optimizer: OptimizerCallable = torch.optim.Adam,
        scheduler: LRSchedulerCallable | None = None,
        max_shift: float = 2.0,
        max_rotation: float = 10.0,
        max_scale: float = 0.1,
    ) -> None:
        super().__init__()
        if not callable(getattr(network, "features", None)):
            raise ConfigError(f"{type(network).__name__} needs a features(images) method (the FID features).")
        if min(max_shift, max_rotation, max_scale) < 0:
            raise ConfigError("max_shift, max_rotation and max_scale must be >= 0.")
        self.save_hyperparameters()
        self.network = network
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.max_shift = max_shift
        self.max_rotation = max_rotation
        self.max_scale = max_scale

    def forward(self, images: Tensor) -> Tensor:
        return self.network(images)

    def configure_optimizers(self) -> Any:
        optimizer = self.optimizer(self.network.parameters())
        if self.scheduler is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": self.scheduler(optimizer)}

    def unit_range(self, images: Tensor) -> Tensor:
        """Maps images from the data module's ``pixel_range`` to ``[0, 1]``."""
        return to_unit_range(images, getattr(getattr(self._trainer, "datamodule", None), "pixel_range", (0.0, 1.0)))

    def augment(self, images: Tensor) -> Tensor:
        """Random rotation, scale and shift per image (bilinear, zero fill): ``(B, C, H, W) -> (B, C, H, W)``."""
        batch, _, height, width = images.shape
        uniform = torch.rand(batch, 4, device=images.device) * 2 - 1
        angle = uniform[:, 0] * math.radians(self.max_rotation)
        scale = 1 + uniform[:, 1] * self.max_scale
        cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
        shift_x, shift_y = uniform[:, 2] * 2 * self.max_shift / width, uniform[:, 3] * 2 * self.max_shift / height
        theta = torch.stack([torch.stack([cos, -sin, shift_x], 1), torch.stack([sin, cos, shift_y], 1)], 1)
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        images, labels = batch
        return self._step(self.augment(self.unit_range(images)), labels, "train")

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        images, labels = batch
        self._step(self.unit_range(images), labels, "val")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        images, labels = batch
        self._step(self.unit_range(images), labels, "test")

    def _step(self, images: Tensor, labels: Tensor, stage: str) -> Tensor:
        logits = self.network(images)
        loss = F.cross_entropy(logits, labels)
        accuracy = (logits.argmax(dim=1) == labels).float().mean()
        on_step = stage == "train"
        self.log(f"{stage}/loss", loss, prog_bar=True, on_step=on_step, on_epoch=True, sync_dist=not on_step)
        self.log(f"{stage}/accuracy", accuracy, prog_bar=True, on_step=on_step, on_epoch=True, sync_dist=not on_step)
        return loss


class ClassifierCLI(OneLineErrorsCLI):
    """LightningCLI for :class:`ClassifierModule` and any LightningDataModule yielding ``(images, labels)``."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("model_class", ClassifierModule)
        kwargs.setdefault("datamodule_class", LightningDataModule)
        kwargs.setdefault("subclass_mode_data", True)
        kwargs.setdefault("auto_configure_optimizers", False)
        super().__init__(*args, **kwargs)


def main(args: list[str] | None = None) -> None:
    """Console entry point ``ganbench-classifier``: user mistakes end in one ``error:`` line."""
    run_cli(ClassifierCLI, "ganbench-classifier", args)


if __name__ == "__main__":
    main()
