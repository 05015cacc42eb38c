"""FID/KID/IS around torchmetrics: reference values, the real-statistics cache, offline weights, clear errors."""

import math

import numpy as np
import pytest
import scipy.linalg
import torch
from torch import nn

from ganbench.errors import ConfigError, ShapeMismatchError
from ganbench.metrics import FIDEvaluator, InceptionWeightsNotFoundError, frechet_distance
from ganbench.metrics import features as features_module
from ganbench.metrics.features import INCEPTION_WEIGHTS_FILE, INCEPTION_WEIGHTS_URL, prepare_images


class LinearFeatures(nn.Module):
    """A small fixed random projection of the flattened pixels: ``(B, C, H, W) -> (B, num_features)``."""

    def __init__(self, pixels: int = 16, num_features: int = 6, seed: int = 0) -> None:
        super().__init__()
        self.num_features = num_features
        self.projection = nn.Linear(pixels, num_features)
        with torch.no_grad():
            weights = torch.randn(num_features, pixels, generator=torch.Generator().manual_seed(seed))
            self.projection.weight.copy_(weights)
            self.projection.bias.zero_()
        self.calls = 0

    def forward(self, images):
        self.calls += 1
        return self.projection(images.flatten(1))


class LogitFeatures(LinearFeatures):
    """Also returns 3-class logits, for the Inception Score."""

    def features_and_logits(self, images):
        features = self(images)
        return features, features[:, :3]


def images(count: int, seed: int, power: float = 1.0) -> torch.Tensor:
    return torch.rand(count, 1, 4, 4, generator=torch.Generator().manual_seed(seed)) ** power


def reference_fid(real_features: np.ndarray, fake_features: np.ndarray) -> float:
    """TTUR / torch-fidelity's computation: numpy covariances and scipy's sqrtm, float64."""
    mu1, mu2 = real_features.mean(0), fake_features.mean(0)
    sigma1, sigma2 = np.cov(real_features, rowvar=False), np.cov(fake_features, rowvar=False)
    root, _ = scipy.linalg.sqrtm(sigma1 @ sigma2, disp=False)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(root.real))


def test_fid_of_a_set_with_itself_is_zero():
    real = images(300, 0)
    result = frechet_distance(real, real, feature_extractor=LinearFeatures())
    assert abs(result.fid) < 1e-9
    assert result.failure is None


def test_fid_equals_an_independent_float64_scipy_computation():
    extractor = LinearFeatures()
    real, fake = images(400, 0), images(300, 1, power=2.0)
    result = frechet_distance(real, fake, feature_extractor=extractor)
    with torch.no_grad():
        real_features, fake_features = (
            extractor(prepare_images(batch, (0, 1), extractor)).double().numpy() for batch in (real, fake)
        )
    expected = reference_fid(real_features, fake_features)
    assert expected > 0.1
    assert isinstance(result.fid, float)
    assert result.fid == pytest.approx(expected, rel=1e-6)


def test_fid_falls_as_fake_features_approach_real_ones():
    # The extractor is linear, so mixing the images mixes the features.
    real, other = images(400, 0), images(400, 1, power=3.0)
    values = [
        frechet_distance(real, (1 - weight) * real + weight * other, feature_extractor=LinearFeatures()).fid
        for weight in (1.0, 0.6, 0.3, 0.1, 0.0)
    ]
    assert all(earlier > later for earlier, later in zip(values, values[1:])), values
    assert values[-2] < 0.1 * values[0] and abs(values[-1]) < 1e-9


def test_fid_does_not_depend_on_the_data_range():
    real, fake = (torch.round(batch * 255) / 255 for batch in (images(300, 0), images(300, 1, power=2.0)))
    unit = frechet_distance(real, fake, (0, 1), feature_extractor=LinearFeatures()).fid
    symmetric = frechet_distance(real * 2 - 1, fake * 2 - 1, (-1, 1), feature_extractor=LinearFeatures()).fid
    assert symmetric == pytest.approx(unit, rel=1e-9)


