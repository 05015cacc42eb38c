"""Shared fixtures: tiny networks and data, and a runner for the ``ganbench`` command."""

import gzip
import os
import struct
import subprocess
import sys
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pytest
import torch

from ganbench import GAN
from ganbench.data import ImageDataModule
from ganbench.nets import MaxoutDiscriminator, MLPGenerator

REPO = Path(__file__).resolve().parents[1]
ASSETS = REPO / "ganbench" / "data" / "assets"


class RandomImages(ImageDataModule):
    """Random uint8 images: a tiny in-memory data set for module tests."""

    def __init__(self, count: int = 64, image_shape=(1, 4, 4), batch_size: int = 8, labelled: bool = True):
        super().__init__(batch_size=batch_size)
        self.count = count
        self.image_shape = tuple(image_shape)
        self.labelled = labelled

    def load_splits(self):
        generator = torch.Generator().manual_seed(0)
        splits = {}
        for split in ("train", "val", "test"):
            images = torch.randint(0, 256, (self.count, *self.image_shape), dtype=torch.uint8, generator=generator)
            labels = torch.randint(0, 10, (self.count,), generator=generator) if self.labelled else None
            splits[split] = (images, labels)
        return splits


def tiny_gan(image_shape=(1, 4, 4), **kwargs) -> GAN:
    generator = MLPGenerator(latent_dim=3, hidden_dims=(8,), image_shape=image_shape)
    discriminator = MaxoutDiscriminator(image_shape=image_shape, hidden_units=(6,), pieces=2)
    return GAN(generator, discriminator, **kwargs)


def tiny_trainer(tmp_path: Path, **kwargs) -> pl.Trainer:
    options = dict(
        accelerator="cpu",
        devices=1,
        default_root_dir=tmp_path,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
    )
    options.update(kwargs)
    return pl.Trainer(**options)


def write_idx(path: Path, array: np.ndarray) -> None:
    """Writes ``array`` (uint8) as a gzipped IDX file, MNIST's format."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture(scope="session")
def small_mnist_dir(tmp_path_factory) -> Path:
    """A folder with the four MNIST IDX files, made of real digits: 300 train, 100 test."""
    folder = tmp_path_factory.mktemp("mnist")
    with np.load(ASSETS / "mnist_train_5k.npz") as archive:
        order = np.random.default_rng(0).permutation(len(archive["images"]))[:400]
        images, labels = archive["images"][order], archive["labels"][order]
    write_idx(folder / "train-images-idx3-ubyte.gz", images[:300])
    write_idx(folder / "train-labels-idx1-ubyte.gz", labels[:300])
    write_idx(folder / "t10k-images-idx3-ubyte.gz", images[300:])
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", labels[300:])
    return folder


def run_ganbench(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """Runs ``python -m ganbench.cli ARGS`` in a subprocess, as a user would from a shell."""
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(cwd)]), PYTHONWARNINGS="ignore")
    return subprocess.run(
        [sys.executable, "-m", "ganbench.cli", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
