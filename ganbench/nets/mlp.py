"""The paper's fully connected networks (docs/paper.md#the-mnist-recipe), optionally conditional.

Conditional networks (``num_classes`` set; the paper's §7, first extension) follow Mirza & Osindero
(2014): the label enters as a one-hot vector concatenated to the input of the first layer, to z in G
and to the (dropped-out) pixels in D. A discriminator with ``latent_dim`` set judges (image, latent)
pairs (BiGAN/ALI, for §7's learned inference): the latents are concatenated there too.
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
    check_latents,
    check_num_classes,
    per_layer,
)
from ganbench.nets.base import Discriminator, Generator
from ganbench.nets.layers import Maxout, init_sparse_, init_uniform_

OUTPUT_ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "linear": nn.Identity}
HIDDEN_ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}
OUTPUT_RANGES = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0), "linear": None}


def one_hot(labels: Tensor, num_classes: int, like: Tensor) -> Tensor:
    """Labels ``(B,)`` as one-hot rows ``(B, num_classes)`` with ``like``'s dtype and device, to concatenate to it.

    Args:
        labels: class indices in ``0 .. num_classes - 1``.
        num_classes: the number of classes, the width of the rows.
        like: the tensor the rows will be concatenated to (noise, pixels or features).
    """
    return nn.functional.one_hot(labels.long(), num_classes).to(like)


def append_conditions(
    inputs: Tensor, labels: Tensor | None = None, num_classes: int | None = None, latents: Tensor | None = None
) -> Tensor:
    """``inputs`` with the labels' one-hot rows, then the latents, appended: what a conditional or pair network reads.

    Args:
        inputs: ``(B, N)``: noise, flattened pixels or features.
        labels: ``(B,)`` class indices, or ``None``.
        num_classes: the number of classes (needed with ``labels``).
        latents: ``(B, latent_dim)``, or ``None``.

    Returns:
        ``(B, N [+ num_classes] [+ latent_dim])``; ``inputs`` itself when both are ``None``.
    """
    parts = [inputs]
    if labels is not None:
        parts.append(one_hot(labels, num_classes, inputs))
    if latents is not None:
        parts.append(latents.to(inputs))
    return torch.cat(parts, dim=1) if len(parts) > 1 else inputs


class MLPGenerator(Generator):
    """Fully connected generator: ReLU hidden layers, then one output unit per pixel.

    The MNIST recipe is the default: ``100 -> 1200 ReLU -> 1200 ReLU -> 784 sigmoid``, weights
    ``U(-0.05, 0.05)``, zero hidden biases, and the output bias set by
    :meth:`initialize_from_data` to ``logit(mean pixel)`` of the training set.

    Conditional (``num_classes`` set, Mirza & Osindero 2014): the one-hot label is concatenated to z,
    so the first layer reads ``latent_dim + num_classes`` inputs, initialised like the rest.

    Args:
        latent_dim: size of the noise vector z.
        hidden_dims: widths of the ReLU layers.
        image_shape: ``(C, H, W)`` of the images it produces.
        output_activation: ``sigmoid`` (data in [0, 1]), ``tanh`` ([-1, 1]) or ``linear``.
        init_range: weights start ``U(-init_range, init_range)``.
        output_bias_from_data: set the output bias from the data's pixel means (pylearn2
            ``init_bias_target_marginals``); needs ``output_activation="sigmoid"``.
        batch_norm: BatchNorm before each ReLU (not in the paper; steadies short runs on
            small data, see ``configs/quickstart.yaml``).
        hidden_activations: one of ``relu``, ``sigmoid``, ``tanh`` per hidden layer (all ``relu``
            when ``None``). The TFD and CIFAR-10 recipes: ``[relu, sigmoid]``.
        hidden_init_biases: initial bias of each hidden layer (zeros when ``None``); TFD: ``[0, -2]``.
        output_init_range: the output layer's weights start ``U(-r, r)`` (``init_range`` when
            ``None``); CIFAR-10 fully connected: 0.5.
        output_sparse_init: when set, pylearn2's ``sparse_init`` for the output layer instead: each
            output unit gets this many nonzero ``N(0, 1)`` incoming weights (TFD: 100).
        num_classes: number of classes of a conditional generator; ``None`` (the paper's) for an
            unconditional one.

    Shapes: ``(B, latent_dim)`` noise and, when conditional, ``(B,)`` labels ``-> (B, C, H, W)``.
    """

    def __init__(
        self,
        latent_dim: int = 100,
        hidden_dims: Sequence[int] = (1200, 1200),
        image_shape: Sequence[int] = (1, 28, 28),
        output_activation: str = "sigmoid",
        init_range: float = 0.05,
        output_bias_from_data: bool = True,
        batch_norm: bool = False,
        hidden_activations: Sequence[str] | None = None,
        hidden_init_biases: Sequence[float] | None = None,
        output_init_range: float | None = None,
        output_sparse_init: int | None = None,
        num_classes: int | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        check_at_least(owner, "latent_dim", latent_dim, 1)
        check_each_at_least(owner, "hidden_dims", hidden_dims, 1)
        check_image_shape(owner, image_shape)
        activations = per_layer(owner, "hidden_activations", hidden_activations, "relu", len(hidden_dims))
        check_each_choice(owner, "hidden_activations", activations, HIDDEN_ACTIVATIONS)
        biases = per_layer(owner, "hidden_init_biases", hidden_init_biases, 0.0, len(hidden_dims))
        check_choice(owner, "output_activation", output_activation, OUTPUT_ACTIVATIONS)
        if output_bias_from_data and output_activation != "sigmoid":
            raise ConfigError(
                f"{owner}: output_bias_from_data=True needs output_activation='sigmoid', got "
                f"{output_activation!r}; set output_bias_from_data to false or use the sigmoid output."
            )
        check_init_range(owner, "init_range", init_range)
        check_init_range(owner, "output_init_range", output_init_range)
        check_num_classes(owner, num_classes)
        input_width = latent_dim + (num_classes or 0)  # z, then the one-hot label when conditional
        fan_in = hidden_dims[-1] if len(hidden_dims) else input_width
        if output_sparse_init is not None and not 1 <= output_sparse_init <= fan_in:
            raise ConfigError(
                f"{owner}: output_sparse_init must be between 1 and {fan_in} (the inputs of the output layer), "
                f"got {output_sparse_init!r}."
            )
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        self.image_shape = tuple(image_shape)
        self.output_activation = output_activation
        self.output_bias_from_data = output_bias_from_data
        widths = [input_width, *hidden_dims]
        layers: list[nn.Module] = []
        for width_in, width_out, activation, bias in zip(widths[:-1], widths[1:], activations, biases):
            normalization = [nn.BatchNorm1d(width_out)] if batch_norm else []
            linear = nn.Linear(width_in, width_out)
            init_uniform_(linear, init_range, bias)
            layers += [linear, *normalization, hidden_activation(activation)]
        self.hidden = nn.Sequential(*layers)
        self.output = nn.Linear(widths[-1], math.prod(self.image_shape))
        self.activation = OUTPUT_ACTIVATIONS[output_activation]()
        if output_sparse_init is not None:
            init_sparse_(self.output, output_sparse_init)
        else:
            init_uniform_(self.output, init_range if output_init_range is None else output_init_range)

    @property
    def output_range(self) -> tuple[float, float] | None:
        """The interval the output activation maps to (``None`` when unbounded)."""
        return OUTPUT_RANGES[self.output_activation]

    def forward(self, noise: Tensor, labels: Tensor | None = None) -> Tensor:
        check_labels(type(self).__name__, self.num_classes, labels, noise.shape[0])
        inputs = append_conditions(noise, labels, self.num_classes)  # (B, latent_dim [+ num_classes])
        pixels = self.activation(self.output(self.hidden(inputs)))
        return pixels.view(noise.shape[0], *self.image_shape)

    def initialize_from_data(self, pixel_mean: Tensor) -> None:
        """Sets the output bias to ``logit(clip(pixel_mean, 1e-7, 1 - 1e-7))`` (released code).

        Args:
            pixel_mean: ``(C, H, W)`` mean image of the training set, in [0, 1].
        """
        if not self.output_bias_from_data:
            return
        probability = pixel_mean.detach().reshape(-1).double().clamp(1e-7, 1 - 1e-7)
        with torch.no_grad():
            self.output.bias.copy_(torch.logit(probability).to(self.output.bias))


def hidden_activation(name: str) -> nn.Module:
    """A hidden layer's nonlinearity by name: ``relu``, ``sigmoid`` or ``tanh``.

    Raises:
        ConfigError: ``name`` is none of them (the networks check their ``hidden_activations`` first,
            with a message that names them).
    """
    if name not in HIDDEN_ACTIVATIONS:
        raise ConfigError(f"A hidden layer's activation must be one of {sorted(HIDDEN_ACTIVATIONS)}, got {name!r}.")
    return HIDDEN_ACTIVATIONS[name]()


class MaxoutDiscriminator(Discriminator):
    """Maxout discriminator with the paper's per-layer dropout; returns logits (no sigmoid).

    MNIST recipe (the default): ``784 -> maxout 240 x 5 -> maxout 240 x 5 -> 1``, weights
    ``U(-0.005, 0.005)``. Dropout acts on the *input* of every layer with an independent mask
    per example: pixels are kept with ``input_keep`` (0.8, scaled by 1.25), the inputs of later
    layers with ``hidden_keep`` (0.5, scaled by 2). Dropout is off in eval mode.

    Conditional (``num_classes`` set, Mirza & Osindero 2014) and pair (``latent_dim`` set, BiGAN/ALI)
    discriminators read more than pixels: the one-hot label, then the latents, are concatenated to the
    pixels *after* the pixel dropout (``layers[0]``), so the dropout acts on pixels only and the label
    and latents are never dropped. The first maxout layer reads them all.

    Args:
        image_shape: ``(C, H, W)`` of the images it judges.
        hidden_units: maxout units per hidden layer.
        pieces: linear pieces per maxout unit.
        input_keep: probability of keeping a pixel.
        hidden_keep: probability of keeping a hidden unit's output.
        init_range: weights start ``U(-init_range, init_range)``.
        num_classes: number of classes of a conditional discriminator; ``None`` (the paper's) for an
            unconditional one.
        latent_dim: size of the latents of a discriminator of (image, latent) pairs (E(x) beside
            data, z beside G(z)); ``None`` (the paper's) for one that judges images alone.

    Shapes: ``(B, C, H, W)`` images, ``(B,)`` labels when conditional, ``(B, latent_dim)`` latents
    when it judges pairs ``-> (B,)`` logits, higher = more real.
    """

    def __init__(
        self,
        image_shape: Sequence[int] = (1, 28, 28),
        hidden_units: Sequence[int] = (240, 240),
        pieces: int = 5,
        input_keep: float = 0.8,
        hidden_keep: float = 0.5,
        init_range: float = 0.005,
        num_classes: int | None = None,
        latent_dim: int | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        check_image_shape(owner, image_shape)
        check_each_at_least(owner, "hidden_units", hidden_units, 1)
        check_at_least(owner, "pieces", pieces, 1)
        check_keep_probability(owner, "input_keep", input_keep)
        check_keep_probability(owner, "hidden_keep", hidden_keep)
        check_init_range(owner, "init_range", init_range)
        check_num_classes(owner, num_classes)
        if latent_dim is not None:
            check_at_least(owner, "latent_dim", latent_dim, 1)
        self.image_shape = tuple(image_shape)
        self.num_classes = num_classes
        self.latent_dim = latent_dim
        # pixels, then the one-hot label and the latents when it takes them
        input_width = math.prod(self.image_shape) + (num_classes or 0) + (latent_dim or 0)
        widths = [input_width, *hidden_units]
        # layers[0] is the pixel dropout; forward applies it before appending the label and latents
        layers: list[nn.Module] = []
        for index, (width_in, width_out) in enumerate(zip(widths[:-1], widths[1:])):
            layers += [nn.Dropout(1 - (input_keep if index == 0 else hidden_keep))]
            layers += [Maxout(width_in, width_out, pieces)]
        layers += [nn.Dropout(1 - (hidden_keep if hidden_units else input_keep)), nn.Linear(widths[-1], 1)]
        self.layers = nn.Sequential(*layers)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                init_uniform_(module, init_range)

    def forward(self, images: Tensor, labels: Tensor | None = None, latents: Tensor | None = None) -> Tensor:
        owner, batch_size = type(self).__name__, images.shape[0]
        check_labels(owner, self.num_classes, labels, batch_size)
        check_latents(owner, self.latent_dim, latents, batch_size)
        pixels = self.layers[0](images.flatten(start_dim=1))  # the pixel dropout sees pixels only
        inputs = append_conditions(pixels, labels, self.num_classes, latents)  # label and latents never dropped
        return self.layers[1:](inputs).squeeze(-1)


class MLPDiscriminator(Discriminator):
    """A modern fully connected discriminator: LeakyReLU layers with dropout, returns logits.

    Not the paper's (that is :class:`MaxoutDiscriminator`); the common baseline of later MLP
    GANs, and a quick learner on small data. PyTorch's default initialisation.

    Conditional (``num_classes`` set, Mirza & Osindero 2014) and pair (``latent_dim`` set, BiGAN/ALI)
    discriminators read the one-hot label, then the latents, concatenated to the flattened pixels;
    the first layer reads them all (there is no dropout on the input, only after hidden layers).

    Args:
        image_shape: ``(C, H, W)`` of the images it judges.
        hidden_dims: widths of the hidden layers.
        negative_slope: LeakyReLU slope for negative inputs.
        dropout: dropout probability after each hidden layer.
        num_classes: number of classes of a conditional discriminator; ``None`` for an unconditional one.
        latent_dim: size of the latents of a discriminator of (image, latent) pairs (E(x) beside
            data, z beside G(z)); ``None`` for one that judges images alone.

    Shapes: ``(B, C, H, W)`` images, ``(B,)`` labels when conditional, ``(B, latent_dim)`` latents
    when it judges pairs ``-> (B,)`` logits, higher = more real.
    """

    def __init__(
        self,
        image_shape: Sequence[int] = (1, 28, 28),
        hidden_dims: Sequence[int] = (512, 256),
        negative_slope: float = 0.2,
        dropout: float = 0.3,
        num_classes: int | None = None,
        latent_dim: int | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        check_image_shape(owner, image_shape)
        check_each_at_least(owner, "hidden_dims", hidden_dims, 1)
        if not 0 <= dropout < 1:
            raise ConfigError(
                f"{owner}: dropout must be in [0, 1), got {dropout!r}; it is the probability of dropping a unit "
                "(0 for no dropout)."
            )
        check_num_classes(owner, num_classes)
        if latent_dim is not None:
            check_at_least(owner, "latent_dim", latent_dim, 1)
        self.image_shape = tuple(image_shape)
        self.num_classes = num_classes
        self.latent_dim = latent_dim
        # pixels, then the one-hot label and the latents when it takes them
        input_width = math.prod(self.image_shape) + (num_classes or 0) + (latent_dim or 0)
        widths = [input_width, *hidden_dims]
        layers: list[nn.Module] = []
        for width_in, width_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(width_in, width_out), nn.LeakyReLU(negative_slope), nn.Dropout(dropout)]
        self.layers = nn.Sequential(*layers, nn.Linear(widths[-1], 1))

    def forward(self, images: Tensor, labels: Tensor | None = None, latents: Tensor | None = None) -> Tensor:
        owner, batch_size = type(self).__name__, images.shape[0]
        check_labels(owner, self.num_classes, labels, batch_size)
        check_latents(owner, self.latent_dim, latents, batch_size)
        inputs = append_conditions(images.flatten(start_dim=1), labels, self.num_classes, latents)
        return self.layers(inputs).squeeze(-1)
