"""ClassAccuracyEvaluation's class statistics: the closed forms of the classifier score, and the callback on
unconditional and conditional generators with a stand-in classifier that reads an image's brightness."""

import math

import pytest
import torch
from torch import nn

from ganbench import GAN
from ganbench.callbacks import ClassAccuracyEvaluation
from ganbench.callbacks.class_accuracy import class_statistics
from ganbench.errors import ConfigError
from ganbench.nets import Generator, MaxoutDiscriminator, MLPGenerator
from tests.conftest import RandomImages, tiny_gan, tiny_trainer

ROOT3 = math.sqrt(3.0)


def one_hot_rows(classes, num_classes=10):
    return nn.functional.one_hot(torch.as_tensor(classes), num_classes).double()


def test_confident_predictions_spread_evenly_over_ten_classes_score_ten():
    statistics = class_statistics(one_hot_rows(torch.arange(10).repeat(7)))
    assert statistics.score == pytest.approx(10.0, rel=1e-12)
    assert statistics.fractions == pytest.approx([0.1] * 10, rel=1e-12)
    assert statistics.confidence == 1.0


def test_predictions_all_of_one_class_score_one():
    statistics = class_statistics(one_hot_rows([3] * 50))
    assert statistics.score == pytest.approx(1.0, abs=1e-12)
    assert statistics.fractions[3] == 1.0 and sum(statistics.fractions) == 1.0


def test_the_same_unsure_prediction_for_every_sample_scores_one():
    rows = torch.full((20, 10), 0.1, dtype=torch.float64)
    statistics = class_statistics(rows)
    assert statistics.score == pytest.approx(1.0, abs=1e-12)
    assert statistics.confidence == pytest.approx(0.1, rel=1e-12)


def test_confident_predictions_score_the_perplexity_of_their_histogram():
    statistics = class_statistics(one_hot_rows([0, 0, 1, 2], num_classes=4))  # fractions 1/2, 1/4, 1/4, 0
    assert statistics.score == pytest.approx(2**1.5, rel=1e-12)  # exp(H) = exp(1.5 log 2)
    assert statistics.fractions == [0.5, 0.25, 0.25, 0.0]


def test_unsure_predictions_lower_the_score_by_their_entropy():
    # half the rows (a, 1 - a), half (1 - a, a): p(y) uniform, score = 2 exp(-H(a))
    a = 0.8
    rows = torch.tensor([[a, 1 - a], [1 - a, a]], dtype=torch.float64).repeat(5, 1)
    entropy = -(a * math.log(a) + (1 - a) * math.log(1 - a))
    statistics = class_statistics(rows)
    assert statistics.score == pytest.approx(2 * math.exp(-entropy), rel=1e-12)
    assert statistics.confidence == pytest.approx(a, rel=1e-12)
    assert statistics.fractions == [0.5, 0.5]


def test_float32_probabilities_are_scored_in_float64():
    rows = torch.full((1000, 10), 0.1, dtype=torch.float32)  # 0.1 is not exact in float32
    assert class_statistics(rows).score == pytest.approx(1.0, abs=1e-12)


class BrightnessClassifier(nn.Module):
    """Classifies an image in [0, 1] as class floor(10 x mean pixel), with near certainty."""

    num_classes = 10

    def forward(self, images):
        classes = (images.flatten(1).mean(dim=1) * 10).long().clamp(0, 9)
        return 50.0 * nn.functional.one_hot(classes, 10).float()


class BrightnessGenerator(Generator):
    """Flat 4 x 4 images whose brightness is z's, mapped from U(-sqrt 3, sqrt 3) to [0, 1]; class c when asked."""

    def __init__(self, num_classes=None):
        super().__init__()
        self.latent_dim = 1
        self.num_classes = num_classes
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, noise, labels=None):
        brightness = (noise[:, 0] + ROOT3) / (2 * ROOT3) * self.scale
        if labels is not None:  # the asked class, but 7s come out as 1s
            brightness = (torch.where(labels == 7, 1, labels) + 0.5) / 10
        return brightness[:, None, None, None].expand(-1, 1, 4, 4)


