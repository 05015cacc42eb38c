"""The one contract: G(z, labels), D(x, labels, latents), E(x, labels) through every update path of the GAN."""

import pytest
import torch
from torch import nn

from ganbench import GAN
from ganbench.contract import discriminate, encode, generate
from ganbench.errors import ConfigError
from ganbench.losses import R1, Hinge, RelativisticAverage
from ganbench.nets.base import Discriminator, Encoder, Generator
from tests.conftest import RandomImages, tiny_gan, tiny_trainer

SHAPE = (1, 4, 4)
PIXELS = 16


class ConditionalGenerator(Generator):
    """Sigmoid of a linear map of [z, one-hot(label)]: its output depends on the label."""

    def __init__(self, latent_dim=3, num_classes=10):
        super().__init__()
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.linear = nn.Linear(latent_dim + num_classes, PIXELS)
        self.seen_labels: list[torch.Tensor] = []

    def forward(self, noise, labels):
        self.seen_labels.append(labels)
        one_hot = nn.functional.one_hot(labels, self.num_classes).float()
        return torch.sigmoid(self.linear(torch.cat([noise, one_hot], dim=1))).view(-1, *SHAPE)


class FlexibleDiscriminator(Discriminator):
    """Linear D that can be conditional (``num_classes``) and/or judge pairs (``latent_dim``); records its calls."""

    def __init__(self, num_classes=None, latent_dim=None):
        super().__init__()
        self.num_classes, self.latent_dim = num_classes, latent_dim
        extra = (num_classes or 0) + (latent_dim or 0)
        self.linear = nn.Linear(PIXELS + extra, 1)
        self.calls: list[dict] = []

    def forward(self, images, labels=None, latents=None):
        self.calls.append({"labels": labels, "latents": latents})
        inputs = [images.flatten(1)]
        if self.num_classes is not None:
            inputs.append(nn.functional.one_hot(labels, self.num_classes).float())
        if self.latent_dim is not None:
            inputs.append(latents)
        return self.linear(torch.cat(inputs, dim=1)).squeeze(-1)


class LinearEncoder(Encoder):
    def __init__(self, latent_dim=3):
        super().__init__()
        self.latent_dim = latent_dim
        self.linear = nn.Linear(PIXELS, latent_dim)

    def forward(self, images):
        return self.linear(images.flatten(1))


class PlainGenerator(Generator):
    """A network written before labels existed: forward(noise) only."""

    def __init__(self, latent_dim=3):
        super().__init__()
        self.latent_dim = latent_dim
        self.linear = nn.Linear(latent_dim, PIXELS)

    def forward(self, noise):
        return torch.sigmoid(self.linear(noise)).view(-1, *SHAPE)


def fit(tmp_path, gan, steps=3, **trainer_kwargs):
    trainer = tiny_trainer(tmp_path, max_steps=steps, limit_val_batches=1, val_check_interval=steps, **trainer_kwargs)
    trainer.fit(gan, datamodule=RandomImages())
    return trainer


def parameters_of(network):
    return [parameter.detach().clone() for parameter in network.parameters()]


def unchanged(before, network):
    return all(torch.equal(a, b) for a, b in zip(before, network.parameters()))


@pytest.mark.parametrize("schedule", ["alternating", "simultaneous"])
def test_conditional_networks_get_labels_in_training_and_evaluation(tmp_path, schedule):
    generator, discriminator = ConditionalGenerator(), FlexibleDiscriminator(num_classes=10)
    gan = GAN(generator, discriminator, schedule=schedule)
    trainer = fit(tmp_path, gan)
    assert trainer.global_step == 3
    assert all(call["labels"] is not None and call["latents"] is None for call in discriminator.calls)
    assert all(labels.dtype == torch.long and labels.max() < 10 for labels in generator.seen_labels)
    assert trainer.callback_metrics["val/d_real"] >= 0  # the evaluation path ran


def test_unconditional_networks_are_called_without_labels_on_labelled_data(tmp_path):
    discriminator = FlexibleDiscriminator()
    gan = GAN(PlainGenerator(), discriminator)
    fit(tmp_path, gan)
    assert discriminator.calls and all(call["labels"] is None for call in discriminator.calls)


def test_fake_labels_follow_the_training_class_frequencies(tmp_path):
    gan = GAN(ConditionalGenerator(), FlexibleDiscriminator(num_classes=10))
    fit(tmp_path, gan, steps=1)
    labels = RandomImages().load_splits()["train"][1]
    expected = torch.bincount(labels, minlength=10).double() / len(labels)
    torch.testing.assert_close(gan.class_frequencies, expected)
    drawn = gan.draw_labels(20000, torch.Generator().manual_seed(0))
    observed = torch.bincount(drawn, minlength=10).double() / len(drawn)
    assert (observed - expected).abs().max() < 0.02


