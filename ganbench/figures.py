"""The paper's qualitative figures, as image tensors ready for ``torchvision.utils.save_image``.

- Fig. 2: samples beside their nearest training image (:func:`nearest_neighbour_grid`), the paper's
  check that the model has not memorised the training set.
- Fig. 3: linear interpolation in z-space (:func:`interpolation_grid`).
- Paper §7.2, with an auxiliary encoder E: interpolation between two real images x_a and x_b along
  the line from E(x_a) to E(x_b) (:func:`encoder_interpolation_grid`).

Pure functions: no file is written and no random number is drawn from the global RNG. The
callback :class:`ganbench.callbacks.PaperFigures` draws these for a trained run.
"""

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torchvision.utils import make_grid

from ganbench.contract import encode, eval_mode, is_conditional, num_classes_of
from ganbench.errors import ConfigError

__all__ = [
    "encoder_interpolation_grid",
    "image_grid",
    "interpolation_grid",
    "interpolation_noise",
    "nearest_neighbour_grid",
    "nearest_neighbours",
]

ValueRange = Sequence[float] | None
"""``(low, high)`` of the images, mapped to black and white; ``None``: each image to its own min..max."""


def nearest_neighbours(queries: Tensor, references: Tensor, batch_size: int = 2048) -> tuple[Tensor, Tensor]:
    """The exact nearest reference of each query in pixel space (Euclidean distance).

    Distances are ``||a||^2 - 2 a.b + ||b||^2`` in float64, tile by tile, so that 10,000 queries against
    50,000 references of 3 x 32 x 32 never hold more than two ``batch_size`` tiles and one
    ``batch_size x batch_size`` block of distances. Float64 keeps the ranking exact except between
    references whose squared distances differ by less than ~1e-12 of the squared norms (near-ties, where
    either answer is as near); equal distances go to the lower index. The distances returned are recomputed
    directly, as ``sum((a - b)^2)`` in float64, so an exact copy is at distance 0. The work is on the
    queries' device; on two CPU cores, 1,000 x 5,000 images of 3 x 32 x 32 take about 2 seconds.

    Args:
        queries: ``(n, C, H, W)`` (any shape with the images along the first dimension).
        references: ``(N, C, H, W)``, the same shape per image; may live on another device (tiles
            are moved to the queries' device).
        batch_size: images per tile, of queries and of references.

    Returns:
        ``(indices, squared_distances)``: ``indices`` ``(n,)`` long, the index in ``references`` of
        each query's nearest; ``squared_distances`` ``(n,)`` float64, the squared Euclidean distance to it.
    """
    if batch_size < 1:
        raise ConfigError(f"nearest_neighbours: batch_size must be >= 1, got {batch_size}.")
    if len(references) == 0:
        raise ConfigError("nearest_neighbours: there are no reference images to search.")
    if queries.shape[1:] != references.shape[1:]:
        raise ConfigError(
            f"nearest_neighbours: queries of shape {tuple(queries.shape[1:])} cannot be compared with references "
            f"of shape {tuple(references.shape[1:])}."
        )
    device = queries.device
    flat_queries, flat_references = queries.reshape(len(queries), -1), references.reshape(len(references), -1)
    indices = torch.empty(len(queries), dtype=torch.long, device=device)
    for query_start in range(0, len(queries), batch_size):
        query = flat_queries[query_start : query_start + batch_size].to(device, torch.float64)
        query_norms = query.square().sum(dim=1, keepdim=True)
        best = torch.full((len(query),), float("inf"), dtype=torch.float64, device=device)
        best_index = torch.zeros(len(query), dtype=torch.long, device=device)
        for start in range(0, len(references), batch_size):
            reference = flat_references[start : start + batch_size].to(device, torch.float64)
            distances = query_norms - 2 * query @ reference.T + reference.square().sum(dim=1)
            chunk_best, chunk_index = distances.min(dim=1)
            better = chunk_best < best  # strictly: an equal distance keeps the earlier (lower) index
            best = torch.where(better, chunk_best, best)
            best_index = torch.where(better, chunk_index + start, best_index)
        indices[query_start : query_start + len(query)] = best_index
    squared_distances = torch.empty(len(queries), dtype=torch.float64, device=device)
    for start in range(0, len(queries), batch_size):
        chosen = indices[start : start + batch_size].to(flat_references.device)
        nearest = flat_references[chosen].to(device, torch.float64)
        query = flat_queries[start : start + batch_size].to(device, torch.float64)
        squared_distances[start : start + len(query)] = (query - nearest).square().sum(dim=1)
    return indices, squared_distances


