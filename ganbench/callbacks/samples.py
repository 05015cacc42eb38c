"""Sample grids from fixed noise: saved as PNG and sent to every logger that shows images."""

from pathlib import Path

import lightning.pytorch as pl
import torch
from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger
from torch import Tensor
from torchvision.utils import make_grid, save_image

from ganbench.contract import num_classes_of
from ganbench.errors import ConfigError


class SampleGrid(pl.Callback):
    """Every ``every_n_steps`` steps (and at the end of training) draws G(z) for the same z.

    For a conditional G the grid has one row per class (``nrow`` images each), and every column shares
    its z, so a row shows one class and a column one "style". The grid goes to
    ``<log_dir>/samples/step_XXXXXXX.png`` and, as an image, to TensorBoard and Weights & Biases when they
    are among the trainer's loggers.

    Args:
        every_n_steps: steps between grids (a step as defined in :mod:`ganbench.module`).
        num_samples: images in the grid (for a conditional G: ``nrow`` per class instead).
        nrow: images per row.
        seed: seed of the fixed noise, so that grids at different steps are comparable.
    """

    def __init__(self, every_n_steps: int = 1000, num_samples: int = 100, nrow: int = 10, seed: int = 0) -> None:
        for name, value in (("every_n_steps", every_n_steps), ("num_samples", num_samples), ("nrow", nrow)):
            if value < 1:
                raise ConfigError(f"SampleGrid: {name} must be >= 1, got {value!r}.")
        self.every_n_steps = every_n_steps
        self.num_samples = num_samples
        self.nrow = nrow
        self.seed = seed
        self.saved: list[Path] = []
        self.directory: Path | None = None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        # trainer.log_dir is a collective under DDP: every rank must ask, so ask once, here.
        self.directory = Path(trainer.log_dir or trainer.default_root_dir) / "samples"

    def fixed_inputs(self, pl_module: pl.LightningModule) -> tuple[Tensor, Tensor | None]:
        """The grid's noise ``(n, latent_dim)`` and, for a conditional G, labels ``(n,)``: the same at every step."""
        generator = torch.Generator().manual_seed(self.seed)
        num_classes = num_classes_of(pl_module.generator)
        if num_classes is None:
            noise = pl_module.prior.sample(self.num_samples, pl_module.latent_dim, "cpu", generator)
            return noise.to(pl_module.device), None
        row = pl_module.prior.sample(self.nrow, pl_module.latent_dim, "cpu", generator)
        labels = torch.arange(num_classes).repeat_interleave(self.nrow)
        return row.repeat(num_classes, 1).to(pl_module.device), labels.to(pl_module.device)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args) -> None:
        if trainer.global_step % self.every_n_steps == 0:
            self.log_grid(trainer, pl_module)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self.saved or self.saved[-1].stem != f"step_{trainer.global_step:07d}":
            self.log_grid(trainer, pl_module)

    def log_grid(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> Path | None:
        """Writes the grid for the current step; returns its path (on rank 0)."""
        images = self._generate(pl_module)
        if not trainer.is_global_zero:
            return None
        value_range = getattr(trainer.datamodule, "pixel_range", (0.0, 1.0))
        # Unbounded data (pixel_range None, e.g. contrast-normalised CIFAR-10): each image to its own min..max.
        grid = make_grid(
            images.float().cpu(),
            nrow=self.nrow,
            padding=2,
            normalize=True,
            value_range=value_range,
            scale_each=value_range is None,
        )
        path = self.directory / f"step_{trainer.global_step:07d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        save_image(grid, path)
        self.saved.append(path)
        for logger in trainer.loggers:
            if isinstance(logger, TensorBoardLogger):
                logger.experiment.add_image("samples", grid, global_step=trainer.global_step)
            elif isinstance(logger, WandbLogger):
                logger.log_image("samples", [grid], step=trainer.global_step)
        return path

    def _generate(self, pl_module: pl.LightningModule) -> Tensor:
        noise, labels = self.fixed_inputs(pl_module)
        return pl_module.sample(len(noise), labels=labels, noise=noise)
