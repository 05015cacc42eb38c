"""``ganbench fit|validate|test|predict``: LightningCLI with ganbench's parts importable by short name.

Every part is a constructor argument, so a config swaps it with ``class_path``/``init_args``
(``--model.loss=Minimax``, ``--model.generator=mylab.nets.MyGenerator``) and jsonargparse
rejects an unknown key or a wrong type before anything runs.
"""

import csv
import sys
import warnings
from argparse import ArgumentError
from dataclasses import asdict
from pathlib import Path

import yaml
from lightning.pytorch import LightningDataModule, LightningModule, Trainer
from lightning.pytorch.cli import LightningCLI, SaveConfigCallback
from lightning.pytorch.loggers import CSVLogger, WandbLogger
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
from ganbench.results import upload_to_wandb, write_test_results
from ganbench.run_state import provenance
from ganbench.runs import RunOptions
from ganbench.runs.plan import RunPlan, plan_run
from ganbench.validation import check_output_folders_writable

# A step's checkpoint holds the weights after that step's updates, which is what ganbench wants.
warnings.filterwarnings("ignore", message="Using ModelCheckpoint with manual optimization")
# A resumed or tested run's folder already holds its logs; ganbench keeps metrics.csv (keep_csv_metrics).
warnings.filterwarnings("ignore", message="Experiment logs directory .* exists and is not empty")


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

    On top of LightningCLI: one-line errors; ``--ckpt_path`` checked before it is read; one folder
    per run whatever the logger (:mod:`ganbench.runs`), named from the config and the command line
    (``--run.name``, ``--run.group``, ``--run.tags`` override), continued by ``--ckpt_path last`` and
    by ``test`` with the run's checkpoint; output folders checked writable before anything runs; the
    seed and library versions saved beside the config; ``test`` writes ``results.json`` there.
    """

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("model_class", GAN)
        kwargs.setdefault("datamodule_class", LightningDataModule)
        kwargs.setdefault("subclass_mode_data", True)
        kwargs.setdefault("auto_configure_optimizers", False)
        kwargs.setdefault("save_config_callback", SaveRunConfig)
        self.run_plan: RunPlan | None = None
        self._words: list[str] = []
        super().__init__(*args, **kwargs)

    def add_arguments_to_parser(self, parser) -> None:
        parser.add_class_arguments(RunOptions, "run")

    def parse_arguments(self, parser, args) -> None:
        """Parses, then refuses a bad ``--ckpt_path`` before LightningCLI reads its hyperparameters."""
        self._words = sys.argv[1:] if args is None else [str(arg) for arg in args]
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

    def before_instantiate_classes(self) -> None:
        """Chooses the run folder and points the loggers and checkpoints at it (:func:`plan_run`)."""
        subcommand = self.config.get("subcommand")
        if subcommand:
            self.run_plan = plan_run(self.config[subcommand], subcommand, self._words)
            resolved = self.config[subcommand].get("ckpt_path")
            if isinstance(resolved, str) and resolved not in LIGHTNING_CHECKPOINT_NAMES:
                check_checkpoint_file(resolved)  # --ckpt_path last, now a file

    def instantiate_classes(self) -> None:
        super().instantiate_classes()
        for callback in self.trainer.callbacks:
            if isinstance(callback, SaveRunConfig):
                callback.run_plan = self.run_plan

    def before_fit(self) -> None:
        check_output_folders_writable(output_folders(self.trainer))
        if self.run_plan is not None and self.run_plan.existing:
            keep_csv_metrics(self.trainer)

    def before_test(self) -> None:
        if self.run_plan is not None and self.run_plan.existing:
            keep_csv_metrics(self.trainer)

    def after_test(self) -> None:
        """Writes ``results.json`` into the run folder, logs it to the run's loggers and says where it is."""
        if self.run_plan is None:
            return
        checkpoint = self.config_init["test"].get("ckpt_path")
        path = write_test_results(self.trainer, self.run_plan.folder, checkpoint, asdict(self.run_plan.record))
        if path is not None:
            print(f"ganbench: results written to {path}", flush=True)


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


def output_folders(trainer: Trainer) -> list[str]:
    """Where a run writes: the root folder, each logger's save_dir, each checkpoint callback's dirpath."""
    folders = [trainer.default_root_dir]
    folders += [logger.save_dir for logger in trainer.loggers if getattr(logger, "save_dir", None)]
    folders += [callback.dirpath for callback in trainer.checkpoint_callbacks if getattr(callback, "dirpath", None)]
    return [str(folder) for folder in folders if "://" not in str(folder)]


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


def main(args: list[str] | None = None) -> None:
    """Console entry point ``ganbench``: ``sweep`` and ``compare``, or LightningCLI's ``fit|validate|test|predict``."""
    words = sys.argv[1:] if args is None else list(args)
    if words and words[0] == "sweep":
        from ganbench.sweep import main as sweep_main

        raise SystemExit(sweep_main(words[1:]))
    if words and words[0] == "compare":
        from ganbench.compare import main as compare_main

        raise SystemExit(compare_main(words[1:]))
    try:
        run_cli(GanbenchCLI, "ganbench", args)
    finally:
        if not words or words[0] in ("-h", "--help"):
            print(_MORE_SUBCOMMANDS)


_MORE_SUBCOMMANDS = """
ganbench also has:
  sweep               Run a grid of overrides over seeds, one run after another (ganbench sweep --help)
  compare             Compare finished runs: a table over seeds, curves, sample grids (ganbench compare --help)"""


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
