"""The paper's convolutional CIFAR-10 networks (``cifar10_convolutional.yaml``; docs/paper.md#the-cifar-10-recipes).

Generator: ``100 -> 8000 ReLU -> 8000 sigmoid -> reshape 80 x 10 x 10 -> transposed convolution
5 x 5, stride 3 -> 3 x 32 x 32``, linear output (the data is contrast-normalised, not pixels).
Discriminator: three maxout convolution layers with max pooling, a maxout layer, one logit.

Both can be conditional (``num_classes`` set): G reads the one-hot label concatenated to z (Mirza &
Osindero 2014), D is a projection discriminator (Miyato & Koyama 2018).
"""

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ganbench.errors import ConfigError
from ganbench.nets.arguments import (
    check_at_least,
    check_choice,
    check_each_at_least,
    check_each_choice,
    check_image_shape,
    check_init_range,
    check_keep_probability,
    check_labels,
    check_num_classes,
    check_one_per_layer,
)
from ganbench.nets.base import Discriminator, Generator
from ganbench.nets.layers import Maxout, init_uniform_
from ganbench.nets.mlp import (
    HIDDEN_ACTIVATIONS,
    OUTPUT_ACTIVATIONS,
    OUTPUT_RANGES,
    append_conditions,
    hidden_activation,
)


def transposed_convolution_size(size: int, kernel_size: int, stride: int, padding: int) -> int:
    """Output size of a transposed convolution: ``stride (size - 1) - 2 padding + kernel_size``.

    pylearn2's ``Deconv`` (the released ``deconv.py``) uses the same formula with ``pad_out``.
    """
    return stride * (size - 1) - 2 * padding + kernel_size


