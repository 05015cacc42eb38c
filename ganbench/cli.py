"""``ganbench fit|validate|test|predict``: LightningCLI with ganbench's parts importable by short name.

Every part is a constructor argument, so a config swaps it with ``class_path``/``init_args``
(``--model.loss=Minimax``, ``--model.generator=mylab.nets.MyGenerator``) and jsonargparse
rejects an unknown key or a wrong type before anything runs.
"""

import csv
import sys
import warnings
from argparse import ArgumentError
from pathlib import Path

import yaml
from lightning.pytorch import LightningDataModule, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningCLI, SaveConfigCallback
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only

# Imported so that their classes can be named by their short names in configs.
import ganbench.callbacks  # noqa: F401
import ganbench.data  # noqa: F401
import ganbench.losses  # noqa: F401
import ganbench.nets  # noqa: F401
import ganbench.optim  # noqa: F401
import ganbench.priors  # noqa: F401
from ganbench.checkpoints import LIGHTNING_CHECKPOINT_NAMES, check_checkpoint_file
from ganbench.errors import ConfigError, GanbenchError
from ganbench.module import GAN
from ganbench.parser_errors import explain, parser_keys
from ganbench.run_state import provenance
from ganbench.validation import check_output_folders_writable

# A step's checkpoint holds the weights after that step's updates, which is what ganbench wants.
warnings.filterwarnings("ignore", message="Using ModelCheckpoint with manual optimization")


class OneLineErrorsCLI(LightningCLI):
    """A LightningCLI whose config errors (unknown key, wrong type, class path that does not import) are one line."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs["parser_kwargs"] = {"exit_on_error": False, **(kwargs.get("parser_kwargs") or {})}
        super().__init__(*args, **kwargs)

    def parse_arguments(self, parser, args) -> None:
        try:
            super().parse_arguments(parser, args)
        except ArgumentError as error:
            words = sys.argv[1:] if args is None else [str(arg) for arg in args]
            subcommand = next((word for word in words if not word.startswith("-")), "fit")
            help_command = f"{parser.prog} {subcommand} --help"
            raise ConfigError(explain(str(error), parser_keys(parser), help_command)) from None


class GanbenchCLI(OneLineErrorsCLI):
    """LightningCLI for :class:`ganbench.GAN` and any LightningDataModule.

    On top of LightningCLI: one-line errors; ``--ckpt_path`` checked before it is read;
    ``--ckpt_path last`` continues the newest run's folder (logs, checkpoints and config) instead
    of starting a new version folder where no checkpoint is found; output folders checked
    writable before anything runs; the seed and library versions saved beside the config.
    """

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("model_class", GAN)
        kwargs.setdefault("datamodule_class", LightningDataModule)
        kwargs.setdefault("subclass_mode_data", True)
        kwargs.setdefault("auto_configure_optimizers", False)
        kwargs.setdefault("save_config_callback", SaveRunConfig)
        super().__init__(*args, **kwargs)

    def parse_arguments(self, parser, args) -> None:
        """Parses, then refuses a bad ``--ckpt_path`` before LightningCLI reads its hyperparameters."""
        super().parse_arguments(parser, args)
        subcommand = self.config.get("subcommand")
        path = self.config[subcommand].get("ckpt_path") if subcommand else None
        if path is not None and str(path) not in LIGHTNING_CHECKPOINT_NAMES:
            check_checkpoint_file(path)

    def _parse_ckpt_path(self) -> None:
        """For ``fit``, keeps the model of the given config instead of the checkpoint's hyperparameters.

        LightningCLI rebuilds the model from the hyperparameters stored in a ``--ckpt_path`` file,
        silently overriding the config and the command line (``--model.on_divergence=rollback``
        when resuming after a divergence would be dropped). A resumed run is the config's run:
        weights or optimisers that do not fit it are refused in one line when the checkpoint
        loads. ``validate``/``test``/``predict`` keep Lightning's behaviour (the trained model).
        """
        if self.config.get("subcommand") != "fit":
            super()._parse_ckpt_path()

    def before_fit(self) -> None:
        check_output_folders_writable(output_folders(self.trainer))
        ckpt_path = self.config_init["fit"].get("ckpt_path")
        if ckpt_path == "last":
            continue_newest_run_folder(self.trainer)
            last = newest_last_checkpoint(self.trainer)
            if last is not None:
                check_checkpoint_file(last)
                self.config_init["fit"]["ckpt_path"] = str(last)
        if ckpt_path is not None:
            keep_csv_metrics(self.trainer)


class SaveRunConfig(SaveConfigCallback):
    """Saves ``config.yaml`` and ``environment.yaml`` (seed, library versions) in the run folder.

    A resumed run that continues a folder keeps the original ``config.yaml`` and writes its own as
    ``config-resumed-<k>.yaml``. The seed and versions also go to every logger's hyperparameters.
    """

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if self.already_saved or not self.save_to_log_dir:
            return super().setup(trainer, pl_module, stage)
        log_dir = self._log_dir = Path(trainer.log_dir)  # a collective: every rank calls it, so not in save_config
        name = self.config_filename
        if trainer.is_global_zero and (log_dir / name).exists() and self.config.get("ckpt_path"):
            index = 1
            while (log_dir / f"config-resumed-{index}.yaml").exists():
                index += 1
            name = f"config-resumed-{index}.yaml"
        self.config_filename = trainer.strategy.broadcast(name)
        super().setup(trainer, pl_module, stage)

    def save_config(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Rank 0: the seed and versions to ``environment.yaml`` and to the loggers."""
        run = provenance()
        if self.save_to_log_dir:  # (trainer.log_dir is a collective, and only rank 0 is here)
            (self._log_dir / "environment.yaml").write_text(yaml.safe_dump(run, sort_keys=False))
        for logger in trainer.loggers:
            logger.log_hyperparams({"seed": run["seed"], "versions": run["versions"]})


