"""What every ganbench DataModule shares: tensors in memory, fast batching, the data's range.

A DataModule yields ``(images, labels)`` batches, images ``(B, C, H, W)`` float in
``pixel_range``. For evaluation it also exposes whole splits (:meth:`ImageDataModule.split_images`)
and the training set's mean image (used to initialise the paper's generator output bias).
"""

from collections.abc import Sequence
from typing import Any

import lightning.pytorch as pl
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset
from torchdata.stateful_dataloader import StatefulDataLoader
from torchdata.stateful_dataloader.sampler import StatefulDistributedSampler

from ganbench.data.batches import DeviceBatches
from ganbench.errors import ConfigError

SPLITS = ("train", "val", "test")


class TensorImageDataset(Dataset):
    """Images kept as one tensor (uint8 or float), scaled to float on access.

    ``__getitems__`` returns a whole batch with one indexing operation, which is what the
    DataLoader calls when it is given it (torch >= 2.1): no per-image Python work.

    Args:
        images: ``(N, C, H, W)`` uint8 (scaled by ``scale``, then shifted by ``shift``) or float.
        labels: ``(N,)`` integer labels, or ``None`` for unlabelled data (then ``-1``).
        scale: multiplier applied to the stored values.
        shift: added after scaling.
    """

    def __init__(self, images: Tensor, labels: Tensor | None = None, scale: float = 1.0, shift: float = 0.0):
        if labels is not None and len(labels) != len(images):
            raise ConfigError(f"{len(images)} images but {len(labels)} labels; the data files do not match.")
        self.images = images
        self.labels = labels if labels is not None else torch.full((len(images),), -1, dtype=torch.long)
        self.scale = scale
        self.shift = shift

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return self._convert(self.images[index]), self.labels[index]

    def __getitems__(self, indices: list[int]) -> tuple[Tensor, Tensor]:
        index = torch.as_tensor(indices, dtype=torch.long)
        return self._convert(self.images[index]), self.labels[index]

    def all_pixels(self) -> Tensor:
        """Every image as float pixels ``(N, C, H, W)``, in a new tensor (the stored values are left alone)."""
        return self._convert(self.images.clone())

    def _convert(self, images: Tensor) -> Tensor:
        return images.float().mul_(self.scale).add_(self.shift)


def to_unit_range(images: Tensor, pixel_range: Sequence[float] = (0.0, 1.0)) -> Tensor:
    """Maps images from ``pixel_range`` to ``[0, 1]`` (returned as they are when already there).

    Args:
        images: any shape, values in ``pixel_range``.
        pixel_range: ``(low, high)``, a data module's ``pixel_range``.
    """
    low, high = (float(value) for value in pixel_range)
    if (low, high) == (0.0, 1.0):
        return images
    return (images - low) / (high - low)


class EpochShuffleSampler(StatefulDistributedSampler):
    """This rank's share of a permutation that depends only on ``(seed, epoch)``; resumable mid-epoch.

    The order of epoch ``e`` is ``randperm(N)`` from a generator seeded with ``seed + e`` (torch's
    ``DistributedSampler``), so it does not depend on what else drew random numbers. Its state (the
    epoch and how many indices were handed out) goes into every checkpoint through the
    ``StatefulDataLoader`` and is restored before the resumed epoch's first index is drawn. Being a
    ``DistributedSampler``, Lightning keeps it under DDP instead of swapping in its own.

    Args:
        dataset: the training set.
        num_replicas: processes sharing the epoch (DDP world size).
        rank: this process's rank.
        seed: seed of the permutations.
    """

    def __init__(self, dataset: Dataset, num_replicas: int = 1, rank: int = 0, seed: int = 0) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed, drop_last=True)

    def state_dict(self) -> dict:
        return {**super().state_dict(), "epoch": self.epoch}

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        self.set_epoch(state_dict.get("epoch", self.epoch))