def test_real_statistics_are_cached_and_the_key_changes_with_what_they_depend_on(tmp_path):
    real, fake = images(300, 0), images(200, 1, power=2.0)

    def evaluate(extractor, real_images, split="test"):
        evaluator = FIDEvaluator(extractor, cache_dir=tmp_path)
        info = evaluator.set_real(real_images, (0, 1), data="Toy", split=split)
        calls_for_real = extractor.calls
        evaluator.update(fake, (0, 1))
        return info, calls_for_real, evaluator.compute()

    first, calls, fresh = evaluate(LinearFeatures(), real)
    assert first.status == "computed" and calls > 0 and first.path.is_file()
    assert first.key.name in str(first.path) and first.key.name.startswith("Toy-test-n300-LinearFeatures-")
    second, calls, cached = evaluate(LinearFeatures(), real)
    assert (second.status, second.path, calls) == ("cache", first.path, 0)
    assert cached.fid == fresh.fid
    assert cached.protocol.statistics_key == first.key.name
    for changed in (
        evaluate(LinearFeatures(), real[:250])[0],  # n_real
        evaluate(LinearFeatures(), real, split="val")[0],  # split
        evaluate(LinearFeatures(seed=1), real)[0],  # the extractor's weights
        evaluate(LinearFeatures(), real.flip(0))[0],  # the images themselves
    ):
        assert changed.status == "computed" and changed.path != first.path
    assert len(list(tmp_path.glob("*.pt"))) == 5


def test_a_cache_file_with_another_key_inside_is_recomputed(tmp_path):
    evaluator = FIDEvaluator(LinearFeatures(), cache_dir=tmp_path)
    info = evaluator.set_real(images(300, 0), (0, 1))
    other = FIDEvaluator(LinearFeatures(), cache_dir=tmp_path).set_real(images(300, 1), (0, 1))
    other.path.replace(info.path)
    assert FIDEvaluator(LinearFeatures(), cache_dir=tmp_path).set_real(images(300, 0), (0, 1)).status == "computed"


def test_missing_inception_weights_name_the_file_its_url_and_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.delenv(features_module.WEIGHTS_ENVIRONMENT_VARIABLE, raising=False)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", _no_download)
    with pytest.raises(InceptionWeightsNotFoundError) as caught:
        FIDEvaluator()
    message = str(caught.value)
    for expected in (
        INCEPTION_WEIGHTS_FILE,
        INCEPTION_WEIGHTS_URL,
        str(tmp_path / "hub" / "checkpoints"),
        "inception_weights_path",
    ):
        assert expected in message
    with pytest.raises(InceptionWeightsNotFoundError, match="There is no file at .*nowhere.pth"):
        FIDEvaluator(inception_weights_path=str(tmp_path / "nowhere.pth"))


def _no_download(*args, **kwargs):
    raise AssertionError("ganbench must never download the Inception weights")


@pytest.fixture(scope="session")
def random_inception_weights(tmp_path_factory):
    """A weights file with the FID Inception's layout and random values (the real ones cannot be fetched here)."""
    pytest.importorskip("torch_fidelity")
    from torch_fidelity import feature_extractor_inceptionv3 as fidelity

    patch = pytest.MonkeyPatch()
    patch.setattr(fidelity, "load_state_dict_from_url", lambda *args, **kwargs: None)
    patch.setattr(fidelity.FeatureExtractorInceptionV3, "load_state_dict", lambda *args, **kwargs: None)
    try:
        network = fidelity.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    finally:
        patch.undo()
    path = tmp_path_factory.mktemp("inception") / INCEPTION_WEIGHTS_FILE
    torch.save(network.state_dict(), path)
    return path


def test_inception_loads_a_local_weights_file_and_takes_grey_images(random_inception_weights, monkeypatch):
    from torch_fidelity import feature_extractor_inceptionv3 as fidelity

    monkeypatch.setattr(fidelity, "load_state_dict_from_url", _no_download)
    extractor = features_module.InceptionFeatures(str(random_inception_weights))
    assert not extractor.network.use_antialias  # TF1 bilinear, as TF FID and torch-fidelity
    prepared = prepare_images(torch.rand(2, 1, 7, 5), (0, 1), extractor)
    assert prepared.dtype == torch.uint8 and prepared.shape == (2, 3, 7, 5)
    features, logits = extractor.features_and_logits(prepared)
    assert features.shape == (2, 2048) and logits.shape == (2, 1008)
    assert "weights-inception-2015-12-05" in extractor.describe()


def test_a_file_that_is_not_the_inception_weights_is_named(tmp_path):
    pytest.importorskip("torch_fidelity")
    path = tmp_path / "other.pth"
    torch.save({"weight": torch.zeros(2)}, path)
    with pytest.raises(InceptionWeightsNotFoundError, match="other.pth is not the FID Inception weights"):
        features_module.InceptionFeatures(str(path))


