"""``ganbench predict``: SampleWriter draws the asked samples from a trained run and writes them into its folder."""

import csv
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from lightning.pytorch import LightningDataModule
from PIL import Image
from torch.testing import assert_close

from ganbench import GAN
from ganbench.callbacks import SampleWriter
from ganbench.callbacks.predictions import balanced_labels
from ganbench.cli import main
from ganbench.errors import ConfigError
from tests.conftest import REPO, RandomImages, tiny_gan, tiny_trainer

QUICKSTART = f"--config={REPO / 'configs/quickstart.yaml'}"
QUIET = ["--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false"]
# The quickstart recipe with tiny networks, fitted for 2 steps.
TINY_FIT = [
    "--model.generator.init_args.width=4",
    "--model.discriminator.init_args.width=4",
    "--trainer.max_steps=2",
    "--trainer.limit_val_batches=0",
    "--trainer.log_every_n_steps=1",
]


def ganbench(*arguments: str) -> None:
    """Runs the ``ganbench`` command in this process, leaving the environment as it was."""
    environment = dict(os.environ)  # a run sets GANBENCH_RUN_FOLDER for its other DDP ranks
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(sys, "argv", ["ganbench"])  # not pytest's options
            main([*arguments, *QUIET])
    finally:
        os.environ.clear()
        os.environ.update(environment)


def trained_run(root: Path, *overrides: str) -> Path:
    """Fits the tiny quickstart model under ``root``; returns its ``last.ckpt``."""
    ganbench("fit", QUICKSTART, f"--trainer.default_root_dir={root}", *TINY_FIT, *overrides)
    return next(root.rglob("last.ckpt"))


@pytest.fixture(scope="module")
def unconditional_checkpoint(tmp_path_factory) -> Path:
    return trained_run(tmp_path_factory.mktemp("unconditional"))


@pytest.fixture(scope="module")
def conditional_checkpoint(tmp_path_factory) -> Path:
    return trained_run(tmp_path_factory.mktemp("conditional"), "--model.generator.init_args.num_classes=10")


def predict(checkpoint: Path, *writer_arguments: str) -> dict[str, np.ndarray]:
    """``ganbench predict`` on the quickstart config with a SampleWriter given ``writer_arguments``; the npz written."""
    writer = ["--trainer.callbacks+=ganbench.callbacks.SampleWriter", *writer_arguments] if writer_arguments else []
    ganbench("predict", QUICKSTART, f"--ckpt_path={checkpoint}", *writer)
    with np.load(predictions_folder(checkpoint) / "samples.npz") as archive:
        return dict(archive)


def predictions_folder(checkpoint: Path) -> Path:
    return checkpoint.parent.parent / "predictions"  # RUN/checkpoints/last.ckpt -> RUN/predictions


def png_size(path: Path) -> tuple[int, int]:
    """(height, width) of a PNG."""
    with Image.open(path) as image:
        return image.height, image.width