@pytest.fixture
def brightness_classifier(monkeypatch):
    monkeypatch.setattr("ganbench.callbacks.class_accuracy.load_classifier", lambda checkpoint: BrightnessClassifier())


def gan_of(generator):
    return GAN(generator, MaxoutDiscriminator(image_shape=(1, 4, 4), hidden_units=(6,), pieces=2))


def test_an_unconditional_generator_gets_its_class_histogram_confidence_and_score(brightness_classifier):
    result = ClassAccuracyEvaluation("classifier.ckpt", num_samples=10_000).evaluate(
        gan_of(BrightnessGenerator()), RandomImages()
    )
    assert not result.conditional and result.accuracy is None and result.num_samples == 10_000
    assert result.statistics.fractions == pytest.approx([0.1] * 10, abs=0.01)  # brightness is uniform
    assert result.statistics.confidence == pytest.approx(1.0)
    assert 9.9 < result.statistics.score <= 10.0
    assert "Classes of 10000 samples (Random classifier): classifier score 9.9" in result.describe("Random")


def test_a_generator_of_one_class_scores_one(brightness_classifier):
    generator = BrightnessGenerator()
    with torch.no_grad():
        generator.scale.zero_()  # every image black: class 0
    result = ClassAccuracyEvaluation("classifier.ckpt", num_samples=300, batch_size=128).evaluate(
        gan_of(generator), RandomImages()
    )
    assert result.num_samples == 300 and result.statistics.fractions[0] == 1.0
    assert result.statistics.score == pytest.approx(1.0)


def test_a_conditional_generator_gets_its_accuracy_and_its_class_histogram(brightness_classifier):
    result = ClassAccuracyEvaluation("classifier.ckpt", num_samples=1000).evaluate(
        gan_of(BrightnessGenerator(num_classes=10)), RandomImages()
    )
    assert result.conditional and result.accuracy == pytest.approx(0.9)
    assert result.per_class == [1.0] * 7 + [0.0] + [1.0] * 2
    assert result.statistics.fractions == pytest.approx([0.1, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.0, 0.1, 0.1])
    assert result.statistics.score == pytest.approx(math.exp(-(8 * 0.1 * math.log(0.1) + 0.2 * math.log(0.2))))
    assert result.confidence == pytest.approx(0.9)


def test_fit_logs_the_class_statistics_of_an_unconditional_generator(tmp_path, brightness_classifier):
    callback = ClassAccuracyEvaluation("classifier.ckpt", num_samples=100)
    trainer = tiny_trainer(tmp_path, max_epochs=1, limit_val_batches=None, callbacks=[callback])
    trainer.fit(tiny_gan(), datamodule=RandomImages())
    logged = set(trainer.callback_metrics)
    assert {"val/classifier_score", "val/classifier_confidence", "val/class_fraction_9"} <= logged
    assert not any(key.startswith("val/class_accuracy") for key in logged)
    fractions = sum(float(trainer.callback_metrics[f"val/class_fraction_{c}"]) for c in range(10))
    assert fractions == pytest.approx(1.0)
    assert set(callback.metric_entries("val")) == {"val/classifier_score", "val/classifier_confidence"}


def test_a_classifier_of_other_classes_than_a_conditional_generator_is_a_config_error(tmp_path, monkeypatch):
    five = BrightnessClassifier()
    five.num_classes = 5
    monkeypatch.setattr("ganbench.callbacks.class_accuracy.load_classifier", lambda checkpoint: five)
    generator = MLPGenerator(latent_dim=3, hidden_dims=(8,), image_shape=(1, 4, 4), num_classes=10)
    gan = GAN(generator, MaxoutDiscriminator(image_shape=(1, 4, 4), hidden_units=(6,), pieces=2, num_classes=10))
    trainer = tiny_trainer(tmp_path, max_steps=1, callbacks=[ClassAccuracyEvaluation("classifier.ckpt")])
    with pytest.raises(ConfigError, match="the classifier knows 5 classes but the generator 10"):
        trainer.fit(gan, datamodule=RandomImages())