def test_conditional_generator_with_fixed_noise_changes_with_the_label():
    gan = GAN(ConditionalGenerator(), FlexibleDiscriminator(num_classes=10))
    noise = torch.zeros(2, 3)
    images = gan.sample(2, labels=torch.tensor([1, 7]), noise=noise)
    assert not torch.allclose(images[0], images[1])
    same = gan.sample(2, labels=torch.tensor([4, 4]), noise=noise)
    torch.testing.assert_close(same[0], same[1])


def test_the_two_contract_errors():
    with pytest.raises(ConfigError, match="ConditionalGenerator is conditional .*no labels"):
        generate(ConditionalGenerator(), torch.zeros(2, 3))
    with pytest.raises(ConfigError, match="PlainGenerator is not conditional"):
        generate(PlainGenerator(), torch.zeros(2, 3), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ConfigError, match="is not conditional"):
        discriminate(FlexibleDiscriminator(), torch.zeros(2, *SHAPE), labels=torch.zeros(2, dtype=torch.long))
    with pytest.raises(ConfigError, match="judges .* pairs"):
        discriminate(FlexibleDiscriminator(latent_dim=3), torch.zeros(2, *SHAPE))
    with pytest.raises(ConfigError, match="is not conditional"):
        encode(LinearEncoder(), torch.zeros(2, *SHAPE), torch.zeros(2, dtype=torch.long))


def test_sample_refuses_labels_for_an_unconditional_generator_and_bad_labels():
    gan = tiny_gan()
    with pytest.raises(ConfigError, match="not conditional"):
        gan.sample(2, labels=[0, 1])
    conditional = GAN(ConditionalGenerator(), FlexibleDiscriminator(num_classes=10))
    with pytest.raises(ConfigError, match="in 0 .. 9"):
        conditional.sample(2, labels=[0, 10])
    with pytest.raises(ConfigError, match=r"shape \(3,\)"):
        conditional.sample(3, labels=[0, 1])
    with pytest.raises(ConfigError, match=r"noise must have shape \(2, 3\)"):
        conditional.sample(2, noise=torch.zeros(2, 5))


def test_sample_without_labels_draws_them_for_a_conditional_generator():
    generator = ConditionalGenerator()
    gan = GAN(generator, FlexibleDiscriminator(num_classes=10))
    images = gan.sample(5, generator=torch.Generator().manual_seed(0))
    assert images.shape == (5, *SHAPE)
    assert generator.seen_labels[-1].shape == (5,)


def test_conditional_network_on_unlabelled_data_is_one_clear_error(tmp_path):
    gan = GAN(ConditionalGenerator(), FlexibleDiscriminator())
    trainer = tiny_trainer(tmp_path, max_steps=1)
    with pytest.raises(Exception, match="is conditional .* have no labels"):
        trainer.fit(gan, datamodule=RandomImages(labelled=False))


@pytest.mark.parametrize("loss", [Hinge(), R1(gamma=1.0), RelativisticAverage(), R1(gamma=1.0, loss=Hinge())])
@pytest.mark.parametrize("schedule", ["alternating", "simultaneous"])
def test_every_loss_trains_through_both_schedules(tmp_path, loss, schedule):
    gan = tiny_gan(loss=loss, schedule=schedule)
    trainer = fit(tmp_path, gan)
    assert trainer.global_step == 3
    assert all(torch.isfinite(parameter).all() for parameter in gan.parameters())


def test_joint_encoder_update_leaves_the_generator_unchanged(tmp_path):
    gan = tiny_gan(encoder=LinearEncoder(), encoder_mode="joint")
    trainer = tiny_trainer(tmp_path, max_steps=1)
    trainer.fit(gan, datamodule=RandomImages())
    generator_before, encoder_before = parameters_of(gan.generator), parameters_of(gan.encoder)
    buffers_before = [buffer.clone() for buffer in gan.generator.buffers()]
    gan.trainer.strategy.model = gan  # the attached trainer steps E through its strategy
    gan._encoder_update(8, counted=False)
    assert unchanged(generator_before, gan.generator)
    assert all(torch.equal(a, b) for a, b in zip(buffers_before, gan.generator.buffers()))
    assert not unchanged(encoder_before, gan.encoder)


