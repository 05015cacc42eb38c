"""The paper's qualitative figures for a trained run: nearest training images (Fig. 2), interpolation in z (Fig. 3).

:class:`PaperFigures` draws them with :mod:`ganbench.figures` into ``<log_dir>/figures/`` at the end of
``ganbench test`` (and of ``fit``), and sends them to TensorBoard and Weights & Biases.
"""

from pathlib import Path

import lightning.pytorch as pl
import torch
from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor
from torchvision.utils import save_image

from ganbench.callbacks.evaluation import announce
from ganbench.contract import is_conditional, num_classes_of
from ganbench.data.base import SPLITS
from ganbench.errors import ConfigError
from ganbench.figures import ValueRange, encoder_interpolation_grid, interpolation_grid, nearest_neighbour_grid

__all__ = ["PaperFigures", "same_class_pairs"]


class PaperFigures(pl.Callback):
    """Writes the paper's figures of a trained generator at the end of ``test`` and of ``fit``.

    Into ``<log_dir>/figures/`` (the trained run's folder under ``ganbench test --ckpt_path RUN/checkpoints/...``):

    - ``nearest_neighbours.png`` (Fig. 2): ``num_samples`` samples, each with its nearest image of the
      ``reference_split`` in pixel space beside it (pairs of columns ``sample | nearest``).
    - ``interpolation.png`` (Fig. 3): ``interpolation_rows`` rows of G along a straight line in z between
      two noise vectors, ``steps`` images each. For a conditional G, row ``r`` keeps class ``r mod num_classes``.
    - ``encoder_interpolation.png`` (paper §7.2), only when the GAN has an encoder: between pairs of
      real test images x_a and x_b, G along the line from E(x_a) to E(x_b), with x_a and x_b at the ends
      (for a conditional model, each pair is of one class).

    Usage, on a trained run::

        ganbench test --config configs/quickstart.yaml --ckpt_path runs/quickstart/version_0/checkpoints/last.ckpt \\
            --trainer.callbacks+=ganbench.callbacks.PaperFigures

    (then, to change an argument of the callback just added: ``--trainer.callbacks.num_samples=48``).

    The images also go to TensorBoard and Weights & Biases under ``figures/<name>`` when they are among the
    trainer's loggers. Only rank 0 draws them, with its own ``torch.Generator`` seeded with ``seed`` (the
    training noise stream and the global RNG are untouched, so adding the callback changes no training
    run). Images are scaled with the data module's ``pixel_range`` (each to its own min..max without one).

    Args:
        num_samples: samples in the nearest-neighbour figure.
        interpolation_rows: rows of the interpolation figures.
        steps: images along each interpolation line (both ends included), >= 2.
        seed: seed of the noise of the samples and of the interpolation ends.
        reference_split: the split searched for nearest neighbours: ``train`` (the paper's), ``val`` or ``test``.
        reference_limit: search only the first this many images of that split (all when ``None``).
    """

    def __init__(
        self,
        num_samples: int = 24,
        interpolation_rows: int = 8,
        steps: int = 10,
        seed: int = 0,
        reference_split: str = "train",
        reference_limit: int | None = None,
    ) -> None:
        for name, value, least in (
            ("num_samples", num_samples, 1),
            ("interpolation_rows", interpolation_rows, 1),
            ("steps", steps, 2),
        ):
            if not _is_int(value) or value < least:
                raise ConfigError(f"PaperFigures: {name} must be an integer >= {least}, got {value!r}.")
        if not _is_int(seed):
            raise ConfigError(f"PaperFigures: seed must be an integer, got {seed!r}.")
        if reference_split not in SPLITS:
            raise ConfigError(
                f"PaperFigures: reference_split must be one of {', '.join(SPLITS)}, got {reference_split!r}."
            )
        if reference_limit is not None and (not _is_int(reference_limit) or reference_limit < 1):
            raise ConfigError(
                f"PaperFigures: reference_limit must be an integer >= 1 or null, got {reference_limit!r}."
            )
        self.num_samples = num_samples
        self.interpolation_rows = interpolation_rows
        self.steps = steps
        self.seed = seed
        self.reference_split = reference_split
        self.reference_limit = reference_limit
        self.directory: Path | None = None
        self.written: list[Path] = []

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Settles the folder; refuses, before anything runs, a data module that cannot give its images."""
        # trainer.log_dir is a collective under DDP: every rank must ask, so ask once, here.
        self.directory = Path(trainer.log_dir or trainer.default_root_dir) / "figures"
        datamodule = getattr(trainer, "datamodule", None)
        if stage in ("fit", "test") and not callable(getattr(datamodule, "split_images", None)):
            raise ConfigError(
                f"PaperFigures needs a data module with split_images(split, limit) (ganbench's have it), got "
                f"{type(datamodule).__name__}."
            )

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.draw(trainer, pl_module)

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.draw(trainer, pl_module)

    def draw(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> list[Path]:
        """Writes the figures (on rank 0; other ranks return at once) and returns their paths.

        Args:
            trainer: the trainer, for its data module, loggers and step.
            pl_module: the :class:`ganbench.GAN`.
        """
        if not trainer.is_global_zero:
            return []
        datamodule = trainer.datamodule
        value_range = getattr(datamodule, "pixel_range", None)
        figures = {
            "nearest_neighbours": self.nearest_neighbours(pl_module, datamodule, value_range),
            "interpolation": interpolation_grid(
                pl_module, self.interpolation_rows, self.steps, self._stream(), value_range=value_range
            ),
        }
        if getattr(pl_module, "encoder", None) is not None:
            grid = self.encoder_interpolation(pl_module, datamodule, value_range)
            if grid is not None:
                figures["encoder_interpolation"] = grid
        self.directory.mkdir(parents=True, exist_ok=True)
        self.written = []
        for name, grid in figures.items():
            path = self.directory / f"{name}.png"
            save_image(grid, path)
            self.written.append(path)
        self._send_to_loggers(trainer, pl_module, figures)
        names = ", ".join(path.name for path in self.written)
        announce(trainer, f"ganbench: figures written to {self.directory} ({names})")
        return self.written

    def nearest_neighbours(self, pl_module: pl.LightningModule, datamodule: object, value_range: ValueRange) -> Tensor:
        """Fig. 2's grid: ``num_samples`` samples beside their nearest reference image."""
        noise = pl_module.prior.sample(self.num_samples, pl_module.latent_dim, "cpu", self._stream())
        num_classes = num_classes_of(pl_module.generator)
        labels = torch.arange(self.num_samples) % num_classes if num_classes is not None else None
        samples = pl_module.sample(self.num_samples, labels=labels, noise=noise)
        references = datamodule.split_images(self.reference_split, self.reference_limit)
        return nearest_neighbour_grid(samples, references, value_range=value_range)

    def encoder_interpolation(
        self, pl_module: pl.LightningModule, datamodule: object, value_range: ValueRange
    ) -> Tensor | None:
        """The §7.2 grid between pairs of test images; ``None`` (with a message) when the test split has too few."""
        conditional = is_conditional(pl_module.encoder) or is_conditional(pl_module.generator)
        images = datamodule.split_images("test", None if conditional else 2 * self.interpolation_rows)
        if conditional:
            labels = _split_labels(datamodule, "test", len(images))
            if labels is None:
                rank_zero_warn(
                    "PaperFigures: the test split has no labels for a conditional model's encoder figure; skipped."
                )
                return None
            first, second = same_class_pairs(labels, self.interpolation_rows)
            pair_labels = labels[first]
        else:
            first = torch.arange(0, len(images) - 1, 2)
            second, pair_labels = first + 1, None
        if len(first) == 0:
            rank_zero_warn(
                "PaperFigures: the test split has too few images (or same-class pairs) for the encoder figure; skipped."
            )
            return None
        return encoder_interpolation_grid(
            pl_module, images[first], images[second], self.steps, labels=pair_labels, value_range=value_range
        )

    def _stream(self) -> torch.Generator:
        """A fresh CPU ``torch.Generator`` seeded with ``seed``: each figure is reproducible on its own."""
        return torch.Generator().manual_seed(self.seed)

    def _send_to_loggers(self, trainer: pl.Trainer, pl_module: pl.LightningModule, figures: dict[str, Tensor]) -> None:
        """Each figure to TensorBoard and W&B, at the step trained (the checkpoint's outside ``fit``)."""
        fitting = trainer.state.fn == "fit"
        step = trainer.global_step if fitting else getattr(pl_module, "checkpoint_step", None)
        step = trainer.global_step if step is None else step
        for logger in trainer.loggers:
            for name, grid in figures.items():
                if isinstance(logger, TensorBoardLogger):
                    logger.experiment.add_image(f"figures/{name}", grid, global_step=step)
                elif isinstance(logger, WandbLogger):
                    logger.log_image(f"figures/{name}", [grid], step=step)


