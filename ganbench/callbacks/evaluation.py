"""What the evaluation callbacks share: when they run, how rank 0 evaluates for every rank, how they report.

DDP. Rank 0 evaluates and broadcasts its result; every rank logs that same value, so the figure is
the one a single device gives for rank 0's weights (the weights a checkpoint holds). Evaluating on
every rank would not do: BatchNorm running statistics follow each rank's own last batch, so in eval
mode the ranks' generators differ slightly. Every rank joins the broadcast at the same point, and an
error on rank 0 is re-raised on every rank, so no rank is left waiting in it.
"""

from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities import rank_zero_warn

from ganbench.errors import ConfigError


class EvaluationCallback(pl.Callback):
    """Base of ``ParzenEvaluation`` and ``FIDEvaluation``.

    During ``fit`` it evaluates at the end of validation every ``every_n_epochs`` epochs (0: never);
    in ``ganbench validate`` and ``ganbench test`` every time, printing one line. Subclasses
    implement :meth:`evaluate_stage` (runs on rank 0), :meth:`report` (runs on every rank),
    :meth:`headline` (the one value that sums a result up) and :meth:`entries` (the result's values
    with their protocol, for ``results.json``).

    The first evaluation callback of a trainer also logs its headline value as ``hp_metric`` (the
    value TensorBoard's and W&B's run tables sort by), so that it is a real figure, not a placeholder.

    Args:
        every_n_epochs: during ``fit``, evaluate after every this many epochs' validation.
    """

    def __init__(self, every_n_epochs: int = 1) -> None:
        if every_n_epochs < 0:
            raise ConfigError(f"{type(self).__name__}: every_n_epochs must be >= 0 (0: off), got {every_n_epochs}.")
        self.every_n_epochs = every_n_epochs
        self.results: list[Any] = []
        self.latest: dict[str, Any] = {}  # stage -> its last result

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        check_can_evaluate(type(self).__name__, pl_module, getattr(trainer, "datamodule", None))

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        fitting = trainer.state.fn == TrainerFn.FITTING
        if fitting and (self.every_n_epochs == 0 or (trainer.current_epoch + 1) % self.every_n_epochs != 0):
            return
        self._run(trainer, pl_module, "val", announce=not fitting)

    def on_test_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._run(trainer, pl_module, "test", announce=True)

    def evaluate_stage(self, pl_module: pl.LightningModule, datamodule: Any, stage: str) -> Any:
        """Computes the result for ``stage`` (``val`` or ``test``); called on rank 0 only."""
        raise NotImplementedError

    def report(self, trainer: pl.Trainer, pl_module: pl.LightningModule, result: Any, stage: str, announce: bool):
        """Logs ``result`` (on every rank) and prints its line when ``announce`` (rank 0)."""
        raise NotImplementedError

    def headline(self, result: Any) -> float:
        """The one value that sums ``result`` up (logged as ``hp_metric``)."""
        raise NotImplementedError

    def entries(self, result: Any, stage: str) -> dict[str, dict[str, Any]]:
        """``{log key: {"value": ..., "protocol": {...}, ...}}`` for ``results.json``."""
        raise NotImplementedError

    def metric_entries(self, stage: str) -> dict[str, dict[str, Any]]:
        """The entries of the last evaluation of ``stage`` (none when it has not run)."""
        return self.entries(self.latest[stage], stage) if stage in self.latest else {}

    def _run(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str, announce: bool) -> None:
        result = self._evaluate_on_rank_zero(trainer, pl_module, stage)
        self.results.append(result)
        self.latest[stage] = result
        self.report(trainer, pl_module, result, stage, announce)
        first = next(callback for callback in trainer.callbacks if isinstance(callback, EvaluationCallback))
        if first is self and stage == "val":
            pl_module.log("hp_metric", torch.tensor(self.headline(result), dtype=torch.float64), sync_dist=False)

    def _evaluate_on_rank_zero(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> Any:
        """Evaluates on rank 0 and broadcasts the result (a collective every rank joins)."""
        outcome: Any = None
        error: Exception | None = None
        if trainer.is_global_zero:
            try:
                outcome = self.evaluate_stage(pl_module, trainer.datamodule, stage)
            except Exception as caught:  # sent to the other ranks, so none waits forever in the broadcast
                error, outcome = caught, RuntimeError(f"{type(self).__name__} failed on rank 0: {caught!r}")
        outcome = trainer.strategy.broadcast(outcome, src=0)
        if error is not None:
            raise error
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def announce(trainer: pl.Trainer, line: str) -> None:
    """Prints ``line`` on a line of its own, above the progress bar when one is shown."""
    progress_bar = trainer.progress_bar_callback
    if progress_bar is not None and progress_bar.is_enabled:
        progress_bar.print(line)
    else:
        print(line, flush=True)


def warn_failed_evaluation(callback: str, trainer: pl.Trainer, failure: str) -> None:
    """Warns (a ``RuntimeWarning``, on rank 0) that an evaluation failed and NaN was logged in its place.

    A failed evaluation (a diverged generator: NaN or infinite samples or results) does not stop training;
    this says which callback failed, when, and why.

    Args:
        callback: the callback's name, e.g. ``FIDEvaluation``.
        trainer: the trainer, for the epoch and step.
        failure: why the evaluation failed.
    """
    where = f"epoch {trainer.current_epoch}, step {trainer.global_step}"
    rank_zero_warn(f"{callback} failed at {where}: {failure}; NaN logged.", category=RuntimeWarning)


def check_can_evaluate(callback: str, pl_module: pl.LightningModule, datamodule: object) -> None:
    """Raises :class:`ConfigError` unless the module can sample and the data module can hand out whole splits.

    Args:
        callback: the callback's name, for the message.
        pl_module: needs ``sample(n, generator=...)``.
        datamodule: needs ``split_images(split, limit)``.
    """
    if not callable(getattr(pl_module, "sample", None)):
        raise ConfigError(
            f"{callback} needs a module with sample(n, generator=...), such as ganbench.GAN; "
            f"{type(pl_module).__name__} has none."
        )
    if not callable(getattr(datamodule, "split_images", None)):
        got = "no data module" if datamodule is None else type(datamodule).__name__
        raise ConfigError(
            f"{callback} needs a data module with split_images(split, limit) (every "
            f"ganbench.data.ImageDataModule has it), got {got}."
        )


def dataset_name(datamodule: object) -> str:
    """``datamodule.dataset_name`` if set, else the class name less ``DataModule`` and an embedded-subset ``Sample``.

    ``MNISTDataModule`` and ``MNISTSampleDataModule`` (whose test split is the whole MNIST test set) give ``MNIST``.
    """
    name = getattr(datamodule, "dataset_name", None)
    if isinstance(name, str) and name:
        return name
    name = type(datamodule).__name__.removesuffix("DataModule")
    return name.removesuffix("Sample") or name or type(datamodule).__name__