def test_joint_mode_trains_the_encoder_beside_the_gan(tmp_path):
    gan = tiny_gan(encoder=LinearEncoder(), encoder_mode="joint")
    encoder_before = parameters_of(gan.encoder)
    trainer = fit(tmp_path, gan)
    assert trainer.global_step == 3  # E's updates are not counted as steps
    assert len(trainer.optimizers) == 3
    assert not unchanged(encoder_before, gan.encoder)
    assert {"val/latent_error", "val/reconstruction_error"} <= set(trainer.callback_metrics)


def test_bigan_discriminator_receives_the_pairs(tmp_path):
    discriminator = FlexibleDiscriminator(latent_dim=3)
    gan = GAN(PlainGenerator(), discriminator, encoder=LinearEncoder(), encoder_mode="bigan")
    encoder_before = parameters_of(gan.encoder)
    trainer = fit(tmp_path, gan)
    assert len(trainer.optimizers) == 2  # E trains with G's optimiser
    training_calls = [call for call in discriminator.calls if call["latents"] is not None]
    assert len(training_calls) == len(discriminator.calls)
    assert all(call["latents"].shape[1] == 3 for call in training_calls)
    assert not unchanged(encoder_before, gan.encoder)


def test_posthoc_encoder_leaves_the_loaded_generator_frozen(tmp_path):
    trained = tiny_gan()
    trainer = tiny_trainer(tmp_path / "gan", max_steps=2)
    trainer.fit(trained, datamodule=RandomImages())
    path = tmp_path / "gan.ckpt"
    trainer.save_checkpoint(path)

    gan = tiny_gan(encoder=LinearEncoder(), encoder_mode="posthoc", generator_checkpoint=str(path))
    encoder_before = parameters_of(gan.encoder)
    trainer = fit(tmp_path / "encoder", gan, steps=4)
    assert trainer.global_step == 4  # each step is one E update
    for loaded, original in zip(gan.generator.parameters(), trained.generator.parameters()):
        torch.testing.assert_close(loaded, original)
    for loaded, original in zip(gan.discriminator.parameters(), trained.discriminator.parameters()):
        torch.testing.assert_close(loaded, original)
    assert not unchanged(encoder_before, gan.encoder)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"encoder_mode": "posthoc"}, "generator_checkpoint"),
        ({"encoder_mode": "bigan"}, "needs a discriminator of pairs"),
        ({"encoder_mode": "bigan", "schedule": "simultaneous", "pairs": True}, "schedule: alternating"),
        ({"encoder_mode": "joint", "pairs": True}, "needs encoder_mode: bigan"),
        ({"encoder_mode": "sideways"}, "encoder_mode must be"),
        ({"encoder_latent_dim": 5}, "latent_dim=5 but the generator's is 3"),
    ],
)
def test_encoder_setups_that_cannot_train_are_refused(kwargs, message):
    kwargs = dict(kwargs)
    discriminator = FlexibleDiscriminator(latent_dim=3 if kwargs.pop("pairs", False) else None)
    encoder = LinearEncoder(latent_dim=kwargs.pop("encoder_latent_dim", 3))
    with pytest.raises(ConfigError, match=message):
        GAN(PlainGenerator(), discriminator, encoder=encoder, **kwargs)


def test_pair_discriminator_without_an_encoder_is_refused():
    with pytest.raises(ConfigError, match="needs an encoder"):
        GAN(PlainGenerator(), FlexibleDiscriminator(latent_dim=3))


def test_parzen_and_fid_evaluations_work_unchanged_on_a_conditional_model(tmp_path):
    """Their samples come from GAN.sample, which draws the labels as the data has them."""
    from ganbench.callbacks import FIDEvaluation, ParzenEvaluation
    from tests.callbacks.test_fid_callback import LinearFeatures

    generator = ConditionalGenerator()
    gan = GAN(generator, FlexibleDiscriminator(num_classes=10))
    callbacks = [
        ParzenEvaluation(num_samples=40, num_validation=16, every_n_epochs=1),
        FIDEvaluation(feature_extractor=LinearFeatures(), num_fake=40, cache_dir=str(tmp_path / "cache")),
    ]
    trainer = tiny_trainer(tmp_path, max_epochs=1, limit_val_batches=None, callbacks=callbacks)
    trainer.fit(gan, datamodule=RandomImages())
    metrics = trainer.callback_metrics
    assert torch.isfinite(metrics["val/parzen_ll"]) and torch.isfinite(metrics["val/fid"])
    drawn = torch.cat(generator.seen_labels)
    assert len(torch.unique(drawn)) == 10  # every class was asked for
