"""What a run saves in its folder: its config, its environment, and the ``metrics.csv`` of a resumed run."""

import csv
from dataclasses import asdict
from pathlib import Path

import yaml
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.cli import SaveConfigCallback
from lightning.pytorch.loggers import CSVLogger, WandbLogger
from lightning.pytorch.utilities import rank_zero_only

from ganbench.results import upload_to_wandb
from ganbench.run_state import provenance
from ganbench.runs.plan import RunPlan


class SaveRunConfig(SaveConfigCallback):
    """Saves ``config.yaml`` and ``environment.yaml`` (seed, library versions) in the run folder.

    ``config.yaml`` is the config as the user gave it (with the experiment named), not the one that
    says where each logger writes: passed again, it starts a new run of the same experiment. An
    existing run folder keeps its ``config.yaml``: a resumed run writes ``config-resumed-<k>.yaml``,
    ``ganbench test`` ``config-test-<k>.yaml``. The whole config, the run's name, the seed and the
    versions go to every logger's hyperparameters; W&B also receives the config as a file.
    """

    run_plan: RunPlan | None = None

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if self.already_saved or not self.save_to_log_dir:
            return super().setup(trainer, pl_module, stage)
        if self.run_plan is not None:
            self.config = self.run_plan.user_config
        log_dir = self._log_dir = Path(trainer.log_dir)  # a collective: every rank calls it, so not in save_config
        name = self.config_filename
        if trainer.is_global_zero and (log_dir / name).exists():
            label = "resumed" if stage == "fit" else getattr(stage, "value", stage)
            index = 1
            while (log_dir / f"config-{label}-{index}.yaml").exists():
                index += 1
            name = f"config-{label}-{index}.yaml"
        self.config_filename = trainer.strategy.broadcast(name)
        super().setup(trainer, pl_module, stage)

    def save_config(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Rank 0: the seed and versions to ``environment.yaml``, the whole config to the loggers."""
        run = provenance()
        if self.save_to_log_dir:  # (trainer.log_dir is a collective, and only rank 0 is here)
            (self._log_dir / "environment.yaml").write_text(yaml.safe_dump(run, sort_keys=False))
        config = yaml.safe_load(self.parser.dump(self.config, skip_none=False)) or {}
        hyperparameters = {key: config.get(key) for key in ("model", "data", "trainer", "seed_everything")}
        if self.run_plan is not None:
            hyperparameters["run"] = asdict(self.run_plan.record)
        for logger in trainer.loggers:
            logger.log_hyperparams({**hyperparameters, "seed": run["seed"], "versions": run["versions"]})
            if isinstance(logger, WandbLogger) and self.save_to_log_dir:
                upload_to_wandb(logger, self._log_dir / self.config_filename)


def keep_csv_metrics(trainer: Trainer) -> None:
    """Keeps the ``metrics.csv`` of a resumed run's folder, which CSVLogger deletes when it opens the folder.

    The resumed run's rows are appended after the old ones (steps logged after the checkpoint and
    before the stop appear twice, the second time as the resumed run computed them).
    """
    if rank_zero_only.rank != 0:
        return
    for logger in trainer.loggers:
        if not isinstance(logger, CSVLogger):
            continue
        metrics = Path(logger.log_dir) / "metrics.csv"
        if not metrics.is_file():
            continue
        content = metrics.read_text()
        writer = logger.experiment  # opening the folder deletes metrics.csv
        metrics.write_text(content)
        header = content.splitlines()[0] if content else ""
        writer.metrics_keys = next(csv.reader([header])) if header else []
