"""Checks of the networks' constructor arguments, the values a user sets in a config, and of the inputs they call for.

Each check raises :class:`ganbench.errors.ConfigError` with a message that names the network (``owner``), the
argument, the value given and the values that work, so the ``ganbench`` command prints it as one line.
:func:`check_labels` and :func:`check_latents` check a call instead: that a conditional network gets labels
and an unconditional one none, and the same for the latents of a discriminator of pairs.
"""

import math
from collections.abc import Iterable, Sequence

from torch import Tensor

from ganbench.errors import ConfigError, ShapeMismatchError


def check_at_least(owner: str, name: str, value: float, minimum: int) -> None:
    """Refuses ``value < minimum`` (a width, a size, a count or a padding).

    Args:
        owner: the network's class name, first in the message.
        name: the argument's name.
        value: what was given.
        minimum: the smallest value that works, 1 for sizes and 0 for paddings.
    """
    if not value >= minimum:
        raise ConfigError(f"{owner}: {name} must be >= {minimum}, got {value!r}.")


def check_each_at_least(owner: str, name: str, values: Iterable[float], minimum: int, allow_empty: bool = True) -> None:
    """Refuses a list with an entry below ``minimum`` (and an empty list unless ``allow_empty``).

    Args:
        owner: the network's class name, first in the message.
        name: the argument's name.
        values: what was given, e.g. the widths of the hidden layers.
        minimum: the smallest entry that works.
        allow_empty: whether no entries at all is meaningful (a network without hidden layers).
    """
    values = list(values)
    if not values and not allow_empty:
        raise ConfigError(f"{owner}: {name} must list at least one layer, got {values}.")
    if not all(value >= minimum for value in values):
        raise ConfigError(f"{owner}: every entry of {name} must be >= {minimum}, got {values}.")


def check_image_shape(owner: str, image_shape: Sequence[int], name: str = "image_shape") -> None:
    """Refuses a shape that is not three sizes ``(channels, height, width)``, each at least 1.

    Args:
        owner: the network's class name, first in the message.
        image_shape: what was given.
        name: the argument's name (``feature_shape`` for feature maps).
    """
    shape = list(image_shape)
    if len(shape) != 3 or not all(size >= 1 for size in shape):
        raise ConfigError(f"{owner}: {name} must be [channels, height, width], three sizes >= 1, got {shape}.")


def check_keep_probability(owner: str, name: str, keep: float) -> None:
    """Refuses a dropout keep probability outside ``(0, 1]`` (1 keeps everything, no dropout).

    Args:
        owner: the network's class name, first in the message.
        name: the argument's name, e.g. ``input_keep``.
        keep: what was given.
    """
    if not 0 < keep <= 1:
        raise ConfigError(f"{owner}: {name} must be in (0, 1], got {keep!r}; it is the probability of keeping a value.")


def check_init_range(owner: str, name: str, bound: float | None) -> None:
    """Refuses a negative or non-finite initial weight range (``None``, when allowed, passes).

    Args:
        owner: the network's class name, first in the message.
        name: the argument's name, e.g. ``init_range``.
        bound: what was given; weights start ``U(-bound, bound)``.
    """
    if bound is not None and not (math.isfinite(bound) and bound >= 0):
        raise ConfigError(f"{owner}: {name} must be a finite number >= 0, got {bound!r}.")


def check_choice(owner: str, name: str, value: str, choices: Iterable[str]) -> None:
    """Refuses a name that is not one of ``choices``.

    Args:
        owner: the network's class name, first in the message.
        name: the argument's name, e.g. ``output_activation``.
        value: what was given.
        choices: the names that work.
    """
    choices = sorted(choices)
    if value not in choices:
        raise ConfigError(f"{owner}: {name} must be one of {choices}, got {value!r}.")


def check_each_choice(owner: str, name: str, values: Iterable[str], choices: Iterable[str]) -> None:
    """Refuses a list with an entry that is not one of ``choices``.

    Args:
        owner: the network's class name, first in the message.
        name: the argument's name, e.g. ``hidden_activations``.
        values: what was given.
        choices: the names that work.
    """
    choices = sorted(choices)
    for value in values:
        if value not in choices:
            raise ConfigError(f"{owner}: every entry of {name} must be one of {choices}, got {value!r}.")


