"""CIFAR-10 (Krizhevsky 2009) from its Python pickle batches, as pixels or contrast-normalised (the paper).

The files are ``cifar-10-batches-py/data_batch_1`` .. ``data_batch_5`` and ``test_batch`` (what
``cifar-10-python.tar.gz`` and torchvision's download unpack to). Each is a pickled dict with
``data`` (10000, 3072) uint8, channel-major rows (1024 red, 1024 green, 1024 blue values), and
``labels`` (10000 ints). They are read with an unpickler that only builds numpy arrays and plain
containers, so a tampered file cannot run code.
"""

import pickle
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torchvision
from torch import Tensor
from torch.utils.data import Dataset

from ganbench.data.base import ImageDataModule, TensorImageDataset
from ganbench.data.statistics import mean_image
from ganbench.errors import ConfigError, DataNotFoundError, GanbenchError, first_line

BATCHES_FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{index}" for index in range(1, 6))
TEST_BATCH = "test_batch"
ARCHIVE_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"

#: pylearn2's ``global_contrast_normalize`` default ``min_divisor``: a divisor below it is replaced by 1.
GCN_MIN_DIVISOR = 1e-8


def global_contrast_normalize(images: Tensor, scale: float = 55.0, min_divisor: float = GCN_MIN_DIVISOR) -> Tensor:
    """Per-image global contrast normalisation, the paper's CIFAR-10 preprocessing (pylearn2 ``gcn=55``).

    Every image ``x`` (flattened to ``d`` values) becomes ``scale * (x - mean(x)) / ||x - mean(x)||_2``:
    zero mean and L2 norm ``scale``. As in pylearn2 (``subtract_mean=True, use_std=False,
    sqr_bias=0``) the divisor is ``||x - mean(x)|| / scale`` and, where it is below ``min_divisor``
    (a constant image), 1 instead, so a constant image becomes all zeros rather than NaN.

    Args:
        images: ``(N, C, H, W)`` (any real dtype; pylearn2 applies it to raw 0..255 values).
        scale: the L2 norm every image gets (55).
        min_divisor: the epsilon described above (1e-8).

    Returns:
        ``(N, C, H, W)`` float32.
    """
    flat = images.reshape(len(images), -1).double()
    centred = flat - flat.mean(dim=1, keepdim=True)
    divisor = centred.norm(dim=1, keepdim=True) / scale
    divisor = torch.where(divisor < min_divisor, torch.ones_like(divisor), divisor)
    return (centred / divisor).float().view(images.shape)


class ContrastNormalizedDataset(TensorImageDataset):
    """uint8 images stored as they are, contrast-normalised batch by batch on access (no float copy)."""

    def __init__(self, images: Tensor, labels: Tensor | None = None, scale: float = 55.0):
        super().__init__(images, labels)
        self.gcn_scale = scale

    def _convert(self, images: Tensor) -> Tensor:
        if images.ndim == 3:  # a single image from __getitem__
            return global_contrast_normalize(images.unsqueeze(0), self.gcn_scale)[0]
        return global_contrast_normalize(images, self.gcn_scale)