def same_class_pairs(labels: Tensor, count: int) -> tuple[Tensor, Tensor]:
    """Up to ``count`` disjoint pairs of indices whose (non-negative) labels agree, ordered by their first index.

    Args:
        labels: ``(N,)`` class of each image.
        count: pairs wanted.

    Returns:
        ``(first, second)``: two ``(P,)`` long tensors, ``P <= count``, ``labels[first] == labels[second]``.
    """
    waiting: dict[int, int] = {}
    pairs: list[tuple[int, int]] = []
    for index, label in enumerate(labels.tolist()):
        if len(pairs) == count:
            break
        if label < 0:  # unlabelled
            continue
        if label in waiting:
            pairs.append((waiting.pop(label), index))
        else:
            waiting[label] = index
    pairs.sort()
    first = torch.tensor([pair[0] for pair in pairs], dtype=torch.long)
    second = torch.tensor([pair[1] for pair in pairs], dtype=torch.long)
    return first, second


def _split_labels(datamodule: object, split: str, count: int) -> Tensor | None:
    """The first ``count`` labels of a split of a ganbench data module, or ``None`` when it has none."""
    datasets = getattr(datamodule, "datasets", None)
    labels = getattr(datasets.get(split), "labels", None) if isinstance(datasets, dict) else None
    if not isinstance(labels, Tensor) or len(labels) < count or bool((labels[:count] < 0).all()):
        return None
    return labels[:count].long()


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
