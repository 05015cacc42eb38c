"""``ganbench predict``: draws samples from a trained generator and writes them to the run's folder.

:class:`SampleWriter` decides what is drawn (how many samples, which labels, which noise) through
:meth:`SampleWriter.requests`, the batches of ``(noise, labels)`` that :meth:`ganbench.GAN.predict_step`
turns into images, and writes what comes back: ``samples.npz`` (every sample) and ``samples.png`` (a grid).
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import BasePredictionWriter
from lightning.pytorch.utilities.model_helpers import is_overridden
from torch import Tensor
from torch.utils.data import DataLoader, TensorDataset
from torchvision.utils import save_image

from ganbench.callbacks.evaluation import announce
from ganbench.contract import num_classes_of
from ganbench.errors import ConfigError
from ganbench.figures import image_grid

LabelChoice = Literal["data", "balanced"]


class SampleWriter(BasePredictionWriter):
    """Draws ``num_samples`` images from G and writes them to ``<run folder>/predictions/``.

    ``ganbench predict`` adds one with the defaults when the config has none, so this is enough::

        ganbench predict --config configs/quickstart.yaml --ckpt_path runs/quickstart/version_0/checkpoints/last.ckpt

    To choose the arguments, add it on the command line and set them (they apply to the callback just added)::

        ganbench predict --config configs/quickstart.yaml --ckpt_path runs/quickstart/version_0/checkpoints/last.ckpt \\
            --trainer.callbacks+=ganbench.callbacks.SampleWriter \\
            --trainer.callbacks.num_samples=5000 --trainer.callbacks.labels=data

    What it writes (the folder is printed):

    - ``samples.npz``: ``images`` float32 ``(N, C, H, W)`` in the data's range (as G outputs them),
      ``labels`` int64 ``(N,)`` (-1 for an unconditional G) and ``noise`` float32 ``(N, latent_dim)``,
      the z each image was drawn from. Read it with ``numpy.load``.
    - ``samples.png``: a grid, scaled with the data module's ``pixel_range`` (each image to its own
      min..max when the data has none). For an unconditional G, the first ``min(N, nrow * nrow)``
      samples, ``nrow`` to a row; for a conditional G, one row per class with its first ``nrow`` samples.

    The noise comes from its own ``torch.Generator`` seeded with ``seed`` (on the CPU, so the same
    z on any device); the global RNG and the training noise stream are not used. An earlier run's
    files in the folder are replaced. Each batch is copied to CPU memory as it comes (``write_interval``
    ``batch_and_epoch``) and the files are written once, at the end, whatever ``return_predictions`` is:
    N images take ``4 * N * C * H * W`` bytes (50,000 CIFAR-10 images: 0.6 GB).

    DDP: Lightning gives each rank a share of the requests; rank 0 writes only its own share (the
    printed count says so). Run ``predict`` on one device to write every sample.

    Args:
        num_samples: how many images to draw, N.
        batch_size: images generated per ``predict_step``.
        labels: for a conditional G, ``balanced`` (equal counts per class, in class order
            0, 0, ..., 1, 1, ...; counts differ by at most one when N is not a multiple of the number of
            classes) or ``data`` (drawn from the training data's class frequencies, as in training, with a
            ``torch.Generator`` seeded with ``seed`` on the module's device). Ignored for an unconditional G.
        seed: seed of the noise (and of the ``data`` labels).
        nrow: images per row of ``samples.png``.
        output_dir: where to write; ``<log_dir>/predictions`` when ``None`` (the trained run's folder when
            ``--ckpt_path`` is one of its checkpoints).
    """

    def __init__(
        self,
        num_samples: int = 1000,
        batch_size: int = 500,
        labels: LabelChoice = "balanced",
        seed: int = 0,
        nrow: int = 10,
        output_dir: str | None = None,
    ) -> None:
        super().__init__(write_interval="batch_and_epoch")
        for name, value in (("num_samples", num_samples), ("batch_size", batch_size), ("nrow", nrow)):
            if not _is_int(value) or value < 1:
                raise ConfigError(f"SampleWriter: {name} must be an integer >= 1, got {value!r}.")
        if labels not in ("data", "balanced"):
            raise ConfigError(f"SampleWriter: labels must be 'data' or 'balanced', got {labels!r}.")
        if not _is_int(seed):
            raise ConfigError(f"SampleWriter: seed must be an integer, got {seed!r}.")
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.labels = labels
        self.seed = seed
        self.nrow = nrow
        self.output_dir = output_dir
        self.directory: Path | None = None
        self._batches: list[dict[str, Tensor]] = []
        self._lent_predict_dataloader = False

    # ------------------------------------------------------------------ what is drawn

    def requests(self, gan: Any) -> DataLoader:
        """The batches of ``(noise (B, latent_dim), labels (B,) long)`` that ``GAN.predict_step`` turns into images.

        Args:
            gan: the :class:`ganbench.GAN` (its ``prior``, ``latent_dim``, ``generator``, ``draw_labels``).
        """
        stream = torch.Generator().manual_seed(self.seed)
        noise = gan.prior.sample(self.num_samples, gan.latent_dim, "cpu", stream)
        return DataLoader(TensorDataset(noise, self.request_labels(gan)), batch_size=self.batch_size, shuffle=False)

    def request_labels(self, gan: Any) -> Tensor:
        """The labels ``(num_samples,)`` long, on the CPU: as ``labels`` says for a conditional G, else all -1.

        Args:
            gan: the :class:`ganbench.GAN`.
        """
        num_classes = num_classes_of(gan.generator)
        if num_classes is None:
            return torch.full((self.num_samples,), -1, dtype=torch.long)
        if self.labels == "balanced":
            return balanced_labels(self.num_samples, num_classes)
        stream = torch.Generator(gan.device).manual_seed(self.seed)
        return gan.draw_labels(self.num_samples, stream).long().cpu()

    # ------------------------------------------------------------------ Lightning hooks

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Settles the folder and lets a data module without its own ``predict_dataloader`` serve the GAN's.

        When a data module is given, Lightning asks it, not the model, for the predict batches; a data
        module that has no ``predict_dataloader`` of its own (ganbench's have none) is lent the GAN's
        (:meth:`requests`) for the run, and given it back in :meth:`teardown`.
        """
        super().setup(trainer, pl_module, stage)
        # trainer.log_dir is a collective under DDP: every rank must ask, so ask once, here.
        root = self.output_dir or Path(trainer.log_dir or trainer.default_root_dir) / "predictions"
        self.directory = Path(root)
        datamodule = getattr(trainer, "datamodule", None)
        if stage == "predict" and datamodule is not None and not is_overridden("predict_dataloader", datamodule):
            datamodule.predict_dataloader = pl_module.predict_dataloader
            self._lent_predict_dataloader = True

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Gives back the data module's ``predict_dataloader`` lent in :meth:`setup`."""
        datamodule = getattr(trainer, "datamodule", None)
        if self._lent_predict_dataloader and datamodule is not None:
            del datamodule.predict_dataloader
            self._lent_predict_dataloader = False

    def on_predict_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._batches = []

    def write_on_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        prediction: dict[str, Tensor],
        batch_indices: Sequence[int] | None,
        batch: tuple[Tensor, Tensor],
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        """Keeps a CPU copy of each batch, so that the files never depend on ``return_predictions``."""
        noise, _ = batch
        self._batches.append(
            {
                "images": prediction["images"].detach().float().cpu(),
                "labels": prediction["labels"].detach().long().cpu(),
                "noise": noise.detach().float().cpu(),
            }
        )

    def write_on_epoch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        predictions: Sequence[Any],
        batch_indices: Sequence[Any],
    ) -> None:
        """Writes ``samples.npz`` and ``samples.png`` on rank 0 from the batches kept (``predictions`` is not read)."""
        batches, self._batches = self._batches, []
        if not trainer.is_global_zero or not batches:
            return
        images = torch.cat([batch["images"] for batch in batches])
        labels = torch.cat([batch["labels"] for batch in batches])
        noise = torch.cat([batch["noise"] for batch in batches])
        self.directory.mkdir(parents=True, exist_ok=True)
        np.savez(self.directory / "samples.npz", images=images.numpy(), labels=labels.numpy(), noise=noise.numpy())
        conditional = num_classes_of(pl_module.generator) is not None
        grid_images = class_rows(images, labels, self.nrow) if conditional else images[: self.nrow**2]
        value_range = getattr(trainer.datamodule, "pixel_range", None)
        save_image(image_grid(grid_images, self.nrow, value_range), self.directory / "samples.png")
        share = f" (rank 0's share of {self.num_samples})" if trainer.world_size > 1 else ""
        announce(trainer, f"ganbench: wrote {len(images)} samples{share} to {self.directory}")


def balanced_labels(num_samples: int, num_classes: int) -> Tensor:
    """Labels ``(num_samples,)`` long in class order 0, 0, ..., 1, 1, ...; class counts differ by at most one.

    Args:
        num_samples: how many labels.
        num_classes: the number of classes.
    """
    return torch.arange(num_samples) * num_classes // num_samples


def class_rows(images: Tensor, labels: Tensor, per_class: int) -> Tensor:
    """One row per class present: its first ``per_class`` images, padded with blank images to ``per_class``.

    Args:
        images: ``(N, C, H, W)``.
        labels: ``(N,)`` class of each image.
        per_class: images per row.

    Returns:
        ``(rows * per_class, C, H, W)``, rows in class order; a blank image is the darkest value of ``images``.
    """
    blank = torch.full_like(images[0], float(images.min()))
    rows = []
    for label in torch.unique(labels).tolist():
        chosen = list(images[labels == label][:per_class])
        rows.extend(chosen + [blank] * (per_class - len(chosen)))
    return torch.stack(rows)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
