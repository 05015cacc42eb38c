"""Same config and seed, same metrics on CPU; the seed and the library versions are saved with every run."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import torch
import yaml

from tests.conftest import REPO


def start_fit(folder: Path, seed: int) -> subprocess.Popen:
    """Starts a 50-step quickstart run (one epoch, so one Parzen evaluation) logging to CSV, in ``folder``."""
    folder.mkdir()
    config = yaml.safe_load((REPO / "configs/quickstart.yaml").read_text())
    config["seed_everything"] = seed
    config["data"]["init_args"]["batch_size"] = 100  # an epoch of the 4,500 digits is 45 steps
    for network in ("generator", "discriminator"):
        config["model"][network]["init_args"]["width"] = 8  # small and quick
    config["trainer"].update(
        default_root_dir=str(folder), max_steps=50, log_every_n_steps=10, enable_progress_bar=False
    )
    config["trainer"]["logger"] = {"class_path": "lightning.pytorch.loggers.CSVLogger", "init_args": {"save_dir": "."}}
    config["run"] = {"experiment": "run"}  # <folder>/run/version_0
    config["trainer"]["callbacks"] = [
        {"class_path": "ganbench.callbacks.Checkpoint", "init_args": {"every_n_train_steps": 25}},
        {
            "class_path": "ganbench.callbacks.ParzenEvaluation",
            "init_args": {"num_samples": 300, "num_validation": 100, "every_n_epochs": 1, "batch_size": 100},
        },
    ]
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    environment = dict(os.environ, PYTHONPATH=str(REPO), PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    return subprocess.Popen(
        [sys.executable, "-m", "ganbench.cli", "fit", "--config=config.yaml"],
        cwd=folder,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def metrics_of(process: subprocess.Popen, folder: Path) -> list[dict]:
    """Waits for a run started by :func:`start_fit`; its metrics rows."""
    _, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr[-3000:]
    with open(folder / "run/version_0/metrics.csv") as handle:
        return list(csv.DictReader(handle))


def test_same_seed_gives_the_same_metrics_and_another_seed_does_not(tmp_path):
    """Three runs side by side (each alone in its process, one thread each): two of seed 3, one of seed 4."""
    folders = {name: tmp_path / name for name in ("first", "second", "other")}
    seeds = {"first": 3, "second": 3, "other": 4}
    processes = {name: start_fit(folder, seeds[name]) for name, folder in folders.items()}
    first, second, other = (metrics_of(processes[name], folders[name]) for name in ("first", "second", "other"))
    logged = {key for row in first for key, value in row.items() if value}
    assert {"train/d_loss", "train/g_loss", "val/parzen_ll"} <= logged
    assert len(first) >= 5
    assert first == second  # every logged value, as written, at every step
    assert first != other

    run = tmp_path / "first/run/version_0"
    environment = yaml.safe_load((run / "environment.yaml").read_text())
    assert environment["seed"] == 3
    assert environment["versions"]["torch"] == torch.__version__
    assert {"python", "ganbench", "lightning", "torchmetrics", "torchvision", "numpy"} <= set(environment["versions"])
    hyperparameters = yaml.safe_load((run / "hparams.yaml").read_text())
    assert hyperparameters["seed"] == 3 and hyperparameters["versions"]["torch"] == torch.__version__
    checkpoint = torch.load(run / "checkpoints/last.ckpt", weights_only=True)
    assert checkpoint["ganbench"]["seed"] == 3 and checkpoint["ganbench"]["versions"] == environment["versions"]


def test_evaluations_and_sample_grids_do_not_change_the_training_run(tmp_path):
    """They draw from their own seeded generators, with G in eval mode: training sees the same random numbers."""
    import lightning.pytorch as pl

    from ganbench.callbacks import ParzenEvaluation, SampleGrid
    from tests.conftest import RandomImages, tiny_trainer
    from tests.test_resume import paper_gan

    def weights_after_24_steps(callbacks: list) -> tuple[dict, pl.Trainer]:
        pl.seed_everything(0)
        logger = pl.loggers.CSVLogger(tmp_path, name=str(len(callbacks)))
        trainer = tiny_trainer(tmp_path, max_steps=24, callbacks=callbacks, limit_val_batches=2, logger=logger)
        gan = paper_gan()
        trainer.fit(gan, RandomImages(count=40, batch_size=4))
        return gan.state_dict(), trainer

    plain, _ = weights_after_24_steps([])
    evaluated, trainer = weights_after_24_steps(
        [ParzenEvaluation(num_samples=50, num_validation=20, every_n_epochs=1), SampleGrid(every_n_steps=5)]
    )
    assert "val/parzen_ll" in trainer.callback_metrics  # the evaluation ran (after epochs 1 and 2)
    assert len(list((tmp_path / "2").rglob("*.png"))) >= 4  # and so did the grids
    assert all(torch.equal(plain[key], evaluated[key]) for key in plain)
