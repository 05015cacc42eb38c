"""Exact resume and crash safety: a run of 2N steps equals N steps resumed for N more, bit for bit on CPU.

Covers the Python API (mid-epoch and epoch-crossing resumes, with dropout, the paper's momentum SGD,
learning-rate decay and momentum ramp, validation in between, a data-loading worker), Ctrl-C, the
``ganbench fit ... --ckpt_path last`` command, SIGKILL of a running ``ganbench fit``, atomic writes,
and checkpoints refused for being damaged or from another configuration.
"""

import csv
import os
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
import yaml
from lightning.pytorch.plugins.io import TorchCheckpointIO

from ganbench import GAN
from ganbench.callbacks import Checkpoint, MomentumRamp
from ganbench.nets import MLPDiscriminator, MLPEncoder, MLPGenerator
from ganbench.optim import ClassicMomentumSGD, ExponentialDecay
from ganbench.run_state import IncompatibleCheckpointError
from tests.conftest import REPO, RandomImages, run_ganbench, tiny_trainer

STEPS_PER_EPOCH = 10  # RandomImages(count=40, batch_size=4)


def paper_gan(hidden: int = 8) -> GAN:
    """The paper's recipe in miniature: dropout in D, momentum SGD with decaying learning rates."""
    generator = MLPGenerator(latent_dim=3, hidden_dims=(hidden,), image_shape=(1, 4, 4))
    discriminator = MLPDiscriminator(image_shape=(1, 4, 4), hidden_dims=(6,), dropout=0.3)
    sgd = partial(ClassicMomentumSGD, lr=0.1, momentum=0.5)
    decay = partial(ExponentialDecay, decay_factor=1.01)
    return GAN(
        generator,
        discriminator,
        generator_optimizer=sgd,
        discriminator_optimizer=sgd,
        generator_scheduler=decay,
        discriminator_scheduler=decay,
    )


def adam_gan() -> GAN:
    generator = MLPGenerator(latent_dim=3, hidden_dims=(8,), image_shape=(1, 4, 4), batch_norm=True)
    discriminator = MLPDiscriminator(image_shape=(1, 4, 4), hidden_dims=(6,), dropout=0.2)
    adam = partial(torch.optim.Adam, lr=1e-3, betas=(0.5, 0.999))
    return GAN(
        generator, discriminator, schedule="simultaneous", generator_optimizer=adam, discriminator_optimizer=adam
    )


def conditional_encoder_gan() -> GAN:
    """A conditional GAN with a joint encoder: fake labels and E's pairs come from the same saved noise stream."""
    generator = MLPGenerator(latent_dim=3, hidden_dims=(8,), image_shape=(1, 4, 4), num_classes=10)
    discriminator = MLPDiscriminator(image_shape=(1, 4, 4), hidden_dims=(6,), dropout=0.3, num_classes=10)
    encoder = MLPEncoder(image_shape=(1, 4, 4), latent_dim=3, hidden_dims=(8,), num_classes=10)
    adam = partial(torch.optim.Adam, lr=1e-3, betas=(0.5, 0.999))
    return GAN(
        generator,
        discriminator,
        generator_optimizer=adam,
        discriminator_optimizer=adam,
        encoder=encoder,
        encoder_mode="joint",
        encoder_optimizer=adam,
    )


def fit(make_gan, folder: Path, max_steps: int, every: int | None = None, ckpt_path=None, num_workers: int = 0):
    """Fits from seed 0 with validation once an epoch; ``every`` adds a Checkpoint writing to ``folder``."""
    pl.seed_everything(0)
    callbacks = [MomentumRamp(start_epoch=1, saturate_epoch=3, final_momentum=0.7)]
    if every:
        callbacks.append(Checkpoint(dirpath=folder, every_n_train_steps=every))
    trainer = tiny_trainer(
        folder, max_steps=max_steps, callbacks=callbacks, enable_checkpointing=bool(every), limit_val_batches=2
    )
    gan = make_gan()
    trainer.fit(gan, RandomImages(count=40, batch_size=4, num_workers=num_workers), ckpt_path=ckpt_path)
    return gan, trainer


