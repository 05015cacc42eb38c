"""FID (and optionally KID and the Inception Score) of the generator, during training and in ``ganbench test``.

Defaults follow the common protocol: 10,000 generated images against the whole test split, Inception-v3 pool3
features with TF1's bilinear resize (``docs/fid.md``); the "50k vs train" protocol is
``num_fake=50000, real_split=train``. A domain extractor (``ganbench.nets.ClassifierFeatures``) gives MNIST-FID.

DDP. Rank 0 evaluates and broadcasts its result; every rank logs that same value, so the figure is the one a
single device gives for rank 0's weights (the weights a checkpoint holds), whatever the number of devices.
Evaluating on every rank would not do: the GAN calls its networks outside DDP's forward, so BatchNorm running
statistics are not synchronised and the ranks' generators differ slightly in eval mode. The images come from
``pl_module.sample`` with a ``torch.Generator`` seeded with ``seed`` (not the training noise) and the real split is
read whole from the data module, not through the distributed sampler (which pads with duplicates). The broadcast
is joined by every rank at the same hook, and an error on rank 0 is re-raised on every rank, so no rank is left
waiting in it. The other ranks idle meanwhile (no speed-up from more devices); only rank 0 touches the cache.
"""

import math
import re
import warnings
from dataclasses import asdict
from typing import Any, Literal

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities import rank_zero_info
from lightning.pytorch.utilities.warnings import PossibleUserWarning
from torch import nn

from ganbench.callbacks.evaluation import EvaluationCallback, check_can_evaluate, dataset_name, warn_failed_evaluation
from ganbench.callbacks.evaluation import announce as announce_line
from ganbench.errors import ConfigError
from ganbench.metrics.fid import FIDEvaluator, FIDResult, check_sample_sizes


