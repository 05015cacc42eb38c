"""Benchmark FID of 10,000 generated MNIST-size images with cached real statistics against recomputing them.

Usage::

    OMP_NUM_THREADS=1 python bench/fid.py [--num-fake 10000] [--checkpoint runs/classifier/mnist.ckpt] [--repeats 3]

Runs offline: the features are the MNIST classifier's (``ganbench.nets.ClassifierFeatures``) when its checkpoint
exists, else a randomly initialised ``MNISTClassifier`` of the same shape (the cost is the same). The generator
is the quickstart's architecture, untrained. Real images: the 10,000-image MNIST test split shipped with ganbench.
Timed in one run, each the best of ``--repeats``:

* **recompute**: a fresh evaluator with no cache: real features for all 10,000 test images, then the generated;
* **cached**: a fresh evaluator reading the real statistics from the on-disk cache, then the generated;
* **generated only**: generating and featurising ``--num-fake`` images, the floor a cache can reach.

The ratio recompute / cached is printed; both runs give the same FID (checked).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from ganbench.data import MNISTSampleDataModule
from ganbench.metrics import FIDEvaluator
from ganbench.nets import ClassifierFeatures, MLPGenerator, MNISTClassifier


class RandomClassifierFeatures(torch.nn.Module):
    """An untrained MNISTClassifier's penultimate features, declared like ClassifierFeatures."""

    input_channels, input_size, num_features = 1, (28, 28), 128

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.network = MNISTClassifier().eval()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.network.features(images)


def evaluate(extractor, real, generator, num_fake, cache_dir, use_cache) -> tuple[float, float]:
    """Seconds for one whole evaluation (real side + generated side) and the FID."""
    start = time.perf_counter()
    evaluator = FIDEvaluator(extractor, batch_size=500, cache_dir=cache_dir, use_cache=use_cache)
    evaluator.set_real(real, (0.0, 1.0), data="MNIST", split="test")
    noise = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for begin in range(0, num_fake, 500):
            size = min(500, num_fake - begin)
            evaluator.update(generator(torch.rand(size, generator.latent_dim, generator=noise)), (0.0, 1.0))
    fid = evaluator.compute().fid
    return time.perf_counter() - start, fid


def generated_only(extractor, generator, num_fake) -> float:
    start = time.perf_counter()
    noise = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for begin in range(0, num_fake, 500):
            size = min(500, num_fake - begin)
            extractor(generator(torch.rand(size, generator.latent_dim, generator=noise)))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-fake", type=int, default=10_000)
    parser.add_argument("--checkpoint", default="runs/classifier/mnist.ckpt")
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()

    checkpoint = Path(arguments.checkpoint)
    extractor = ClassifierFeatures(str(checkpoint)) if checkpoint.is_file() else RandomClassifierFeatures()
    generator = MLPGenerator(hidden_dims=(256, 512), batch_norm=True).eval()
    real = MNISTSampleDataModule().split_images("test")
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; features: {type(extractor).__name__} "
        f"({'trained, ' + checkpoint.name if checkpoint.is_file() else 'random init'}); "
        f"{len(real)} real vs {arguments.num_fake} generated 28x28 images"
    )
    with tempfile.TemporaryDirectory() as cache_dir:
        evaluate(extractor, real, generator, arguments.num_fake, cache_dir, use_cache=True)  # fills the cache
        recompute, cached, floor = [], [], []
        for _ in range(arguments.repeats):
            seconds, fresh_fid = evaluate(extractor, real, generator, arguments.num_fake, cache_dir, use_cache=False)
            recompute.append(seconds)
            seconds, cached_fid = evaluate(extractor, real, generator, arguments.num_fake, cache_dir, use_cache=True)
            cached.append(seconds)
            floor.append(generated_only(extractor, generator, arguments.num_fake))
            assert cached_fid == fresh_fid, (cached_fid, fresh_fid)
    print(f"recompute real statistics : {min(recompute):7.2f} s  (best of {arguments.repeats})")
    print(f"cached real statistics    : {min(cached):7.2f} s")
    print(f"generated side only       : {min(floor):7.2f} s")
    print(f"speed-up from the cache   : {min(recompute) / min(cached):7.2f}x  (FID {fresh_fid:.4f} both ways)")


if __name__ == "__main__":
    main()
