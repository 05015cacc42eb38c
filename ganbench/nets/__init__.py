"""Networks: ``nn.Module`` classes with no training logic: generators, discriminators and encoders.

The contract (:mod:`ganbench.nets.base`; :mod:`ganbench.contract` passes each network only the
inputs it declares)::

    generator(z, labels=None)                        -> images (B, C, H, W) in the data's range
    discriminator(images, labels=None, latents=None) -> raw logits (B,)
    encoder(images, labels=None)                     -> latents (B, latent_dim)

A network with an integer ``num_classes`` is conditional and always gets ``labels`` ``(B,)``; one
with ``num_classes = None`` never does. A discriminator with an integer ``latent_dim`` judges
(image, latent) pairs (BiGAN/ALI) and always gets ``latents``. ganbench's conditional generators
and fully connected discriminators read a one-hot label concatenated to their input (Mirza &
Osindero 2014); its convolutional discriminators are projection discriminators (Miyato & Koyama
2018). Optional hooks: ``initialize_from_data(pixel_mean)`` on a generator is called once before
training with the training set's mean image.
"""

from ganbench.nets.base import Discriminator, Encoder, Generator
from ganbench.nets.classifier import ClassifierFeatures, MNISTClassifier
from ganbench.nets.conv import DeconvGenerator, MaxoutConv2d, MaxoutConvDiscriminator
from ganbench.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from ganbench.nets.encoders import DCGANEncoder, MLPEncoder
from ganbench.nets.layers import Maxout
from ganbench.nets.mlp import MaxoutDiscriminator, MLPDiscriminator, MLPGenerator
from ganbench.nets.stacked import StackedGenerator

__all__ = [
    "ClassifierFeatures",
    "DCGANDiscriminator",
    "DCGANEncoder",
    "DCGANGenerator",
    "DeconvGenerator",
    "Discriminator",
    "Encoder",
    "Generator",
    "Maxout",
    "MaxoutConv2d",
    "MaxoutConvDiscriminator",
    "MaxoutDiscriminator",
    "MLPDiscriminator",
    "MLPEncoder",
    "MLPGenerator",
    "MNISTClassifier",
    "StackedGenerator",
]
