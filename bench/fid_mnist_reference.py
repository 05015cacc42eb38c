"""MNIST-FID reference figures for docs/fid.md: real-vs-real floors and, optionally, a generator checkpoint.

Usage::

    OMP_NUM_THREADS=1 python bench/fid_mnist_reference.py [--classifier runs/classifier/mnist.ckpt] [--gan CKPT]

Features: the MNIST classifier's penultimate layer (``ganbench-classifier fit --config
configs/classifier/mnist.yaml``). Real data: the MNIST data shipped with ganbench (4,500 train / 500 val digits
of the 5,000-image subset, the 10,000-image test set). For each row it prints FID, KID (100 subsets of 500) and
the classifier's Inception-Score analogue; for the generator also the share of each predicted class.
"""

from __future__ import annotations

import argparse

import torch

from ganbench import GAN
from ganbench.data import MNISTSampleDataModule
from ganbench.metrics import frechet_distance
from ganbench.nets import ClassifierFeatures


def row(name: str, real: torch.Tensor, fake: torch.Tensor, extractor: ClassifierFeatures) -> None:
    options = dict(kid=True, kid_subset_size=500, inception_score=True)
    result = frechet_distance(real, fake, feature_extractor=extractor, **options)
    print(
        f"| {name} | {len(real)} | {len(fake)} | {result.fid:.2f} | {result.kid_mean:.3f} +- {result.kid_std:.3f} "
        f"| {result.inception_score:.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classifier", default="runs/classifier/mnist.ckpt")
    parser.add_argument("--gan", default=None, help="a ganbench GAN checkpoint (e.g. the quickstart's last.ckpt)")
    parser.add_argument("--num-fake", type=int, default=10_000)
    arguments = parser.parse_args()

    extractor = ClassifierFeatures(arguments.classifier)
    data = MNISTSampleDataModule()
    train, val, test = (data.split_images(split) for split in ("train", "val", "test"))
    print(f"features: {extractor.describe()}")
    print("| compared with MNIST test | n_real | n_fake | MNIST-FID | KID | classifier IS |")
    print("|---|---|---|---|---|---|")
    halves = torch.randperm(len(test), generator=torch.Generator().manual_seed(0)).chunk(2)
    row("random half of test vs the other half (real)", test[halves[0]], test[halves[1]], extractor)
    row("test[:5000] vs test[5000:] (real; MNIST's halves differ: writers)", test[:5000], test[5000:], extractor)
    row("shipped train (4,500 real digits)", test, train, extractor)
    row("shuffled pixels of the train digits", test, _shuffled_pixels(train), extractor)
    if arguments.gan:
        gan = GAN.load_from_checkpoint(arguments.gan, map_location="cpu")
        fake = gan.sample(arguments.num_fake, generator=torch.Generator().manual_seed(0))
        row(f"generator {arguments.gan}", test, fake, extractor)
        with torch.no_grad():
            _, logits = extractor.features_and_logits(fake)
        shares = torch.bincount(logits.argmax(1), minlength=10).float() / len(fake)
        print("predicted class shares of the samples: " + ", ".join(f"{c}: {s:.3f}" for c, s in enumerate(shares)))
    del val


def _shuffled_pixels(images: torch.Tensor) -> torch.Tensor:
    order = torch.randperm(images[0].numel(), generator=torch.Generator().manual_seed(0))
    return images.flatten(1)[:, order].view_as(images)


if __name__ == "__main__":
    main()
