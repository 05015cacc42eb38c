"""Parzen-window log-likelihood of a trained checkpoint on its data set's test split (the paper's Table 1 protocol).

Usage::

    python bench/parzen_checkpoint.py --ckpt runs/.../last.ckpt --config configs/fashion_mnist/paper.yaml \\
        [--data init_args.data_dir=/path] [--num-samples 10000] [--num-validation 1000] [--seed 0]

The data module is built from the config's ``data`` section (``--data KEY=VALUE`` overrides a field of it,
the value read as YAML). ``n`` generator samples are drawn with ``GAN.load_from_checkpoint(ckpt).sample(n)``
(noise from a ``torch.Generator`` seeded with ``--seed``); samples and data are mapped from the data's
``pixel_range`` to ``[0, 1]``; sigma is chosen from ``logspace(-1, 0, 10)`` on the first ``--num-validation``
validation images (``-1``: all of them, the TFD protocol); the mean log-likelihood of the whole test split
is printed with its standard error (population std / sqrt(N)), sigma and n. Float64 throughout
(:mod:`ganbench.metrics.parzen`). ``--centres-from-train`` puts the first ``n`` training images in place of
the samples: the figure a generator that reproduced training images would get, for scale.
"""

from __future__ import annotations

import argparse
import time

import torch
import yaml
from jsonargparse import ArgumentParser
from lightning.pytorch import LightningDataModule

import ganbench.data  # noqa: F401  (short class names in configs)
from ganbench import GAN
from ganbench.data.base import to_unit_range
from ganbench.metrics import DEFAULT_SIGMAS, parzen_log_likelihood, parzen_summary, select_sigma


def build_datamodule(config_path: str, overrides: list[str]) -> LightningDataModule:
    """The config's ``data`` section, with ``KEY=VALUE`` overrides (e.g. ``init_args.data_dir=/x``)."""
    with open(config_path) as handle:
        section = yaml.safe_load(handle)["data"]
    for override in overrides:
        key, _, value = override.partition("=")
        target = section
        *parents, leaf = key.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = yaml.safe_load(value)
    parser = ArgumentParser()
    parser.add_argument("--data", type=LightningDataModule)
    instantiate = getattr(parser, "instantiate", None) or parser.instantiate_classes  # renamed in 4.49
    return instantiate(parser.parse_object({"data": section})).data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", help="a checkpoint written by ganbench fit")
    parser.add_argument("--config", required=True, help="the config it was trained with (for its data section)")
    parser.add_argument("--data", action="append", default=[], help="KEY=VALUE override of the data section")
    parser.add_argument("--num-samples", type=int, default=10_000, help="generator samples, n (paper: 10,000)")
    parser.add_argument("--num-validation", type=int, default=1000, help="validation images for sigma; -1: all")
    parser.add_argument("--seed", type=int, default=0, help="seed of the samples' noise")
    parser.add_argument(
        "--centres-from-train",
        action="store_true",
        help="reference figure: the first n training images as centres instead of samples (--ckpt unused)",
    )
    arguments = parser.parse_args()

    start = time.perf_counter()
    datamodule = build_datamodule(arguments.config, arguments.data)
    if datamodule.pixel_range is None:
        raise SystemExit("The data is not pixels (pixel_range None, e.g. GCN): Parzen needs data in a pixel range.")
    limit = None if arguments.num_validation < 0 else arguments.num_validation
    validation = to_unit_range(datamodule.split_images("val", limit), datamodule.pixel_range)
    test = to_unit_range(datamodule.split_images("test"), datamodule.pixel_range)
    if arguments.centres_from_train:
        samples = datamodule.split_images("train", arguments.num_samples)
    elif arguments.ckpt:
        gan = GAN.load_from_checkpoint(arguments.ckpt, map_location="cpu")
        samples = gan.sample(arguments.num_samples, generator=torch.Generator().manual_seed(arguments.seed))
    else:
        parser.error("--ckpt is needed (or --centres-from-train).")
    centres = to_unit_range(samples, datamodule.pixel_range)
    sigma, means = select_sigma(validation, centres, DEFAULT_SIGMAS)
    mean, standard_error = parzen_summary(parzen_log_likelihood(test, centres, sigma))
    print("sigma grid (validation mean LL):", ", ".join(f"{s:.4f}: {m:.1f}" for s, m in zip(DEFAULT_SIGMAS, means)))
    print(
        f"Parzen log-likelihood on the test split ({len(test)} images): {mean:.2f} +- {standard_error:.2f} nats "
        f"(sigma {sigma:.4f} chosen on {len(validation)} validation images, n = {len(centres)} samples, "
        f"{time.perf_counter() - start:.0f} s)"
    )


if __name__ == "__main__":
    main()