def keep_batch(batch: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
    """Collate function for batches that ``__getitems__`` already assembled."""
    return batch


class ImageDataModule(pl.LightningDataModule):
    """Base class: subclasses implement :meth:`load_splits`; everything else is shared.

    Args:
        batch_size: minibatch size m (the paper: 100).
        num_workers: 0 (the default) holds the training split on the training device and slices
            batches there (:class:`~ganbench.data.batches.DeviceBatches`); more feeds it through a
            resumable DataLoader with that many worker processes (for a :meth:`make_dataset` whose
            data do not fit in memory). Evaluation splits always go through a DataLoader.
        pixel_range: ``(low, high)`` the pixels are scaled to: ``(0, 1)`` for the paper's
            sigmoid generators, ``(-1, 1)`` for tanh ones.
    """

    image_shape: tuple[int, int, int] = (1, 28, 28)

    def __init__(self, batch_size: int = 100, num_workers: int = 0, pixel_range: Sequence[float] = (0.0, 1.0)):
        super().__init__()
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}.")
        low, high = (float(value) for value in pixel_range)
        if not low < high:
            raise ConfigError(f"pixel_range must be (low, high) with low < high, got {tuple(pixel_range)}.")
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.pixel_range = (low, high)
        self.datasets: dict[str, TensorImageDataset] = {}

    def load_splits(self) -> dict[str, tuple[Tensor, Tensor | None]]:
        """Returns ``{"train"|"val"|"test": (uint8 images (N, C, H, W), labels (N,) or None)}``."""
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        low, high = self.pixel_range
        for split, (images, labels) in self.load_splits().items():
            self.datasets[split] = self.make_dataset(images, labels, (high - low) / 255.0, low)

    def make_dataset(self, images: Tensor, labels: Tensor | None, scale: float, shift: float) -> Dataset:
        """Wraps one split; override to change how stored values become pixels."""
        return TensorImageDataset(images, labels, scale, shift)

    def _loader_options(self) -> dict[str, Any]:
        """What every split's loader shares: batch size, workers, and batches assembled by the dataset."""
        return dict(
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            collate_fn=keep_batch,
            persistent_workers=self.num_workers > 0,
        )

    def _evaluation_loader(self, split: str) -> DataLoader:
        if split not in self.datasets:
            self.setup()
        return DataLoader(self.datasets[split], shuffle=False, **self._loader_options())

    def train_dataloader(self) -> DeviceBatches | DataLoader:
        """Shuffled training batches whose position a checkpoint holds (exact mid-epoch resume).

        With ``num_workers=0`` (the default) the training split is held as one float tensor on the
        training device and batches are sliced from it (:class:`~ganbench.data.batches.DeviceBatches`):
        no per-step DataLoader work or host copy. With workers, a ``StatefulDataLoader`` (torchdata)
        over an :class:`EpochShuffleSampler`. Both hand out the same batches in the same order: a
        permutation seeded from the run's seed and the epoch, each DDP rank taking its share; both
        give Lightning their position, which it saves in every checkpoint and restores on resume.
        """
        if "train" not in self.datasets:
            self.setup()
        trainer = getattr(self, "trainer", None)
        order = dict(
            num_replicas=trainer.world_size if trainer is not None else 1,
            rank=trainer.global_rank if trainer is not None else 0,
            seed=torch.initial_seed() % 2**63,
        )
        dataset = self.datasets["train"]
        if self.num_workers == 0 and isinstance(dataset, TensorImageDataset):
            device = trainer.strategy.root_device if trainer is not None else torch.device("cpu")
            return DeviceBatches(dataset, self.batch_size, device, **order)
        sampler = EpochShuffleSampler(dataset, **order)
        return StatefulDataLoader(dataset, sampler=sampler, drop_last=True, **self._loader_options())

    def val_dataloader(self) -> DataLoader:
        return self._evaluation_loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._evaluation_loader("test")

    def split_images(self, split: str, limit: int | None = None) -> Tensor:
        """The first ``limit`` images of a split, ``(N, C, H, W)`` float in ``pixel_range``.

        Args:
            split: ``train``, ``val`` or ``test``.
            limit: how many (all when ``None``).
        """
        if split not in SPLITS:
            raise ConfigError(f"split must be one of {SPLITS}, got {split!r}.")
        self.setup()
        dataset = self.datasets[split]
        count = len(dataset) if limit is None else min(limit, len(dataset))
        return dataset.__getitems__(list(range(count)))[0]

    def pixel_mean(self) -> Tensor:
        """Mean training image ``(C, H, W)`` in ``pixel_range``."""
        return self.split_images("train").mean(dim=0)