def nearest_neighbour_grid(
    samples: Tensor,
    training_images: Tensor,
    pairs_per_row: int = 4,
    value_range: ValueRange = None,
    batch_size: int = 2048,
) -> Tensor:
    """Fig. 2: each sample with its nearest training image just right of it, ``sample | nearest``.

    Each pair is one tile: the sample, a 2-pixel dark gap, its nearest image; tiles are framed in white,
    so that pairs stand apart on dark backgrounds (MNIST).

    Args:
        samples: ``(n, C, H, W)`` generated images.
        training_images: ``(N, C, H, W)`` the images searched (the training set, or part of it).
        pairs_per_row: pairs in each row of the grid.
        value_range: ``(low, high)`` of the images, mapped to black and white; ``None`` scales each pair to
            its own min..max.
        batch_size: images per tile of the search (:func:`nearest_neighbours`).

    Returns:
        ``(3, H', W')`` in [0, 1]: ``ceil(n / pairs_per_row)`` rows of ``pairs_per_row`` tiles ``(H, 2 W + 2)``.
    """
    if pairs_per_row < 1:
        raise ConfigError(f"nearest_neighbour_grid: pairs_per_row must be >= 1, got {pairs_per_row}.")
    indices, _ = nearest_neighbours(samples, training_images, batch_size)
    nearest = training_images[indices.to(training_images.device)].to(samples.device, samples.dtype)
    if value_range is not None:
        dark = torch.full((len(samples), 1, 1, 1), float(value_range[0]), dtype=samples.dtype, device=samples.device)
    else:
        dark = torch.minimum(samples.flatten(1).amin(dim=1), nearest.flatten(1).amin(dim=1)).view(-1, 1, 1, 1)
    gap = dark.expand(*samples.shape[:-1], _PAIR_GAP)
    pairs = torch.cat([samples, gap, nearest], dim=-1)
    return image_grid(pairs, pairs_per_row, value_range, pad_value=1.0)


_PAIR_GAP = 2  # pixels between a sample and its nearest image


def interpolation_noise(start: Tensor, end: Tensor, steps: int) -> Tensor:
    """Fig. 3: ``steps`` points evenly spaced on the segment from ``start`` to ``end`` in z-space.

    Point ``i`` is ``(1 - t) * start + t * end`` with ``t = i / (steps - 1)``, so the first is exactly
    ``start``, the last exactly ``end``.

    Args:
        start: ``(d,)`` noise vector.
        end: ``(d,)`` noise vector.
        steps: number of points, >= 2.

    Returns:
        ``(steps, d)``, in ``start``'s dtype and on its device.
    """
    if steps < 2:
        raise ConfigError(f"interpolation_noise: steps must be >= 2 (both ends), got {steps}.")
    if start.shape != end.shape or start.dim() != 1:
        raise ConfigError(
            f"interpolation_noise: start and end must be vectors (d,) of one shape, got {tuple(start.shape)} "
            f"and {tuple(end.shape)}."
        )
    weights = torch.linspace(0.0, 1.0, steps, dtype=start.dtype, device=start.device).unsqueeze(1)
    return (1 - weights) * start + weights * end.to(start)


def interpolation_grid(
    gan: Any,
    rows: int,
    steps: int,
    generator: torch.Generator,
    labels: Tensor | Sequence[int] | None = None,
    value_range: ValueRange = None,
) -> Tensor:
    """Fig. 3: ``rows`` rows of G along a straight line in z, from one noise vector drawn from the prior to another.

    Args:
        gan: the :class:`ganbench.GAN` (``prior``, ``latent_dim``, ``generator``, ``sample``).
        rows: how many lines.
        steps: images per line (both ends included), >= 2.
        generator: the ``torch.Generator`` the ends are drawn with (its device is where they are drawn).
        labels: ``(rows,)`` the class of each row, for a conditional G (kept fixed along the row); row ``r``
            shows class ``r mod num_classes`` when ``None``. Must be ``None`` for an unconditional G.
        value_range: ``(low, high)`` of the data, mapped to black and white; ``None`` scales each image to its
            own min..max.

    Returns:
        ``(3, H', W')`` in [0, 1]: ``rows`` rows of ``steps`` images.
    """
    if rows < 1:
        raise ConfigError(f"interpolation_grid: rows must be >= 1, got {rows}.")
    ends = gan.prior.sample(2 * rows, gan.latent_dim, generator.device, generator)
    noise = torch.cat([interpolation_noise(ends[2 * row], ends[2 * row + 1], steps) for row in range(rows)])
    row_labels = _row_labels(gan, rows, labels)
    repeated = row_labels.repeat_interleave(steps) if row_labels is not None else None
    images = gan.sample(len(noise), labels=repeated, noise=noise)
    return image_grid(images, steps, value_range)


