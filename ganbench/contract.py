"""The one way ganbench calls a network: each is passed only the inputs it declares.

Every update path of :class:`ganbench.GAN` (alternating, simultaneous, evaluation), the sampler,
the start-up checks and the figures call networks through :func:`generate`, :func:`discriminate`
and :func:`encode`. A network declares what it takes by two attributes (:mod:`ganbench.nets.base`):

- ``num_classes`` an ``int``: conditional, always called with ``labels`` ``(B,)``;
- ``latent_dim`` an ``int`` on a discriminator: it judges pairs (BiGAN/ALI), called with ``latents``.

A conditional network given no labels, or labels given to a network that takes none, is one
:class:`~ganbench.errors.ConfigError` each way, raised before the network runs.

Outputs leave the contract in float32 at least: under mixed precision (``--trainer.precision=bf16-mixed``)
a network computes in bfloat16 inside, but the losses, the logged diagnostics, the samples and the metrics
made from them see float32 (float64 stays float64). The cast is exact, and free when the output is float32.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from ganbench.errors import ConfigError


def num_classes_of(network: Any) -> int | None:
    """A conditional network's ``num_classes`` (an ``int``), or ``None`` for an unconditional one."""
    num_classes = getattr(network, "num_classes", None)
    return num_classes if isinstance(num_classes, int) and not isinstance(num_classes, bool) else None


def is_conditional(network: Any) -> bool:
    """Whether ``network`` takes labels (its ``num_classes`` is an ``int``)."""
    return num_classes_of(network) is not None


def judges_pairs(discriminator: Any) -> bool:
    """Whether a discriminator judges ``(images, latents)`` pairs (BiGAN/ALI): its ``latent_dim`` is an ``int``."""
    latent_dim = getattr(discriminator, "latent_dim", None)
    return isinstance(latent_dim, int) and not isinstance(latent_dim, bool)


def generate(generator: nn.Module, noise: Tensor, labels: Tensor | None = None) -> Tensor:
    """``G(z)`` or ``G(z, labels)``: images ``(B, C, H, W)``.

    Args:
        generator: G.
        noise: ``(B, latent_dim)``.
        labels: ``(B,)`` long class labels, for a conditional G only.
    """
    images = generator(noise, labels) if takes_labels(generator, labels) else generator(noise)
    return at_least_float32(images)


def discriminate(
    discriminator: nn.Module, images: Tensor, labels: Tensor | None = None, latents: Tensor | None = None
) -> Tensor:
    """``D(x)``, ``D(x, labels)``, ``D(x, latents=z)`` or both: logits ``(B,)``.

    Args:
        discriminator: D.
        images: ``(B, C, H, W)``.
        labels: ``(B,)`` long class labels, for a conditional D only.
        latents: ``(B, latent_dim)``, for a D of pairs only: E(x) beside data, z beside G(z).
    """
    inputs: dict[str, Tensor] = {}
    if takes_labels(discriminator, labels):
        inputs["labels"] = labels
    if judges_pairs(discriminator):
        if latents is None:
            raise ConfigError(
                f"{type(discriminator).__name__} judges (image, latent) pairs (latent_dim={discriminator.latent_dim}) "
                "but was given no latents; it needs an encoder (model.encoder with encoder_mode: bigan)."
            )
        inputs["latents"] = latents
    return at_least_float32(discriminator(images, **inputs))


def encode(encoder: nn.Module, images: Tensor, labels: Tensor | None = None) -> Tensor:
    """``E(x)`` or ``E(x, labels)``: latents ``(B, latent_dim)``.

    Args:
        encoder: E.
        images: ``(B, C, H, W)``.
        labels: ``(B,)`` long class labels, for a conditional E only.
    """
    latents = encoder(images, labels) if takes_labels(encoder, labels) else encoder(images)
    return at_least_float32(latents)


def at_least_float32(output: Tensor) -> Tensor:
    """``output`` cast to float32 when a network made it in float16 or bfloat16 (autocast); else unchanged.

    Args:
        output: a network's output tensor.
    """
    return output.float() if output.dtype in _HALF_PRECISION else output


def takes_labels(network: nn.Module, labels: Tensor | None) -> bool:
    """Whether to pass ``labels`` to ``network``; refuses a conditional network without them and labels to one
    that takes none (the contract's two errors).

    Args:
        network: G, D or E.
        labels: what the caller has for it, ``(B,)`` or ``None``.
    """
    name = type(network).__name__
    num_classes = num_classes_of(network)
    if num_classes is not None and labels is None:
        raise ConfigError(
            f"{name} is conditional (num_classes={num_classes}) but was given no labels; train it on labelled "
            "data, or pass labels (e.g. GAN.sample(n, labels=...))."
        )
    if num_classes is None and labels is not None:
        raise ConfigError(
            f"{name} is not conditional, but was given labels; drop them, or set its num_classes to make it "
            "conditional."
        )
    return num_classes is not None


_HALF_PRECISION = (torch.float16, torch.bfloat16)


@contextmanager
def eval_mode(*networks: nn.Module | None) -> Iterator[None]:
    """The networks in eval mode inside (no dropout; BatchNorm uses, and keeps, its running statistics).

    Args:
        networks: the modules (``None`` entries are skipped); each gets its own mode back on exit.
    """
    present = [network for network in networks if network is not None]
    modes = [network.training for network in present]
    for network in present:
        network.eval()
    try:
        yield
    finally:
        for network, mode in zip(present, modes):
            network.train(mode)