def assert_same_weights(first: GAN, second: GAN) -> None:
    first_state, second_state = first.state_dict(), second.state_dict()
    assert first_state.keys() == second_state.keys()
    different = [key for key in first_state if not torch.equal(first_state[key], second_state[key])]
    assert not different, f"weights differ after resuming: {different}"


@pytest.mark.parametrize(
    "make_gan, n, num_workers",
    [
        (paper_gan, 7, 0),  # resumes mid-epoch
        (paper_gan, 13, 0),  # crosses an epoch (new shuffle, validation, momentum ramp) before and after
        (adam_gan, 6, 0),  # simultaneous updates, Adam, BatchNorm running statistics
        (paper_gan, 7, 1),  # a data-loading worker process: its position in the epoch is saved too
        (conditional_encoder_gan, 7, 0),  # labels drawn for fakes, a third optimiser
    ],
    ids=["paper-mid-epoch", "paper-across-epochs", "adam-simultaneous", "worker", "conditional-encoder"],
)
def test_resumed_run_equals_uninterrupted_run_bit_for_bit(tmp_path, make_gan, n, num_workers):
    straight, _ = fit(make_gan, tmp_path / "straight", 2 * n, num_workers=num_workers)
    fit(make_gan, tmp_path / "resumed", n, every=1000, num_workers=num_workers)  # last.ckpt at the final step
    checkpoint = tmp_path / "resumed" / "last.ckpt"
    assert torch.load(checkpoint, weights_only=True)["global_step"] == n
    resumed, trainer = fit(make_gan, tmp_path / "resumed", 2 * n, ckpt_path=checkpoint, num_workers=num_workers)
    assert trainer.global_step == 2 * n
    assert_same_weights(straight, resumed)


def test_a_different_run_is_told_apart(tmp_path):
    """The equality above can fail: another seed's run has other weights."""
    first, _ = fit(paper_gan, tmp_path / "a", 4)
    pl.seed_everything(1)
    trainer = tiny_trainer(tmp_path / "b", max_steps=4)
    second = paper_gan()
    trainer.fit(second, RandomImages(count=40, batch_size=4))
    with pytest.raises(AssertionError, match="weights differ"):
        assert_same_weights(first, second)


