"""The MNIST classifier: shapes, the ganbench-classifier command and its checkpoint as an FID feature extractor.

Its accuracy (>= 98% on the MNIST test set with configs/classifier/mnist.yaml) is a reported figure (docs/fid.md),
not a test: training it takes minutes.
"""

import pytest
import torch
from torchmetrics.image.fid import FrechetInceptionDistance

from ganbench.classifier import ClassifierModule, main
from ganbench.errors import ConfigError
from ganbench.metrics import frechet_distance
from ganbench.nets import ClassifierFeatures, MNISTClassifier
from tests.conftest import REPO


def test_classifier_maps_digits_to_logits_and_penultimate_features():
    network = MNISTClassifier(feature_dim=32).eval()
    images = torch.rand(5, 1, 28, 28)
    assert network(images).shape == (5, 10)
    features = network.features(images)
    assert features.shape == (5, 32) and bool((features >= 0).all())
    torch.testing.assert_close(network.classify(features), network(images))


def test_augmentation_keeps_the_shape_and_is_the_identity_when_switched_off():
    images = torch.rand(4, 1, 28, 28)
    still = ClassifierModule(max_shift=0, max_rotation=0, max_scale=0)
    torch.testing.assert_close(still.augment(images), images, atol=1e-5, rtol=0)
    moved = ClassifierModule().augment(images)
    assert moved.shape == images.shape and not torch.allclose(moved, images)


def test_the_shipped_config_writes_the_checkpoint_that_classifier_features_load(classifier_checkpoint):
    assert classifier_checkpoint.is_file()
    extractor = ClassifierFeatures(str(classifier_checkpoint)).train()
    assert not extractor.training and not extractor.network.training
    images = torch.rand(6, 1, 28, 28)
    features, logits = extractor.features_and_logits(images)
    assert extractor(images).shape == features.shape == (6, 128) and logits.shape == (6, 10)
    assert (extractor.num_features, extractor.input_channels, extractor.input_size) == (128, 1, (28, 28))
    assert len(extractor.fingerprint) == 16 and "mnist.ckpt" in extractor.describe()


def test_classifier_features_work_as_torchmetrics_feature_and_in_ganbench_fid(classifier_checkpoint):
    extractor = ClassifierFeatures(str(classifier_checkpoint))
    metric = FrechetInceptionDistance(feature=extractor, normalize=True)
    images = torch.rand(8, 1, 28, 28)
    metric.update(images, real=True)
    metric.update(images, real=False)
    assert metric.real_features_sum.shape == (128,)
    real = torch.rand(200, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    assert abs(frechet_distance(real, real, feature_extractor=extractor).fid) < 1e-6


def test_a_missing_or_foreign_checkpoint_is_one_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="no checkpoint at .*ganbench-classifier fit --config"):
        ClassifierFeatures(str(tmp_path / "missing.ckpt"))
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(ConfigError, match="is not a ganbench-classifier checkpoint"):
        ClassifierFeatures(str(foreign))


def test_classifier_command_reports_a_constructor_error_in_one_line(capsys):

    with pytest.raises(SystemExit) as exit_info:
        main(["fit", f"--config={REPO / 'configs/classifier/mnist.yaml'}", "--data.init_args.batch_size=0"])
    assert exit_info.value.code == 2
    last_line = capsys.readouterr().err.strip().splitlines()[-1]
    assert last_line == "ganbench-classifier: error: batch_size must be >= 1, got 0."