class CIFAR10DataModule(ImageDataModule):
    """CIFAR-10: train images 0..``train_size``, validation the rest of the 50,000, test the 10,000.

    Args:
        data_dir: folder holding ``cifar-10-batches-py/`` (or that folder itself).
        download: fetch and unpack the archive with torchvision when the files are missing.
        train_size: the first ``train_size`` training images train, the others validate (the paper:
            40000, so validation is images 40000..50000).
        preprocessing: ``pixels`` scales to ``pixel_range``; ``gcn`` is the paper's per-image global
            contrast normalisation (zero mean, L2 norm ``gcn_scale``; see
            :func:`global_contrast_normalize`). GCN values are unbounded, so ``pixel_range`` is then
            ``None`` and the start-up check demands a generator with a linear output.
        gcn_scale: the norm each image gets under ``gcn`` (the paper: 55).
        batch_size: minibatch size m (the paper: 100 fully connected, 128 convolutional).
        num_workers: DataLoader workers.
        pixel_range: ``(low, high)`` for ``pixels``: ``(0, 1)`` sigmoid, ``(-1, 1)`` tanh generators.
    """

    image_shape = (3, 32, 32)

    def __init__(
        self,
        data_dir: str = "data/cifar10",
        download: bool = False,
        train_size: int = 40000,
        preprocessing: Literal["pixels", "gcn"] = "pixels",
        gcn_scale: float = 55.0,
        batch_size: int = 100,
        num_workers: int = 0,
        pixel_range: tuple[float, float] = (0.0, 1.0),
    ) -> None:
        super().__init__(batch_size, num_workers, pixel_range)
        if preprocessing not in ("pixels", "gcn"):
            raise ConfigError(f"preprocessing must be 'pixels' or 'gcn', got {preprocessing!r}.")
        if not gcn_scale > 0:
            raise ConfigError(f"gcn_scale must be > 0, got {gcn_scale}.")
        self.data_dir = Path(data_dir)
        self.download = download
        self.train_size = train_size
        self.preprocessing = preprocessing
        self.gcn_scale = gcn_scale
        if preprocessing == "gcn":
            self.pixel_range = None  # unbounded values: only a linear generator output can match them

    def prepare_data(self) -> None:
        if not self.download or self._batches_folder() is not None:
            return
        try:
            torchvision.datasets.CIFAR10(str(self.data_dir), train=True, download=True)
        except Exception as error:  # URLError, HTTPError, tarfile and checksum errors: all mean "no data"
            raise DataNotFoundError(
                f"Could not download CIFAR-10 into {self.data_dir} ({first_line(error)}). Offline, unpack "
                f"{ARCHIVE_URL} into {self.data_dir} and set --data.init_args.download=false."
            ) from None

    def _batches_folder(self) -> Path | None:
        for folder in (self.data_dir / BATCHES_FOLDER, self.data_dir):
            if all((folder / name).is_file() for name in (*TRAIN_BATCHES, TEST_BATCH)):
                return folder
        return None

    def _require_batches_folder(self) -> Path:
        folder = self._batches_folder()
        if folder is None:
            missing = [
                name for name in (*TRAIN_BATCHES, TEST_BATCH) if not (self.data_dir / BATCHES_FOLDER / name).is_file()
            ]
            raise DataNotFoundError(
                f"CIFAR-10 not found: {self.data_dir / BATCHES_FOLDER} lacks {', '.join(missing)}. Unpack "
                f"{ARCHIVE_URL} into {self.data_dir}, or set --data.init_args.download=true on a machine with internet."
            )
        return folder

    def load_splits(self) -> dict[str, tuple[Tensor, Tensor | None]]:
        folder = self._require_batches_folder()
        parts = [read_cifar_batch(folder / name) for name in TRAIN_BATCHES]
        train_images = torch.from_numpy(np.concatenate([images for images, _ in parts]))
        train_labels = torch.from_numpy(np.concatenate([labels for _, labels in parts]))
        if not 0 < self.train_size < len(train_images):
            raise ConfigError(f"train_size must be in (0, {len(train_images)}), got {self.train_size}.")
        test_images, test_labels = (torch.from_numpy(array) for array in read_cifar_batch(folder / TEST_BATCH))
        cut = self.train_size
        return {
            "train": (train_images[:cut], train_labels[:cut]),
            "val": (train_images[cut:], train_labels[cut:]),
            "test": (test_images, test_labels),
        }

    def make_dataset(self, images: Tensor, labels: Tensor | None, scale: float, shift: float) -> Dataset:
        if self.preprocessing == "gcn":
            return ContrastNormalizedDataset(images, labels, self.gcn_scale)
        return super().make_dataset(images, labels, scale, shift)

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        low, high = self.pixel_range or (0.0, 1.0)  # GCN (pixel_range None) ignores the scale
        for split, (images, labels) in self.load_splits().items():
            self.datasets[split] = self.make_dataset(images, labels, (high - low) / 255.0, low)

    def pixel_mean(self) -> Tensor:
        """Mean training image ``(3, 32, 32)`` as the data is fed (pixels or GCN values), in chunks."""
        self.setup()
        return mean_image(self.datasets["train"])


class _ArrayUnpickler(pickle.Unpickler):
    """Builds only what a CIFAR batch holds: numpy arrays, dtypes and builtin containers."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def read_cifar_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Reads one CIFAR-10 Python batch file.

    Args:
        path: e.g. ``cifar-10-batches-py/data_batch_1``.

    Returns:
        images ``(N, 3, 32, 32)`` uint8 and labels ``(N,)`` int64 in 0..9.
    """
    path = Path(path)
    try:
        with path.open("rb") as handle:
            batch = _ArrayUnpickler(handle, encoding="latin1").load()
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError) as error:
        raise GanbenchError(
            f"{path} is not a CIFAR-10 Python batch ({first_line(error)}). Download it again."
        ) from None
    if not isinstance(batch, dict):
        raise GanbenchError(f"{path} is not a CIFAR-10 Python batch (holds a {type(batch).__name__}, not a dict).")
    batch = {key.decode() if isinstance(key, bytes) else key: value for key, value in batch.items()}
    if "data" not in batch or "labels" not in batch:
        raise GanbenchError(f"{path} is not a CIFAR-10 Python batch: it has no 'data' or no 'labels' entry.")
    data, labels = np.asarray(batch["data"]), np.asarray(batch["labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise GanbenchError(
            f"{path}: 'data' must be (N, 3072) uint8, got {data.shape} {data.dtype}. Download it again."
        )
    if labels.shape != (len(data),) or (len(labels) and not 0 <= labels.min() <= labels.max() <= 9):
        raise GanbenchError(f"{path}: expected {len(data)} labels in 0..9, got {labels.shape[0]}. Download it again.")
    return data.reshape(-1, 3, 32, 32), labels
