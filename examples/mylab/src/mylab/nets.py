"""mylab's own GAN networks: a residual MLP generator and a residual MLP discriminator.

Nothing in ganbench knows them. They subclass ganbench's two network types, which state the contract,
and a config names them by class path (``class_path: mylab.nets.MyGenerator``):

- a generator has an integer ``latent_dim`` and maps noise ``(B, latent_dim)`` to images ``(B, C, H, W)``
  in the data's pixel range;
- a discriminator maps images ``(B, C, H, W)`` to raw logits ``(B,)``, higher meaning "more real", with no
  sigmoid inside (the loss works on logits);
- either is conditional when its ``num_classes`` is an ``int``: ganbench then always passes ``labels``
  ``(B,)`` as well, and never passes them otherwise.
"""

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ganbench.errors import ConfigError
from ganbench.nets import Discriminator, Generator


class Residual(nn.Module):
    """``x + branch(x)``: a residual connection around ``branch`` (He et al. 2016).

    Args:
        branch: layers that keep the shape of their input, ``(B, width) -> (B, width)``.
    """

    def __init__(self, branch: nn.Module) -> None:
        super().__init__()
        self.branch = branch

    def forward(self, features: Tensor) -> Tensor:
        return features + self.branch(features)  # (B, width)


class MyGenerator(Generator):
    """Residual MLP generator with a sigmoid output; conditional on a one-hot label when ``num_classes`` is set.

    ``z -> Linear -> blocks x Residual(BN, ReLU, Linear, BN, ReLU, Linear) -> BN, ReLU, Linear -> sigmoid``
    (pre-activation blocks, He et al. 2016).

    Args:
        latent_dim: size of the noise vector z.
        width: features of every hidden layer.
        blocks: residual blocks between the input and output layers.
        image_shape: ``(C, H, W)`` of the images it makes; the data's (MNIST's by default).
        num_classes: classes of a conditional generator, which reads the one-hot label beside z;
            ``None`` for an unconditional one.

    Shapes: ``(B, latent_dim)`` noise, ``(B,)`` labels when conditional -> ``(B, C, H, W)`` images in (0, 1).
    """

    #: the sigmoid's range; ganbench checks it against the data's ``pixel_range`` before training.
    output_range = (0.0, 1.0)

    def __init__(
        self,
        latent_dim: int = 100,
        width: int = 256,
        blocks: int = 2,
        image_shape: Sequence[int] = (1, 28, 28),
        num_classes: int | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        check_at_least(owner, 1, latent_dim=latent_dim, width=width)
        check_at_least(owner, 0, blocks=blocks)
        check_image_shape(owner, image_shape)
        check_num_classes(owner, num_classes)
        self.latent_dim = latent_dim  # the contract's attribute: ganbench draws z of this size
        self.num_classes = num_classes  # an int makes it conditional
        self.image_shape = tuple(image_shape)
        self.input = nn.Linear(latent_dim + (num_classes or 0), width)
        self.blocks = nn.Sequential(*(Residual(pre_activation_branch(width)) for _ in range(blocks)))
        self.output = nn.Sequential(
            nn.BatchNorm1d(width),
            nn.ReLU(),
            nn.Linear(width, math.prod(self.image_shape)),
            nn.Sigmoid(),
        )

    def forward(self, noise: Tensor, labels: Tensor | None = None) -> Tensor:
        if self.num_classes is not None:  # ganbench passes labels exactly when num_classes is set
            noise = torch.cat([noise, nn.functional.one_hot(labels, self.num_classes).to(noise)], dim=1)
        pixels = self.output(self.blocks(self.input(noise)))  # (B, C * H * W)
        return pixels.view(noise.shape[0], *self.image_shape)


class MyDiscriminator(Discriminator):
    """Residual MLP discriminator with dropout; a projection discriminator when ``num_classes`` is set.

    ``x -> Linear -> blocks x Residual(LeakyReLU, Dropout, Linear) -> LeakyReLU, Dropout -> Linear``.
    Conditional (``num_classes`` set), the logit gains ``<embed(label), features>``, the inner product of a
    learned embedding of the label with the features the last layer reads (Miyato & Koyama 2018).

    Args:
        image_shape: ``(C, H, W)`` of the images it judges; the data's (MNIST's by default).
        width: features of every hidden layer.
        blocks: residual blocks between the input and output layers.
        negative_slope: LeakyReLU slope for negative inputs.
        dropout: dropout probability before each linear layer but the first (0 for none).
        num_classes: classes of a conditional discriminator; ``None`` for an unconditional one.

    Shapes: ``(B, C, H, W)`` images, ``(B,)`` labels when conditional -> ``(B,)`` logits, higher = more real.
    """

    def __init__(
        self,
        image_shape: Sequence[int] = (1, 28, 28),
        width: int = 256,
        blocks: int = 1,
        negative_slope: float = 0.2,
        dropout: float = 0.3,
        num_classes: int | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        check_image_shape(owner, image_shape)
        check_at_least(owner, 1, width=width)
        check_at_least(owner, 0, blocks=blocks)
        check_num_classes(owner, num_classes)
        if not 0 <= dropout < 1:
            raise ConfigError(f"{owner}: dropout must be in [0, 1), got {dropout!r}.")
        self.image_shape = tuple(image_shape)
        self.num_classes = num_classes  # an int makes it conditional
        self.input = nn.Linear(math.prod(self.image_shape), width)
        branches = (leaky_branch(width, negative_slope, dropout) for _ in range(blocks))
        self.blocks = nn.Sequential(*(Residual(branch) for branch in branches))
        self.features = nn.Sequential(nn.LeakyReLU(negative_slope), nn.Dropout(dropout))
        self.head = nn.Linear(width, 1)
        self.class_embedding = nn.Embedding(num_classes, width) if num_classes else None

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        features = self.features(self.blocks(self.input(images.flatten(start_dim=1))))  # (B, width)
        logits = self.head(features).squeeze(1)  # (B,)
        if self.class_embedding is not None:  # ganbench passes labels exactly when num_classes is set
            logits = logits + (self.class_embedding(labels) * features).sum(dim=1)
        return logits


def pre_activation_branch(width: int) -> nn.Sequential:
    """``BN, ReLU, Linear, BN, ReLU, Linear``: the branch of a generator's residual block, ``(B, width)`` kept."""
    return nn.Sequential(
        nn.BatchNorm1d(width),
        nn.ReLU(),
        nn.Linear(width, width),
        nn.BatchNorm1d(width),
        nn.ReLU(),
        nn.Linear(width, width),
    )


def leaky_branch(width: int, negative_slope: float, dropout: float) -> nn.Sequential:
    """``LeakyReLU, Dropout, Linear``: the branch of a discriminator's residual block, ``(B, width)`` kept."""
    return nn.Sequential(nn.LeakyReLU(negative_slope), nn.Dropout(dropout), nn.Linear(width, width))


def check_at_least(owner: str, minimum: int, **values: int) -> None:
    """Refuses a size below ``minimum``, naming the network and the argument.

    A :class:`ganbench.errors.ConfigError` raised while a network is built is printed by the ``ganbench``
    command as one line, without a traceback.

    Args:
        owner: the network's class name, first in the message.
        minimum: the smallest value that works.
        values: the arguments to check, by name.
    """
    for name, value in values.items():
        if value < minimum:
            raise ConfigError(f"{owner}: {name} must be >= {minimum}, got {value!r}.")


def check_image_shape(owner: str, image_shape: Sequence[int]) -> None:
    """Refuses an image shape that is not ``(channels, height, width)``."""
    if len(image_shape) != 3 or min(image_shape) < 1:
        raise ConfigError(f"{owner}: image_shape must be [channels, height, width], got {list(image_shape)}.")


def check_num_classes(owner: str, num_classes: int | None) -> None:
    """Refuses fewer than two classes (``None`` is an unconditional network)."""
    if num_classes is not None and num_classes < 2:
        raise ConfigError(f"{owner}: num_classes must be >= 2 or null, got {num_classes!r}.")
