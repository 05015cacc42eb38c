"""Parzen-window log-likelihood of the generator, during training and in ``ganbench test`` (Table 1).

This callback schedules :class:`ganbench.metrics.parzen_protocol.ParzenProtocol` (the paper's protocol: samples,
bandwidth chosen on validation images, a split scored) and reports its :class:`ParzenResult`: log keys, the
Table-1 line, ``results.json`` entries.

DDP: rank 0 evaluates and broadcasts (:mod:`ganbench.callbacks.evaluation`). The samples come from a
``torch.Generator`` seeded with ``seed`` (not from the training noise) and the splits are read whole from the
data module, not through the distributed sampler (which pads with duplicates).
"""

import math
import re
import warnings
from collections.abc import Sequence
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities.warnings import PossibleUserWarning

from ganbench.callbacks.evaluation import EvaluationCallback, check_can_evaluate, dataset_name, warn_failed_evaluation
from ganbench.callbacks.evaluation import announce as announce_line
from ganbench.metrics.parzen import DEFAULT_SIGMAS
from ganbench.metrics.parzen_protocol import SPLIT_NAMES, ParzenProtocol, ParzenResult, check_pixel_data

__all__ = ["ParzenEvaluation", "ParzenResult", "check_can_score_pixels"]

_OWNER = "ParzenEvaluation"  # named in its error messages and warnings


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
    (a diverged generator) do not stop training: a warning names the epoch and step, and the logged values are NaN.

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
        protocol = ParzenProtocol(num_samples, sigmas, num_validation, num_test, seed, batch_size, owner=_OWNER)
        super().__init__(every_n_epochs)
        self.num_samples = num_samples
        self.sigmas = protocol.sigmas
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
            warn_failed_evaluation(_OWNER, trainer, result.failure)
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

    @property
    def protocol(self) -> ParzenProtocol:
        """The :class:`ParzenProtocol` of this callback's current settings."""
        return ParzenProtocol(
            self.num_samples, self.sigmas, self.num_validation, self.num_test, self.seed, self.batch_size, owner=_OWNER
        )

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
        check_can_evaluate(_OWNER, pl_module, datamodule)
        return self.protocol.evaluate(pl_module, datamodule, split)


def check_can_score_pixels(pl_module: pl.LightningModule, datamodule: object) -> None:
    """Raises :class:`ConfigError` unless the module samples and the data module hands out whole splits of pixels."""
    check_can_evaluate(_OWNER, pl_module, datamodule)
    check_pixel_data(datamodule, _OWNER)


def _finite(value: float) -> float | None:
    """``value``, or ``None`` (JSON's null) when it is NaN or infinite."""
    return value if math.isfinite(value) else None