def test_predict_writes_the_asked_samples_into_the_trained_runs_folder(unconditional_checkpoint, capsys):
    written = predict(
        unconditional_checkpoint,
        "--trainer.callbacks.num_samples=30",
        "--trainer.callbacks.batch_size=8",
        "--trainer.callbacks.nrow=5",
        "--trainer.callbacks.seed=3",
    )
    folder = predictions_folder(unconditional_checkpoint)
    assert f"ganbench: wrote 30 samples to {folder}" in capsys.readouterr().out
    metrics = (folder.parent / "metrics.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in metrics] == ["step", "1", "2"]  # the trained run's, kept
    images, labels, noise = written["images"], written["labels"], written["noise"]
    assert images.shape == (30, 1, 28, 28) and images.dtype == np.float32
    assert 0 <= images.min() and images.max() <= 1  # the data's range (quickstart: [0, 1])
    assert labels.dtype == np.int64 and (labels == -1).all()
    gan = GAN.load_from_checkpoint(unconditional_checkpoint)
    expected_noise = gan.prior.sample(30, gan.latent_dim, "cpu", torch.Generator().manual_seed(3))
    assert_close(torch.from_numpy(noise), expected_noise)
    assert_close(torch.from_numpy(images), gan.sample(30, noise=expected_noise))
    assert png_size(folder / "samples.png") == (2 + 5 * 30, 2 + 5 * 30)  # the first 25 = nrow * nrow


def test_predict_with_no_extra_option_writes_a_thousand_samples(unconditional_checkpoint):
    written = predict(unconditional_checkpoint)
    assert written["images"].shape == (1000, 1, 28, 28)
    assert png_size(predictions_folder(unconditional_checkpoint) / "samples.png") == (2 + 10 * 30, 2 + 10 * 30)


def test_predict_of_a_conditional_generator_balances_the_labels_and_generates_each_from_its_label(
    conditional_checkpoint,
):
    written = predict(conditional_checkpoint, "--trainer.callbacks.num_samples=30", "--trainer.callbacks.nrow=4")
    labels = torch.from_numpy(written["labels"])
    assert labels.tolist() == [label for label in range(10) for _ in range(3)]
    gan = GAN.load_from_checkpoint(conditional_checkpoint)
    noise, images = torch.from_numpy(written["noise"]), torch.from_numpy(written["images"])
    assert_close(images, gan.sample(30, labels=labels, noise=noise))
    other_labels = gan.sample(30, labels=(labels + 1) % 10, noise=noise)
    assert (images - other_labels).abs().flatten(1).amax(dim=1).min() > 0  # every image depends on its label
    # One row per class, its first nrow samples (3 here, padded to 4).
    assert png_size(predictions_folder(conditional_checkpoint) / "samples.png") == (2 + 10 * 30, 2 + 4 * 30)


def test_predict_of_a_conditional_generator_can_draw_labels_as_the_data_has_them(conditional_checkpoint):
    written = predict(conditional_checkpoint, "--trainer.callbacks.num_samples=200", "--trainer.callbacks.labels=data")
    gan = GAN.load_from_checkpoint(conditional_checkpoint)
    assert gan.class_frequencies is not None
    expected = gan.draw_labels(200, torch.Generator().manual_seed(0))
    assert written["labels"].tolist() == expected.tolist()
    assert len(set(written["labels"].tolist())) > 1


def test_a_bad_sample_writer_argument_is_one_line(unconditional_checkpoint, capsys):
    with pytest.raises(SystemExit) as stopped:
        predict(unconditional_checkpoint, "--trainer.callbacks.num_samples=0")
    assert stopped.value.code == 2
    assert "SampleWriter: num_samples must be an integer >= 1, got 0." in capsys.readouterr().err


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"num_samples": 0}, "num_samples must be an integer >= 1"),
        ({"batch_size": -1}, "batch_size must be an integer >= 1"),
        ({"nrow": 0}, "nrow must be an integer >= 1"),
        ({"labels": "uniform"}, "labels must be 'data' or 'balanced'"),
        ({"seed": 1.5}, "seed must be an integer"),
    ],
)
def test_sample_writer_refuses_bad_arguments(arguments, message):
    with pytest.raises(ConfigError, match=message):
        SampleWriter(**arguments)


def test_sample_writer_in_python_with_a_data_module_and_no_returned_predictions(tmp_path):
    datamodule = RandomImages()
    writer = SampleWriter(num_samples=10, batch_size=4, output_dir=str(tmp_path / "out"))
    returned = tiny_trainer(tmp_path, callbacks=[writer]).predict(
        tiny_gan(), datamodule=datamodule, return_predictions=False
    )
    assert returned is None
    with np.load(tmp_path / "out" / "samples.npz") as archive:
        assert archive["images"].shape == (10, 1, 4, 4)
        assert archive["noise"].shape == (10, 3)
    assert (tmp_path / "out" / "samples.png").is_file()
    # The data module's own predict_dataloader (none) is back once the run is over.
    assert type(datamodule).predict_dataloader is LightningDataModule.predict_dataloader
    assert "predict_dataloader" not in vars(datamodule)


def test_balanced_labels_are_in_class_order_with_counts_one_apart():
    assert balanced_labels(7, 3).tolist() == [0, 0, 0, 1, 1, 2, 2]
    assert torch.bincount(balanced_labels(1000, 10)).tolist() == [100] * 10


def test_validate_keeps_the_trained_runs_metrics(tmp_path):
    checkpoint = trained_run(tmp_path)
    ganbench("validate", QUICKSTART, f"--ckpt_path={checkpoint}", "--trainer.callbacks.num_samples=50")
    with open(checkpoint.parent.parent / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["step"] for row in rows if row.get("train/d_loss")] == ["1", "2"]  # the training rows are kept
    assert any(row.get("val/d_real") for row in rows)  # and the validation's row was added
