"""Parzen-window log-likelihood of the generator, during training and in ``ganbench test`` (Table 1).

The protocol of Goodfellow et al. (2014) and its original ``parzen_ll.py`` is the default: ``n = 10,000``
generator samples are the kernel centres, the bandwidth is chosen from ``logspace(-1, 0, 10)`` by the best
mean log-likelihood on the first 1,000 validation images, and the mean log-likelihood of the whole test
split is reported with its standard error (see :mod:`ganbench.metrics.parzen` and ``docs/parzen.md``).

DDP: rank 0 evaluates and broadcasts (:mod:`ganbench.callbacks.evaluation`). The samples come from a
``torch.Generator`` seeded with ``seed`` (not from the training noise) and the splits are read whole from the
data module, not through the distributed sampler (which pads with duplicates).
"""

import logging
import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities.warnings import PossibleUserWarning

from ganbench.callbacks.evaluation import EvaluationCallback, check_can_evaluate, dataset_name
from ganbench.callbacks.evaluation import announce as announce_line
from ganbench.data.base import to_unit_range
from ganbench.errors import ConfigError
from ganbench.metrics.parzen import DEFAULT_SIGMAS, parzen_log_likelihood, parzen_summary, select_sigma

log = logging.getLogger(__name__)

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


class ParzenEvaluation(EvaluationCallback):
    """Scores the generator with a Gaussian Parzen window fitted to its samples (paper §6, Table 1).

    During ``fit`` it runs at the end of validation every ``every_n_epochs`` epochs and logs
    ``val/parzen_ll``, ``val/parzen_se`` and ``val/parzen_sigma``: the bandwidth is chosen on the first
    ``num_validation`` validation images and the log-likelihood is reported on the validation split (the
    test split is never touched while training). Under ``ganbench validate`` it runs every time. Under
    ``ganbench test`` the bandwidth is chosen the same way, the test split is scored, ``test/parzen_*`` are
    logged and rank 0 prints one line like Table 1's. A cheaper monitoring setting is another instance with
    other arguments and its own ``name``.

    Images are mapped from the data module's ``pixel_range`` to ``[0, 1]`` before scoring, so figures are on
    the paper's scale whatever range the generator works in. Samples or results that are NaN or infinite
    (a diverged generator) do not stop training: a warning is logged and the logged values are NaN.

    Args:
        num_samples: generator samples used as kernel centres, n (paper: 10,000).
        sigmas: candidate bandwidths (paper: ``logspace(-1, 0, 10)``).
        num_validation: the first this many validation images choose the bandwidth (paper, MNIST: 1,000);
            ``None`` uses the whole validation split (the paper's TFD protocol).
        num_test: the first this many images of the scored split (test under ``ganbench test``, validation
            during ``fit`` and ``validate``) are scored; ``None`` scores all of them (paper: all 10,000).
        every_n_epochs: during ``fit``, evaluate after every this many epochs' validation; 0 never does.
        seed: seed of the samples' noise, drawn from its own ``torch.Generator`` on the module's device (the
            training noise and the global RNG are untouched).
        name: log keys are ``<stage>/<name>_ll``, ``<stage>/<name>_se`` and ``<stage>/<name>_sigma``.
        batch_size: images per tile of the distance computation.
    """

    def __init__(
        self,
        num_samples: int = 10_000,
        sigmas: Sequence[float] = DEFAULT_SIGMAS,
        num_validation: int | None = 1000,
        num_test: int | None = None,
        every_n_epochs: int = 1,
        seed: int = 0,
        name: str = "parzen",
        batch_size: int = 1024,
    ) -> None:
        if num_samples < 1:
            raise ConfigError(f"ParzenEvaluation: num_samples must be >= 1, got {num_samples}.")
        for argument, value in (("num_validation", num_validation), ("num_test", num_test)):
            if value is not None and value < 1:
                raise ConfigError(f"ParzenEvaluation: {argument} must be >= 1 or None (all images), got {value}.")
        super().__init__(every_n_epochs)
        sigmas = tuple(float(sigma) for sigma in sigmas)
        if not sigmas or not all(math.isfinite(sigma) and sigma > 0 for sigma in sigmas):
            raise ConfigError(f"ParzenEvaluation: sigmas must be finite positive bandwidths, got {list(sigmas)}.")
        self.num_samples = num_samples
        self.sigmas = sigmas
        self.num_validation = num_validation
        self.num_test = num_test
        self.seed = seed
        self.name = name
        self.batch_size = batch_size
        # Every rank logs the same value, so Lightning's advice to reduce it across devices does not apply.
        keys = re.escape("It is recommended to use `self.log('") + r"(val|test)/" + re.escape(f"{name}_")
        warnings.filterwarnings("ignore", message=keys, category=PossibleUserWarning)

    # ------------------------------------------------------------------ Lightning hooks

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        check_can_score_pixels(pl_module, getattr(trainer, "datamodule", None))

    def evaluate_stage(self, pl_module: pl.LightningModule, datamodule: object, stage: str) -> ParzenResult:
        return self.evaluate(pl_module, datamodule, stage)

    def report(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, result: ParzenResult, split: str, announce: bool
    ) -> None:
        prefix = f"{split}/{self.name}"
        for key, value in (("ll", result.mean), ("se", result.standard_error), ("sigma", result.sigma)):
            pl_module.log(f"{prefix}_{key}", torch.tensor(value, dtype=torch.float64), sync_dist=False)
        if not trainer.is_global_zero:
            return
        line = result.describe(dataset_name(trainer.datamodule))
        if result.failure is not None:
            log.warning(
                "ParzenEvaluation failed at epoch %d, step %d: %s", trainer.current_epoch, trainer.global_step, line
            )
        if announce:
            announce_line(trainer, line)

    def headline(self, result: ParzenResult) -> float:
        return result.mean

    def entries(self, result: ParzenResult, stage: str) -> dict[str, dict[str, Any]]:
        prefix = f"{stage}/{self.name}"
        protocol = {
            "method": "Gaussian Parzen window on the generator's samples, pixels in [0, 1] (paper section 6)",
            "num_samples": result.num_samples,
            "sigma": result.sigma,
            "sigma_chosen_on": f"{result.num_validation} validation images",
            "sigmas_tried": list(self.sigmas),
            "scored": f"{result.num_scored} images of the {SPLIT_NAMES.get(result.split, result.split)} split",
            "noise_seed": self.seed,
        }
        log_likelihood = {"value": _finite(result.mean), "standard_error": _finite(result.standard_error)}
        if result.failure is not None:
            log_likelihood["failure"] = result.failure
        return {
            f"{prefix}_ll": {**log_likelihood, "unit": "nats", "protocol": protocol},
            f"{prefix}_se": {"value": _finite(result.standard_error)},
            f"{prefix}_sigma": {"value": _finite(result.sigma)},
        }

    # ------------------------------------------------------------------ the protocol

    def evaluate(
        self, pl_module: pl.LightningModule, datamodule: pl.LightningDataModule, split: str = "test"
    ) -> ParzenResult:
        """Runs the protocol once, outside any Trainer as well: ``ParzenEvaluation().evaluate(gan, data)``.

        Args:
            pl_module: a module with ``sample(n, generator=...)`` returning ``(n, C, H, W)`` in the data's range.
            datamodule: a module with ``split_images(split, limit)`` (every :class:`ImageDataModule`).
            split: the split scored, ``val`` or ``test``; the bandwidth is always chosen on ``val``.

        Returns:
            The :class:`ParzenResult`; ``failure`` says why when the samples or the result are not finite.
        """
        check_can_score_pixels(pl_module, datamodule)
        if split not in SPLIT_NAMES:
            raise ConfigError(f"ParzenEvaluation: split must be 'val' or 'test', got {split!r}.")
        device = pl_module.device
        samples = pl_module.sample(self.num_samples, generator=torch.Generator(device).manual_seed(self.seed))
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


def check_can_score_pixels(pl_module: pl.LightningModule, datamodule: object) -> None:
    """Raises :class:`ConfigError` unless the module samples and the data module hands out whole splits of pixels."""
    check_can_evaluate("ParzenEvaluation", pl_module, datamodule)
    if hasattr(datamodule, "pixel_range") and datamodule.pixel_range is None:
        raise ConfigError(
            f"ParzenEvaluation scores pixels, but {type(datamodule).__name__} has pixel_range None (values that "
            "are not pixels, e.g. GCN preprocessing); use its pixel preprocessing or remove the callback."
        )


def _finite(value: float) -> float | None:
    """``value``, or ``None`` (JSON's null) when it is NaN or infinite."""
    return value if math.isfinite(value) else None


def _failed(split: str, reason: str, counts: dict[str, int]) -> ParzenResult:
    nan = float("nan")
    return ParzenResult(split, nan, nan, nan, failure=reason, **counts)
