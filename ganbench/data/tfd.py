"""The Toronto Face Database (Susskind, Anderson & Hinton 2010), 48 x 48 grey faces, from ``TFD_48x48.mat``.

TFD is not publicly downloadable; users bring the file. It holds (as pylearn2's ``TFD`` reads it):
``images`` (102236, 48, 48) uint8; ``folds`` (102236, 5) with, per fold, 0 unlabeled, 1 train,
2 valid, 3 test (the unlabeled images are the same in every fold); ``labs_ex`` the expression
1..7 (-1 for unlabeled images); ``labs_id`` the identity.
"""

from pathlib import Path
from typing import Literal

import numpy as np
import scipy.io
import torch
from torch import Tensor

from ganbench.data.base import ImageDataModule
from ganbench.data.statistics import mean_image
from ganbench.errors import ConfigError, DataNotFoundError, GanbenchError, first_line

FOLD_CODES = {"unlabeled": 0, "train": 1, "valid": 2, "test": 3}
TRAIN_SPLITS = {"unlabeled": ("unlabeled",), "train": ("train",), "unlabeled+train": ("unlabeled", "train")}
FIELDS = ("images", "folds", "labs_ex", "labs_id")
NOT_PUBLIC = (
    "The Toronto Face Database is not publicly downloadable: request it from its authors (Josh Susskind, "
    "University of Toronto; the usual copy is the file TFD_48x48.mat), then put the file at {path} or set "
    "--data.init_args.mat_path=/path/to/TFD_48x48.mat."
)


class TFDDataModule(ImageDataModule):
    """TFD in one of its 5 folds: the paper trains on the unlabeled split, validates on the fold's valid.

    Args:
        mat_path: the user's ``TFD_48x48.mat``.
        fold: which of the 5 folds (0..4) defines train, validation and test.
        train_split: what trains: ``unlabeled`` (the paper's pretrain and train stages), the fold's
            labelled ``train`` part, or both.
        labels: ``expression`` (``labs_ex - 1``, 0..6) or ``identity`` (``labs_id``); unlabeled
            images get -1 either way.
        batch_size: minibatch size m (the paper: 100).
        num_workers: DataLoader workers.
        pixel_range: ``(low, high)`` pixel scale; ``(0, 1)`` is the paper's ``/255``.

    Splits: ``train`` as chosen, ``val`` = the fold's valid part, ``test`` = the fold's test part.
    """

    image_shape = (1, 48, 48)

    def __init__(
        self,
        mat_path: str = "data/tfd/TFD_48x48.mat",
        fold: int = 0,
        train_split: Literal["unlabeled", "train", "unlabeled+train"] = "unlabeled",
        labels: Literal["expression", "identity"] = "expression",
        batch_size: int = 100,
        num_workers: int = 0,
        pixel_range: tuple[float, float] = (0.0, 1.0),
    ) -> None:
        super().__init__(batch_size, num_workers, pixel_range)
        if fold not in range(5):
            raise ConfigError(f"fold must be 0, 1, 2, 3 or 4, got {fold}.")
        if train_split not in TRAIN_SPLITS:
            raise ConfigError(f"train_split must be one of {sorted(TRAIN_SPLITS)}, got {train_split!r}.")
        if labels not in ("expression", "identity"):
            raise ConfigError(f"labels must be 'expression' or 'identity', got {labels!r}.")
        self.mat_path = Path(mat_path)
        self.fold = fold
        self.train_split = train_split
        self.labels = labels

    def prepare_data(self) -> None:
        if not self.mat_path.is_file():
            raise DataNotFoundError(f"{self.mat_path} not found. " + NOT_PUBLIC.format(path=self.mat_path))

    def load_splits(self) -> dict[str, tuple[Tensor, Tensor | None]]:
        self.prepare_data()
        content = read_tfd(self.mat_path)
        membership = content["folds"][:, self.fold]
        if self.labels == "expression":
            labels = np.where(content["labs_ex"] >= 1, content["labs_ex"] - 1, -1)
        else:
            labels = content["labs_id"]
        labels = np.where(membership == FOLD_CODES["unlabeled"], -1, labels)

        def part(names: tuple[str, ...]) -> tuple[Tensor, Tensor]:
            index = np.flatnonzero(np.isin(membership, [FOLD_CODES[name] for name in names]))
            if len(index) == 0:
                raise GanbenchError(f"{self.mat_path}: fold {self.fold} has no images in {'+'.join(names)}.")
            images = torch.from_numpy(content["images"][index]).unsqueeze(1)  # (N, 1, 48, 48)
            return images, torch.from_numpy(labels[index].astype(np.int64))

        return {"train": part(TRAIN_SPLITS[self.train_split]), "val": part(("valid",)), "test": part(("test",))}

    def pixel_mean(self) -> Tensor:
        """Mean training image ``(1, 48, 48)`` in ``pixel_range``, computed in chunks."""
        self.setup()
        return mean_image(self.datasets["train"])


def read_tfd(path: str | Path) -> dict[str, np.ndarray]:
    """Reads and checks ``TFD_48x48.mat``.

    Args:
        path: the ``.mat`` file (MATLAB v5, as distributed; scipy cannot read v7.3 files).

    Returns:
        ``images`` (N, 48, 48) uint8, ``folds`` (N, 5) int64 in 0..3, ``labs_ex`` and ``labs_id`` (N,) int64.
    """
    path = Path(path)
    try:
        content = scipy.io.loadmat(str(path), variable_names=FIELDS)
    except FileNotFoundError:
        raise DataNotFoundError(f"{path} not found. " + NOT_PUBLIC.format(path=path)) from None
    except NotImplementedError:  # scipy's message for MATLAB v7.3 (HDF5) files
        raise GanbenchError(
            f"{path} is a MATLAB v7.3 file, which scipy cannot read; save it again in MATLAB with "
            "save(..., '-v7') or use the original TFD_48x48.mat."
        ) from None
    except Exception as error:  # scipy raises ValueError, TypeError, OSError... for damaged files
        raise GanbenchError(f"{path} is not a readable MATLAB file ({first_line(error)}).") from None
    missing = [name for name in FIELDS if name not in content]
    if missing:
        raise GanbenchError(f"{path} is not TFD_48x48.mat: it has no {', '.join(missing)} field(s).")
    images, folds = content["images"], content["folds"]
    if images.ndim != 3 or images.shape[1:] != (48, 48):
        raise GanbenchError(f"{path}: 'images' must be (N, 48, 48), got {images.shape}.")
    if not np.issubdtype(images.dtype, np.integer) or images.min() < 0 or images.max() > 255:
        raise GanbenchError(f"{path}: 'images' must hold integers 0..255, got {images.dtype}.")
    count = len(images)
    if folds.shape != (count, 5) or not np.isin(folds, list(FOLD_CODES.values())).all():
        raise GanbenchError(f"{path}: 'folds' must be ({count}, 5) with values 0..3, got {folds.shape}.")
    result = {"images": images.astype(np.uint8, copy=False), "folds": folds.astype(np.int64)}
    for name in ("labs_ex", "labs_id"):
        values = np.asarray(content[name]).reshape(-1)
        if len(values) != count:
            raise GanbenchError(f"{path}: '{name}' has {len(values)} entries for {count} images.")
        result[name] = values.astype(np.int64)
    return result
