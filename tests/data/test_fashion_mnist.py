"""Fashion-MNIST: the shared IDX reader on MNIST-named files, gzipped or raw, in Debian's flat layout."""

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.testing import assert_close

from ganbench.data import FashionMNISTDataModule
from ganbench.data.fashion_mnist import DEBIAN_DIR
from ganbench.errors import DataNotFoundError, GanbenchError
from tests.conftest import write_idx

NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def labelled_images(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Images whose every pixel is 20 * label + a per-image offset 0..9, so image and label can be matched."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, count)
    offsets = np.arange(count) % 10
    images = np.broadcast_to((20 * labels + offsets)[:, None, None], (count, 28, 28)).astype(np.uint8)
    return images, labels


@pytest.fixture
def fashion_dir(tmp_path) -> Path:
    """The four files as Debian lays them out (flat, gzipped): 80 training and 20 test images."""
    train, test = labelled_images(80, 0), labelled_images(20, 1)
    for name, array in zip(NAMES, (*train, *test)):
        write_idx(tmp_path / f"{name}.gz", array)
    return tmp_path


def test_split_sizes_disjointness_range_and_label_alignment(fashion_dir):
    datamodule = FashionMNISTDataModule(data_dir=str(fashion_dir), train_size=60, batch_size=10)
    datamodule.setup()
    assert {split: len(dataset) for split, dataset in datamodule.datasets.items()} == {
        "train": 60,
        "val": 20,
        "test": 20,
    }
    train_images, _ = labelled_images(80, 0)
    assert_close(
        datamodule.split_images("train")[:, 0, 0, 0], torch.from_numpy(train_images[:60, 0, 0] / 255.0).float()
    )
    assert_close(datamodule.split_images("val")[:, 0, 0, 0], torch.from_numpy(train_images[60:, 0, 0] / 255.0).float())
    for split in ("train", "val", "test"):
        images, labels = datamodule.datasets[split].__getitems__(list(range(len(datamodule.datasets[split]))))
        assert images.shape[1:] == (1, 28, 28) and 0 <= images.min() and images.max() <= 1
        assert_close(((images[:, 0, 0, 0] * 255).round().long() // 20), labels)  # pixel 20 * label + offset


def test_raw_files_and_pixel_range_minus_one_to_one(fashion_dir, tmp_path_factory):
    raw = tmp_path_factory.mktemp("raw")
    for name in NAMES:
        with gzip.open(fashion_dir / f"{name}.gz", "rb") as source, open(raw / name, "wb") as target:
            shutil.copyfileobj(source, target)
    datamodule = FashionMNISTDataModule(data_dir=str(raw), train_size=60, pixel_range=(-1.0, 1.0))
    images = datamodule.split_images("test")
    test_images, _ = labelled_images(20, 1)
    assert_close(images[:, 0, 0, 0], torch.from_numpy(test_images[:, 0, 0] / 127.5 - 1).float())


def test_missing_files_are_one_clear_error_naming_the_debian_package(tmp_path):
    with pytest.raises(DataNotFoundError, match=r"train-images-idx3-ubyte\[\.gz\] not found") as error:
        FashionMNISTDataModule(data_dir=str(tmp_path)).setup()
    assert f"apt-get install dataset-fashion-mnist, then data_dir={DEBIAN_DIR}" in str(error.value)
    assert "download=true" in str(error.value)


def test_truncated_file_is_a_clear_error(fashion_dir):
    path = fashion_dir / "t10k-images-idx3-ubyte.gz"
    content = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(content[:-100]))
    with pytest.raises(GanbenchError, match="truncated or corrupt"):
        FashionMNISTDataModule(data_dir=str(fashion_dir), train_size=60).setup()


def test_failed_download_is_one_clear_error(tmp_path, monkeypatch):
    class FashionMNIST:  # stands in for torchvision's class offline
        def __init__(self, *args, **kwargs):
            raise OSError("<urlopen error [Errno -3] Temporary failure in name resolution>")

    monkeypatch.setattr(FashionMNISTDataModule, "torchvision_class", FashionMNIST)
    with pytest.raises(DataNotFoundError, match=r"Could not download FashionMNIST into .*Temporary failure"):
        FashionMNISTDataModule(data_dir=str(tmp_path), download=True).prepare_data()


@pytest.mark.skipif(not Path(DEBIAN_DIR).is_dir(), reason="needs apt-get install dataset-fashion-mnist")
def test_debian_package_files_load_with_the_paper_split():
    datamodule = FashionMNISTDataModule(data_dir=DEBIAN_DIR)
    datamodule.setup()
    assert {split: len(dataset) for split, dataset in datamodule.datasets.items()} == {
        "train": 50000,
        "val": 10000,
        "test": 10000,
    }
    assert torch.bincount(datamodule.datasets["test"].labels).tolist() == [1000] * 10
    pixel_mean = datamodule.pixel_mean()
    assert pixel_mean.shape == (1, 28, 28) and 0.2 < pixel_mean.mean() < 0.4  # Fashion-MNIST's mean is 0.286