class FIDEvaluation(EvaluationCallback):
    """Logs ``<stage>/fid`` (and ``<stage>/kid_mean``, ``<stage>/kid_std``, ``<stage>/inception_score``).

    During ``fit`` it runs at the end of validation every ``every_n_epochs`` epochs and logs ``val/*``; under
    ``ganbench validate`` every time. Under ``ganbench test`` it logs ``test/*`` and rank 0 prints one line with
    the value and its protocol. Generated images are read in the data module's ``pixel_range``. A diverged
    generator (NaN or infinite images) or a NaN result does not stop training: a warning and NaN are logged.

    Args:
        feature_extractor: images -> ``(B, d)`` features; ``None``: the FID Inception-v3 (local weights needed).
        inception_weights_path: the Inception weights file (else ``$GANBENCH_INCEPTION_WEIGHTS`` or torch hub's
            cache; see ``docs/fid.md``).
        num_fake: generated images (default 10,000; 50,000 for the "50k" protocol).
        num_real: the first this many images of ``real_split``; ``None``: all of them.
        real_split: the real images: ``test`` (default), ``train`` or ``val``.
        every_n_epochs: during ``fit``, evaluate after every this many epochs' validation; 0 never does.
        resize: Inception's resize to 299: ``tf1-bilinear`` (TF FID, torch-fidelity) or ``antialias-bilinear``.
        kid: also log KID (``kid_subsets`` subsets of ``kid_subset_size`` images).
        kid_subsets: KID subsets.
        kid_subset_size: images per KID subset.
        inception_score: also log the Inception Score (class logits of the extractor).
        inception_score_splits: IS splits.
        seed: seed of the generated images' noise (the same images at every evaluation; training noise and the
            global RNG untouched).
        batch_size: images per generator and extractor pass.
        cache_dir: folder of the real-statistics cache (``None``: ``~/.cache/ganbench/fid``).
        use_cache: read and write that cache.
        name: log keys are ``<stage>/<name>`` and ``<stage>/kid_mean`` ... (change it to run two protocols).
    """

    def __init__(
        self,
        feature_extractor: nn.Module | None = None,
        inception_weights_path: str | None = None,
        num_fake: int = 10_000,
        num_real: int | None = None,
        real_split: Literal["train", "val", "test"] = "test",
        every_n_epochs: int = 1,
        resize: Literal["tf1-bilinear", "antialias-bilinear"] = "tf1-bilinear",
        kid: bool = False,
        kid_subsets: int = 100,
        kid_subset_size: int = 1000,
        inception_score: bool = False,
        inception_score_splits: int = 10,
        seed: int = 0,
        batch_size: int = 500,
        cache_dir: str | None = None,
        use_cache: bool = True,
        name: str = "fid",
    ) -> None:
        if real_split not in ("train", "val", "test"):
            raise ConfigError(f"FIDEvaluation: real_split must be train, val or test, got {real_split!r}.")
        super().__init__(every_n_epochs)
        if num_real is not None and num_real < 2:
            raise ConfigError(f"FIDEvaluation: num_real must be >= 2 or None (the whole split), got {num_real}.")
        if num_fake < 2:
            raise ConfigError(f"FIDEvaluation: num_fake must be >= 2, got {num_fake}.")
        # Built in setup(): a missing weights file is then one clear error when the run starts, not a
        # traceback from inside the config parser.
        self.evaluator_options = dict(
            feature_extractor=feature_extractor,
            inception_weights_path=inception_weights_path,
            resize=resize,
            kid=kid,
            kid_subsets=kid_subsets,
            kid_subset_size=kid_subset_size,
            inception_score=inception_score,
            inception_score_splits=inception_score_splits,
            batch_size=batch_size,
            cache_dir=cache_dir,
            use_cache=use_cache,
            seed=seed,
        )
        self._evaluator: FIDEvaluator | None = None
        self.num_fake = num_fake
        self.num_real = num_real
        self.real_split = real_split
        self.seed = seed
        self.batch_size = batch_size
        self.name = name
        # Every rank logs the same value, so Lightning's advice to reduce it across devices does not apply.
        keys = re.escape("It is recommended to use `self.log('") + r"(val|test)/(" + re.escape(name) + "|kid_|incep)"
        warnings.filterwarnings("ignore", message=keys, category=PossibleUserWarning)

    @property
    def evaluator(self) -> FIDEvaluator:
        """The :class:`FIDEvaluator` (feature extractor, torchmetrics metrics, cache), built on first use."""
        if self._evaluator is None:
            self._evaluator = FIDEvaluator(**self.evaluator_options)
        return self._evaluator

    # ------------------------------------------------------------------ Lightning hooks

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        datamodule = getattr(trainer, "datamodule", None)
        check_can_evaluate("FIDEvaluation", pl_module, datamodule)
        available = len(datamodule.split_images(self.real_split))
        if self.num_real is not None and self.num_real > available:
            raise ConfigError(
                f"FIDEvaluation: num_real={self.num_real} but the {self.real_split} split has {available} images."
            )
        if self.evaluator.num_features is not None:
            count = available if self.num_real is None else self.num_real
            check_sample_sizes(count, self.num_fake, self.evaluator.num_features, _subset(self.evaluator))

    def evaluate_stage(self, pl_module: pl.LightningModule, datamodule: object, stage: str) -> FIDResult:
        return self.evaluate(pl_module, datamodule)

    def report(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, result: FIDResult, stage: str, announce: bool
    ) -> None:
        values = {self.name: result.fid, "kid_mean": result.kid_mean, "kid_std": result.kid_std}
        values["inception_score"] = result.inception_score
        for key, value in values.items():
            if value is not None:
                pl_module.log(f"{stage}/{key}", torch.tensor(value, dtype=torch.float64), sync_dist=False)
        if not trainer.is_global_zero:
            return
        line = result.describe(f"{stage}/{self.name}")
        if result.failure is not None:
            warn_failed_evaluation("FIDEvaluation", trainer, result.failure)
        if announce:
            announce_line(trainer, line)

    def headline(self, result: FIDResult) -> float:
        return result.fid

    def entries(self, result: FIDResult, stage: str) -> dict[str, dict[str, Any]]:
        protocol = {**asdict(result.protocol), "noise_seed": self.seed, "real_split": self.real_split}
        values = {
            self.name: (result.fid, None),
            "kid_mean": (result.kid_mean, result.kid_std),
            "inception_score": (result.inception_score, result.inception_score_std),
        }
        found = {}
        for key, (value, spread) in values.items():
            if value is None:
                continue
            entry: dict[str, Any] = {"value": value if math.isfinite(value) else None, "protocol": protocol}
            if spread is not None:
                entry["std"] = spread
            if result.failure is not None:
                entry["failure"] = result.failure
            found[f"{stage}/{key}"] = entry
        return found

    # ------------------------------------------------------------------ the protocol

    def evaluate(self, pl_module: pl.LightningModule, datamodule: object, write_cache: bool = True) -> FIDResult:
        """Runs the protocol once, outside a Trainer as well: ``FIDEvaluation(...).evaluate(gan, data)``.

        Args:
            pl_module: a module with ``sample(n, generator=...)`` returning ``(n, C, H, W)`` in the data's range.
            datamodule: a module with ``split_images(split, limit)`` and ``pixel_range``.
            write_cache: write newly computed real statistics to the cache.
        """
        check_can_evaluate("FIDEvaluation", pl_module, datamodule)
        pixel_range = tuple(getattr(datamodule, "pixel_range", (0.0, 1.0)))
        self.evaluator.to(pl_module.device)
        real = datamodule.split_images(self.real_split, self.num_real)
        info = self.evaluator.set_real(real, pixel_range, dataset_name(datamodule), self.real_split, write_cache)
        if info.status != "memory":
            where = f" ({info.path})" if info.path is not None else ""
            rank_zero_info(f"FID real statistics {info.status}: {info.key.name}{where}")
        noise = torch.Generator(pl_module.device).manual_seed(self.seed)
        for start in range(0, self.num_fake, self.batch_size):
            size = min(self.batch_size, self.num_fake - start)
            self.evaluator.update(pl_module.sample(size, generator=noise), pixel_range)
        return self.evaluator.compute()


def _subset(evaluator: FIDEvaluator) -> int | None:
    return evaluator.kid_options[1] if evaluator.kid_options is not None else None
