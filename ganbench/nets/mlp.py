"""The paper's fully connected networks (docs/paper.md#the-mnist-recipe)."""

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
    per_layer,
)
from ganbench.nets.base import Discriminator, Generator
from ganbench.nets.layers import Maxout, init_sparse_, init_uniform_

OUTPUT_ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "linear": nn.Identity}
HIDDEN_ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}
OUTPUT_RANGES = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0), "linear": None}


class MLPGenerator(Generator):
    """Fully connected generator: ReLU hidden layers, then one output unit per pixel.

    The MNIST recipe is the default: ``100 -> 1200 ReLU -> 1200 ReLU -> 784 sigmoid``, weights
    ``U(-0.05, 0.05)``, zero hidden biases, and the output bias set by
    :meth:`initialize_from_data` to ``logit(mean pixel)`` of the training set.

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

    Shapes: ``(B, latent_dim) -> (B, C, H, W)``.
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
        fan_in = hidden_dims[-1] if len(hidden_dims) else latent_dim
        if output_sparse_init is not None and not 1 <= output_sparse_init <= fan_in:
            raise ConfigError(
                f"{owner}: output_sparse_init must be between 1 and {fan_in} (the inputs of the output layer), "
                f"got {output_sparse_init!r}."
            )
        self.latent_dim = latent_dim
        self.image_shape = tuple(image_shape)
        self.output_activation = output_activation
        self.output_bias_from_data = output_bias_from_data
        widths = [latent_dim, *hidden_dims]
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

    def forward(self, noise: Tensor) -> Tensor:
        pixels = self.activation(self.output(self.hidden(noise)))
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

    Args:
        image_shape: ``(C, H, W)`` of the images it judges.
        hidden_units: maxout units per hidden layer.
        pieces: linear pieces per maxout unit.
        input_keep: probability of keeping a pixel.
        hidden_keep: probability of keeping a hidden unit's output.
        init_range: weights start ``U(-init_range, init_range)``.

    Shapes: ``(B, C, H, W) -> (B,)`` logits, higher = more real.
    """

    def __init__(
        self,
        image_shape: Sequence[int] = (1, 28, 28),
        hidden_units: Sequence[int] = (240, 240),
        pieces: int = 5,
        input_keep: float = 0.8,
        hidden_keep: float = 0.5,
        init_range: float = 0.005,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        check_image_shape(owner, image_shape)
        check_each_at_least(owner, "hidden_units", hidden_units, 1)
        check_at_least(owner, "pieces", pieces, 1)
        check_keep_probability(owner, "input_keep", input_keep)
        check_keep_probability(owner, "hidden_keep", hidden_keep)
        check_init_range(owner, "init_range", init_range)
        self.image_shape = tuple(image_shape)
        widths = [math.prod(self.image_shape), *hidden_units]
        layers: list[nn.Module] = []
        for index, (width_in, width_out) in enumerate(zip(widths[:-1], widths[1:])):
            layers += [nn.Dropout(1 - (input_keep if index == 0 else hidden_keep))]
            layers += [Maxout(width_in, width_out, pieces)]
        layers += [nn.Dropout(1 - (hidden_keep if hidden_units else input_keep)), nn.Linear(widths[-1], 1)]
        self.layers = nn.Sequential(*layers)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                init_uniform_(module, init_range)

    def forward(self, images: Tensor) -> Tensor:
        return self.layers(images.flatten(start_dim=1)).squeeze(-1)


class MLPDiscriminator(Discriminator):
    """A modern fully connected discriminator: LeakyReLU layers with dropout, returns logits.

    Not the paper's (that is :class:`MaxoutDiscriminator`); the common baseline of later MLP
    GANs, and a quick learner on small data. PyTorch's default initialisation.

    Args:
        image_shape: ``(C, H, W)`` of the images it judges.
        hidden_dims: widths of the hidden layers.
        negative_slope: LeakyReLU slope for negative inputs.
        dropout: dropout probability after each hidden layer.

    Shapes: ``(B, C, H, W) -> (B,)`` logits, higher = more real.
    """

    def __init__(
        self,
        image_shape: Sequence[int] = (1, 28, 28),
        hidden_dims: Sequence[int] = (512, 256),
        negative_slope: float = 0.2,
        dropout: float = 0.3,
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
        self.image_shape = tuple(image_shape)
        widths = [math.prod(self.image_shape), *hidden_dims]
        layers: list[nn.Module] = []
        for width_in, width_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(width_in, width_out), nn.LeakyReLU(negative_slope), nn.Dropout(dropout)]
        self.layers = nn.Sequential(*layers, nn.Linear(widths[-1], 1))

    def forward(self, images: Tensor) -> Tensor:
        return self.layers(images.flatten(start_dim=1)).squeeze(-1)
