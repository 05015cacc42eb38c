r"""Parzen-window log-likelihood over several folds: the TFD figure of Goodfellow et al. (2014), Table 1.

For TFD the paper reports one generator scored on each of the 5 folds: for fold ``k`` the bandwidth
``sigma_k`` is chosen from ``logspace(-1, 0, 10)`` on that fold's validation split only, the mean
log-likelihood ``m_k`` is taken over that fold's test split, and the table gives

.. math::

    \bar m = \frac{1}{K}\sum_k m_k \quad \pm \quad \frac{\operatorname{std}(m_1, \dots, m_K)}{\sqrt{K}},

the *error across folds* (2057 +- 26 nats for the adversarial net). The same generator samples (the
kernel centres) serve every fold, since the model trains on the unlabeled images that all folds share.

Which standard deviation: the population one (``ddof=0``, numpy's ``ndarray.std`` default). The released
``parzen_ll.py`` scores a single fold per run (its per-example standard error is ``ll.std() / sqrt(N)``,
``ddof=0``) and does not contain the aggregation over folds, so how the table's error was computed is not
known; ``ddof=0`` is an *assumption*, chosen for consistency with the per-example error of the same script.
With ``ddof=1`` the error would be ``sqrt(K / (K - 1))`` times larger (x1.118 for 5 folds). With a single
fold the error across folds is 0.

All likelihood maths is :func:`ganbench.metrics.parzen.select_sigma` and
:func:`ganbench.metrics.parzen.parzen_log_likelihood` (float64 throughout); this module only aggregates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ganbench.errors import ConfigError
from ganbench.metrics.parzen import DEFAULT_SIGMAS, parzen_log_likelihood, parzen_summary, select_sigma

__all__ = ["FoldsResult", "parzen_over_folds"]


@dataclass(frozen=True)
class FoldsResult:
    """Per-fold and overall Parzen log-likelihoods (nats) of one set of kernel centres.

    Attributes:
        fold_ids: A label per fold (e.g. the TFD fold numbers 0..4), length ``K``.
        sigmas: Bandwidth chosen on each fold's validation split, length ``K``.
        means: Mean test log-likelihood of each fold, length ``K``.
        standard_errors: Within-fold standard error ``std / sqrt(N_test)`` (``ddof=0``) of each fold, length ``K``.
        test_sizes: Test examples per fold, length ``K``.
        validation_sizes: Validation examples per fold, length ``K``.
        mean: Mean of ``means`` over the folds (the reported figure).
        error: Error across folds: ``std(means, ddof=0) / sqrt(K)``.
        num_centres: Number of kernel centres ``n`` (generator samples).
    """

    fold_ids: tuple[int, ...]
    sigmas: tuple[float, ...]
    means: tuple[float, ...]
    standard_errors: tuple[float, ...]
    test_sizes: tuple[int, ...]
    validation_sizes: tuple[int, ...]
    mean: float
    error: float
    num_centres: int

    @property
    def num_folds(self) -> int:
        """Number of folds ``K``."""
        return len(self.means)

    def fold_lines(self) -> list[str]:
        """One line per fold: its mean test log-likelihood, within-fold standard error, sigma and set sizes."""
        return [
            f"fold {fold}: {mean:.2f} +- {standard_error:.2f} nats (sigma {sigma:.4f} chosen on {validation} "
            f"validation images, {test} test images)"
            for fold, mean, standard_error, sigma, validation, test in zip(
                self.fold_ids, self.means, self.standard_errors, self.sigmas, self.validation_sizes, self.test_sizes
            )
        ]

    def table_line(self, name: str = "TFD", num_samples: int | None = None) -> str:
        """The Table 1 line, e.g. ``Parzen log-likelihood on TFD test, mean over 5 folds: 2057.1 +- 26.3 nats ...``.

        Args:
            name: Data set name to print.
            num_samples: Number of generator samples to print; defaults to :attr:`num_centres`.
        """
        count = self.num_centres if num_samples is None else num_samples
        sigmas = ", ".join(f"{sigma:.4f}" for sigma in self.sigmas)
        return (
            f"Parzen log-likelihood on {name} test, mean over {self.num_folds} folds: {self.mean:.1f} +- "
            f"{self.error:.1f} nats (error across folds; sigma per fold {sigmas}; n = {count} samples)"
        )


def parzen_over_folds(
    centres: Tensor,
    folds: Sequence[tuple[Tensor, Tensor]],
    sigmas: Sequence[float] = DEFAULT_SIGMAS,
    fold_ids: Sequence[int] | None = None,
    batch_size: int = 1024,
    centre_chunk: int | None = None,
) -> FoldsResult:
    """Score one set of kernel centres on several folds, choosing sigma per fold on its validation split.

    Args:
        centres: Kernel centres (generator samples), shape ``(n, ...)``, in the same scale as the data
            (``[0, 1]`` for the paper's protocol); every example is flattened to ``d`` features.
        folds: ``K >= 1`` pairs ``(validation, test)``, shapes ``(N_val_k, ...)`` and ``(N_test_k, ...)`` with
            ``d`` features each. Sigma for fold ``k`` is chosen on ``validation`` alone; ``test`` is only scored.
        sigmas: Candidate bandwidths; defaults to ``logspace(-1, 0, 10)``. Ties go to the first.
        fold_ids: Labels of the folds for :class:`FoldsResult` (default ``0 .. K-1``).
        batch_size: Examples per tile, as in :func:`~ganbench.metrics.parzen.parzen_log_likelihood`.
        centre_chunk: Centres per tile, as in :func:`~ganbench.metrics.parzen.parzen_log_likelihood`.

    Returns:
        A :class:`FoldsResult` with per-fold sigma, mean and standard error, the mean over folds and the
        error across folds ``std(per-fold means, ddof=0) / sqrt(K)``.

    Raises:
        ValueError: If there are no folds, a fold is not a ``(validation, test)`` pair, ``fold_ids`` has the
            wrong length, or a split is empty, not floating point, not finite or of the wrong dimensionality
            (the message names the fold and split).
        ConfigError: If ``sigmas``, ``batch_size`` or ``centre_chunk`` cannot work (a :class:`ValueError` too).
    """
    folds = list(folds)
    if not folds:
        raise ValueError("No folds given; at least one (validation, test) pair is needed.")
    ids = tuple(range(len(folds))) if fold_ids is None else tuple(int(fold) for fold in fold_ids)
    if len(ids) != len(folds):
        raise ValueError(f"fold_ids has {len(ids)} entries for {len(folds)} folds.")
    chosen, means, errors, test_sizes, validation_sizes = [], [], [], [], []
    for fold, pair in zip(ids, folds, strict=True):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"Fold {fold} must be a (validation, test) pair of tensors.")
        validation, test = pair
        try:
            sigma, _ = select_sigma(validation, centres, sigmas, batch_size, centre_chunk)
        except ConfigError:
            raise  # sigmas, batch_size or centre_chunk: the same for every fold, so no fold is named
        except ValueError as error:
            raise ValueError(f"Fold {fold}, validation split: {error}") from None
        try:
            log_likelihoods = parzen_log_likelihood(test, centres, sigma, batch_size, centre_chunk)
        except ConfigError:
            raise
        except ValueError as error:
            raise ValueError(f"Fold {fold}, test split: {error}") from None
        mean, standard_error = parzen_summary(log_likelihoods)
        chosen.append(sigma)
        means.append(mean)
        errors.append(standard_error)
        test_sizes.append(int(test.shape[0]))
        validation_sizes.append(int(validation.shape[0]))
    per_fold = torch.tensor(means, dtype=torch.float64)
    error = float(per_fold.std(correction=0)) / math.sqrt(len(means))
    return FoldsResult(
        fold_ids=ids,
        sigmas=tuple(chosen),
        means=tuple(means),
        standard_errors=tuple(errors),
        test_sizes=tuple(test_sizes),
        validation_sizes=tuple(validation_sizes),
        mean=float(per_fold.mean()),
        error=error,
        num_centres=int(centres.shape[0]),
    )
