"""``ganbench fit|validate|test|predict``: LightningCLI with ganbench's parts importable by short name.

Every part is a constructor argument, so a config swaps it with ``class_path``/``init_args``
(``--model.loss=Minimax``, ``--model.generator=mylab.nets.MyGenerator``) and jsonargparse
rejects an unknown key or a wrong type before anything runs.

The one-line errors are :mod:`ganbench.cli_errors`' (``run_cli`` is also importable from here); what a
run saves and where it may write are :mod:`ganbench.runs.saving`'s and :mod:`ganbench.runs.writable`'s.
"""

import copy
import logging
import sys
import warnings
from dataclasses import asdict
from importlib.metadata import version

from lightning.pytorch import LightningDataModule

# Imported so that their classes can be named by their short names in configs.
import ganbench.callbacks  # noqa: F401
import ganbench.data  # noqa: F401
import ganbench.losses  # noqa: F401
import ganbench.nets  # noqa: F401
import ganbench.optim  # noqa: F401
import ganbench.priors  # noqa: F401
from ganbench.callbacks.predictions import SampleWriter
from ganbench.checkpoints import LIGHTNING_CHECKPOINT_NAMES, check_checkpoint_file
from ganbench.cli_errors import OneLineErrorsCLI, run_cli
from ganbench.module import GAN
from ganbench.results import write_test_results
from ganbench.runs import RunOptions
from ganbench.runs.plan import RunPlan, plan_run
from ganbench.runs.saving import SaveRunConfig, keep_csv_metrics
from ganbench.runs.writable import check_output_folders_writable, output_folders

__all__ = ["GanbenchCLI", "main", "run_cli"]

# A step's checkpoint holds the weights after that step's updates, which is what ganbench wants.
warnings.filterwarnings("ignore", message="Using ModelCheckpoint with manual optimization")
# A resumed or tested run's folder already holds its logs; ganbench keeps metrics.csv (keep_csv_metrics).
warnings.filterwarnings("ignore", message="Experiment logs directory .* exists and is not empty")


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
        self._model_as_given: object = None
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
        if subcommand == "fit":
            self._model_as_given = copy.deepcopy(self.config[subcommand].get("model"))

    def before_instantiate_classes(self) -> None:
        """Settles the run: its model, its folder (:func:`plan_run`) and a DDP strategy that suits a GAN.

        For ``fit``, the model is the config's, not the hyperparameters stored in a ``--ckpt_path``
        file, which LightningCLI puts in its place (silently dropping, say, ``--model.on_divergence=rollback``
        given when resuming after a divergence). A resumed run is the config's run: weights or
        optimisers that do not fit it are refused in one line when the checkpoint loads.
        ``validate``/``test``/``predict`` keep Lightning's behaviour (the trained model).
        """
        subcommand = self.config.get("subcommand")
        if not subcommand:
            return
        config = self.config[subcommand]
        if subcommand == "fit":
            config.model = self._model_as_given
        config.trainer.strategy = ddp_strategy_for_gans(config.trainer.get("strategy"))
        self.run_plan = plan_run(config, subcommand, self._words)
        resolved = config.get("ckpt_path")
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

    def before_validate(self) -> None:
        if self.run_plan is not None and self.run_plan.existing:
            keep_csv_metrics(self.trainer)

    def before_predict(self) -> None:
        """Adds a :class:`~ganbench.callbacks.SampleWriter` with its defaults when the config and options have none.

        So ``ganbench predict --config CFG --ckpt_path RUN/checkpoints/last.ckpt`` writes samples into
        ``RUN/predictions/`` with no other option. The predictions are not also kept in memory for a return
        value the command has no use for, unless ``--return_predictions=true`` is given. The run's
        ``metrics.csv`` is kept (CSVLogger deletes it when it opens the folder).
        """
        if self.run_plan is not None and self.run_plan.existing:
            keep_csv_metrics(self.trainer)
        if not any(isinstance(callback, SampleWriter) for callback in self.trainer.callbacks):
            self.trainer.callbacks.append(SampleWriter())
        config = self.config_init["predict"]
        if config.get("return_predictions") is None:
            config["return_predictions"] = False

    def after_test(self) -> None:
        """Writes ``results.json`` into the run folder, logs it to the run's loggers and says where it is."""
        if self.run_plan is None:
            return
        checkpoint = self.config_init["test"].get("ckpt_path")
        path = write_test_results(self.trainer, self.run_plan.folder, checkpoint, asdict(self.run_plan.record))
        if path is not None:
            print(f"ganbench: results written to {path}", flush=True)


def ddp_strategy_for_gans(strategy: object) -> object:
    """``ddp`` and ``ddp_spawn`` as Lightning's registered strategies that let parameters go without gradients.

    Each backward pass of a GAN reaches G or D, not both, which plain DDP refuses. A strategy given
    as a class or an object is the user's, and is left as it is.
    """
    if strategy in ("ddp", "ddp_spawn"):
        return f"{strategy}_find_unused_parameters_true"
    return strategy


class _WithoutLightningTips(logging.Filter):
    """Drops Lightning's advertising tips (``💡 Tip: ...``) from an ordinary run's output."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith("💡")


logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(_WithoutLightningTips())
# Deprecation notices that libraries raise about each other's internals: nothing a user can act on.
warnings.filterwarnings("ignore", message=r".*LeafSpec.* is deprecated")
warnings.filterwarnings("ignore", message="'set_vital' is deprecated")


def main(args: list[str] | None = None) -> None:
    """Console entry point ``ganbench``: ``sweep`` and ``compare``, or LightningCLI's ``fit|validate|test|predict``."""
    words = sys.argv[1:] if args is None else list(args)
    if words in (["--version"], ["-V"]):
        print(f"ganbench {version('ganbench')} (lightning {version('lightning')}, torch {version('torch')})")
        return
    if words and words[0] == "sweep":
        from ganbench.sweep import main as sweep_main

        raise SystemExit(sweep_main(words[1:]))
    if words and words[0] == "compare":
        from ganbench.compare import main as compare_main

        raise SystemExit(compare_main(words[1:]))
    try:
        run_cli(GanbenchCLI, "ganbench", args, description=_DESCRIPTION)
    finally:
        if not words or words[0] in ("-h", "--help"):
            print(_MORE_SUBCOMMANDS)


_DESCRIPTION = "ganbench: train, evaluate and compare GANs (Goodfellow et al. 2014 and variants) with Lightning."
_MORE_SUBCOMMANDS = """
ganbench also has:
  sweep               Run a grid of overrides over seeds, one run after another (ganbench sweep --help)
  compare             Compare finished runs: a table over seeds, curves, sample grids (ganbench compare --help)"""


if __name__ == "__main__":
    main()
