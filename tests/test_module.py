"""The GAN module: Algorithm 1's update counts, the simultaneous update's gradients, what a step is."""

import copy
import csv
from pathlib import Path

import pytest
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from torch.testing import assert_close

from ganbench import GAN
from ganbench.errors import ShapeMismatchError
from ganbench.losses import Minimax, NonSaturating
from ganbench.nets import MaxoutDiscriminator, MLPGenerator
from ganbench.optim import ExponentialDecay
from ganbench.priors import Uniform
from tests.conftest import RandomImages, tiny_gan, tiny_trainer


class CountingSGD(torch.optim.SGD):
    """SGD that counts its steps."""

    def __init__(self, params, lr=0.01):
        super().__init__(params, lr=lr)
        self.steps = 0

    def step(self, closure=None):
        self.steps += 1
        return super().step(closure)


class CountingPrior(Uniform):
    """Counts the noise draws made while training (not the start-up shape check)."""

    def __init__(self):
        super().__init__()
        self.calls = 0
        self.training = False

    def sample(self, *args, **kwargs):
        self.calls += self.training
        return super().sample(*args, **kwargs)


class StartCounting(Callback):
    def on_train_start(self, trainer, pl_module):
        pl_module.prior.training = True


def fit_counting(tmp_path, max_steps, **gan_kwargs):
    gan = tiny_gan(generator_optimizer=CountingSGD, discriminator_optimizer=CountingSGD, **gan_kwargs)
    trainer = tiny_trainer(tmp_path, max_steps=max_steps, callbacks=[StartCounting()])
    trainer.fit(gan, datamodule=RandomImages())
    discriminator_optimizer, generator_optimizer = trainer.optimizers
    return gan, trainer, discriminator_optimizer.steps, generator_optimizer.steps


def test_alternating_iteration_with_k2_does_two_discriminator_updates_then_one_generator_update(tmp_path):
    prior = CountingPrior()
    gan, trainer, discriminator_updates, generator_updates = fit_counting(
        tmp_path, max_steps=2, schedule="alternating", discriminator_steps=2, prior=prior
    )
    assert (discriminator_updates, generator_updates) == (2, 1)
    assert prior.calls == 3  # fresh noise for each D minibatch, then for G
    assert trainer.global_step == 2


@pytest.mark.parametrize(("k", "steps", "generator_updates"), [(1, 5, 5), (2, 7, 3), (3, 9, 3)])
def test_generator_updates_once_every_k_steps(tmp_path, k, steps, generator_updates):
    _, trainer, discriminator_updates, counted_generator_updates = fit_counting(
        tmp_path, max_steps=steps, schedule="alternating", discriminator_steps=k
    )
    assert (discriminator_updates, counted_generator_updates) == (steps, generator_updates)
    assert trainer.global_step == steps


def test_simultaneous_step_uses_one_batch_and_one_noise_draw(tmp_path):
    prior = CountingPrior()
    gan, trainer, discriminator_updates, generator_updates = fit_counting(
        tmp_path, max_steps=4, schedule="simultaneous", prior=prior
    )
    assert (discriminator_updates, generator_updates, prior.calls) == (4, 4, 4)


class OneBatch(RandomImages):
    def __init__(self):
        super().__init__(count=8, batch_size=8)


@pytest.mark.parametrize("loss", [NonSaturating(), Minimax()])
def test_simultaneous_update_gives_each_network_the_gradient_of_its_own_loss(tmp_path, loss):
    """One SGD step (lr 1) must move D by -dL_D/dD and G by -dL_G/dG, both at the same batch and z."""
    torch.manual_seed(0)
    generator = MLPGenerator(latent_dim=3, hidden_dims=(8,), image_shape=(1, 4, 4), output_bias_from_data=False)
    discriminator = MaxoutDiscriminator((1, 4, 4), hidden_units=(6,), pieces=2, input_keep=1.0, hidden_keep=1.0)
    gan = GAN(
        generator,
        discriminator,
        loss=loss,
        schedule="simultaneous",
        generator_optimizer=lambda p: torch.optim.SGD(p, lr=1.0),
        discriminator_optimizer=lambda p: torch.optim.SGD(p, lr=1.0),
    )
    noise = torch.randn(8, 3)
    gan.draw_noise = lambda count: noise[:count]
    generator_before, discriminator_before = copy.deepcopy(generator), copy.deepcopy(discriminator)
    datamodule = OneBatch()
    datamodule.setup()
    real = datamodule.split_images("train")

    fake_logits = discriminator_before(generator_before(noise))
    discriminator_loss = loss.discriminator_loss(discriminator_before(real), fake_logits)
    generator_loss = loss.generator_loss(fake_logits)
    discriminator_parameters = list(discriminator_before.parameters())
    discriminator_gradients = torch.autograd.grad(discriminator_loss, discriminator_parameters, retain_graph=True)
    generator_gradients = torch.autograd.grad(generator_loss, list(generator_before.parameters()))

    tiny_trainer(tmp_path, max_steps=1).fit(gan, datamodule=datamodule)
    for before, after, gradient in zip(
        discriminator_before.parameters(), discriminator.parameters(), discriminator_gradients
    ):
        assert_close(after, before - gradient)
    for before, after, gradient in zip(generator_before.parameters(), generator.parameters(), generator_gradients):
        assert_close(after, before - gradient)


