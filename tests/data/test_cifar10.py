"""CIFAR-10: the pickle batches, the paper's split, pixels or global contrast normalisation, clear errors."""

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.testing import assert_close

from ganbench.data import CIFAR10DataModule
from ganbench.data import cifar10 as cifar10_module
from ganbench.data.cifar10 import global_contrast_normalize, read_cifar_batch
from ganbench.errors import ConfigError, DataNotFoundError, GanbenchError, ShapeMismatchError
from ganbench.nets import MaxoutDiscriminator, MLPGenerator
from ganbench.priors import Normal
from ganbench.validation import check_networks_fit_data
from tests.conftest import write_cifar10_batches


@pytest.fixture
def cifar(tmp_path) -> tuple[Path, dict]:
    """5 training batches of 10 images and a test batch of 10, random, as written."""
    return tmp_path, write_cifar10_batches(tmp_path, per_batch=10, test_count=10)


def test_split_sizes_order_disjointness_and_label_alignment(cifar):
    folder, written = cifar
    datamodule = CIFAR10DataModule(data_dir=str(folder), train_size=40)
    datamodule.setup()
    train_images, train_labels = written["train"]
    expected = {
        "train": (train_images[:40], train_labels[:40]),
        "val": (train_images[40:], train_labels[40:]),
        "test": written["test"],
    }
    for split, (images, labels) in expected.items():
        dataset = datamodule.datasets[split]
        assert_close(dataset.images, torch.from_numpy(images))  # stored as uint8, in file order
        assert_close(dataset.labels, torch.from_numpy(labels).long())
    assert datamodule.image_shape == (3, 32, 32)


def test_rows_are_channel_major_rgb_planes(tmp_path):
    data = np.zeros((1, 3072), dtype=np.uint8)
    data[0, :1024], data[0, 1024:2048], data[0, 2048:] = 10, 20, 30  # red, green, blue planes
    (tmp_path / "batch").write_bytes(pickle.dumps({"data": data, "labels": [3]}, protocol=2))
    images, labels = read_cifar_batch(tmp_path / "batch")
    assert images.shape == (1, 3, 32, 32) and labels.tolist() == [3]
    assert [int(images[0, channel].max()) for channel in range(3)] == [10, 20, 30]


@pytest.mark.parametrize("pixel_range", [(0.0, 1.0), (-1.0, 1.0)])
def test_pixels_are_scaled_to_the_pixel_range(cifar, pixel_range):
    folder, written = cifar
    datamodule = CIFAR10DataModule(data_dir=str(folder), train_size=40, pixel_range=pixel_range)
    low, high = pixel_range
    expected = torch.from_numpy(written["test"][0]).float() * (high - low) / 255 + low
    assert_close(datamodule.split_images("test"), expected)
    assert datamodule.pixel_range == pixel_range


def test_gcn_gives_every_image_zero_mean_and_norm_55(cifar):
    folder, _ = cifar
    datamodule = CIFAR10DataModule(data_dir=str(folder), train_size=40, preprocessing="gcn")
    assert datamodule.pixel_range is None
    for split in ("train", "val", "test"):
        flat = datamodule.split_images(split).flatten(1).double()
        assert_close(flat.mean(dim=1), torch.zeros(len(flat), dtype=torch.float64), atol=1e-6, rtol=0)
        assert_close(flat.norm(dim=1), torch.full((len(flat),), 55.0, dtype=torch.float64), atol=1e-4, rtol=0)
    single, _ = datamodule.datasets["test"][0]  # __getitem__ path
    assert_close(single, datamodule.split_images("test")[0])


def test_gcn_formula_matches_a_numpy_reference_and_leaves_constant_images_at_zero():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (4, 3, 32, 32)).astype(np.uint8)
    images[3] = 77  # a constant image: divisor 0 < 1e-8 is replaced by 1, as in pylearn2
    flat = images.reshape(4, -1).astype(np.float64)
    centred = flat - flat.mean(axis=1, keepdims=True)
    norms = np.sqrt((centred**2).sum(axis=1, keepdims=True)) / 55.0
    norms[norms < 1e-8] = 1.0
    expected = torch.from_numpy((centred / norms).reshape(images.shape)).float()
    result = global_contrast_normalize(torch.from_numpy(images))
    assert_close(result, expected)
    assert torch.equal(result[3], torch.zeros(3, 32, 32))
    # GCN ignores the input's scale: 0..255 (pylearn2) and 0..1 give the same images
    assert_close(global_contrast_normalize(torch.from_numpy(images) / 255.0), result, atol=1e-4, rtol=0)


def test_gcn_pixel_mean_is_the_mean_normalised_image(cifar):
    folder, _ = cifar
    datamodule = CIFAR10DataModule(data_dir=str(folder), train_size=40, preprocessing="gcn")
    assert_close(datamodule.pixel_mean(), datamodule.split_images("train").mean(dim=0), atol=1e-5, rtol=0)


