"""Shared fixtures: tiny networks and data, and a runner for the ``ganbench`` command."""

import gzip
import inspect
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
from ganbench.classifier import main as classifier_main
from ganbench.data import ImageDataModule
from ganbench.nets import MaxoutDiscriminator, MLPGenerator

REPO = Path(__file__).resolve().parents[1]
ASSETS = REPO / "ganbench" / "data" / "assets"


class RandomImages(ImageDataModule):
    """Random uint8 images: a tiny in-memory data set for module tests."""

    def __init__(
        self, count: int = 64, image_shape=(1, 4, 4), batch_size: int = 8, labelled: bool = True, num_workers: int = 0
    ):
        super().__init__(batch_size=batch_size, num_workers=num_workers)
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


@pytest.fixture(scope="session")
def classifier_checkpoint(tmp_path_factory):
    """``ganbench-classifier fit`` of the shipped config for two batches, in-process, in a scratch folder."""
    folder = tmp_path_factory.mktemp("classifier")
    patch = pytest.MonkeyPatch()
    patch.chdir(folder)
    try:
        classifier_main(
            [
                "fit",
                f"--config={REPO / 'configs/classifier/mnist.yaml'}",
                "--trainer.max_epochs=1",
                "--trainer.limit_train_batches=2",
                "--trainer.limit_val_batches=1",
                "--trainer.enable_progress_bar=false",
                "--trainer.enable_model_summary=false",
            ]
        )
    finally:
        patch.undo()
    return folder / "runs" / "classifier" / "mnist.ckpt"


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


def write_cifar10_batches(folder: Path, per_batch: int = 12, test_count: int = 10, seed: int = 0) -> dict:
    """Writes ``folder/cifar-10-batches-py/`` in CIFAR-10's Python pickle format, with random images.

    Returns ``{"train": (images (5 * per_batch, 3, 32, 32), labels), "test": (...)}`` as written.
    """
    import pickle

    rng = np.random.default_rng(seed)
    batches = folder / "cifar-10-batches-py"
    batches.mkdir(parents=True, exist_ok=True)
    written = {}
    for split, names, count in (
        ("train", [f"data_batch_{index}" for index in range(1, 6)], per_batch),
        ("test", ["test_batch"], test_count),
    ):
        parts = []
        for name in names:
            data = rng.integers(0, 256, (count, 3072), dtype=np.uint8)
            labels = rng.integers(0, 10, count).tolist()
            filenames = [f"{index}.png" for index in range(count)]
            batch = {"batch_label": name, "data": data, "labels": labels, "filenames": filenames}
            (batches / name).write_bytes(pickle.dumps(batch, protocol=2))
            parts.append((data.reshape(-1, 3, 32, 32), np.array(labels)))
        written[split] = tuple(np.concatenate(arrays) for arrays in zip(*parts))
    return written


def write_tfd_mat(path: Path, unlabeled: int = 60, labelled: int = 50, seed: int = 0) -> dict:
    """Writes a small ``TFD_48x48.mat`` (MATLAB v5, TFD's fields) and returns its arrays.

    The first ``unlabeled`` images are unlabeled in every fold (fold code 0, ``labs_ex`` -1); each
    labelled image is train (1), valid (2) or test (3) with a different assignment per fold.
    """
    import scipy.io

    rng = np.random.default_rng(seed)
    count = unlabeled + labelled
    folds = np.zeros((count, 5), dtype=np.uint8)
    for fold in range(5):
        folds[unlabeled:, fold] = np.roll(np.repeat([1, 1, 1, 2, 3], -(-labelled // 5))[:labelled], 7 * fold)
    expressions = np.concatenate([np.full(unlabeled, -1), rng.integers(1, 8, labelled)])
    identities = np.concatenate([np.full(unlabeled, -1), rng.integers(1, 20, labelled)])
    content = {
        "images": rng.integers(0, 256, (count, 48, 48), dtype=np.uint8),
        "folds": folds,
        "labs_ex": expressions.reshape(-1, 1).astype(np.int32),
        "labs_id": identities.reshape(-1, 1).astype(np.int32),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(str(path), content)
    return content


# A user callback module (source) for subprocess and DDP tests: each rank writes the logged values whose key
# contains ``contains`` to <folder>/<stage>_rank<r>.json, calling no collective.
METRICS_RECORDER = '''
import json

from lightning.pytorch import Callback


class RecordMetrics(Callback):
    """Writes this rank's logged values whose key contains `contains` to <folder>/<stage>_rank<r>.json."""

    def __init__(self, folder: str, contains: str):
        self.folder = folder
        self.contains = contains

    def write(self, trainer, stage):
        values = {k: v.item() for k, v in trainer.callback_metrics.items() if self.contains in k}
        values["world_size"] = trainer.world_size
        with open(f"{self.folder}/{stage}_rank{trainer.global_rank}.json", "w") as handle:
            json.dump(values, handle)

    def on_validation_end(self, trainer, pl_module):
        if not trainer.sanity_checking:
            self.write(trainer, "val")

    def on_test_end(self, trainer, pl_module):
        self.write(trainer, "test")
'''


# Tests that start processes (the ganbench command, DDP ranks, signals) take seconds each: they are
# marked ``slow``, so that ``pytest -m "not slow"`` runs the rest in seconds while editing.
# Module fixtures that run the ganbench command:
_PROCESS_FIXTURES = {"ddp_fit", "fits", "tfd_run", "cli_runs", "config_fits"}
_STARTS_PROCESSES = ("run_ganbench(", "subprocess.", "Popen(", "devices=2", "os.kill(", "ganbench_with_", "Fit(")


def pytest_collection_modifyitems(config, items):
    for item in items:
        function = getattr(item, "function", None)
        fixtures = getattr(item, "fixturenames", ())
        try:
            source = inspect.getsource(function) if function is not None else ""
        except (OSError, TypeError):
            source = ""
        helpers = [item.module.__dict__.get(name) for name in item.module.__dict__ if source and f"{name}(" in source]
        helper_sources = "".join(_source(helper) for helper in helpers if inspect.isfunction(helper))
        if any(marker in source + helper_sources for marker in _STARTS_PROCESSES) or _PROCESS_FIXTURES & set(fixtures):
            item.add_marker(pytest.mark.slow)


def _source(function) -> str:
    try:
        return inspect.getsource(function)
    except (OSError, TypeError):
        return ""