def output_folders(trainer: Trainer) -> list[str]:
    """Where a run writes: the root folder, each logger's save_dir, each checkpoint callback's dirpath."""
    folders = [trainer.default_root_dir]
    folders += [logger.save_dir for logger in trainer.loggers if getattr(logger, "save_dir", None)]
    folders += [callback.dirpath for callback in trainer.checkpoint_callbacks if getattr(callback, "dirpath", None)]
    return [str(folder) for folder in folders if "://" not in str(folder)]


def continue_newest_run_folder(trainer: Trainer) -> None:
    """Points TensorBoard/CSV loggers without a fixed version at the newest version folder holding last.ckpt.

    Without this, a versioned logger opens a new ``version_<n+1>`` folder, Lightning looks for
    ``last.ckpt`` there, finds none and silently starts from scratch.
    """
    for logger in trainer.loggers:
        if not isinstance(logger, (TensorBoardLogger, CSVLogger)) or logger._version is not None:
            continue
        versions = [
            (last.stat().st_mtime, int(folder.name.split("_")[1]))
            for folder in Path(logger.root_dir).glob("version_*")
            if folder.name.split("_")[1].isdigit()
            for last in folder.glob("checkpoints/last*.ckpt")
        ]
        if versions:
            logger._version = max(versions)[1]


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


def newest_last_checkpoint(trainer: Trainer) -> Path | None:
    """The ``last*.ckpt`` that ``--ckpt_path last`` means: the newest in any checkpoint callback's folder."""
    found: list[Path] = []
    for callback in trainer.checkpoint_callbacks:
        if isinstance(callback, ModelCheckpoint):
            found += [Path(path) for path in callback._find_last_checkpoints(trainer)]
    return max(found, key=lambda path: path.stat().st_mtime) if found else None


def main(args: list[str] | None = None) -> None:
    """Console entry point ``ganbench``: ``sweep`` and ``compare``, or LightningCLI's ``fit|validate|test|predict``."""
    words = sys.argv[1:] if args is None else list(args)
    if words and words[0] == "sweep":
        from ganbench.sweep import main as sweep_main

        raise SystemExit(sweep_main(words[1:]))
    if words and words[0] == "compare":
        from ganbench.compare import main as compare_main

        raise SystemExit(compare_main(words[1:]))
    run_cli(GanbenchCLI, "ganbench", args)


def run_cli(cli_class: type[LightningCLI], program: str, args: list[str] | None = None) -> None:
    """Runs a LightningCLI so that a user's mistake ends in one ``<program>: error: ...`` line.

    Args:
        cli_class: the LightningCLI subclass to run.
        program: the command's name, starting the error line.
        args: command-line arguments (``sys.argv`` when ``None``).
    """
    try:
        cli_class(args=args, parser_kwargs={"prog": program})
    except Exception as error:
        user_error = _find_user_error(error)
        if user_error is None:
            raise
        print(f"{program}: error: {user_error}", file=sys.stderr)
        raise SystemExit(2) from None


def _find_user_error(error: BaseException | None) -> GanbenchError | None:
    """The GanbenchError behind ``error``: jsonargparse wraps errors raised in constructors."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, GanbenchError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


if __name__ == "__main__":
    main()
