"""Networks: ``nn.Module`` classes with no training logic, each a :class:`Generator` or a :class:`Discriminator`.

Contracts: a generator has a ``latent_dim`` attribute and maps ``(B, latent_dim)`` to
``(B, C, H, W)`` images in the data's range; a discriminator maps ``(B, C, H, W)`` to raw
logits ``(B,)``. Optional hooks: ``initialize_from_data(pixel_mean)`` on a generator is called
once before training with the training set's mean image. See :mod:`ganbench.nets.base`.
"""

from ganbench.nets.base import Discriminator, Generator
from ganbench.nets.classifier import ClassifierFeatures, MNISTClassifier
from ganbench.nets.conv import DeconvGenerator, MaxoutConv2d, MaxoutConvDiscriminator
from ganbench.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from ganbench.nets.layers import Maxout
from ganbench.nets.mlp import MaxoutDiscriminator, MLPDiscriminator, MLPGenerator
from ganbench.nets.stacked import StackedGenerator

__all__ = [
    "ClassifierFeatures",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "DeconvGenerator",
    "Discriminator",
    "Generator",
    "Maxout",
    "MaxoutConv2d",
    "MaxoutConvDiscriminator",
    "MaxoutDiscriminator",
    "MLPDiscriminator",
    "MLPGenerator",
    "MNISTClassifier",
    "StackedGenerator",
]
