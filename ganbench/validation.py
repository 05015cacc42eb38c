"""Start-up checks that a generator and a discriminator fit the data they will see.

They turn what would be a shape error deep inside a matmul, or a run that silently cannot reach
the data's values, into one sentence at start-up. (That the run can write its outputs is checked
by :mod:`ganbench.runs.writable`.)
"""

from typing import Any

import torch

from ganbench.contract import discriminate, encode, eval_mode, generate, is_conditional, judges_pairs, num_classes_of
from ganbench.data.statistics import training_labels
from ganbench.errors import ConfigError, ShapeMismatchError, first_line


def check_networks_fit_data(gan: Any, datamodule: Any) -> None:
    """Runs G, D (and E) on two noise vectors and compares with the data's shape, range and labels.

    A network is conditional when it has an integer ``num_classes``; it then needs every training
    image labelled, with labels in ``0 .. num_classes - 1``. That is checked first, before the
    networks run. The networks are called as in training (:mod:`ganbench.contract`).

    Args:
        gan: the :class:`ganbench.GAN` (needs ``generator``, ``discriminator``, ``prior``).
        datamodule: may declare ``image_shape`` ``(C, H, W)`` and ``pixel_range`` ``(low, high)``, or
            ``pixel_range = None`` for unbounded data (then only a linear generator output fits). Its
            labels are checked when it is set up (``datasets["train"].labels``, -1 for no label).
    """
    generator, discriminator, encoder = gan.generator, gan.discriminator, getattr(gan, "encoder", None)
    for network in (generator, discriminator, encoder):
        if network is not None:
            _check_labels(network, datamodule)
    data_shape = tuple(getattr(datamodule, "image_shape", ()) or ())
    device = next(generator.parameters()).device
    noise = gan.prior.sample(2, generator.latent_dim, device)
    labels = torch.zeros(2, dtype=torch.long, device=device)
    with torch.no_grad(), eval_mode(generator, discriminator, encoder):
        try:
            images = generate(generator, noise, labels if is_conditional(generator) else None)
        except RuntimeError as error:
            raise ShapeMismatchError(
                f"{type(generator).__name__} failed on noise of shape {tuple(noise.shape)} "
                f"(latent_dim={generator.latent_dim}): {first_line(error)}"
            ) from None
        if data_shape and tuple(images.shape[1:]) != data_shape:
            raise ShapeMismatchError(
                f"{type(generator).__name__} makes images of shape {tuple(images.shape[1:])} but the data "
                f"has shape {data_shape}; set the generator's image_shape (or size) to {list(data_shape)}."
            )
        _check_discriminator(discriminator, images, labels, noise)
        if encoder is not None:
            _check_encoder(encoder, images, labels, generator.latent_dim)
    _check_range(generator, datamodule)


def check_parts(
    generator: Any, discriminator: Any, encoder: Any, mode: str, schedule: str, generator_checkpoint: str | None
) -> None:
    """Refuses, when the GAN is built, parts that cannot train together (one sentence each).

    G needs an integer ``latent_dim`` >= 1; an encoder set-up must be one :data:`ganbench.module.EncoderMode` can
    train: E's ``latent_dim`` equal to G's, a discriminator of pairs exactly in ``bigan`` mode (with the
    ``alternating`` schedule), a ``generator_checkpoint`` in ``posthoc`` mode.
    """
    _check_latent_dim(generator)
    _check_encoder_setup(generator, discriminator, encoder, mode, schedule, generator_checkpoint)


def _check_latent_dim(generator: Any) -> None:
    latent_dim = getattr(generator, "latent_dim", None)
    if not isinstance(latent_dim, int) or isinstance(latent_dim, bool) or latent_dim < 1:
        raise ConfigError(
            f"{type(generator).__name__} needs an integer `latent_dim` attribute >= 1 (the size of its noise "
            f"vector), got {latent_dim!r}."
        )


def _check_encoder_setup(
    generator: Any, discriminator: Any, encoder: Any, mode: str, schedule: str, generator_checkpoint: str | None
) -> None:
    """Refuses an encoder set-up that cannot train, in one sentence."""
    if mode not in ("joint", "bigan", "posthoc"):
        raise ConfigError(f"encoder_mode must be 'joint', 'bigan' or 'posthoc', got {mode!r}.")
    if encoder is None:
        if judges_pairs(discriminator):
            raise ConfigError(
                f"{type(discriminator).__name__} judges (image, latent) pairs, which needs an encoder: set "
                "model.encoder and encoder_mode: bigan, or leave the discriminator's latent_dim unset."
            )
        return
    if getattr(encoder, "latent_dim", None) != generator.latent_dim:
        raise ConfigError(
            f"{type(encoder).__name__} has latent_dim={getattr(encoder, 'latent_dim', None)!r} but the generator's "
            f"is {generator.latent_dim}; they must be equal."
        )
    if mode == "bigan" and not judges_pairs(discriminator):
        raise ConfigError(
            f"encoder_mode bigan needs a discriminator of pairs: set {type(discriminator).__name__}'s latent_dim to "
            f"{generator.latent_dim}."
        )
    if mode != "bigan" and judges_pairs(discriminator):
        raise ConfigError(f"A discriminator of (image, latent) pairs needs encoder_mode: bigan, got {mode!r}.")
    if mode == "bigan" and schedule != "alternating":
        raise ConfigError(
            "encoder_mode bigan trains G and E together in Algorithm 1's order: use schedule: alternating."
        )
    if mode == "posthoc" and not generator_checkpoint:
        raise ConfigError(
            "encoder_mode posthoc trains E for a fixed, trained G: set model.generator_checkpoint to its checkpoint "
            "(e.g. runs/mnist/paper/version_0/checkpoints/last.ckpt)."
        )


