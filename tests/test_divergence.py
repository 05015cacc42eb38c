"""Divergence: non-finite losses or D outputs are found without a per-step sync, then stop or roll back."""

import json
from functools import partial

import lightning.pytorch as pl
import pytest
import torch

from ganbench.callbacks import Checkpoint
from ganbench.divergence import DivergenceError, FiniteRecord
from ganbench.optim import ClassicMomentumSGD
from tests.conftest import REPO, RandomImages, run_ganbench, tiny_gan, tiny_trainer

NAN, INF = float("nan"), float("inf")


def record_steps(record: FiniteRecord, first_step: int, values: list[float]) -> None:
    for offset, value in enumerate(values):
        record.record(first_step + offset, [torch.tensor(1.0), torch.tensor([value, 2.0])])


@pytest.mark.parametrize(
    "values, expected",
    [
        ([1.0, 2.0, 3.0, 4.0], None),
        ([1.0, 2.0, NAN, 4.0], 7),
        ([1.0, INF, NAN, 4.0], 6),
        ([-INF, 1.0, 1.0, 1.0], 5),
        ([1.0, 1.0, 1.0, NAN], 8),
        ([1.0, NAN, 1.0, 1.0], 6),  # finite again later: still the first bad step
    ],
)
def test_record_finds_the_first_non_finite_step_of_the_window(values, expected):
    record = FiniteRecord()
    record_steps(record, 5, values)
    assert record.first_nonfinite_step() == expected


def test_a_finite_window_starts_a_new_one():
    record = FiniteRecord()
    record_steps(record, 1, [1.0, 2.0])
    assert record.first_nonfinite_step() is None
    record_steps(record, 3, [1.0, NAN])
    assert record.first_nonfinite_step() == 4
    record.reset()
    record_steps(record, 9, [1.0])
    assert record.first_nonfinite_step() is None


class PoisonWeights(pl.Callback):
    """Fills D's weights with NaN at the end of the given steps, as an exploding update would."""

    def __init__(self, *steps: int) -> None:
        self.steps = set(steps)

    def on_train_batch_end(self, trainer, pl_module, *args) -> None:
        if trainer.global_step in self.steps:
            with torch.no_grad():
                for parameter in pl_module.discriminator.parameters():
                    parameter.fill_(NAN)


def sgd_gan(**kwargs):
    sgd = partial(ClassicMomentumSGD, lr=0.1, momentum=0.5)
    return tiny_gan(generator_optimizer=sgd, discriminator_optimizer=sgd, **kwargs)


def fit_poisoned(tmp_path, *poisoned_steps, max_steps=12, every=4, gan=None, log_every_n_steps=50):
    pl.seed_everything(0)
    checkpoint = Checkpoint(dirpath=tmp_path, every_n_train_steps=every)
    trainer = tiny_trainer(
        tmp_path,
        max_steps=max_steps,
        callbacks=[PoisonWeights(*poisoned_steps), checkpoint],
        enable_checkpointing=True,
        log_every_n_steps=log_every_n_steps,
    )
    gan = gan or sgd_gan()
    trainer.fit(gan, RandomImages(count=40, batch_size=4))
    return gan, trainer


def test_injected_nan_stops_the_run_naming_the_step_and_the_last_good_checkpoint(tmp_path):
    with pytest.raises(DivergenceError) as stopped:
        fit_poisoned(tmp_path, 5)  # step 6 is the first with non-finite losses; found before step 8's checkpoint
    message = str(stopped.value)
    assert "\n" not in message
    assert "non-finite loss or discriminator output at step 6" in message
    assert f"the last good checkpoint is {tmp_path / 'last.ckpt'}" in message
    assert "--model.on_divergence=rollback" in message
    saved = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert saved["global_step"] == 4  # nothing after the divergence was written
    assert all(torch.isfinite(value).all() for value in saved["state_dict"].values())
    assert sorted(path.name for path in tmp_path.glob("*.ckpt")) == ["epoch=0-step=4.ckpt", "last.ckpt"]


def test_divergence_before_any_checkpoint_says_so(tmp_path):
    with pytest.raises(DivergenceError, match="at step 3; no checkpoint was written before it"):
        fit_poisoned(tmp_path, 2, every=100, max_steps=6)


