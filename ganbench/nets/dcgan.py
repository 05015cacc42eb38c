"""DCGAN networks (Radford, Metz & Chintala 2016) for square images (32 x 32, 28 x 28, ...), in [-1, 1] or [0, 1].

Not the 2014 paper's: the common modern baseline ``configs/cifar10/dcgan.yaml`` compares it with.
All-convolutional, strided (transposed) convolutions instead of pooling, BatchNorm in G (and in
D's inner layers), ReLU in G with a tanh output (or a sigmoid for pixels in [0, 1]), LeakyReLU(0.2) in D,
weights ``N(0, 0.02)``.

Both can be conditional (``num_classes`` set): G reads the one-hot label concatenated to z (Mirza &
Osindero 2014), D is a projection discriminator (Miyato & Koyama 2018).
"""

from collections.abc import Sequence

from torch import Tensor, nn

from ganbench.errors import ConfigError
from ganbench.nets.arguments import check_at_least, check_choice, check_image_shape, check_labels, check_num_classes
from ganbench.nets.base import Discriminator, Generator
from ganbench.nets.mlp import OUTPUT_ACTIVATIONS, OUTPUT_RANGES, append_conditions


def init_dcgan_(module: nn.Module) -> None:
    """DCGAN initialisation: conv weights ``N(0, 0.02)``, BatchNorm scale ``N(1, 0.02)``, biases 0."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(layer.weight, 0.0, 0.02)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.normal_(layer.weight, 1.0, 0.02)
            nn.init.zeros_(layer.bias)


def dcgan_stages(owner: str, image_shape: Sequence[int]) -> tuple[int, int]:
    """The side the layers start from and how many times they double it: ``(4, 3)`` for 32 x 32, ``(7, 2)`` for 28 x 28.

    A DCGAN works on square images whose side halves, ``stages`` times, down to a side of 4 to 7 (32: 4 after
    3 halvings; 28: 7 after 2; 48: 6 after 3; 64: 4 after 4).

    Args:
        owner: the network's class name, first in the message.
        image_shape: ``(C, H, W)`` as given.

    Returns:
        ``(start_side, stages)``.
    """
    check_image_shape(owner, image_shape)
    height, width = (int(side) for side in image_shape[1:])
    if height == width:
        for stages in range(1, 8):
            start, remainder = divmod(height, 2**stages)
            if remainder == 0 and 4 <= start <= 7:
                return start, stages
    raise ConfigError(
        f"{owner}: image_shape must be square with a side that halves down to 4..7 (28, 32, 48, 64, ...), got "
        f"{list(image_shape)}; resize the data or choose another network."
    )


def dcgan_trunk(image_channels: int, width: int, stages: int, negative_slope: float) -> tuple[list[nn.Module], int]:
    """DCGAN's discriminator trunk: ``stages`` strided 4 x 4 convolutions, each halving the side.

    The first has LeakyReLU only, the others BatchNorm then LeakyReLU; channels ``width, 2 width, ...``.
    Shared by :class:`DCGANDiscriminator` and :class:`ganbench.nets.DCGANEncoder`.

    Args:
        image_channels: C of the images.
        width: channels of the first convolution; they double at every halving.
        stages: halvings (:func:`dcgan_stages`).
        negative_slope: LeakyReLU slope.

    Returns:
        The layers, and the channels of the last one (``4 width`` at 32 x 32).
    """
    channels = [width * 2**stage for stage in range(stages)]  # 32 x 32: [w, 2w, 4w]
    layers: list[nn.Module] = [nn.Conv2d(image_channels, channels[0], 4, 2, 1), nn.LeakyReLU(negative_slope)]
    for channels_in, channels_out in zip(channels[:-1], channels[1:]):  # halves the side
        layers += [nn.Conv2d(channels_in, channels_out, 4, 2, 1, bias=False), nn.BatchNorm2d(channels_out)]
        layers += [nn.LeakyReLU(negative_slope)]
    return layers, channels[-1]


class DCGANGenerator(Generator):
    """``z -> 4 x 4 -> 8 x 8 -> 16 x 16 -> 32 x 32`` by 4 x 4 transposed convolutions, tanh (or sigmoid) output.

    With ``width=64``: ``100 -> (256, 4, 4) -> (128, 8, 8) -> (64, 16, 16) -> (3, 32, 32)``, each
    hidden layer BatchNorm + ReLU. Other sides start elsewhere (:func:`dcgan_stages`): for MNIST's
    28 x 28, ``100 -> (128, 7, 7) -> (64, 14, 14) -> (1, 28, 28)``.

    Conditional (``num_classes`` set, Mirza & Osindero 2014): the one-hot label is concatenated to z,
    so the first layer reads a ``(latent_dim + num_classes, 1, 1)`` input, initialised like the rest.

    Args:
        latent_dim: size of the noise vector z.
        image_shape: ``(C, H, H)`` of the images it produces (32 x 32, 28 x 28, ...).
        width: channels of the last hidden layer; they double towards the noise.
        num_classes: number of classes of a conditional generator; ``None`` for an unconditional one.
        output_activation: ``tanh`` (DCGAN's; data with ``pixel_range: [-1, 1]``), ``sigmoid`` (pixels in
            ``[0, 1]``, the data modules' default: sigmoid(2a) = (tanh(a) + 1) / 2, the same family of
            images) or ``linear``.

    Shapes: ``(B, latent_dim)`` noise and, when conditional, ``(B,)`` labels ``-> (B, C, H, H)``
    in ``(-1, 1)`` (tanh) or ``(0, 1)`` (sigmoid).
    """

    def __init__(
        self,
        latent_dim: int = 100,
        image_shape: Sequence[int] = (3, 32, 32),
        width: int = 64,
        num_classes: int | None = None,
        output_activation: str = "tanh",
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        check_at_least(owner, "latent_dim", latent_dim, 1)
        start, stages = dcgan_stages(owner, image_shape)
        check_at_least(owner, "width", width, 1)
        check_num_classes(owner, num_classes)
        check_choice(owner, "output_activation", output_activation, OUTPUT_ACTIVATIONS)
        self.output_activation = output_activation
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        self.image_shape = tuple(image_shape)
        channels = [width * 2**stage for stage in reversed(range(stages))]  # 32 x 32: [4w, 2w, w]
        input_channels = latent_dim + (num_classes or 0)  # z, then the one-hot label when conditional
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(input_channels, channels[0], start, 1, 0, bias=False),  # (B, 4w, 4, 4) at 32
            nn.BatchNorm2d(channels[0]),
            nn.ReLU(),
        ]
        for channels_in, channels_out in zip(channels[:-1], channels[1:]):  # doubles the side
            layers += [nn.ConvTranspose2d(channels_in, channels_out, 4, 2, 1, bias=False)]
            layers += [nn.BatchNorm2d(channels_out), nn.ReLU()]
        layers += [nn.ConvTranspose2d(channels[-1], self.image_shape[0], 4, 2, 1)]  # (B, C, H, H)
        self.layers = nn.Sequential(*layers, OUTPUT_ACTIVATIONS[output_activation]())
        init_dcgan_(self)

    @property
    def output_range(self) -> tuple[float, float] | None:
        """The interval the output activation maps to (``None`` when unbounded)."""
        return OUTPUT_RANGES[self.output_activation]

    def forward(self, noise: Tensor, labels: Tensor | None = None) -> Tensor:
        check_labels(type(self).__name__, self.num_classes, labels, noise.shape[0])
        inputs = append_conditions(noise.view(noise.shape[0], self.latent_dim), labels, self.num_classes)
        return self.layers(inputs[:, :, None, None])  # (B, latent_dim [+ num_classes], 1, 1)


class DCGANDiscriminator(Discriminator):
    """``32 x 32 -> 16 x 16 -> 8 x 8 -> 4 x 4 -> 1`` by strided 4 x 4 convolutions; returns logits.

    With ``width=64``: ``(3, 32, 32) -> (64, 16, 16) -> (128, 8, 8) -> (256, 4, 4) -> 1``; LeakyReLU(0.2)
    everywhere, BatchNorm on all but the first layer (as in DCGAN), no sigmoid. Other sides stop elsewhere
    (:func:`dcgan_stages`): for 28 x 28, ``(1, 28, 28) -> (64, 14, 14) -> (128, 7, 7) -> 1``.

    Conditional (``num_classes`` set): a projection discriminator (Miyato & Koyama 2018),
    ``logit = linear(phi(x)) + <embed(y), phi(x)>``, where ``phi(x)`` is the last features flattened
    (``(4 width, 4, 4)`` at 32 x 32; the input of the last layer, ``layers[-1]``, a convolution as large as
    them, so a linear map of them) and ``embed`` is :attr:`class_embedding`, one vector of that size per
    class, initialised ``N(0, 0.02)`` like the convolutions.

    Args:
        image_shape: ``(C, H, H)`` of the images it judges (32 x 32, 28 x 28, ...).
        width: channels of the first layer; they double with every halving of the side.
        negative_slope: LeakyReLU slope.
        num_classes: number of classes of a conditional (projection) discriminator; ``None`` for an
            unconditional one.

    Shapes: ``(B, C, H, H)`` images and, when conditional, ``(B,)`` labels ``-> (B,)`` logits,
    higher = more real.
    """

    def __init__(
        self,
        image_shape: Sequence[int] = (3, 32, 32),
        width: int = 64,
        negative_slope: float = 0.2,
        num_classes: int | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        start, stages = dcgan_stages(owner, image_shape)
        check_at_least(owner, "width", width, 1)
        check_num_classes(owner, num_classes)
        self.image_shape = tuple(image_shape)
        self.num_classes = num_classes
        trunk, feature_channels = dcgan_trunk(self.image_shape[0], width, stages, negative_slope)
        self.layers = nn.Sequential(*trunk, nn.Conv2d(feature_channels, 1, start, 1, 0))  # (B, 1, 1, 1)
        init_dcgan_(self)
        # embed(y) of the projection, one vector per class, when conditional
        feature_dim = feature_channels * start * start
        self.class_embedding = nn.Embedding(num_classes, feature_dim) if num_classes is not None else None
        if self.class_embedding is not None:
            nn.init.normal_(self.class_embedding.weight, 0.0, 0.02)

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        check_labels(type(self).__name__, self.num_classes, labels, images.shape[0])
        features = self.layers[:-1](images)  # phi(x): (B, 4w, 4, 4) at 32 x 32
        logits = self.layers[-1](features).flatten()  # (B, 1, 1, 1) -> (B,)
        if labels is not None:  # the projection <embed(y), phi(x)>
            logits = logits + (self.class_embedding(labels.long()) * features.flatten(start_dim=1)).sum(dim=1)
        return logits