class InterruptAt(pl.Callback):
    """Sends this process SIGINT (a Ctrl-C) at the end of step ``step``."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer, *args) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_finishes_the_step_saves_last_and_resumes_exactly(tmp_path):
    straight, _ = fit(paper_gan, tmp_path / "straight", 12)
    pl.seed_everything(0)
    folder = tmp_path / "stopped"
    callbacks = [
        MomentumRamp(start_epoch=1, saturate_epoch=3, final_momentum=0.7),
        Checkpoint(dirpath=folder, every_n_train_steps=1000),
        InterruptAt(5),
    ]
    trainer = tiny_trainer(folder, max_steps=12, callbacks=callbacks, enable_checkpointing=True, limit_val_batches=2)
    with pytest.raises(SystemExit) as stopped:
        trainer.fit(paper_gan(), RandomImages(count=40, batch_size=4))
    assert stopped.value.code == 130  # as a shell reports a Ctrl-C
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is put back
    assert torch.load(folder / "last.ckpt", weights_only=True)["global_step"] == 5
    resumed, _ = fit(paper_gan, folder, 12, ckpt_path=folder / "last.ckpt")
    assert_same_weights(straight, resumed)


def test_failure_while_writing_keeps_the_previous_checkpoint_whole(tmp_path, monkeypatch):
    """A crash mid-write (disk full, kill) leaves last.ckpt as it was: the new file is written beside it."""
    trainer = tiny_trainer(
        tmp_path,
        max_steps=6,
        callbacks=[Checkpoint(dirpath=tmp_path, every_n_train_steps=2)],
        enable_checkpointing=True,
    )
    write = TorchCheckpointIO.save_checkpoint  # what Lightning's checkpoint IO writes with

    def write_then_fail_at_step_4(io, checkpoint, path, storage_options=None):
        if checkpoint["global_step"] < 4:
            return write(io, checkpoint, path, storage_options)
        Path(path).write_bytes(b"half a checkpoint")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(TorchCheckpointIO, "save_checkpoint", write_then_fail_at_step_4)
    with pytest.raises(OSError, match="No space left"):
        trainer.fit(paper_gan(), RandomImages(count=40, batch_size=4))
    kept = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert kept["global_step"] == 2
    (failed,) = tmp_path.glob("*.tmp")  # the failed write went to a file beside the checkpoint
    assert failed.read_bytes() == b"half a checkpoint"
    assert "ganbench" in kept and "rng_states" in kept["ganbench"]


def test_checkpoint_contains_what_an_exact_resume_needs(tmp_path):
    fit(paper_gan, tmp_path, 3, every=1000)
    checkpoint = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert checkpoint["global_step"] == 3
    assert len(checkpoint["optimizer_states"]) == 2 and len(checkpoint["lr_schedulers"]) == 2
    assert all("momentum" in state["param_groups"][0] for state in checkpoint["optimizer_states"])  # the ramp's
    assert checkpoint["loops"]["fit_loop"]["state_dict"]["combined_loader"]  # the data loader's position
    saved = checkpoint["ganbench"]
    assert set(saved["rng_states"][0]) >= {"torch", "numpy", "python", "noise"}
    assert saved["optimizers"] == ["ClassicMomentumSGD", "ClassicMomentumSGD"]
    assert saved["seed"] == 0 and saved["versions"]["torch"] == torch.__version__


def test_checkpoint_of_other_networks_is_refused_in_one_line(tmp_path):
    fit(paper_gan, tmp_path, 2, every=1000)
    trainer = tiny_trainer(tmp_path / "other", max_steps=4)
    with pytest.raises(IncompatibleCheckpointError) as refused:
        trainer.fit(paper_gan(hidden=9), RandomImages(count=40, batch_size=4), ckpt_path=tmp_path / "last.ckpt")
    message = str(refused.value)
    assert "\n" not in message and str(tmp_path / "last.ckpt") in message
    assert "generator" in message


def test_checkpoint_of_another_optimizer_is_refused_in_one_line(tmp_path):
    fit(paper_gan, tmp_path, 2, every=1000)
    gan = paper_gan()
    gan.generator_optimizer = partial(torch.optim.Adam, lr=1e-3)
    trainer = tiny_trainer(tmp_path / "other", max_steps=4)
    with pytest.raises(IncompatibleCheckpointError) as refused:
        trainer.fit(gan, RandomImages(count=40, batch_size=4), ckpt_path=tmp_path / "last.ckpt")
    message = str(refused.value)
    assert "\n" not in message and "ClassicMomentumSGD" in message and "Adam" in message


# ---------------------------------------------------------------- the ganbench command

# A user callback (module source) that appends each finished step's number to a file.
STEP_RECORDER = """
import time

from lightning.pytorch import Callback


class RecordSteps(Callback):
    def __init__(self, path: str, seconds_per_step: float = 0.0):
        self.path = path
        self.seconds_per_step = seconds_per_step

    def on_train_batch_end(self, trainer, *args):
        with open(self.path, "a") as handle:
            handle.write(f"{trainer.global_step}\\n")
        time.sleep(self.seconds_per_step)
