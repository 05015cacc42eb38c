"""Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): MNIST's format and sizes, 10 classes of clothing.

The four IDX files have MNIST's names (``train-images-idx3-ubyte.gz``, ...), so the MNIST reader is
shared as it is. Debian and Ubuntu ship them: ``apt-get install dataset-fashion-mnist`` puts them
in :data:`DEBIAN_DIR`.
"""

import torchvision

from ganbench.data.mnist import IDXDataModule

DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"


class FashionMNISTDataModule(IDXDataModule):
    """Fashion-MNIST with MNIST's split: train 0..50000, validation 50000..60000, the 10,000 test images.

    Args:
        data_dir: folder holding the four IDX files, gzipped or not (e.g. :data:`DEBIAN_DIR`), or
            where ``download`` puts them (``data_dir/FashionMNIST/raw``).
        download: fetch them with torchvision when they are missing (needs internet).
        train_size: the first ``train_size`` training images train, the rest validate.
        batch_size: minibatch size m.
        num_workers: DataLoader workers.
        pixel_range: ``(low, high)`` pixel scale: ``(0, 1)`` for sigmoid generators.
    """

    torchvision_class = torchvision.datasets.FashionMNIST
    install_hint = f" On Debian/Ubuntu: apt-get install dataset-fashion-mnist, then data_dir={DEBIAN_DIR}."

    def __init__(
        self,
        data_dir: str = "data/fashion_mnist",
        download: bool = False,
        train_size: int = 50000,
        batch_size: int = 100,
        num_workers: int = 0,
        pixel_range: tuple[float, float] = (0.0, 1.0),
    ) -> None:
        super().__init__(data_dir, download, train_size, batch_size, num_workers, pixel_range)
