r"""Parzen-window (Gaussian kernel density) log-likelihood, the protocol of Goodfellow et al. (2014), Table 1.

A Gaussian Parzen window is fitted to ``n`` generator samples (the *centres* :math:`\mu_j`) and the
log-likelihood of held-out data is

.. math::

    \log p(x) = \operatorname{logsumexp}_j\Big(-\frac{\lVert x - \mu_j\rVert^2}{2\sigma^2}\Big)
        - \log n - \frac{d}{2}\log(2\pi\sigma^2),

with every example flattened to ``d`` features (``d = 784`` for MNIST, data in ``[0, 1]``). The bandwidth
``sigma`` is chosen from ``logspace(-1, 0, 10)`` by the best mean log-likelihood on a validation set that is
disjoint from the test set; the reported figure is the mean over the test set with the standard error
``std / sqrt(N)`` (population standard deviation, as numpy's default ``ddof=0`` in the original script).

Everything is accumulated in float64: squared distances use the expansion
:math:`\lVert x\rVert^2 + \lVert\mu\rVert^2 - 2 x\cdot\mu` (clamped at zero) on float64 chunks, so no TF32
or float32 cancellation error enters, and the work is tiled over test examples and centres with a running
logsumexp, so memory stays bounded whatever ``N`` and ``n`` are.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from ganbench.errors import ConfigError

__all__ = [
    "DEFAULT_SIGMAS",
    "parzen_log_likelihood",
    "parzen_summary",
    "select_sigma",
]

#: The bandwidth grid of the original ``parzen_ll.py``: ``numpy.logspace(-1, 0, 10)``, 0.1 ... 1.0.
DEFAULT_SIGMAS: tuple[float, ...] = tuple(float(sigma) for sigma in np.logspace(-1.0, 0.0, 10))

#: Float64 entries of one distance tile (test examples x centres): 2**22 = 32 MiB, twice that with its buffer.
_BLOCK_ELEMENTS = 2**22


def _check_set(name: str, values: Tensor) -> None:
    """Raise ``ValueError`` unless ``values`` is a non-empty, finite, floating-point ``(N, ...)`` tensor."""
    if not isinstance(values, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(values).__name__}.")
    if values.ndim < 2:
        raise ValueError(f"{name} must have shape (N, features...), got shape {tuple(values.shape)}.")
    if values.shape[0] == 0 or values[0].numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(values.shape)}); at least one example is needed.")
    if not values.is_floating_point():
        raise ValueError(f"{name} must be floating point, got {values.dtype}; scale images to [0, 1] first.")
    if not bool(torch.isfinite(values).all()):
        raise ValueError(f"{name} contains NaN or infinite values.")


def _check_inputs(x: Tensor, centres: Tensor, sigmas: Sequence[float]) -> None:
    """Eager argument checks shared by every public entry point."""
    _check_set("x", x)
    _check_set("centres", centres)
    if x[0].numel() != centres[0].numel():
        raise ValueError(
            f"x and centres have different dimensionality: x has shape {tuple(x.shape)} "
            f"and centres have shape {tuple(centres.shape)}."
        )
    if len(sigmas) == 0:
        raise ConfigError("The sigma grid is empty; give at least one bandwidth.")
    for sigma in sigmas:
        _check_sigma(sigma)


def _check_sigma(sigma: float) -> None:
    """Raise :class:`ConfigError` unless the bandwidth ``sigma`` is a finite positive number."""
    if not (math.isfinite(sigma) and sigma > 0):
        raise ConfigError(f"sigma must be a finite positive number, got {sigma}; bandwidths are > 0 (paper: 0.1 to 1).")


def _check_tiling(batch_size: int, centre_chunk: int | None) -> None:
    """Raise :class:`ConfigError` unless ``batch_size`` is >= 1 and ``centre_chunk`` is >= 1 or ``None``."""
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1 (examples per tile of the Parzen window), got {batch_size}.")
    if centre_chunk is not None and centre_chunk < 1:
        raise ConfigError(f"centre_chunk must be >= 1 or None (centres per tile), got {centre_chunk}.")


def _block_log_sum_exp(batch: Tensor, batch_norms: Tensor, block: Tensor, scales: Sequence[float]) -> Tensor:
    """``logsumexp_j(-k ||x_i - mu_j||^2)`` over one float64 block of centres, for every ``k``: ``(B, S)``.

    The matrix product ``||mu||^2 - 2 x.mu`` is computed once for all bandwidths and shifted by its row
    minimum ``m``, so every exponent ``-k (D_ij - D_i,min)`` is ``<= 0`` with one term equal to 1 (no
    overflow or underflow of the sum). The minimum squared distance ``D_i,min = m_i + ||x_i||^2`` is clamped
    at zero against rounding; ``||x||^2`` cancels from the differences ``D_ij - D_i,min``.
    """
    partial = torch.addmm(block.square().sum(dim=1)[None, :], batch, block.T, alpha=-2.0)
    least = partial.amin(dim=1, keepdim=True)
    nearest = (least + batch_norms).clamp_(min=0.0)
    buffer = torch.empty_like(partial)
    columns = []
    for scale in scales:
        torch.add(least * scale, partial, alpha=-scale, out=buffer).exp_()
        columns.append(buffer.sum(dim=1).log_() - scale * nearest[:, 0])
    return torch.stack(columns, dim=1)


def _log_likelihood_grid(
    x: Tensor, centres: Tensor, sigmas: Sequence[float], batch_size: int, centre_chunk: int | None
) -> Tensor:
    """Per-example log-likelihood for every bandwidth at once, shape ``(N, len(sigmas))``, float64.

    Tiles are ``batch_size`` examples by ``centre_chunk`` centres; each centre chunk is cast to float64
    and moved to ``x.device`` once, and a running logsumexp over chunks keeps memory at one tile.
    """
    _check_tiling(batch_size, centre_chunk)
    device, count = x.device, centres.shape[0]
    inputs = x.reshape(x.shape[0], -1)
    means = centres.reshape(count, -1)
    chunk = centre_chunk if centre_chunk is not None else max(1, _BLOCK_ELEMENTS // batch_size)
    scales = [0.5 / sigma**2 for sigma in sigmas]
    starts = range(0, inputs.shape[0], batch_size)
    norms = [inputs[start : start + batch_size].double().square().sum(dim=1, keepdim=True) for start in starts]
    running = torch.full((inputs.shape[0], len(sigmas)), -math.inf, dtype=torch.float64, device=device)
    for centre_start in range(0, count, chunk):
        block = means[centre_start : centre_start + chunk].to(device=device, dtype=torch.float64)
        for start, batch_norms in zip(starts, norms, strict=True):
            batch = inputs[start : start + batch_size].to(dtype=torch.float64)
            block_lse = _block_log_sum_exp(batch, batch_norms, block, scales)
            running[start : start + batch_size] = torch.logaddexp(running[start : start + batch_size], block_lse)
    dimension = inputs.shape[1]
    normalisers = [math.log(count) + 0.5 * dimension * math.log(2.0 * math.pi * sigma**2) for sigma in sigmas]
    return running - torch.tensor(normalisers, dtype=torch.float64, device=device)[None, :]


def parzen_log_likelihood(
    x: Tensor, centres: Tensor, sigma: float, batch_size: int = 1024, centre_chunk: int | None = None
) -> Tensor:
    r"""Per-example Gaussian Parzen-window log-likelihood in nats.

    .. math::

        \log p(x_i) = \operatorname{logsumexp}_j\Big(-\frac{\lVert x_i - \mu_j\rVert^2}{2\sigma^2}\Big)
            - \log n - \frac{d}{2}\log(2\pi\sigma^2)

    Args:
        x: Points to evaluate, shape ``(N, ...)``; every example is flattened to ``d`` features.
        centres: Kernel centres (generator samples) ``mu_j``, shape ``(n, ...)`` with ``d`` features each.
            They may live on another device; chunks are moved to ``x.device``.
        sigma: Kernel bandwidth, finite and positive.
        batch_size: Test examples per tile.
        centre_chunk: Centres per tile; ``None`` picks it so a float64 tile has at most 2**22 entries.

    Returns:
        Float64 tensor of shape ``(N,)`` on ``x.device``.

    Raises:
        ValueError: If a set is empty, not floating point or not finite, or the feature counts differ.
        ConfigError: If ``sigma`` is not finite and positive, or ``batch_size`` or ``centre_chunk`` is below 1
            (a :class:`ValueError` too).

    Example:
        >>> import torch
        >>> centre = torch.rand(1, 784)
        >>> round(parzen_log_likelihood(centre, centre, sigma=0.2).item(), 4)
        541.3515
    """
    _check_inputs(x, centres, [sigma])
    return _log_likelihood_grid(x, centres, [sigma], batch_size, centre_chunk)[:, 0]


def select_sigma(
    validation: Tensor,
    centres: Tensor,
    sigmas: Sequence[float] = DEFAULT_SIGMAS,
    batch_size: int = 1024,
    centre_chunk: int | None = None,
) -> tuple[float, Tensor]:
    """Choose the bandwidth with the best mean validation log-likelihood.

    The test set is deliberately not an argument: selection sees only validation data (for MNIST, the
    first 1,000 images of the validation split). All bandwidths share one pass over the distances.

    Args:
        validation: Validation points, shape ``(N_val, ...)``, disjoint from the test set.
        centres: Kernel centres (generator samples), shape ``(n, ...)``.
        sigmas: Candidate bandwidths; defaults to ``logspace(-1, 0, 10)``. Ties go to the first.
        batch_size: Validation examples per tile.
        centre_chunk: Centres per tile, as in :func:`parzen_log_likelihood`.

    Returns:
        ``(best_sigma, mean_log_likelihoods)`` with the second of shape ``(len(sigmas),)``, float64.

    Raises:
        ValueError: On the same conditions as :func:`parzen_log_likelihood`.
        ConfigError: On the same conditions as :func:`parzen_log_likelihood`, or an empty grid.
    """
    sigmas = [float(sigma) for sigma in sigmas]
    _check_inputs(validation, centres, sigmas)
    means = _log_likelihood_grid(validation, centres, sigmas, batch_size, centre_chunk).mean(dim=0)
    return sigmas[int(torch.argmax(means))], means


def parzen_summary(log_likelihoods: Tensor) -> tuple[float, float]:
    """Mean and standard error ``std / sqrt(N)`` of per-example log-likelihoods.

    The standard deviation is the population one (``ddof=0``, numpy's default), as in ``parzen_ll.py``.

    Args:
        log_likelihoods: Per-example values, shape ``(N,)``.

    Returns:
        ``(mean, standard_error)`` as Python floats.
    """
    values = log_likelihoods.detach().to(torch.float64).reshape(-1)
    if values.numel() == 0:
        raise ValueError("log_likelihoods is empty; at least one value is needed.")
    standard_deviation = values.std(correction=0)
    return float(values.mean()), float(standard_deviation) / math.sqrt(values.numel())
