"""The Parzen-window protocol of Goodfellow et al. (2014), Table 1, run once: sample, choose sigma, score a split.

The protocol of the paper and its original ``parzen_ll.py`` is the default: ``n = 10,000`` generator samples are
the kernel centres, the bandwidth is chosen from ``logspace(-1, 0, 10)`` by the best mean log-likelihood on the
first 1,000 validation images, and the mean log-likelihood of the whole test split is reported with its standard
error (the computation is :mod:`ganbench.metrics.parzen`'s; see ``docs/parzen.md``). Images are mapped from the
data's ``pixel_range`` to ``[0, 1]`` first, so figures are on the paper's scale.

:class:`ganbench.callbacks.ParzenEvaluation` runs it during training and in ``ganbench test``, and reports it.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from ganbench.data.base import to_unit_range
from ganbench.errors import ConfigError
from ganbench.metrics.parzen import DEFAULT_SIGMAS, parzen_log_likelihood, parzen_summary, select_sigma

#: The splits the protocol scores, with the name a report gives them.
SPLIT_NAMES = {"val": "validation", "test": "test"}


@dataclass(frozen=True)
class ParzenResult:
    """One Parzen-window evaluation.

    Attributes:
        split: the scored split, ``val`` or ``test``.
        mean: mean log-likelihood in nats (NaN when the evaluation failed).
        standard_error: ``std / sqrt(N)`` of the per-image log-likelihoods (population std).
        sigma: the bandwidth chosen on the validation images.
        num_samples: generator samples used as centres (n).
        num_validation: validation images the bandwidth was chosen on.
        num_scored: images of ``split`` that were scored (N).
        validation_means: mean validation log-likelihood for every candidate bandwidth.
        failure: why the evaluation failed, or ``None``.
    """

    split: str
    mean: float
    standard_error: float
    sigma: float
    num_samples: int
    num_validation: int
    num_scored: int
    validation_means: tuple[float, ...] = ()
    failure: str | None = None

    def describe(self, dataset: str) -> str:
        """The Table-1 style line, e.g. ``Parzen log-likelihood on MNIST test (10000 images): 225.31 +- ...``."""
        split = SPLIT_NAMES.get(self.split, self.split)
        where = f"Parzen log-likelihood on {dataset} {split} ({self.num_scored} images)"
        if self.failure is not None:
            return f"{where}: FAILED ({self.failure}; n = {self.num_samples} samples)"
        return (
            f"{where}: {self.mean:.2f} +- {self.standard_error:.2f} nats (sigma {self.sigma:.4f} chosen on "
            f"{self.num_validation} validation images, n = {self.num_samples} samples)"
        )


@dataclass(frozen=True)
class ParzenProtocol:
    """The protocol's settings, and :meth:`evaluate` to run it: ``ParzenProtocol().evaluate(gan, data)``.

    Args:
        num_samples: generator samples used as kernel centres, n (paper: 10,000).
        sigmas: candidate bandwidths (paper: ``logspace(-1, 0, 10)``).
        num_validation: the first this many validation images choose the bandwidth (paper, MNIST: 1,000);
            ``None`` uses the whole validation split (the paper's TFD protocol).
        num_test: the first this many images of the scored split are scored; ``None`` scores all of them.
        seed: seed of the samples' noise, drawn from its own ``torch.Generator`` on the module's device (the
            training noise and the global RNG are untouched).
        batch_size: images per tile of the distance computation.
        owner: who the error messages name (the callback that runs the protocol).

    Raises:
        ConfigError: ``num_samples``, ``num_validation`` or ``num_test`` below 1, or a bandwidth that is not a
            finite positive number.
    """

    num_samples: int = 10_000
    sigmas: Sequence[float] = DEFAULT_SIGMAS
    num_validation: int | None = 1000
    num_test: int | None = None
    seed: int = 0
    batch_size: int = 1024
    owner: str = field(default="ParzenProtocol", compare=False)

    def __post_init__(self) -> None:
        if self.num_samples < 1:
            raise ConfigError(f"{self.owner}: num_samples must be >= 1, got {self.num_samples}.")
        for argument, value in (("num_validation", self.num_validation), ("num_test", self.num_test)):
            if value is not None and value < 1:
                raise ConfigError(f"{self.owner}: {argument} must be >= 1 or None (all images), got {value}.")
        sigmas = tuple(float(sigma) for sigma in self.sigmas)
        if not sigmas or not all(math.isfinite(sigma) and sigma > 0 for sigma in sigmas):
            raise ConfigError(f"{self.owner}: sigmas must be finite positive bandwidths, got {list(sigmas)}.")
        object.__setattr__(self, "sigmas", sigmas)

    def evaluate(self, sampler: Any, datamodule: Any, split: str = "test") -> ParzenResult:
        """Runs the protocol once.

        Args:
            sampler: has ``device`` and ``sample(n, generator=...)`` returning ``(n, C, H, W)`` in the data's
                range, such as :class:`ganbench.GAN`.
            datamodule: has ``split_images(split, limit)`` (every :class:`ganbench.data.ImageDataModule`), and
                ``pixel_range`` unless its images are in ``[0, 1]``.
            split: the split scored, ``val`` or ``test``; the bandwidth is always chosen on ``val``.

        Returns:
            The :class:`ParzenResult`; ``failure`` says why when the samples or the result are not finite.
        """
        check_pixel_data(datamodule, self.owner)
        if split not in SPLIT_NAMES:
            raise ConfigError(f"{self.owner}: split must be 'val' or 'test', got {split!r}.")
        device = sampler.device
        samples = sampler.sample(self.num_samples, generator=torch.Generator(device).manual_seed(self.seed))
        validation = datamodule.split_images("val", self.num_validation).to(device)
        scored = datamodule.split_images(split, self.num_test).to(device)
        counts = dict(num_samples=len(samples), num_validation=len(validation), num_scored=len(scored))
        if not bool(torch.isfinite(samples).all()):
            return _failed(split, "the generator's samples contain NaN or infinite values", counts)
        pixel_range = getattr(datamodule, "pixel_range", (0.0, 1.0))
        samples, validation, scored = (to_unit_range(images, pixel_range) for images in (samples, validation, scored))
        sigma, validation_means = select_sigma(validation, samples, self.sigmas, self.batch_size)
        mean, standard_error = parzen_summary(parzen_log_likelihood(scored, samples, sigma, self.batch_size))
        if not (math.isfinite(mean) and math.isfinite(standard_error)):
            return _failed(split, f"the log-likelihood is not finite ({mean} +- {standard_error})", counts)
        means = tuple(float(value) for value in validation_means)
        return ParzenResult(split, mean, standard_error, sigma, validation_means=means, **counts)


def check_pixel_data(datamodule: object, owner: str = "ParzenProtocol") -> None:
    """Raises :class:`ConfigError` when the data module's values are not pixels (``pixel_range`` None).

    Args:
        datamodule: the data module to be scored.
        owner: who the message names.
    """
    if hasattr(datamodule, "pixel_range") and datamodule.pixel_range is None:
        raise ConfigError(
            f"{owner} scores pixels, but {type(datamodule).__name__} has pixel_range None (values that "
            "are not pixels, e.g. GCN preprocessing); use its pixel preprocessing or remove the callback."
        )


def _failed(split: str, reason: str, counts: dict[str, int]) -> ParzenResult:
    nan = float("nan")
    return ParzenResult(split, nan, nan, nan, failure=reason, **counts)