class DeconvGenerator(Generator):
    """Fully connected layers, a reshape to feature maps, then one transposed convolution.

    The released CIFAR-10 generator: ``100 -> 8000 ReLU -> 8000 sigmoid`` (weights
    ``U(-0.05, 0.05)``, zero biases), the 8000 units read as ``80 x 10 x 10`` maps, then a 5 x 5
    transposed convolution with stride 3 and no padding to 3 channels: ``3 (10 - 1) + 5 = 32``,
    exactly 32 x 32, so nothing is padded or cropped. As in pylearn2's ``Deconv`` with
    ``tied_b: 0`` the output bias is *untied*: one bias per output pixel and channel.

    Conditional (``num_classes`` set, Mirza & Osindero 2014): the one-hot label is concatenated to z,
    so the first layer reads ``latent_dim + num_classes`` inputs, initialised like the rest.

    Args:
        latent_dim: size of the noise vector z.
        hidden_dims: widths of the fully connected layers; the last must equal
            ``prod(feature_shape)``.
        hidden_activations: ``relu``/``sigmoid``/``tanh`` per fully connected layer.
        feature_shape: ``(channels, height, width)`` the last hidden layer is reshaped to.
        image_shape: ``(C, H, W)`` of the images it produces.
        kernel_size: side of the transposed convolution's kernel.
        stride: its stride.
        padding: its padding (``pad_out`` in pylearn2), removed from every border.
        output_activation: ``linear`` (contrast-normalised data), ``sigmoid`` or ``tanh``.
        init_range: all weights start ``U(-init_range, init_range)``, biases at 0.
        untied_bias: one output bias per pixel (the released code) rather than per channel.
        num_classes: number of classes of a conditional generator; ``None`` (the paper's) for an
            unconditional one.

    Shapes: ``(B, latent_dim)`` noise and, when conditional, ``(B,)`` labels ``-> (B, C, H, W)``.
    """

    def __init__(
        self,
        latent_dim: int = 100,
        hidden_dims: Sequence[int] = (8000, 8000),
        hidden_activations: Sequence[str] = ("relu", "sigmoid"),
        feature_shape: Sequence[int] = (80, 10, 10),
        image_shape: Sequence[int] = (3, 32, 32),
        kernel_size: int = 5,
        stride: int = 3,
        padding: int = 0,
        output_activation: str = "linear",
        init_range: float = 0.05,
        untied_bias: bool = True,
        num_classes: int | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        check_at_least(owner, "latent_dim", latent_dim, 1)
        check_each_at_least(owner, "hidden_dims", hidden_dims, 1, allow_empty=False)
        check_one_per_layer(owner, "hidden_activations", hidden_activations, len(hidden_dims))
        check_each_choice(owner, "hidden_activations", hidden_activations, HIDDEN_ACTIVATIONS)
        check_image_shape(owner, feature_shape, name="feature_shape")
        check_image_shape(owner, image_shape)
        check_at_least(owner, "kernel_size", kernel_size, 1)
        check_at_least(owner, "stride", stride, 1)
        check_at_least(owner, "padding", padding, 0)
        check_choice(owner, "output_activation", output_activation, OUTPUT_ACTIVATIONS)
        check_init_range(owner, "init_range", init_range)
        check_num_classes(owner, num_classes)
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        self.feature_shape = tuple(feature_shape)
        self.image_shape = tuple(image_shape)
        self.output_activation = output_activation
        if math.prod(self.feature_shape) != hidden_dims[-1]:
            raise ConfigError(
                f"{owner}: feature_shape {list(self.feature_shape)} holds {math.prod(self.feature_shape)} units but "
                f"the last hidden layer has {hidden_dims[-1]}; make the last entry of hidden_dims the product of "
                "feature_shape."
            )
        sizes = [transposed_convolution_size(size, kernel_size, stride, padding) for size in self.feature_shape[1:]]
        if tuple(sizes) != self.image_shape[1:]:
            raise ConfigError(
                f"{owner}: a {kernel_size}x{kernel_size} transposed convolution with stride {stride} and padding "
                f"{padding} turns {list(self.feature_shape[1:])} maps into {sizes}, not the image's "
                f"{list(self.image_shape[1:])}; change kernel_size, stride, padding or feature_shape so that "
                "stride * (size - 1) - 2 * padding + kernel_size is the image's size."
            )
        widths = [latent_dim + (num_classes or 0), *hidden_dims]  # z, then the one-hot label when conditional
        layers: list[nn.Module] = []
        for width_in, width_out, activation in zip(widths[:-1], widths[1:], hidden_activations):
            layers += [nn.Linear(width_in, width_out), hidden_activation(activation)]
        self.hidden = nn.Sequential(*layers)
        channels = self.image_shape[0]
        self.deconvolution = nn.ConvTranspose2d(
            self.feature_shape[0], channels, kernel_size, stride, padding, bias=not untied_bias
        )
        self.pixel_bias = nn.Parameter(torch.zeros(self.image_shape)) if untied_bias else None
        self.activation = OUTPUT_ACTIVATIONS[output_activation]()
        for module in [*self.hidden, self.deconvolution]:
            if isinstance(module, (nn.Linear, nn.ConvTranspose2d)):
                init_uniform_(module, init_range)

    @property
    def output_range(self) -> tuple[float, float] | None:
        """The interval the output activation maps to (``None`` when unbounded)."""
        return OUTPUT_RANGES[self.output_activation]

    def forward(self, noise: Tensor, labels: Tensor | None = None) -> Tensor:
        check_labels(type(self).__name__, self.num_classes, labels, noise.shape[0])
        inputs = append_conditions(noise, labels, self.num_classes)  # (B, latent_dim [+ num_classes])
        features = self.hidden(inputs).view(noise.shape[0], *self.feature_shape)  # (B, 80, 10, 10)
        images = self.deconvolution(features)  # (B, 3, 32, 32)
        if self.pixel_bias is not None:
            images = images + self.pixel_bias
        return self.activation(images)


class MaxoutConv2d(nn.Module):
    """A maxout convolution layer (pylearn2 ``MaxoutConvC01B``): convolution, maxout, max pooling.

    The convolution has ``channels * pieces`` output maps with one bias per map; each output channel
    is the max over ``pieces`` consecutive maps, then a spatial max pool. Pooling rounds the output
    size *up* (``ceil_mode``), as cuda-convnet's pooling does: ``ceil((size - pool) / stride) + 1``.

    Args:
        in_channels: input channels.
        channels: maxout units (output channels).
        pieces: linear pieces per unit.
        kernel_size: convolution kernel side.
        padding: zeros added on every border before the convolution.
        pool_size: max-pooling window side.
        pool_stride: max-pooling stride.

    Shapes: ``(B, in_channels, H, W) -> (B, channels, H', W')``.
    """

    def __init__(
        self,
        in_channels: int,
        channels: int,
        pieces: int,
        kernel_size: int,
        padding: int,
        pool_size: int,
        pool_stride: int,
    ) -> None:
        super().__init__()
        self.channels = channels
        self.pieces = pieces
        self.convolution = nn.Conv2d(in_channels, channels * pieces, kernel_size, padding=padding)
        self.pool = nn.MaxPool2d(pool_size, pool_stride, ceil_mode=True)

    def forward(self, inputs: Tensor) -> Tensor:
        maps = self.convolution(inputs)  # (B, channels * pieces, H, W), groups are consecutive
        batch, _, height, width = maps.shape
        units = maps.view(batch, self.channels, self.pieces, height, width).amax(dim=2)
        return self.pool(units)

    def output_size(self, size: int) -> int:
        """Spatial side of the output for an input of side ``size``."""
        kernel, padding = self.convolution.kernel_size[0], self.convolution.padding[0]
        convolved = size + 2 * padding - kernel + 1
        pool, stride = self.pool.kernel_size, self.pool.stride
        return math.ceil((convolved - pool) / stride) + 1


class MaxoutConvDiscriminator(Discriminator):
    """The released convolutional CIFAR-10 discriminator; returns logits (no sigmoid).

    ``3 x 32 x 32 -> maxout conv 32 x 2 pieces, 8 x 8, pad 4, pool 4 stride 2 (32 x 16 x 16)
    -> maxout conv 32 x 2, 8 x 8, pad 3, pool 4 / 2 (32 x 7 x 7) -> maxout conv 192 x 2, 5 x 5,
    pad 3, pool 2 / 2 (192 x 5 x 5) -> maxout 500 x 5 -> 1``; weights ``U(-0.005, 0.005)``, zero
    biases. Dropout as in the MNIST recipe, on the input of every layer and per element: kept with
    ``input_keep`` (0.8, x1.25) on the image, ``hidden_keep`` (0.5, x2) after. Off in eval mode.

    Conditional (``num_classes`` set): a projection discriminator (Miyato & Koyama 2018),
    ``logit = linear(phi(x)) + <embed(y), phi(x)>``, where ``phi(x)`` is the ``hidden_units`` maxout
    outputs after their dropout (the input of the last linear layer, ``layers[-1]``) and ``embed`` is
    :attr:`class_embedding`, one ``hidden_units`` vector per class, initialised ``U(-init_range,
    init_range)`` like every other weight, so the projection starts as small as the linear term.

    Args:
        image_shape: ``(C, H, W)`` of the images it judges.
        channels: maxout units of each convolution layer.
        pieces: pieces per unit of each convolution layer.
        kernel_sizes: kernel side of each convolution layer.
        paddings: padding of each convolution layer.
        pool_sizes: max-pooling window of each convolution layer.
        pool_strides: max-pooling stride of each convolution layer.
        hidden_units: units of the fully connected maxout layer.
        hidden_pieces: its pieces per unit.
        input_keep: probability of keeping a pixel.
        hidden_keep: probability of keeping a hidden value.
        init_range: weights start ``U(-init_range, init_range)``.
        num_classes: number of classes of a conditional (projection) discriminator; ``None`` (the
            paper's) for an unconditional one.

    Shapes: ``(B, C, H, W)`` images and, when conditional, ``(B,)`` labels ``-> (B,)`` logits,
    higher = more real.
    """

    def __init__(
        self,
        image_shape: Sequence[int] = (3, 32, 32),
        channels: Sequence[int] = (32, 32, 192),
        pieces: Sequence[int] = (2, 2, 2),
        kernel_sizes: Sequence[int] = (8, 8, 5),
        paddings: Sequence[int] = (4, 3, 3),
        pool_sizes: Sequence[int] = (4, 4, 2),
        pool_strides: Sequence[int] = (2, 2, 2),
        hidden_units: int = 500,
        hidden_pieces: int = 5,
        input_keep: float = 0.8,
        hidden_keep: float = 0.5,
        init_range: float = 0.005,
        num_classes: int | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        arguments = {
            "channels": (channels, 1),
            "pieces": (pieces, 1),
            "kernel_sizes": (kernel_sizes, 1),
            "paddings": (paddings, 0),
            "pool_sizes": (pool_sizes, 1),
            "pool_strides": (pool_strides, 1),
        }
        lengths = {name: len(values) for name, (values, _) in arguments.items()}
        if len(set(lengths.values())) != 1:
            raise ConfigError(
                f"{owner}: channels, pieces, kernel_sizes, paddings, pool_sizes and pool_strides need one entry per "
                f"convolution layer each, got lengths {lengths}."
            )
        for name, (values, minimum) in arguments.items():
            check_each_at_least(owner, name, values, minimum)
        check_image_shape(owner, image_shape)
        check_at_least(owner, "hidden_units", hidden_units, 1)
        check_at_least(owner, "hidden_pieces", hidden_pieces, 1)
        check_keep_probability(owner, "input_keep", input_keep)
        check_keep_probability(owner, "hidden_keep", hidden_keep)
        check_init_range(owner, "init_range", init_range)
        check_num_classes(owner, num_classes)
        per_layer = (channels, pieces, kernel_sizes, paddings, pool_sizes, pool_strides)
        self.image_shape = tuple(image_shape)
        self.num_classes = num_classes
        layers: list[nn.Module] = []
        in_channels, sizes = self.image_shape[0], self.image_shape[1:]
        for index, (units, unit_pieces, kernel, padding, pool, stride) in enumerate(zip(*per_layer)):
            layers.append(nn.Dropout(1 - (input_keep if index == 0 else hidden_keep)))
            layers.append(MaxoutConv2d(in_channels, units, unit_pieces, kernel, padding, pool, stride))
            in_channels, sizes = units, tuple(layers[-1].output_size(size) for size in sizes)
            if min(sizes) < 1:
                raise ConfigError(
                    f"{owner}: convolution layer {index} leaves no pixels for {list(self.image_shape)} images; use "
                    "fewer layers, smaller kernel_sizes or pool_sizes, or larger paddings."
                )
        features = in_channels * math.prod(sizes)
        layers += [nn.Dropout(1 - hidden_keep), nn.Flatten(), Maxout(features, hidden_units, hidden_pieces)]
        layers += [nn.Dropout(1 - hidden_keep), nn.Linear(hidden_units, 1)]
        self.layers = nn.Sequential(*layers)
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Conv2d)):
                init_uniform_(module, init_range)
        # embed(y) of the projection, one vector per class, when conditional
        self.class_embedding = nn.Embedding(num_classes, hidden_units) if num_classes is not None else None
        if self.class_embedding is not None:
            nn.init.uniform_(self.class_embedding.weight, -init_range, init_range)

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        check_labels(type(self).__name__, self.num_classes, labels, images.shape[0])
        features = self.layers[:-1](images)  # phi(x): (B, hidden_units), after the last dropout
        logits = self.layers[-1](features).squeeze(-1)
        if labels is not None:  # the projection <embed(y), phi(x)>
            logits = logits + (self.class_embedding(labels.long()) * features).sum(dim=1)
        return logits
