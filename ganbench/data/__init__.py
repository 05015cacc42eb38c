"""LightningDataModules. Each yields ``(images, labels)`` with images in its ``pixel_range``."""

from ganbench.data.base import ImageDataModule, TensorImageDataset
from ganbench.data.mnist import IDXDataModule, MNISTDataModule, MNISTSampleDataModule

__all__ = ["IDXDataModule", "ImageDataModule", "MNISTDataModule", "MNISTSampleDataModule", "TensorImageDataset"]