@torch.no_grad()
def encoder_interpolation_grid(
    gan: Any,
    image_a: Tensor,
    image_b: Tensor,
    steps: int,
    labels: Tensor | Sequence[int] | None = None,
    value_range: ValueRange = None,
) -> Tensor:
    """Paper §7.2: G along the line from E(x_a) to E(x_b), with the real x_a and x_b at the ends of each row.

    E runs in eval mode without gradients (through :func:`ganbench.contract.encode`), G through
    ``gan.sample``. A row reads ``x_a, G(E(x_a)), ..., G(E(x_b)), x_b``: its second and second-to-last
    images are the reconstructions of the real images beside them.

    Args:
        gan: a :class:`ganbench.GAN` with an ``encoder``.
        image_a: ``(C, H, W)``, or ``(P, C, H, W)`` for ``P`` rows, in the data's range.
        image_b: the other ends, the same shape as ``image_a``.
        steps: generated images per row (both encodings included), >= 2.
        labels: ``(P,)`` the class of each pair, for a conditional E or G (used at both ends and along the row).
        value_range: ``(low, high)`` of the data, mapped to black and white; ``None`` scales each image to its
            own min..max.

    Returns:
        ``(3, H', W')`` in [0, 1]: ``P`` rows of ``steps + 2`` images.
    """
    if getattr(gan, "encoder", None) is None:
        raise ConfigError("encoder_interpolation_grid needs a GAN with an encoder (model.encoder).")
    if image_a.shape != image_b.shape:
        raise ConfigError(
            f"encoder_interpolation_grid: image_a {tuple(image_a.shape)} and image_b {tuple(image_b.shape)} differ."
        )
    if image_a.dim() == 3:
        image_a, image_b = image_a.unsqueeze(0), image_b.unsqueeze(0)
    pair_labels = _pair_labels(gan, len(image_a), labels)
    image_a, image_b = image_a.to(gan.device), image_b.to(gan.device)
    encoder_labels = pair_labels.to(gan.device) if is_conditional(gan.encoder) else None
    with eval_mode(gan.encoder):
        start, end = encode(gan.encoder, image_a, encoder_labels), encode(gan.encoder, image_b, encoder_labels)
    noise = torch.cat([interpolation_noise(start[row], end[row], steps) for row in range(len(start))])
    generator_labels = pair_labels.repeat_interleave(steps) if is_conditional(gan.generator) else None
    generated = gan.sample(len(noise), labels=generator_labels, noise=noise).unflatten(0, (len(start), steps))
    rows = torch.cat([image_a.unsqueeze(1).to(generated), generated, image_b.unsqueeze(1).to(generated)], dim=1)
    return image_grid(rows.flatten(0, 1), steps + 2, value_range)


def _row_labels(gan: Any, rows: int, labels: Tensor | Sequence[int] | None) -> Tensor | None:
    """Each row's class for a conditional G (``r mod num_classes`` unless given); ``None`` for an unconditional G."""
    num_classes = num_classes_of(gan.generator)
    if num_classes is None:
        if labels is not None:
            raise ConfigError("interpolation_grid: labels were given, but the generator is not conditional.")
        return None
    if labels is None:
        return torch.arange(rows) % num_classes
    labels = torch.as_tensor(labels, dtype=torch.long).cpu()
    if labels.shape != (rows,):
        raise ConfigError(f"interpolation_grid: labels must have shape ({rows},), got {tuple(labels.shape)}.")
    return labels


def _pair_labels(gan: Any, pairs: int, labels: Tensor | Sequence[int] | None) -> Tensor | None:
    """The class of each pair, required when E or G is conditional."""
    conditional = is_conditional(gan.encoder) or is_conditional(gan.generator)
    if labels is None:
        if conditional:
            raise ConfigError("encoder_interpolation_grid: the model is conditional; pass the labels of the pairs.")
        return None
    if not conditional:
        raise ConfigError("encoder_interpolation_grid: labels were given, but neither E nor G is conditional.")
    labels = torch.as_tensor(labels, dtype=torch.long).cpu()
    if labels.shape != (pairs,):
        raise ConfigError(f"encoder_interpolation_grid: labels must have shape ({pairs},), got {tuple(labels.shape)}.")
    return labels


def image_grid(images: Tensor, nrow: int, value_range: ValueRange = None, pad_value: float = 0.0) -> Tensor:
    """One image ``(3, H', W')`` in [0, 1] of ``images`` ``(N, C, H, W)``, ``nrow`` to a row, ready for ``save_image``.

    Args:
        images: the images, in ``value_range``.
        nrow: images per row.
        value_range: ``(low, high)`` mapped to black and white; ``None`` scales each image to its own min..max
            (data without a fixed range, e.g. contrast-normalised CIFAR-10).
        pad_value: the colour of the 2-pixel frame between images, 0 (black) to 1 (white).
    """
    return make_grid(
        images.detach().float().cpu(),
        nrow=nrow,
        padding=2,
        normalize=True,
        value_range=tuple(value_range) if value_range is not None else None,
        scale_each=value_range is None,
        pad_value=pad_value,
    )