def test_the_record_is_read_only_at_log_and_checkpoint_steps(tmp_path, monkeypatch):
    reads = []
    original = FiniteRecord.first_nonfinite_step

    def counted(record):
        reads.append(1)
        return original(record)

    monkeypatch.setattr(FiniteRecord, "first_nonfinite_step", counted)
    pl.seed_everything(0)
    trainer = tiny_trainer(tmp_path, max_steps=40, log_every_n_steps=20)  # 10 steps an epoch, no checkpoints
    trainer.fit(sgd_gan(), RandomImages(count=40, batch_size=4))
    # Steps 20 and 40 (logging), the last batch of each of the 4 epochs (20 and 40 among them): 4 reads, not 40.
    assert len(reads) == 4


def test_rollback_reloads_the_last_good_checkpoint_and_halves_the_learning_rates(tmp_path):
    gan = sgd_gan(on_divergence="rollback", rollback_lr_factor=0.5)
    with pytest.warns(UserWarning, match=r"at step 6: rolled back to .*last.ckpt \(step 4\).* 0.5 times"):
        gan, trainer = fit_poisoned(tmp_path, 5, gan=gan)
    assert trainer.global_step == 12  # the step count goes on
    assert all(torch.isfinite(parameter).all() for parameter in gan.parameters())
    assert [group["lr"] for optimizer in trainer.optimizers for group in optimizer.param_groups] == [0.05, 0.05]
    assert gan.divergence.rollbacks == 1
    saved = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert saved["global_step"] == 12 and saved["ganbench"]["lr_scale"] == 0.5


def test_rollback_gives_up_after_max_rollbacks(tmp_path):
    gan = sgd_gan(on_divergence="rollback", max_rollbacks=2)
    with pytest.warns(UserWarning, match="rolled back"), pytest.raises(DivergenceError) as stopped:
        fit_poisoned(tmp_path, 5, 9, 13, gan=gan, max_steps=20)
    assert "diverged again after 2 rollback(s); lower the learning rates" in str(stopped.value)


# A user callback (module source) for the command-line tests: NaN into one step's images (on one rank or all).
POISON = """
import torch
from lightning.pytorch import Callback


class PoisonBatch(Callback):
    def __init__(self, step: int, rank: int | None = None):
        self.step = step
        self.rank = rank

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.step and self.rank in (None, trainer.global_rank):
            batch[0].fill_(float("nan"))  # this rank's images: only its own losses turn non-finite
"""


def fit_poisoned_command(tmp_path, *options: str, timeout: float = 300):
    (tmp_path / "poison.py").write_text(POISON)
    return run_ganbench(
        "fit",
        f"--config={REPO / 'configs/quickstart.yaml'}",
        "--trainer.max_steps=12",
        "--trainer.enable_progress_bar=false",
        f"--trainer.default_root_dir={tmp_path}",
        "--trainer.log_every_n_steps=5",
        *options,
        cwd=tmp_path,
        timeout=timeout,
    )


def test_command_stops_with_one_line_naming_step_and_checkpoint(tmp_path):
    callback = {"class_path": "poison.PoisonBatch", "init_args": {"step": 6}}
    result = fit_poisoned_command(tmp_path, f"--trainer.callbacks+={json.dumps(callback)}")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("ganbench: error: Training diverged: non-finite loss or discriminator output at step 7;")
    assert "no checkpoint was written before it" in error  # the quickstart config saves every 1000 steps


def test_ddp_ranks_stop_together_when_one_rank_diverges(tmp_path):
    """NaN in rank 1's batch only, at a check step: without agreeing, rank 0 would wait for rank 1 forever.

    With simultaneous updates rank 0's losses of that step stay finite (the averaged NaN gradients reach
    its weights only in the update), so only rank 1's record shows the divergence.
    """
    callback = {"class_path": "poison.PoisonBatch", "init_args": {"step": 9, "rank": 1}}
    result = fit_poisoned_command(
        tmp_path,
        "--model.schedule=simultaneous",
        "--trainer.accelerator=cpu",
        "--trainer.devices=2",
        "--trainer.strategy=ddp",
        f"--trainer.callbacks+={json.dumps(callback)}",
        timeout=150,  # a rank left waiting in an all-reduce would hang until then
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr  # not rank 0 crashing in an all-reduce
    errors = [line for line in result.stderr.splitlines() if line.startswith("ganbench: error: Training diverged")]
    assert errors and all("non-finite loss or discriminator output at step 10;" in error for error in errors)
