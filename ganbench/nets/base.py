"""The kinds of network a GAN is built from, and the one contract they share.

A network is a plain ``nn.Module`` that also subclasses :class:`Generator`, :class:`Discriminator`
or :class:`Encoder`. The base classes add no layers; they state the contract and give the command
line a type to offer: ``ganbench fit --help`` lists the networks it knows (ganbench's and those of
the user's packages it has imported), not every ``nn.Module`` of torch.

The contract (every update path of :class:`ganbench.GAN` calls networks only through
:mod:`ganbench.contract`, which passes each network only the inputs it declares)::

    generator(z, labels=None)                      -> images (B, C, H, W)
    discriminator(images, labels=None, latents=None) -> logits (B,)
    encoder(images, labels=None)                   -> latents (B, latent_dim)

- A network is *conditional* when its ``num_classes`` attribute is an ``int``: it is then always
  called with ``labels`` (``(B,)`` long, in ``0 .. num_classes - 1``), and never otherwise. So a
  network written before labels existed (``forward(self, noise)``) keeps working unchanged.
- A discriminator *judges pairs* (BiGAN/ALI) when its ``latent_dim`` attribute is an ``int``: it is
  then called with ``latents`` ``(B, latent_dim)``, E(x) for data and z for samples.

Your own network, in your own package, plugs in by class path with no change to ganbench::

    from ganbench.nets import Generator

    class MyGenerator(Generator):
        def __init__(self, latent_dim: int = 100):
            super().__init__()
            self.latent_dim = latent_dim
            ...

        def forward(self, noise):            # or forward(self, noise, labels) with num_classes set
            ...

    ganbench fit --config configs/quickstart.yaml --model.generator=mylab.nets.MyGenerator
"""

from torch import nn


class Generator(nn.Module):
    """G: noise ``(B, latent_dim)`` (and labels ``(B,)`` when conditional) -> images ``(B, C, H, W)``.

    Contract: an integer ``latent_dim`` attribute (>= 1); ``forward(noise)``, or
    ``forward(noise, labels)`` with an integer ``num_classes`` attribute. Optional: an
    ``output_range`` ``(low, high)`` checked against the data's ``pixel_range`` at start-up, and
    ``initialize_from_data(pixel_mean)``, called once before training with the training set's mean image.
    """

    latent_dim: int
    num_classes: int | None = None


class Discriminator(nn.Module):
    """D: images ``(B, C, H, W)`` -> raw logits ``(B,)``, higher meaning "more real"; no sigmoid inside.

    Contract: ``forward(images)``; with an integer ``num_classes`` attribute, ``forward(images, labels)``;
    with an integer ``latent_dim`` attribute (a BiGAN discriminator of pairs),
    ``forward(images, latents=latents)`` (and ``labels`` too when both are set).
    """

    num_classes: int | None = None
    latent_dim: int | None = None


class Encoder(nn.Module):
    """E: images ``(B, C, H, W)`` -> latents ``(B, latent_dim)``, the inverse of G (paper §7.2).

    Contract: an integer ``latent_dim`` attribute equal to G's; ``forward(images)``, or
    ``forward(images, labels)`` with an integer ``num_classes`` attribute.
    """

    latent_dim: int
    num_classes: int | None = None