def test_the_batches_folder_itself_may_be_data_dir(cifar):
    folder, written = cifar
    datamodule = CIFAR10DataModule(data_dir=str(folder / "cifar-10-batches-py"), train_size=40)
    assert len(datamodule.split_images("val")) == 10


def test_missing_files_offline_are_one_clear_error(tmp_path):
    with pytest.raises(DataNotFoundError) as error:
        CIFAR10DataModule(data_dir=str(tmp_path)).setup()
    message = str(error.value)
    assert "lacks data_batch_1, data_batch_2, data_batch_3, data_batch_4, data_batch_5, test_batch" in message
    assert "cifar-10-python.tar.gz" in message and "download=true" in message


def test_failed_download_is_one_clear_error(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("<urlopen error [Errno -3] Temporary failure in name resolution>")

    monkeypatch.setattr(cifar10_module.torchvision.datasets, "CIFAR10", offline)
    with pytest.raises(
        DataNotFoundError, match=r"Could not download CIFAR-10 into .*Temporary failure.*download=false"
    ):
        CIFAR10DataModule(data_dir=str(tmp_path), download=True).prepare_data()


def test_download_is_skipped_when_the_files_are_there(cifar, monkeypatch):
    monkeypatch.setattr(cifar10_module.torchvision.datasets, "CIFAR10", None)  # would fail if called
    CIFAR10DataModule(data_dir=str(cifar[0]), download=True).prepare_data()


@pytest.mark.parametrize(
    "content, message",
    [
        (b"not a pickle at all", "is not a CIFAR-10 Python batch"),
        (pickle.dumps([1, 2, 3]), "holds a list, not a dict"),
        (pickle.dumps({"data": np.zeros((2, 100), np.uint8), "labels": [0, 1]}), r"must be \(N, 3072\) uint8"),
        (pickle.dumps({"data": np.zeros((2, 3072), np.uint8), "labels": [0]}), "expected 2 labels in 0..9"),
        (pickle.dumps({"labels": [0]}), "no 'data' or no 'labels' entry"),
        (pickle.dumps(print), "refusing to load builtins.print"),  # a pickle that would call code
    ],
)
def test_malformed_batches_are_clear_errors(cifar, content, message):
    folder, _ = cifar
    (folder / "cifar-10-batches-py" / "data_batch_3").write_bytes(content)
    with pytest.raises(GanbenchError, match=message):
        CIFAR10DataModule(data_dir=str(folder), train_size=40).setup()


def test_bad_arguments_are_refused(cifar):
    with pytest.raises(ConfigError, match="preprocessing"):
        CIFAR10DataModule(preprocessing="zca")
    with pytest.raises(ConfigError, match=r"train_size must be in \(0, 50\)"):
        CIFAR10DataModule(data_dir=str(cifar[0]), train_size=50).setup()


class FakeGAN:
    """What check_networks_fit_data needs: a generator, a discriminator, a prior."""

    def __init__(self, output_activation: str):
        self.generator = MLPGenerator(
            latent_dim=4,
            hidden_dims=(8,),
            image_shape=(3, 32, 32),
            output_activation=output_activation,
            output_bias_from_data=False,
        )
        self.discriminator = MaxoutDiscriminator(image_shape=(3, 32, 32), hidden_units=(4,), pieces=2)
        self.prior = Normal()


@pytest.mark.parametrize(
    "output_activation, preprocessing, pixel_range, error",
    [
        ("linear", "gcn", (0.0, 1.0), None),
        ("sigmoid", "gcn", (0.0, 1.0), "outputs values in (0.0, 1.0) but the data is unbounded (preprocessing='gcn'"),
        ("tanh", "gcn", (0.0, 1.0), "outputs values in (-1.0, 1.0) but the data is unbounded"),
        ("sigmoid", "pixels", (0.0, 1.0), None),
        ("tanh", "pixels", (-1.0, 1.0), None),
        ("sigmoid", "pixels", (-1.0, 1.0), "outputs values in (0.0, 1.0) but the data's pixels are in (-1.0, 1.0)"),
        ("tanh", "pixels", (0.0, 1.0), "outputs values in (-1.0, 1.0) but the data's pixels are in (0.0, 1.0)"),
        ("linear", "pixels", (0.0, 1.0), None),  # a linear output can reach any range
    ],
)
def test_start_up_check_matches_output_activation_and_preprocessing(
    output_activation, preprocessing, pixel_range, error
):
    datamodule = CIFAR10DataModule(preprocessing=preprocessing, pixel_range=pixel_range)
    if error is None:
        check_networks_fit_data(FakeGAN(output_activation), datamodule)
    else:
        with pytest.raises(ShapeMismatchError) as raised:
            check_networks_fit_data(FakeGAN(output_activation), datamodule)
        assert error in str(raised.value)
