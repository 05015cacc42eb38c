"""Statistics of the data: the mean image of large splits, class frequencies.

The mean is computed in chunks, so no float copy of a whole split is ever made.
"""

from typing import Any

import torch
from torch import Tensor

from ganbench.data.base import TensorImageDataset


def mean_image(dataset: TensorImageDataset, chunk_size: int = 4096) -> Tensor:
    """Mean of a data set's images as it yields them, ``(C, H, W)`` float32, summed in float64.

    Args:
        dataset: any dataset with ``__getitems__`` (every ganbench split).
        chunk_size: images converted to float at a time.
    """
    total = None
    for start in range(0, len(dataset), chunk_size):
        images = dataset.__getitems__(list(range(start, min(start + chunk_size, len(dataset)))))[0]
        chunk_sum = images.sum(dim=0, dtype=torch.float64)
        total = chunk_sum if total is None else total + chunk_sum
    return (total / len(dataset)).float()


def training_labels(datamodule: Any) -> Tensor | None:
    """The training split's labels ``(N,)`` (-1 = unlabelled), or ``None`` when they are not known yet.

    Args:
        datamodule: an :class:`ganbench.data.ImageDataModule` after ``setup()``, or anything else.
    """
    datasets = getattr(datamodule, "datasets", None)
    if not isinstance(datasets, dict) or "train" not in datasets:
        return None
    labels = getattr(datasets["train"], "labels", None)
    return labels if isinstance(labels, Tensor) else None


def class_frequencies(datamodule: Any, num_classes: int) -> Tensor | None:
    """The training labels' class frequencies ``(num_classes,)``, or ``None`` when the data has no labelled set."""
    labels = training_labels(datamodule)
    if labels is None or len(labels) == 0:
        return None
    counts = torch.bincount(labels[labels >= 0].long(), minlength=num_classes).double()
    return counts / counts.sum() if counts.sum() > 0 else None
