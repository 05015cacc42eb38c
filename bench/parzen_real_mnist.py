"""Parzen log-likelihood of the real MNIST test set under a Parzen window on real training images.

Usage::

    python bench/parzen_real_mnist.py [--centres 4000]

The "model" is the 5,000 real training images shipped in ``ganbench/data/assets/mnist_train_5k.npz``:
a fixed permutation (``torch.Generator().manual_seed(0)``) puts 4,000 of them as centres and the other
1,000 as the validation set for choosing sigma from ``logspace(-1, 0, 10)``. The 10,000 test images
(``t10k-images-idx3-ubyte.gz``) are scaled to ``[0, 1]`` and scored at the chosen sigma; the script prints
the mean log-likelihood +- its standard error (population std / sqrt(N)), sigma and n. ``--centres``
keeps only the first centres of the 4,000 (same validation set), to show how the figure depends on n.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from ganbench.data.idx import read_idx
from ganbench.metrics import DEFAULT_SIGMAS, parzen_log_likelihood, parzen_summary, select_sigma

ASSETS = Path(__file__).resolve().parents[1] / "ganbench" / "data" / "assets"


def to_unit_interval(images: np.ndarray) -> torch.Tensor:
    """uint8 images ``(N, 28, 28)`` to float32 ``(N, 784)`` in ``[0, 1]``."""
    return torch.from_numpy(images.reshape(images.shape[0], -1).astype(np.float32) / 255.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--centres", type=int, default=4000, help="centres used, at most 4000 (default)")
    centre_count = parser.parse_args().centres
    if not 1 <= centre_count <= 4000:
        parser.error("--centres must be between 1 and 4000.")
    start = time.perf_counter()
    test = to_unit_interval(read_idx(ASSETS / "t10k-images-idx3-ubyte.gz"))
    with np.load(ASSETS / "mnist_train_5k.npz") as archive:
        train = to_unit_interval(archive["images"])
    order = torch.randperm(train.shape[0], generator=torch.Generator().manual_seed(0))
    centres, validation = train[order[:centre_count]], train[order[4000:]]

    sigma, validation_means = select_sigma(validation, centres)
    mean, standard_error = parzen_summary(parzen_log_likelihood(test, centres, sigma))

    print(f"centres: n = {centres.shape[0]} real MNIST training images; validation: {validation.shape[0]}")
    print("validation mean LL per sigma:")
    for candidate, value in zip(DEFAULT_SIGMAS, validation_means.tolist(), strict=True):
        print(f"  sigma = {candidate:.4f}: {value:9.2f}")
    print(f"chosen sigma = {sigma:.4f}")
    print(f"test: {test.shape[0]} images, d = {test.shape[1]}")
    print(f"Parzen log-likelihood = {mean:.2f} +- {standard_error:.2f} nats (mean +- standard error)")
    print(f"time {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
