"""Crash-safe checkpoints: written atomically, every N steps, on Ctrl-C / SIGTERM and at the end of training."""

import os
import signal
import threading
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.plugins.io import TorchCheckpointIO
from lightning.pytorch.utilities import rank_zero_info
from lightning.pytorch.utilities.exceptions import SIGTERMException

# Exit status of a run stopped by a signal, as a shell reports it (128 + the signal's number).
_EXIT_STATUS = {signal.SIGINT: 128 + signal.SIGINT, signal.SIGTERM: 128 + signal.SIGTERM}


class Checkpoint(ModelCheckpoint):
    """Lightning's ``ModelCheckpoint`` with ganbench's defaults and guarantees.

    - ``last.ckpt`` every ``every_n_train_steps`` steps (default 500), so a run killed outright
      (SIGKILL, power loss) loses at most that many steps.
    - Every file is written to ``<name>.tmp`` in the same folder, flushed to disk, then renamed over
      the old one: a crash mid-write leaves the previous checkpoint whole, never a truncated file.
      (Lightning writes through a temporary file in the system's temp folder, which is a copy rather
      than a rename when that folder is on another file system, and does not flush it.)
    - The first Ctrl-C (SIGINT) and SIGTERM let the current step finish, write ``last.ckpt``, and end
      the run with status 130 or 143; a second Ctrl-C aborts at once. Resuming from that checkpoint
      gives the same weights as a run that was never stopped.
    - Training that ends (``max_steps``, ``max_epochs``) writes ``last.ckpt`` for its final step.

    Every other argument is ``ModelCheckpoint``'s. The atomic writes come from
    :class:`AtomicCheckpointIO`, which this callback installs as the strategy's checkpoint IO unless
    the trainer was given another one.

    Args:
        every_n_train_steps: steps between checkpoints.
        save_last: also keep ``last.ckpt`` (what ``--ckpt_path last`` resumes from).
    """

    def __init__(self, every_n_train_steps: int | None = 500, save_last: bool | None = True, **kwargs: Any) -> None:
        super().__init__(every_n_train_steps=every_n_train_steps, save_last=save_last, **kwargs)
        self._stop_signal: int | None = None
        self._previous_sigint_handler: Any = None
        self.saved_step: int | None = None  # the step of the newest checkpoint written in this run
        self.saved_path: str | None = None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        super().setup(trainer, pl_module, stage)
        if type(trainer.strategy.checkpoint_io) is TorchCheckpointIO:  # not one the user chose
            trainer.strategy.checkpoint_io = AtomicCheckpointIO()

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict) -> None:
        """Notes the step of every checkpoint written (by this callback's schedule or by the extra saves)."""
        self.saved_step = trainer.global_step

    # ------------------------------------------------------------------ Ctrl-C and SIGTERM

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Turns the first Ctrl-C into a stop at the end of the current step (as Lightning treats SIGTERM)."""
        if threading.current_thread() is not threading.main_thread():
            return
        self._previous_sigint_handler = signal.getsignal(signal.SIGINT)

        def stop_after_this_step(signum: int, frame: Any) -> None:
            if self._stop_signal is not None:  # the second Ctrl-C aborts
                signal.signal(signal.SIGINT, signal.default_int_handler)
                raise KeyboardInterrupt
            self._stop_signal = signum
            print("\nCtrl-C: finishing this step and saving last.ckpt (Ctrl-C again aborts).", flush=True)
            sigterm_handler = signal.getsignal(signal.SIGTERM)
            if callable(sigterm_handler):  # Lightning's: ends the loop after this step, on every rank
                sigterm_handler(signal.SIGTERM, frame)

        signal.signal(signal.SIGINT, stop_after_this_step)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        """On SIGTERM or Ctrl-C (raised by Lightning between steps) writes ``last.ckpt``; not on errors."""
        self._restore_sigint_handler()
        if not isinstance(exception, SIGTERMException) or trainer.sanity_checking:
            return
        stop_signal = self._stop_signal or signal.SIGTERM
        if self.saved_step != trainer.global_step:
            self.save_now(trainer)
        exception.code = _EXIT_STATUS.get(stop_signal, 1)
        saved = self.saved_path or self.last_model_path or self.best_model_path
        rank_zero_info(
            f"Stopped by {signal.Signals(stop_signal).name} after step {trainer.global_step}; saved "
            f"{saved}. Resume with: ganbench fit --config ... --ckpt_path last"
        )

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any) -> None:
        """Periodic checkpoints, and one after the final step (``max_steps`` or the last epoch's last batch).

        The final one is written here rather than when training ends: the loops' state is then that of
        any other step, so a run resumed from it to a larger ``max_steps`` continues the same epoch
        and data order, exactly as a run that had been given the larger ``max_steps`` from the start.
        """
        super().on_train_batch_end(trainer, pl_module, *args)
        if _is_final_step(trainer) and self.saved_step != trainer.global_step:
            self.save_now(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Writes the final step's checkpoint if training stopped otherwise (e.g. ``trainer.should_stop``)."""
        self._restore_sigint_handler()
        if self.saved_step != trainer.global_step and not trainer.fast_dev_run:
            self.save_now(trainer)

    def save_now(self, trainer: pl.Trainer) -> None:
        """Writes this step's checkpoint now (``last.ckpt``, or the step's own name without ``save_last``).

        Called on every rank (``trainer.save_checkpoint`` is a collective; rank 0 writes).
        """
        values = {
            **trainer.callback_metrics,
            "epoch": torch.tensor(trainer.current_epoch),
            "step": torch.tensor(trainer.global_step),
        }
        if self.save_last:
            path = self.format_checkpoint_name(values, self.CHECKPOINT_NAME_LAST)
            self.last_model_path = path  # before saving: it is part of the callback's saved state
        else:
            path = self.format_checkpoint_name(values)
        trainer.save_checkpoint(path, self.save_weights_only)
        self.saved_path = path
        if trainer.is_global_zero:
            for logger in trainer.loggers:
                logger.after_save_checkpoint(self)

    def _restore_sigint_handler(self) -> None:
        if self._previous_sigint_handler is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, self._previous_sigint_handler)
            self._previous_sigint_handler = None


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint IO, writing each file atomically: a crash mid-write keeps the old file whole.

    The file is written to ``<name>.tmp`` in the same folder, flushed to disk, then renamed over the
    old one, and the folder is flushed so that the rename survives a power loss. Remote paths
    (``s3://...``) are written as Lightning writes them.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if "://" in str(path):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        temporary = f"{path}.tmp"
        super().save_checkpoint(checkpoint, temporary, storage_options)
        _flush_to_disk(temporary)
        os.replace(temporary, path)
        _flush_to_disk(os.path.dirname(os.fspath(path)) or ".")


def _is_final_step(trainer: pl.Trainer) -> bool:
    if trainer.fast_dev_run or trainer.sanity_checking:
        return False
    if trainer.max_steps is not None and 0 < trainer.max_steps <= trainer.global_step:
        return True
    max_epochs = trainer.max_epochs
    return bool(trainer.is_last_batch and max_epochs is not None and 0 < max_epochs <= trainer.current_epoch + 1)


def _flush_to_disk(path: str | Path) -> None:
    """fsync a file, or a folder (so a rename in it survives a power loss); ignored where unsupported."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
