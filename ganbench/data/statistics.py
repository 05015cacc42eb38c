"""Statistics of large splits computed in chunks, so no float copy of a whole split is ever made."""

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
