"""``results.json``: what ``ganbench test`` measured, with each metric's protocol, in the run's folder.

One file per run folder, rewritten by every ``ganbench test`` of that run::

    {"stage": "test", "checkpoint": ".../checkpoints/last.ckpt", "step": 4000, "epoch": 88, "seed": 0,
     "run": {"name": "quickstart seed=0", ...},
     "metrics": {"test/parzen_ll": {"value": 46.08, "standard_error": 1.92,
                                    "protocol": {"num_samples": 10000, "sigma": 0.17, ...}},
                 "test/d_real": {"value": 0.61}, ...}}

Evaluation callbacks (Parzen, FID) give their metrics with the protocol that produced them; every
other ``test/...`` value logged during the test comes with its value alone.
"""

import json
import math
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.loggers import WandbLogger

from ganbench.runs.folders import write_text_whole

RESULTS_FILE = "results.json"


def test_results(trainer: pl.Trainer, checkpoint: Any, run: dict[str, Any]) -> dict[str, Any]:
    """The test results of the trainer's last ``test`` run, as ``results.json`` holds them.

    Args:
        trainer: the trainer after ``trainer.test``.
        checkpoint: the checkpoint that was tested (a path, or ``None`` for the weights in memory).
        run: the run's record (name, group, tags, seed, ...).
    """
    metrics: dict[str, dict[str, Any]] = {}
    for callback in trainer.callbacks:
        entries = getattr(callback, "metric_entries", None)
        if callable(entries):
            metrics.update(entries("test"))
    for key, value in trainer.callback_metrics.items():
        if key.startswith("test/") and key not in metrics:
            metrics[key] = {"value": _number(value)}
    module = trainer.lightning_module
    step = getattr(module, "checkpoint_step", None)
    return {
        "stage": "test",
        "checkpoint": str(Path(checkpoint).absolute()) if isinstance(checkpoint, (str, Path)) else None,
        "step": trainer.global_step if step is None else step,
        "epoch": getattr(module, "checkpoint_epoch", None),
        "seed": run.get("seed"),
        "run": run,
        "metrics": dict(sorted(metrics.items())),
    }


def write_test_results(trainer: pl.Trainer, folder: Path, checkpoint: Any, run: dict[str, Any]) -> Path | None:
    """Writes ``folder/results.json`` (rank 0) and hands it to W&B; returns its path (``None`` on other ranks).

    Args:
        trainer: the trainer after ``trainer.test``.
        folder: the run folder.
        checkpoint: the checkpoint that was tested.
        run: the run's record.
    """
    if not trainer.is_global_zero:
        return None
    results = test_results(trainer, checkpoint, run)
    path = Path(folder) / RESULTS_FILE
    write_text_whole(path, json.dumps(results, indent=2, allow_nan=True) + "\n")
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            values = {key: entry["value"] for key, entry in results["metrics"].items()}
            logger.experiment.summary.update(values)
            upload_to_wandb(logger, path)
    return path


def upload_to_wandb(logger: WandbLogger, path: Path) -> None:
    """Saves a file of the run folder among the W&B run's files, as ``ganbench/<name>``.

    (W&B keeps its own ``config.yaml`` among the run's files; the folder is named so that ours never
    replaces it.)
    """
    target = Path(logger.experiment.dir) / "ganbench" / path.name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(path.read_bytes())
    logger.experiment.save(str(target), base_path=logger.experiment.dir, policy="now")


def _number(value: Any) -> float | None:
    number = float(value.item() if hasattr(value, "item") else value)
    return number if math.isfinite(number) else None