def common_num_classes(*networks: Any) -> int | None:
    """The number of classes of the conditional networks (``None`` if none is); they must agree."""
    counts = {num_classes_of(network) for network in networks if network is not None} - {None}
    if len(counts) > 1:
        raise ConfigError(f"The conditional networks disagree on num_classes ({sorted(counts)}); set one value.")
    return counts.pop() if counts else None


def _check_labels(network: Any, datamodule: Any) -> None:
    """Refuses a conditional network (integer ``num_classes``) whose training labels are missing or too large.

    Args:
        network: G, D or E; conditional when it has an integer ``num_classes``.
        datamodule: skipped unless set up, with ``datasets["train"].labels`` (``(N,)``, -1 = no label).
    """
    labels = training_labels(datamodule)
    num_classes = num_classes_of(network)
    if labels is None or len(labels) == 0 or num_classes is None:
        return
    data_name = type(datamodule).__name__
    unlabelled = int((labels < 0).sum())
    if unlabelled:
        raise ShapeMismatchError(
            f"{type(network).__name__} is conditional (num_classes={num_classes}) but "
            f"{_unlabelled_images(unlabelled, len(labels), data_name)} have no labels (label -1); "
            "use labelled data or an unconditional network."
        )
    if int(labels.max()) >= num_classes:
        raise ShapeMismatchError(
            f"{type(network).__name__} is conditional with num_classes={num_classes} but {data_name}'s "
            f"training labels go up to {int(labels.max())}; set num_classes to {int(labels.max()) + 1} or more."
        )


def _unlabelled_images(unlabelled: int, total: int, data_name: str) -> str:
    """Names the unlabelled training images: all of them, or ``unlabelled`` of ``total``.

    Args:
        unlabelled: how many training images have label -1.
        total: how many training images there are.
        data_name: the data module's class name.
    """
    if unlabelled == total:
        return f"{data_name}'s training images"
    return f"{unlabelled} of the {total} training images of {data_name}"


def _check_discriminator(discriminator: Any, images: torch.Tensor, labels: torch.Tensor, noise: torch.Tensor) -> None:
    try:
        logits = discriminate(
            discriminator,
            images,
            labels if is_conditional(discriminator) else None,
            noise if judges_pairs(discriminator) else None,
        )
    except RuntimeError as error:
        raise ShapeMismatchError(
            f"{type(discriminator).__name__} failed on images of shape {tuple(images.shape[1:])}: "
            f"{first_line(error)}; set its image_shape to the data's."
        ) from None
    if tuple(logits.shape) != (len(images),):
        raise ShapeMismatchError(
            f"{type(discriminator).__name__} must return logits of shape (batch,), "
            f"got {tuple(logits.shape)} for a batch of {len(images)}."
        )


def _check_encoder(encoder: Any, images: torch.Tensor, labels: torch.Tensor, latent_dim: int) -> None:
    try:
        latents = encode(encoder, images, labels if is_conditional(encoder) else None)
    except RuntimeError as error:
        raise ShapeMismatchError(
            f"{type(encoder).__name__} failed on images of shape {tuple(images.shape[1:])}: "
            f"{first_line(error)}; set its image_shape to the data's."
        ) from None
    if tuple(latents.shape) != (len(images), latent_dim):
        raise ShapeMismatchError(
            f"{type(encoder).__name__} must return latents of shape (batch, {latent_dim}), "
            f"got {tuple(latents.shape)} for a batch of {len(images)}."
        )


def _check_range(generator: Any, datamodule: Any) -> None:
    output_range = getattr(generator, "output_range", None)
    if output_range is not None and _declares_unbounded_data(datamodule):
        raise ShapeMismatchError(
            f"{type(generator).__name__} outputs values in {tuple(output_range)} but the data is unbounded "
            f"({_preprocessing_name(datamodule)}, pixel_range None); use a generator with a linear output, "
            "e.g. output_activation: linear, or scale the data to pixels instead."
        )
    pixel_range = getattr(datamodule, "pixel_range", None)
    if output_range is None or pixel_range is None:
        return
    if tuple(float(v) for v in output_range) != tuple(float(v) for v in pixel_range):
        raise ShapeMismatchError(
            f"{type(generator).__name__} outputs values in {tuple(output_range)} but the data's pixels are "
            f"in {tuple(pixel_range)}; change the generator's output_activation or the data's pixel_range."
        )


def _declares_unbounded_data(datamodule: Any) -> bool:
    """A data module that has a ``pixel_range`` attribute set to ``None`` feeds unbounded values (e.g. GCN)."""
    return datamodule is not None and hasattr(datamodule, "pixel_range") and datamodule.pixel_range is None


def _preprocessing_name(datamodule: Any) -> str:
    preprocessing = getattr(datamodule, "preprocessing", None)
    return f"preprocessing={preprocessing!r}" if preprocessing else "its preprocessing"