def test_a_step_means_one_batch_in_max_steps_checkpoints_and_logged_x_axis(tmp_path):
    gan = tiny_gan(schedule="alternating", discriminator_steps=2)
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "checkpoints", every_n_train_steps=3, save_top_k=-1)
    trainer = tiny_trainer(
        tmp_path,
        max_steps=7,
        logger=CSVLogger(tmp_path, name="csv"),
        log_every_n_steps=1,
        enable_checkpointing=True,
        callbacks=[checkpoint],
    )
    trainer.fit(gan, datamodule=RandomImages())
    assert trainer.global_step == 7
    saved = sorted(path.name for path in (tmp_path / "checkpoints").iterdir())
    assert saved == ["epoch=0-step=3.ckpt", "epoch=0-step=6.ckpt"]
    with open(Path(trainer.logger.log_dir) / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    discriminator_steps = [int(row["step"]) for row in rows if row.get("train/d_loss")]
    generator_losses = {int(row["step"]): float(row["train/g_loss"]) for row in rows if row.get("train/g_loss")}
    assert discriminator_steps == list(range(1, 8))  # the x-axis is the step made: 1 .. 7
    # G updates end steps 2, 4, 6; between them the last G loss is repeated.
    assert sorted(generator_losses) == [2, 3, 4, 5, 6, 7]
    assert generator_losses[3] == generator_losses[2] and generator_losses[5] == generator_losses[4]
    assert len({generator_losses[2], generator_losses[4], generator_losses[6]}) == 3


def test_schedulers_step_after_each_update_of_their_own_network(tmp_path):
    gan = tiny_gan(
        schedule="alternating",
        discriminator_steps=2,
        generator_optimizer=lambda p: torch.optim.SGD(p, lr=0.1),
        discriminator_optimizer=lambda p: torch.optim.SGD(p, lr=0.1),
        generator_scheduler=lambda o: ExponentialDecay(o, decay_factor=2.0, min_lr=0.0),
        discriminator_scheduler=lambda o: ExponentialDecay(o, decay_factor=2.0, min_lr=0.0),
    )
    trainer = tiny_trainer(tmp_path, max_steps=4)
    trainer.fit(gan, datamodule=RandomImages())
    discriminator_optimizer, generator_optimizer = trainer.optimizers
    assert discriminator_optimizer.param_groups[0]["lr"] == pytest.approx(0.1 / 2**4)
    assert generator_optimizer.param_groups[0]["lr"] == pytest.approx(0.1 / 2**2)


def test_training_logs_losses_and_discriminator_outputs(tmp_path):
    gan = tiny_gan(schedule="simultaneous")
    trainer = tiny_trainer(tmp_path, max_steps=2, log_every_n_steps=1)
    trainer.fit(gan, datamodule=RandomImages())
    for key in ("train/d_loss", "train/g_loss", "train/d_real", "train/d_fake"):
        assert key in trainer.logged_metrics
    assert 0 < trainer.logged_metrics["train/d_real"] < 1


def test_training_values_are_logged_on_the_loggers_steps_only(tmp_path):
    gan = tiny_gan(schedule="alternating")
    trainer = tiny_trainer(tmp_path, max_steps=7, logger=CSVLogger(tmp_path, name="csv"), log_every_n_steps=3)
    trainer.fit(gan, datamodule=RandomImages())
    with open(Path(trainer.logger.log_dir) / "metrics.csv") as handle:
        steps = [int(row["step"]) for row in csv.DictReader(handle) if row.get("train/d_loss")]
    assert steps == [3, 6]  # each logged at its own step (Lightning alone would write 2 and 5)


def test_sample_returns_images_in_data_range_in_eval_mode():
    gan = tiny_gan()
    gan.generator.train()
    images = gan.sample(13, batch_size=5)
    assert images.shape == (13, 1, 4, 4)
    assert images.min() >= 0 and images.max() <= 1
    assert gan.generator.training  # restored
    first = gan.sample(4, generator=torch.Generator().manual_seed(3))
    assert_close(first, gan.sample(4, generator=torch.Generator().manual_seed(3)))


def test_generator_output_bias_starts_at_data_mean(tmp_path):
    gan = tiny_gan()
    torch.nn.init.zeros_(gan.generator.output.weight)
    datamodule = RandomImages()
    trainer = tiny_trainer(tmp_path, max_steps=0)
    trainer.fit(gan, datamodule=datamodule)
    expected = datamodule.pixel_mean().clamp(1e-7, 1 - 1e-7)
    assert_close(gan.sample(1)[0], expected, atol=1e-5, rtol=1e-5)


def test_generator_that_does_not_fit_the_data_is_refused_at_start(tmp_path):
    gan = tiny_gan(image_shape=(1, 5, 5))
    with pytest.raises(ShapeMismatchError, match=r"shape \(1, 5, 5\) but the data has shape \(1, 4, 4\)"):
        tiny_trainer(tmp_path, max_steps=1).fit(gan, datamodule=RandomImages())


def test_generator_range_that_does_not_match_the_data_is_refused(tmp_path):
    generator = MLPGenerator(3, (8,), (1, 4, 4), output_activation="tanh", output_bias_from_data=False)
    gan = GAN(generator, MaxoutDiscriminator((1, 4, 4), (6,), 2))
    with pytest.raises(ShapeMismatchError, match="output_activation"):
        tiny_trainer(tmp_path, max_steps=1).fit(gan, datamodule=RandomImages())


def test_bad_module_arguments_are_refused():
    with pytest.raises(ValueError, match="schedule"):
        tiny_gan(schedule="sometimes")
    with pytest.raises(ValueError, match="discriminator_steps"):
        tiny_gan(discriminator_steps=0)
    with pytest.raises(ValueError, match="latent_dim"):
        GAN(torch.nn.Linear(2, 2), MaxoutDiscriminator())


def test_module_built_in_python_saves_plain_hyperparameters_and_reloads_with_its_parts(tmp_path):
    gan = tiny_gan(schedule="simultaneous", discriminator_steps=1)
    assert set(gan.hparams) == {
        "schedule",
        "discriminator_steps",
        "noise_seed",
        "on_divergence",
        "rollback_lr_factor",
        "max_rollbacks",
        "encoder_mode",
        "generator_checkpoint",
        "compile_networks",
    }
    trainer = tiny_trainer(tmp_path, max_steps=2)
    trainer.fit(gan, datamodule=RandomImages())
    trainer.save_checkpoint(tmp_path / "model.ckpt")
    torch.load(tmp_path / "model.ckpt", weights_only=True)  # nothing pickled beyond tensors and plain data
    fresh = tiny_gan()
    reloaded = GAN.load_from_checkpoint(
        tmp_path / "model.ckpt", generator=fresh.generator, discriminator=fresh.discriminator
    )
    assert reloaded.schedule == "simultaneous"
    assert_close(reloaded.generator.output.weight, gan.generator.output.weight)


def test_attributes_land_where_nn_module_puts_them():
    """GAN.__setattr__ skips nn.Module's checks only for plain values of names already plain attributes."""
    gan = tiny_gan()
    gan.checkpoint_step = 7  # a plain attribute set in __init__: assigned directly
    assert gan.__dict__["checkpoint_step"] == 7
    gan.checkpoint_step = torch.nn.Linear(2, 2)  # a module under the same name is registered, as nn.Module does
    assert "checkpoint_step" in gan._modules and "checkpoint_step" not in gan.__dict__
    gan.checkpoint_epoch = torch.nn.Parameter(torch.zeros(1))
    assert "checkpoint_epoch" in gan._parameters
    gan.new_name = "plain"  # a new name takes nn.Module's path
    assert gan.new_name == "plain"
    with pytest.raises(TypeError, match="cannot assign"):
        gan.discriminator = "not a module"  # nn.Module's check on a registered module still applies
