"""Divergence: non-finite losses or discriminator outputs, found without a host sync per step.

Every step adds the sum of its losses and D's outputs to a device-side record (two kernels: NaN and
infinity propagate through a sum). The record is read, which is one host sync, only on the
steps where Lightning writes logs, before any checkpoint is written and at the end of an epoch.
A divergence then either stops the run with a message naming the first bad step and the last good
checkpoint, or rolls back to that checkpoint and lowers the learning rates (``on_divergence``).
"""

from pathlib import Path
from typing import Any, Literal

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor

from ganbench.errors import GanbenchError
from ganbench.library_internals import checkpoint_interval
from ganbench.run_state import world_size

_NONE = 2**62  # "no non-finite step" in the all-reduce of the earliest one


class DivergenceError(GanbenchError):
    """Training produced a non-finite loss or discriminator output."""


class FiniteRecord:
    """Keeps, on the device, one sum per step of the current window; finds the first that was not finite.

    A sum is non-finite exactly when one of its terms is (NaN and infinities propagate; finite float32
    logits and losses are far too small to overflow it). ``record`` costs two kernels and never syncs;
    ``first_nonfinite_step`` syncs once for the whole window.
    """

    def __init__(self) -> None:
        self._totals: list[Tensor] = []
        self._first_step = 0

    def record(self, step: int, values: list[Tensor]) -> None:
        """Adds step ``step``'s tensors (losses, logits) to the window."""
        if not self._totals:
            self._first_step = step
        flat = [value.detach().reshape(-1).float() for value in values]
        self._totals.append(torch.cat(flat).sum())

    def first_nonfinite_step(self) -> int | None:
        """The first step of the window whose values were not finite, else ``None`` (and a new window)."""
        if not self._totals:
            return None
        finite = torch.isfinite(torch.stack(self._totals))
        self._totals = []
        if bool(finite.all()):
            return None
        return self._first_step + int(finite.logical_not().nonzero()[0])

    def reset(self) -> None:
        self._totals = []


class DivergenceGuard:
    """Watches a GAN's training steps for non-finite values; stops the run or rolls it back.

    :class:`ganbench.GAN` builds it from its ``on_divergence``, ``rollback_lr_factor`` and ``max_rollbacks``
    arguments and calls it from its own hooks: :meth:`watch` at the end of every training step (before any
    callback's ``on_train_batch_end``, so before a checkpoint callback saves), :meth:`check` when validation
    starts, :meth:`check_before_saving` inside every checkpoint save. It is not a ``Callback``: Lightning
    calls each of a callback's hooks at every step whether it is used or not, which costs more than the watch.

    Args:
        action: ``stop`` (raise :class:`DivergenceError`) or ``rollback`` (reload the last good
            checkpoint's weights, optimiser and scheduler states and multiply every learning rate by
            ``lr_factor``; the step count and the data stream go on).
        lr_factor: learning-rate multiplier applied at each rollback.
        max_rollbacks: rollbacks allowed in one run before it stops.
    """

    def __init__(self, action: Literal["stop", "rollback"] = "stop", lr_factor: float = 0.5, max_rollbacks: int = 3):
        self.action = action
        self.lr_factor = lr_factor
        self.max_rollbacks = max_rollbacks
        self.record = FiniteRecord()
        self.rollbacks = 0
        self.lr_scale = 1.0

    def watch(self, module: pl.LightningModule, values: list[Tensor]) -> None:
        """Adds a step's losses and D outputs to the record; reads it (one host sync) only where it matters:
        on the steps Lightning writes logs, and before a step after which a checkpoint may be written."""
        trainer = module.trainer
        step = trainer.global_step
        self.record.record(step, values)
        if step % max(trainer.log_every_n_steps, 1) == 0 or _checkpoint_may_follow(trainer):
            self.check(module)

    def check(self, module: pl.LightningModule) -> None:
        """Reads the record (one sync); acts if a step was non-finite."""
        bad_step = self._first_nonfinite_step_of_any_rank(module.device)
        if bad_step is None:
            return
        checkpoint = last_good_checkpoint(module.trainer)
        if self.action == "rollback" and checkpoint is not None and self.rollbacks < self.max_rollbacks:
            self._roll_back(module, checkpoint, bad_step)
            return
        raise DivergenceError(_stop_message(bad_step, checkpoint, self))

    def check_before_saving(self, module: pl.LightningModule) -> None:
        """Never lets non-finite weights into a checkpoint: the run stops instead."""
        bad_step = self._first_nonfinite_step_of_any_rank(module.device)
        if bad_step is not None:
            raise DivergenceError(_stop_message(bad_step, last_good_checkpoint(module.trainer), self))

    def _first_nonfinite_step_of_any_rank(self, device: torch.device) -> int | None:
        """The earliest non-finite step of any rank, so that every rank stops or rolls back together.

        Under DDP one rank's batch can turn non-finite a step before the averaged gradients carry it
        to the others; deciding alone, that rank would leave the others waiting in the next all-reduce.
        All ranks check at the same steps, so this is one small all-reduce each time.
        """
        bad_step = self.record.first_nonfinite_step()
        if world_size() == 1:
            return bad_step
        earliest = torch.tensor(_NONE if bad_step is None else bad_step, dtype=torch.long, device=device)
        torch.distributed.all_reduce(earliest, op=torch.distributed.ReduceOp.MIN)
        return None if int(earliest) == _NONE else int(earliest)

    def _roll_back(self, module: pl.LightningModule, path: Path, bad_step: int) -> None:
        trainer = module.trainer
        checkpoint = trainer.strategy.load_checkpoint(path)
        module.load_state_dict(checkpoint["state_dict"])
        for optimizer, state in zip(trainer.optimizers, checkpoint["optimizer_states"]):
            optimizer.load_state_dict(state)
        for config, state in zip(trainer.lr_scheduler_configs, checkpoint.get("lr_schedulers", [])):
            config.scheduler.load_state_dict(state)
        saved_scale = checkpoint.get("ganbench", {}).get("lr_scale", 1.0)
        self.rollbacks += 1
        self.lr_scale *= self.lr_factor
        scale_learning_rates(trainer, self.lr_scale / saved_scale)
        self.record.reset()
        rank_zero_warn(
            f"Non-finite loss or discriminator output at step {bad_step}: rolled back to {path} "
            f"(step {checkpoint.get('global_step')}) and set the learning rates to {self.lr_scale:g} times "
            f"the config's (rollback {self.rollbacks} of {self.max_rollbacks}); the step count goes on.",
        )

    def state(self) -> dict[str, Any]:
        return {"lr_scale": self.lr_scale, "rollbacks": self.rollbacks}

    def load_state(self, state: dict[str, Any]) -> None:
        self.lr_scale = state.get("lr_scale", 1.0)
        self.rollbacks = state.get("rollbacks", 0)


