"""Seconds per training step of a shipped recipe, as configured, on this machine.

Usage::

    python bench/recipe_step_time.py --config configs/cifar10/paper_conv.yaml [--steps 20] [--warmup 3] \\
        [-- --data.init_args.data_dir=/path ...]

Everything after ``--`` goes to ``ganbench fit`` unchanged. The model, data and trainer are built exactly as
``ganbench fit --config ...`` builds them (no logger, checkpoint callbacks dropped); ``--warmup`` steps run
first, then the wall time of each of the next ``--steps`` steps (one batch: the D and G updates and every
callback hook) is measured. Prints the median and, for the data given, the time of one epoch and of the
recipe's ``max_epochs``. Set ``OMP_NUM_THREADS`` to compare runs on a shared machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import lightning.pytorch as pl

from ganbench.cli import GanbenchCLI


class StepTimer(pl.Callback):
    """Wall time of every training batch, from its start hook to its end hook."""

    def __init__(self) -> None:
        self.durations: list[float] = []
        self._start = 0.0

    def on_train_batch_start(self, *args) -> None:
        self._start = time.perf_counter()

    def on_train_batch_end(self, *args) -> None:
        self.durations.append(time.perf_counter() - self._start)


def main() -> None:
    split = sys.argv.index("--") if "--" in sys.argv else len(sys.argv)
    own, forwarded = sys.argv[1:split], sys.argv[split + 1 :]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    arguments = parser.parse_args(own)
    timer = StepTimer()
    cli = GanbenchCLI(
        args=[
            f"--config={arguments.config}",
            f"--trainer.max_steps={arguments.warmup + arguments.steps}",
            "--trainer.logger=false",
            "--trainer.enable_progress_bar=false",
            "--trainer.num_sanity_val_steps=0",
            "--trainer.limit_val_batches=0",
            *forwarded,
        ],
        run=False,
    )
    cli.trainer.callbacks = [
        callback for callback in cli.trainer.callbacks if not isinstance(callback, pl.callbacks.ModelCheckpoint)
    ] + [timer]
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    measured = timer.durations[arguments.warmup :]
    median = statistics.median(measured)
    steps_per_epoch = len(cli.datamodule.train_dataloader())
    epochs = cli.config.get("trainer", {}).get("max_epochs")
    line = f"{arguments.config}: {median:.3f} s/step (median of {len(measured)}); {steps_per_epoch} steps/epoch"
    line += f" = {median * steps_per_epoch / 60:.1f} min/epoch"
    if epochs and epochs > 0:
        line += f"; {epochs} epochs = {median * steps_per_epoch * epochs / 3600:.1f} h"
    print(line)


if __name__ == "__main__":
    main()
