"""The two kinds of network a GAN is built from: what ``GAN(generator=..., discriminator=...)`` accepts.

A network is a plain ``nn.Module`` that also subclasses :class:`Generator` or :class:`Discriminator`.
The base classes add nothing to the module; they state the contract and give the command line a
type to offer: ``ganbench fit --help`` lists the generators and discriminators it knows (ganbench's
and those of the user's packages it has imported), not every ``nn.Module`` of torch.

Your own network, in your own package, plugs in by class path with no change to ganbench::

    from ganbench.nets import Generator

    class MyGenerator(Generator):
        def __init__(self, latent_dim: int = 100):
            super().__init__()
            self.latent_dim = latent_dim
            ...

    ganbench fit --config configs/quickstart.yaml --model.generator=mylab.nets.MyGenerator
"""

from torch import nn


class Generator(nn.Module):
    """G: noise ``(B, latent_dim)`` -> images ``(B, C, H, W)`` in the data's range.

    Contract: an integer ``latent_dim`` attribute (>= 1); ``forward(noise)``. Optional: an
    ``output_range`` ``(low, high)`` checked against the data's ``pixel_range`` at start-up, and
    ``initialize_from_data(pixel_mean)``, called once before training with the training set's mean image.
    """

    latent_dim: int


class Discriminator(nn.Module):
    """D: images ``(B, C, H, W)`` -> raw logits ``(B,)``, higher meaning "more real"; no sigmoid inside."""