def _checkpoint_may_follow(trainer: pl.Trainer) -> bool:
    """Whether a checkpoint may be written before the next step (so the weights must be checked now)."""
    step = trainer.global_step
    every = [checkpoint_interval(callback) for callback in trainer.checkpoint_callbacks]
    return trainer.is_last_batch or step == trainer.max_steps or any(n and step % n == 0 for n in every)


def scale_learning_rates(trainer: pl.Trainer, factor: float) -> None:
    """Multiplies every optimiser's learning rate, and the base rates its scheduler decays from, by ``factor``."""
    for optimizer in trainer.optimizers:
        for group in optimizer.param_groups:
            group["lr"] *= factor
            if "initial_lr" in group:
                group["initial_lr"] *= factor
    for config in trainer.lr_scheduler_configs:
        scheduler = config.scheduler
        if hasattr(scheduler, "base_lrs"):  # (get_last_lr() shows the new rates after the next update)
            scheduler.base_lrs = [lr * factor for lr in scheduler.base_lrs]


def last_good_checkpoint(trainer: pl.Trainer) -> Path | None:
    """The newest checkpoint this run wrote (or resumed from); every one was checked finite when written."""
    candidates = [trainer.ckpt_path] if trainer.ckpt_path else []
    for callback in trainer.checkpoint_callbacks:
        candidates += [getattr(callback, "last_model_path", ""), getattr(callback, "best_model_path", "")]
    existing = [Path(path) for path in candidates if path and Path(path).is_file()]
    return max(existing, key=lambda path: path.stat().st_mtime) if existing else None


def _stop_message(bad_step: int, checkpoint: Path | None, policy: DivergenceGuard) -> str:
    where = f"the last good checkpoint is {checkpoint}" if checkpoint else "no checkpoint was written before it"
    if policy.action == "rollback" and policy.rollbacks >= policy.max_rollbacks:
        advice = f"it diverged again after {policy.rollbacks} rollback(s); lower the learning rates in the config"
    else:
        advice = (
            "to go on, resume from it with --ckpt_path and --model.on_divergence=rollback (which lowers the "
            "learning rates when it diverges again), or lower the learning rates in the config and start again"
        )
    return (
        f"Training diverged: non-finite loss or discriminator output at step {bad_step}; {where} "
        f"(nothing later was saved). {advice[0].upper()}{advice[1:]}."
    )
