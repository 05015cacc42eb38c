"""Start-up checks that a generator and a discriminator fit the data they will see.

They turn what would be a shape error deep inside a matmul, or a run that silently cannot
reach the data's values, into one sentence at start-up.
"""

from typing import Any

import torch

from ganbench.errors import ShapeMismatchError


def check_networks_fit_data(gan: Any, datamodule: Any) -> None:
    """Runs G and D on two noise vectors and compares with the data's shape and range.

    Args:
        gan: the :class:`ganbench.GAN` (needs ``generator``, ``discriminator``, ``prior``).
        datamodule: may declare ``image_shape`` ``(C, H, W)`` and ``pixel_range`` ``(low, high)``, or
            ``pixel_range = None`` for unbounded data (then only a linear generator output fits).
    """
    generator, discriminator = gan.generator, gan.discriminator
    data_shape = tuple(getattr(datamodule, "image_shape", ()) or ())
    device = next(generator.parameters()).device
    noise = gan.prior.sample(2, generator.latent_dim, device)
    with torch.no_grad(), _eval_mode(generator), _eval_mode(discriminator):
        try:
            images = generator(noise)
        except RuntimeError as error:
            raise ShapeMismatchError(
                f"{type(generator).__name__} failed on noise of shape {tuple(noise.shape)} "
                f"(latent_dim={generator.latent_dim}): {_first_line(error)}"
            ) from None
        if data_shape and tuple(images.shape[1:]) != data_shape:
            raise ShapeMismatchError(
                f"{type(generator).__name__} makes images of shape {tuple(images.shape[1:])} but the data "
                f"has shape {data_shape}; set the generator's image_shape (or size) to {list(data_shape)}."
            )
        _check_discriminator(discriminator, images)
    _check_range(generator, datamodule)


def _check_discriminator(discriminator: Any, images: torch.Tensor) -> None:
    try:
        logits = discriminator(images)
    except RuntimeError as error:
        raise ShapeMismatchError(
            f"{type(discriminator).__name__} failed on images of shape {tuple(images.shape[1:])}: "
            f"{_first_line(error)}; set its image_shape to the data's."
        ) from None
    if tuple(logits.shape) != (len(images),):
        raise ShapeMismatchError(
            f"{type(discriminator).__name__} must return logits of shape (batch,), "
            f"got {tuple(logits.shape)} for a batch of {len(images)}."
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


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


class _eval_mode:  # noqa: N801 - used like a function
    """Context manager: a module in eval mode inside, its previous mode restored after."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.module, self.was_training = module, module.training

    def __enter__(self) -> None:
        self.module.eval()

    def __exit__(self, *exc: object) -> None:
        self.module.train(self.was_training)
