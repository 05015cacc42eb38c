"""TFD: folds, which split trains, labels, /255 pixels and the errors of a missing or damaged .mat file."""

from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
from torch.testing import assert_close

from ganbench.data import TFDDataModule
from ganbench.errors import ConfigError, DataNotFoundError, GanbenchError
from tests.conftest import write_tfd_mat


@pytest.fixture
def tfd(tmp_path) -> tuple[Path, dict]:
    """40 unlabeled and 30 labelled images; each fold assigns the labelled ones to train/valid/test differently."""
    path = tmp_path / "TFD_48x48.mat"
    return path, write_tfd_mat(path, unlabeled=40, labelled=30)


def expected_split(content: dict, fold: int, codes: tuple[int, ...]) -> np.ndarray:
    return np.flatnonzero(np.isin(content["folds"][:, fold], codes))


@pytest.mark.parametrize("fold", range(5))
def test_each_fold_gives_its_valid_and_test_parts_and_the_shared_unlabeled_training_set(tfd, fold):
    path, content = tfd
    datamodule = TFDDataModule(mat_path=str(path), fold=fold)
    datamodule.setup()
    index = {split: expected_split(content, fold, (code,)) for split, code in (("train", 0), ("val", 2), ("test", 3))}
    for split, rows in index.items():
        expected = torch.from_numpy(content["images"][rows]).unsqueeze(1)
        assert_close(datamodule.datasets[split].images, expected)
    assert len(datamodule.datasets["train"]) == 40  # the unlabeled part is the same in every fold
    assert not set(index["val"]) & set(index["test"]) and not set(index["train"]) & set(index["val"])


def test_folds_differ(tfd):
    path, _ = tfd
    tests = [TFDDataModule(mat_path=str(path), fold=fold).split_images("test") for fold in (0, 1)]
    assert tests[0].shape == tests[1].shape and not torch.equal(tests[0], tests[1])


@pytest.mark.parametrize("train_split, codes", [("unlabeled", (0,)), ("train", (1,)), ("unlabeled+train", (0, 1))])
def test_train_split_choice(tfd, train_split, codes):
    path, content = tfd
    datamodule = TFDDataModule(mat_path=str(path), fold=2, train_split=train_split)
    rows = expected_split(content, 2, codes)
    assert_close(datamodule.split_images("train"), torch.from_numpy(content["images"][rows] / 255.0).float()[:, None])


def test_pixels_are_divided_by_255(tfd):
    path, content = tfd
    images = TFDDataModule(mat_path=str(path)).split_images("val")
    rows = expected_split(content, 0, (2,))
    assert_close(images, torch.from_numpy(content["images"][rows]).float().unsqueeze(1) / 255)
    assert images.shape[1:] == (1, 48, 48) and 0 <= images.min() and images.max() <= 1


@pytest.mark.parametrize("labels, field, offset", [("expression", "labs_ex", 1), ("identity", "labs_id", 0)])
def test_labels_are_aligned_with_images_and_unlabeled_images_get_minus_one(tfd, labels, field, offset):
    path, content = tfd
    datamodule = TFDDataModule(mat_path=str(path), fold=3, train_split="unlabeled+train", labels=labels)
    datamodule.setup()
    for split, codes in (("train", (0, 1)), ("test", (3,))):
        rows = expected_split(content, 3, codes)
        stored = content[field].reshape(-1)[rows].astype(np.int64) - offset
        expected = np.where(content["folds"][rows, 3] == 0, -1, stored)
        assert_close(datamodule.datasets[split].labels, torch.from_numpy(expected))
    assert set(datamodule.datasets["train"].labels[:40].tolist()) == {-1}
    if labels == "expression":
        assert set(datamodule.datasets["test"].labels.tolist()) <= set(range(7))


def test_pixel_mean_is_the_mean_training_image(tfd):
    path, content = tfd
    datamodule = TFDDataModule(mat_path=str(path))
    expected = torch.from_numpy(content["images"][:40].mean(axis=0) / 255).float().unsqueeze(0)
    assert_close(datamodule.pixel_mean(), expected)


def test_missing_file_says_tfd_is_not_public_and_where_to_put_it(tmp_path):
    datamodule = TFDDataModule(mat_path=str(tmp_path / "TFD_48x48.mat"))
    with pytest.raises(DataNotFoundError) as error:
        datamodule.prepare_data()
    message = str(error.value)
    assert message.startswith(f"{tmp_path / 'TFD_48x48.mat'} not found. The Toronto Face Database is not publicly")
    assert "--data.init_args.mat_path=" in message and "\n" not in message
    with pytest.raises(DataNotFoundError, match="not publicly downloadable"):
        datamodule.setup()


def damage(path: Path, **changes) -> None:
    content = {key: value for key, value in scipy.io.loadmat(str(path)).items() if not key.startswith("__")}
    content.update(changes)
    for key in [key for key, value in changes.items() if value is None]:
        del content[key]
    scipy.io.savemat(str(path), content)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"labs_id": None}, "has no labs_id field"),
        ({"images": np.zeros((70, 32, 32), np.uint8)}, r"'images' must be \(N, 48, 48\)"),
        ({"images": np.full((70, 48, 48), 0.5)}, "'images' must hold integers 0..255"),
        ({"folds": np.full((70, 5), 4, np.uint8)}, r"'folds' must be \(70, 5\) with values 0..3"),
        ({"labs_ex": np.zeros((69, 1))}, "'labs_ex' has 69 entries for 70 images"),
    ],
)
def test_malformed_files_are_clear_errors(tfd, changes, message):
    path, _ = tfd
    damage(path, **changes)
    with pytest.raises(GanbenchError, match=message):
        TFDDataModule(mat_path=str(path)).setup()


def test_a_file_that_is_not_matlab_is_a_clear_error(tmp_path):
    path = tmp_path / "TFD_48x48.mat"
    path.write_bytes(b"<html>404 Not Found</html>" * 10)
    with pytest.raises(GanbenchError, match="is not a readable MATLAB file"):
        TFDDataModule(mat_path=str(path)).setup()


def test_empty_split_in_a_fold_is_a_clear_error(tfd):
    path, content = tfd
    folds = content["folds"].copy()
    folds[folds[:, 4] == 2, 4] = 1  # fold 4 loses its valid part
    damage(path, folds=folds)
    with pytest.raises(GanbenchError, match="fold 4 has no images in valid"):
        TFDDataModule(mat_path=str(path), fold=4).setup()


def test_bad_arguments_are_refused():
    with pytest.raises(ConfigError, match="fold must be"):
        TFDDataModule(fold=5)
    with pytest.raises(ConfigError, match="train_split"):
        TFDDataModule(train_split="valid")
    with pytest.raises(ConfigError, match="labels"):
        TFDDataModule(labels="age")
