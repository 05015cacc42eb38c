"""Encoders E: images -> latents, the inverse of G (the paper's §7, learned approximate inference; BiGAN/ALI).

An encoder maps an image to the z that would have made it. Its output is linear, not squashed: the
prior may be uniform or Gaussian, and a loss (or a discriminator of (image, latent) pairs) says which.
A conditional encoder (``num_classes`` set) also reads the one-hot label (Mirza & Osindero 2014).
"""

import math
from collections.abc import Sequence

from torch import Tensor, nn

from ganbench.nets.arguments import (
    check_at_least,
    check_choice,
    check_each_at_least,
    check_image_shape,
    check_labels,
    check_num_classes,
)
from ganbench.nets.base import Encoder
from ganbench.nets.dcgan import dcgan_stages, dcgan_trunk, init_dcgan_
from ganbench.nets.mlp import append_conditions

ENCODER_ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.2)}


class MLPEncoder(Encoder):
    """Fully connected encoder: hidden layers, then a linear layer to ``latent_dim``.

    The default mirrors the paper's MNIST generator backwards: ``784 -> 1200 ReLU -> 1200 ReLU ->
    100``. PyTorch's default initialisation.

    Conditional (``num_classes`` set): the one-hot label is concatenated to the flattened pixels, so
    the first layer reads ``C * H * W + num_classes`` inputs.

    Args:
        image_shape: ``(C, H, W)`` of the images it encodes.
        latent_dim: size of the latents it returns, G's ``latent_dim``.
        hidden_dims: widths of the hidden layers (none: a linear map).
        activation: the hidden layers' nonlinearity, ``relu`` or ``leaky_relu`` (slope 0.2).
        batch_norm: BatchNorm before each hidden nonlinearity.
        num_classes: number of classes of a conditional encoder; ``None`` for an unconditional one.

    Shapes: ``(B, C, H, W)`` images and, when conditional, ``(B,)`` labels ``-> (B, latent_dim)``.
    """

    def __init__(
        self,
        image_shape: Sequence[int] = (1, 28, 28),
        latent_dim: int = 100,
        hidden_dims: Sequence[int] = (1200, 1200),
        activation: str = "relu",
        batch_norm: bool = False,
        num_classes: int | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        check_image_shape(owner, image_shape)
        check_at_least(owner, "latent_dim", latent_dim, 1)
        check_each_at_least(owner, "hidden_dims", hidden_dims, 1)
        check_choice(owner, "activation", activation, ENCODER_ACTIVATIONS)
        check_num_classes(owner, num_classes)
        self.image_shape = tuple(image_shape)
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        widths = [math.prod(self.image_shape) + (num_classes or 0), *hidden_dims]  # pixels, then the label
        layers: list[nn.Module] = []
        for width_in, width_out in zip(widths[:-1], widths[1:]):
            normalization = [nn.BatchNorm1d(width_out)] if batch_norm else []
            layers += [nn.Linear(width_in, width_out), *normalization, ENCODER_ACTIVATIONS[activation]()]
        self.hidden = nn.Sequential(*layers)
        self.output = nn.Linear(widths[-1], latent_dim)

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        check_labels(type(self).__name__, self.num_classes, labels, images.shape[0])
        inputs = append_conditions(images.flatten(start_dim=1), labels, self.num_classes)
        return self.output(self.hidden(inputs))


class DCGANEncoder(Encoder):
    """DCGAN discriminator's trunk, ``32 x 32 -> 16 x 16 -> 8 x 8 -> 4 x 4``, then a linear layer to ``latent_dim``.

    With ``width=64``: ``(3, 32, 32) -> (64, 16, 16) -> (128, 8, 8) -> (256, 4, 4) -> 100``; strided 4 x 4
    convolutions, LeakyReLU everywhere, BatchNorm on all but the first layer, as in
    :class:`~ganbench.nets.DCGANDiscriminator`. Weights ``N(0, 0.02)`` (the linear layer's too), biases 0.

    Conditional (``num_classes`` set): the one-hot label is concatenated to the flattened
    ``(4 width, 4, 4)`` features, so the linear layer reads ``16 * 4 * width + num_classes`` inputs
    (the convolutions see the image alone).

    Args:
        image_shape: ``(C, 32, 32)`` of the images it encodes.
        latent_dim: size of the latents it returns, G's ``latent_dim``.
        width: channels of the first layer; they double with every halving of the side.
        negative_slope: LeakyReLU slope.
        num_classes: number of classes of a conditional encoder; ``None`` for an unconditional one.

    Shapes: ``(B, C, H, H)`` images (32 x 32, 28 x 28, ...: see ``dcgan_stages``) and, when conditional,
    ``(B,)`` labels ``-> (B, latent_dim)``.
    """

    def __init__(
        self,
        image_shape: Sequence[int] = (3, 32, 32),
        latent_dim: int = 100,
        width: int = 64,
        negative_slope: float = 0.2,
        num_classes: int | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        start, stages = dcgan_stages(owner, image_shape)
        check_at_least(owner, "latent_dim", latent_dim, 1)
        check_at_least(owner, "width", width, 1)
        check_num_classes(owner, num_classes)
        self.image_shape = tuple(image_shape)
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        trunk, feature_channels = dcgan_trunk(self.image_shape[0], width, stages, negative_slope)
        self.layers = nn.Sequential(*trunk, nn.Flatten())  # (B, 4w * 4 * 4) at 32 x 32
        self.output = nn.Linear(feature_channels * start * start + (num_classes or 0), latent_dim)
        init_dcgan_(self)
        nn.init.normal_(self.output.weight, 0.0, 0.02)
        nn.init.zeros_(self.output.bias)

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        check_labels(type(self).__name__, self.num_classes, labels, images.shape[0])
        features = append_conditions(self.layers(images), labels, self.num_classes)
        return self.output(features)
