"""Parzen-window log-likelihood of a TFD checkpoint over the 5 folds, as in the paper's Table 1 (2057 +- 26 nats).

Usage::

    python bench/parzen_tfd_folds.py --ckpt runs/tfd/paper_train/version_0/checkpoints/last.ckpt \\
        --mat /path/to/TFD_48x48.mat [--num-samples 10000] [--folds 0 1 2 3 4] [--seed 0]

The generator is loaded once and ``n`` samples are drawn once (noise from a ``torch.Generator`` seeded with
``--seed``); the same samples are the kernel centres for every fold. For each fold ``TFDDataModule(mat, fold)``
gives the validation split (the fold's whole ``valid`` part, on which sigma is chosen from
``logspace(-1, 0, 10)``) and the test split (the fold's ``test`` part, which is scored). Samples and images are
mapped from the data's ``pixel_range`` to ``[0, 1]``. Printed: one line per fold (mean +- within-fold standard
error, sigma, sizes) and the Table 1 line: the mean over folds of the per-fold means +- the error across folds,
``std(per-fold means, ddof=0) / sqrt(K)`` (:mod:`ganbench.metrics.parzen_folds`). Float64 throughout.
A missing or damaged ``.mat`` or checkpoint is reported in one line (exit status 2).
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from ganbench import GAN
from ganbench.checkpoints import check_checkpoint_file
from ganbench.data import TFDDataModule
from ganbench.data.base import to_unit_range
from ganbench.errors import GanbenchError
from ganbench.metrics.parzen import DEFAULT_SIGMAS
from ganbench.metrics.parzen_folds import parzen_over_folds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", required=True, help="a checkpoint of a TFD model written by ganbench fit")
    parser.add_argument("--mat", required=True, help="the user's TFD_48x48.mat")
    parser.add_argument("--num-samples", type=int, default=10_000, help="generator samples, n (paper: 10,000)")
    parser.add_argument("--folds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="folds to score (0..4)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the samples' noise")
    arguments = parser.parse_args()
    if arguments.num_samples < 1:
        parser.error("--num-samples must be positive.")
    if len(set(arguments.folds)) != len(arguments.folds):
        parser.error("--folds has repeated folds.")

    start = time.perf_counter()
    try:
        TFDDataModule(mat_path=arguments.mat, fold=arguments.folds[0]).prepare_data()  # before the checkpoint
        check_checkpoint_file(arguments.ckpt)
        folds = []
        for fold in arguments.folds:  # one module at a time: each holds the ~98,000 unlabeled images
            datamodule = TFDDataModule(mat_path=arguments.mat, fold=fold)
            pixel_range = datamodule.pixel_range
            validation = to_unit_range(datamodule.split_images("val"), pixel_range)
            test = to_unit_range(datamodule.split_images("test"), pixel_range)
            folds.append((validation, test))
            del datamodule
    except GanbenchError as error:
        print(f"error: {str(error).replace('--ckpt_path', '--ckpt')}", file=sys.stderr)
        raise SystemExit(2) from None
    gan = GAN.load_from_checkpoint(arguments.ckpt, map_location="cpu")
    with torch.no_grad():
        samples = gan.sample(arguments.num_samples, generator=torch.Generator().manual_seed(arguments.seed))
    centres = to_unit_range(samples, pixel_range)
    if centres.shape[1] != folds[0][0].shape[1]:
        print(
            f"error: the checkpoint's generator makes {centres.shape[1]} pixels per image, TFD has "
            f"{folds[0][0].shape[1]}; is this a TFD checkpoint?",
            file=sys.stderr,
        )
        raise SystemExit(2)
    result = parzen_over_folds(centres, folds, DEFAULT_SIGMAS, fold_ids=arguments.folds)
    for line in result.fold_lines():
        print(line)
    print(result.table_line("TFD", len(centres)))
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