def per_layer(owner: str, name: str, values: Sequence | None, default: object, count: int) -> list:
    """``values`` as a list of one entry per hidden layer (``default`` for all when ``None``).

    Args:
        owner: the network's class name, first in the message.
        name: the argument's name, e.g. ``hidden_init_biases``.
        values: what was given, or ``None`` for ``default`` everywhere.
        default: the entry of every layer when ``values`` is ``None``.
        count: the number of hidden layers (the length of ``hidden_dims``).

    Raises:
        ConfigError: ``values`` does not have ``count`` entries.
    """
    if values is None:
        return [default] * count
    check_one_per_layer(owner, name, values, count)
    return list(values)


def check_one_per_layer(owner: str, name: str, values: Sequence, count: int) -> None:
    """Refuses a per-layer list whose length is not the number of hidden layers.

    Args:
        owner: the network's class name, first in the message.
        name: the argument's name, e.g. ``hidden_activations``.
        values: what was given.
        count: the number of hidden layers (the length of ``hidden_dims``).
    """
    if len(values) != count:
        raise ConfigError(
            f"{owner}: {name} needs one entry per hidden layer ({count}), got {len(values)}: {list(values)}; "
            "give it as many entries as hidden_dims."
        )


def check_num_classes(owner: str, num_classes: int | None) -> None:
    """Refuses a class count below 2; ``None`` (an unconditional network) passes.

    Args:
        owner: the network's class name, first in the message.
        num_classes: what was given.
    """
    if num_classes is not None:
        check_at_least(owner, "num_classes", num_classes, 2)


def check_labels(owner: str, num_classes: int | None, labels: Tensor | None, batch_size: int) -> None:
    """Refuses a call of a conditional network without labels, labels to an unconditional one, and labels not ``(B,)``.

    Args:
        owner: the network's class name, first in the message.
        num_classes: the network's ``num_classes`` (``None`` when it is not conditional).
        labels: what the call passed.
        batch_size: ``B``, the number of noise vectors or images in the call.

    Raises:
        ConfigError: labels missing for a conditional network, or given to an unconditional one.
        ShapeMismatchError: labels of another shape than ``(B,)``.
    """
    if num_classes is not None and labels is None:
        raise ConfigError(f"{owner} is conditional (num_classes={num_classes}): call it with labels (B,).")
    if num_classes is None and labels is not None:
        raise ConfigError(f"{owner} is not conditional: it takes no labels; set num_classes to make it conditional.")
    if labels is not None and tuple(labels.shape) != (batch_size,):
        raise ShapeMismatchError(
            f"{owner}: labels must have shape (B,) = ({batch_size},), one class per example, got {tuple(labels.shape)}."
        )


def check_latents(owner: str, latent_dim: int | None, latents: Tensor | None, batch_size: int) -> None:
    """Refuses a call of a discriminator of pairs without latents, latents to one that takes none, and a wrong shape.

    Args:
        owner: the network's class name, first in the message.
        latent_dim: the discriminator's ``latent_dim`` (``None`` when it judges images alone).
        latents: what the call passed.
        batch_size: ``B``, the number of images in the call.

    Raises:
        ConfigError: latents missing for a discriminator of pairs, or given to one that takes none.
        ShapeMismatchError: latents of another shape than ``(B, latent_dim)``.
    """
    if latent_dim is not None and latents is None:
        raise ConfigError(
            f"{owner} judges (image, latent) pairs (latent_dim={latent_dim}): call it with latents (B, {latent_dim})."
        )
    if latent_dim is None and latents is not None:
        raise ConfigError(
            f"{owner} does not judge pairs: it takes no latents; set latent_dim to make it a discriminator of "
            "(image, latent) pairs."
        )
    if latents is not None and tuple(latents.shape) != (batch_size, latent_dim):
        raise ShapeMismatchError(
            f"{owner}: latents must have shape (B, latent_dim) = ({batch_size}, {latent_dim}), "
            f"got {tuple(latents.shape)}."
        )