"""


def small_config(folder: Path, every: int, recorder: dict | None = None) -> Path:
    """The quickstart config writing under ``folder``, with last.ckpt every ``every`` steps and no evaluations."""
    config = yaml.safe_load((REPO / "configs/quickstart.yaml").read_text())
    trainer = config["trainer"]
    trainer.update(default_root_dir=str(folder), enable_progress_bar=False, max_epochs=1)
    config["run"] = {"experiment": "gan"}  # runs go to <folder>/gan/version_<N>
    trainer["callbacks"] = [
        {"class_path": "ganbench.callbacks.Checkpoint", "init_args": {"every_n_train_steps": every}},
    ]
    if recorder is not None:
        (folder / "steps.py").write_text(STEP_RECORDER)
        trainer["callbacks"].append({"class_path": "steps.RecordSteps", "init_args": recorder})
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def saved_step_and_weights(path: Path) -> tuple[int, dict]:
    checkpoint = torch.load(path, weights_only=True)
    return checkpoint["global_step"], checkpoint["state_dict"]


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory):
    """A 12-step ``ganbench fit``, and a 7-step one resumed with ``--ckpt_path last`` to 12 steps."""
    straight, resumed = tmp_path_factory.mktemp("straight"), tmp_path_factory.mktemp("resumed")
    for folder in (straight, resumed):
        small_config(folder, every=5)
    results = [
        run_ganbench("fit", "--config=config.yaml", "--trainer.max_steps=12", cwd=straight),
        run_ganbench("fit", "--config=config.yaml", "--trainer.max_steps=7", cwd=resumed),
        run_ganbench("fit", "--config=config.yaml", "--trainer.max_steps=12", "--ckpt_path=last", cwd=resumed),
    ]
    for result in results:
        assert result.returncode == 0, result.stderr
    return straight / "gan", resumed / "gan"


def test_cli_resume_with_ckpt_path_last_equals_an_uninterrupted_run(cli_runs):
    straight, resumed = cli_runs
    straight_step, straight_weights = saved_step_and_weights(straight / "version_0/checkpoints/last.ckpt")
    resumed_step, resumed_weights = saved_step_and_weights(resumed / "version_0/checkpoints/last.ckpt")
    assert straight_step == resumed_step == 12
    assert straight_weights.keys() == resumed_weights.keys()
    assert all(torch.equal(straight_weights[key], resumed_weights[key]) for key in straight_weights)


def test_cli_resume_continues_the_same_run_folder_and_keeps_both_configs(cli_runs):
    _, resumed = cli_runs
    assert [folder.name for folder in resumed.iterdir()] == ["version_0"]
    run = resumed / "version_0"
    assert (run / "config.yaml").exists() and (run / "config-resumed-1.yaml").exists()
    assert yaml.safe_load((run / "config-resumed-1.yaml").read_text())["ckpt_path"] == "last"
    environment = yaml.safe_load((run / "environment.yaml").read_text())
    assert environment["seed"] == 0 and environment["versions"]["lightning"] == pl.__version__
    assert sorted(path.name for path in (run / "checkpoints").iterdir()) == ["epoch=0-step=10.ckpt", "last.ckpt"]


def test_cli_refuses_a_damaged_last_checkpoint_and_leaves_it(cli_runs, tmp_path):
    import shutil

    _, resumed = cli_runs
    shutil.copytree(resumed.parent, tmp_path / "run")
    last = tmp_path / "run/gan/version_0/checkpoints/last.ckpt"
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])  # as a crash mid-copy would leave it
    damaged = last.read_bytes()
    small_config(tmp_path / "run", every=5)
    result = run_ganbench(
        "fit", "--config=config.yaml", "--trainer.max_steps=20", "--ckpt_path=last", cwd=tmp_path / "run"
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    error = result.stderr.strip().splitlines()[-1]  # after Lightning's start-up lines
    assert error.startswith(f"ganbench: error: Checkpoint {last} is truncated or corrupt")
    assert error.endswith(f"--ckpt_path={last.parent / 'epoch=0-step=10.ckpt'}")
    assert last.read_bytes() == damaged
    assert sorted(path.name for path in last.parent.iterdir()) == ["epoch=0-step=10.ckpt", "last.ckpt"]


def start_fit_and_stop_it_after(folder: Path, every: int, steps: int, stop_signal: int) -> subprocess.Popen:
    """Starts a long ``ganbench fit`` (last.ckpt every ``every`` steps) in ``folder``; sends ``stop_signal`` once
    ``steps`` steps are recorded in ``folder/steps.txt``. Output is captured (stderr into stdout)."""
    small_config(folder, every=every, recorder={"path": str(folder / "steps.txt"), "seconds_per_step": 0.02})
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(folder)]), PYTHONWARNINGS="ignore")
    command = [sys.executable, "-m", "ganbench.cli", "fit", "--config=config.yaml", "--trainer.max_steps=2000"]
    process = subprocess.Popen(
        command, cwd=folder, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    steps_file, deadline = folder / "steps.txt", time.monotonic() + 120
    try:
        while not (steps_file.exists() and len(steps_file.read_text().split()) >= steps):
            assert process.poll() is None, process.stdout.read()
            assert time.monotonic() < deadline, f"the run did not reach step {steps} in 2 minutes"
            time.sleep(0.01)
    except BaseException:
        process.kill()
        raise
    process.send_signal(stop_signal)
    return process


def test_sigkill_of_a_running_fit_loses_at_most_n_steps_and_resume_continues_the_count(tmp_path):
    every = 5
    process = start_fit_and_stop_it_after(tmp_path, every, 23, signal.SIGKILL)
    process.communicate(timeout=60)
    steps_file = tmp_path / "steps.txt"
    assert process.returncode == -signal.SIGKILL
    reached = int(steps_file.read_text().split()[-1])
    last = tmp_path / "gan/version_0/checkpoints/last.ckpt"
    saved_step, _ = saved_step_and_weights(last)
    assert 0 <= reached - saved_step <= every

    steps_file.unlink()
    result = run_ganbench(
        "fit", "--config=config.yaml", f"--trainer.max_steps={saved_step + 3}", "--ckpt_path=last", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert [int(step) for step in steps_file.read_text().split()] == [saved_step + 1, saved_step + 2, saved_step + 3]
    assert saved_step_and_weights(last)[0] == saved_step + 3
    assert [folder.name for folder in (tmp_path / "gan").iterdir()] == ["version_0"]


def test_cli_resume_keeps_the_csv_metrics_of_the_first_part(tmp_path):
    """CSVLogger deletes metrics.csv of a folder it opens; a resumed run must append to it instead."""
    config = small_config(tmp_path, every=5)
    content = yaml.safe_load(config.read_text())
    content["trainer"]["logger"] = {
        "class_path": "lightning.pytorch.loggers.CSVLogger",
        "init_args": {"save_dir": str(tmp_path), "name": "gan"},
    }
    content["trainer"]["log_every_n_steps"] = 2
    config.write_text(yaml.safe_dump(content))
    assert run_ganbench("fit", "--config=config.yaml", "--trainer.max_steps=7", cwd=tmp_path).returncode == 0
    result = run_ganbench("fit", "--config=config.yaml", "--trainer.max_steps=12", "--ckpt_path=last", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    with open(tmp_path / "gan/version_0/metrics.csv") as handle:
        steps = [int(row["step"]) for row in csv.DictReader(handle) if row.get("train/d_loss")]
    assert steps == [2, 4, 6, 8, 10, 12]  # every 2nd step, numbered as the steps that were made


def test_ctrl_c_on_a_running_fit_command_saves_the_current_step_and_exits_130(tmp_path):
    process = start_fit_and_stop_it_after(tmp_path, 1000, 8, signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    steps_file = tmp_path / "steps.txt"
    assert process.returncode == 130, output[-3000:]
    reached = int(steps_file.read_text().split()[-1])
    saved_step, _ = saved_step_and_weights(tmp_path / "gan/version_0/checkpoints/last.ckpt")
    assert saved_step == reached  # the step under way finished and was saved: nothing lost
    assert "Traceback" not in output
    assert f"Stopped by SIGINT after step {reached}" in output and "--ckpt_path last" in output
