"""LightningDataModules. Each yields ``(images, labels)`` with images in its ``pixel_range``."""

from ganbench.data.base import ImageDataModule, TensorImageDataset
from ganbench.data.cifar10 import CIFAR10DataModule
from ganbench.data.fashion_mnist import FashionMNISTDataModule
from ganbench.data.mnist import IDXDataModule, MNISTDataModule, MNISTSampleDataModule
from ganbench.data.tfd import TFDDataModule

__all__ = [
    "CIFAR10DataModule",
    "FashionMNISTDataModule",
    "IDXDataModule",
    "ImageDataModule",
    "MNISTDataModule",
    "MNISTSampleDataModule",
    "TFDDataModule",
    "TensorImageDataset",
]