@pytest.mark.parametrize(("num_real", "num_fake"), [(300, 6), (6, 300), (300, 1)])
def test_too_few_images_for_the_feature_dimension_are_an_error(num_real, num_fake):
    with pytest.raises(ConfigError, match="FID"):
        frechet_distance(images(num_real, 0), images(num_fake, 1), feature_extractor=LinearFeatures(num_features=6))


def test_images_of_the_wrong_shape_are_an_error():
    with pytest.raises(ShapeMismatchError, match=r"\(B, 1 or 3, H, W\)"):
        frechet_distance(images(300, 0), torch.rand(300, 16), feature_extractor=LinearFeatures())
    with pytest.raises(ShapeMismatchError, match=r"\(B, 1 or 3, H, W\), got \(300, 2, 4, 4\)"):
        frechet_distance(torch.rand(300, 2, 4, 4), images(300, 0), feature_extractor=LinearFeatures(pixels=32))
    grey = LinearFeatures()
    grey.input_channels = 1
    with pytest.raises(ShapeMismatchError, match="have 3 channels but LinearFeatures takes 1"):
        frechet_distance(images(300, 0), torch.rand(300, 3, 4, 4), feature_extractor=grey)
    extractor = LinearFeatures()
    extractor.input_size = (4, 4)
    with pytest.raises(ShapeMismatchError, match=r"\(5, 5\) pixels .* takes \(4, 4\)"):
        frechet_distance(images(300, 0), torch.rand(300, 1, 5, 5), feature_extractor=extractor)


def test_images_outside_the_data_range_are_an_error():
    with pytest.raises(ShapeMismatchError, match=r"\[0, 255\] but the data's pixel_range is \(0, 1\)"):
        frechet_distance(images(300, 0), (images(300, 1) * 255).round(), feature_extractor=LinearFeatures())
    with pytest.raises(ShapeMismatchError, match="pixel_range is \\(-1, 1\\)"):
        frechet_distance(images(300, 0) - 2, images(300, 1), (-1, 1), feature_extractor=LinearFeatures())


def test_grey_images_are_repeated_to_the_channels_the_extractor_wants():
    extractor = LinearFeatures(pixels=48)
    extractor.input_channels = 3
    prepared = prepare_images(images(2, 0), (0, 1), extractor)
    assert prepared.shape == (2, 3, 4, 4)
    torch.testing.assert_close(prepared[:, 0], prepared[:, 2])
    torch.testing.assert_close(prepared[:, 0], (images(2, 0)[:, 0] * 255).round() / 255)


def test_non_finite_generated_images_give_a_failed_result_not_a_crash():
    fake = images(300, 1)
    fake[3, 0, 0, 0] = float("nan")
    result = frechet_distance(images(300, 0), fake, feature_extractor=LinearFeatures(), kid=True, kid_subset_size=50)
    assert math.isnan(result.fid) and math.isnan(result.kid_mean)
    assert "NaN" in result.failure and "FAILED" in result.describe()


def test_kid_and_inception_score_share_the_features_and_are_reproducible():
    options = dict(
        feature_extractor=LogitFeatures(),
        kid=True,
        kid_subsets=5,
        kid_subset_size=100,
        inception_score=True,
        inception_score_splits=2,
    )
    rng_state = torch.get_rng_state()
    first = frechet_distance(images(300, 0), images(300, 1, power=2.0), **options)
    second = frechet_distance(images(300, 0), images(300, 1, power=2.0), **options)
    assert torch.equal(torch.get_rng_state(), rng_state), "evaluation moved the global RNG"
    assert (first.kid_mean, first.kid_std, first.inception_score) == (
        second.kid_mean,
        second.kid_std,
        second.inception_score,
    )
    assert first.kid_mean > 0 and first.kid_std >= 0 and first.inception_score >= 1
    with pytest.raises(ConfigError, match="kid_subset_size"):
        frechet_distance(images(300, 0), images(50, 1), feature_extractor=LinearFeatures(), kid=True)
    with pytest.raises(ConfigError, match="features_and_logits"):
        FIDEvaluator(LinearFeatures(), inception_score=True)


def test_the_protocol_names_every_number():
    result = frechet_distance(images(300, 0), images(200, 1), feature_extractor=LinearFeatures())
    line = str(result.protocol)
    for expected in ("torchmetrics", "float64", "LinearFeatures", "n_real=300", "n_fake=200", "resize: none", "8-bit"):
        assert expected in line
