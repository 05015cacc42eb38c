r"""FID (and optionally KID and the Inception Score) around torchmetrics, set up to match torch-fidelity / TF.

.. math::

    \mathrm{FID} = \lVert\mu_r - \mu_g\rVert^2 + \mathrm{Tr}\big(\Sigma_r + \Sigma_g - 2(\Sigma_r\Sigma_g)^{1/2}\big)

(Heusel et al. 2017), with :math:`\mu, \Sigma` the mean and unbiased covariance of the features of real and
generated images. What ganbench fixes on top of torchmetrics' ``FrechetInceptionDistance``:

- **Resize**: ``antialias=False`` (TF1's bilinear resize to 299, as TF FID and torch-fidelity) unless
  ``resize="antialias-bilinear"``; torchmetrics' default is antialiased since 1.8, which changes the numbers.
- **Precision**: torchmetrics accumulates the sums in float64 but casts the FID back to the extractor's output
  dtype (float32 for Inception); its ``set_dtype(float64)`` would also run Inception in float64, unlike TF. Here
  the network runs in float32 as in TF and its features are cast to float64 before they reach torchmetrics, so
  statistics, the matrix square root (eigenvalues of :math:`\Sigma_r\Sigma_g`) and the result are float64.
- **One pass**: the extractor runs once per batch; FID, KID and IS share its features (torchmetrics metrics get
  them through an identity "feature" module).
- **Offline**: Inception weights come from a local file (:mod:`ganbench.metrics.features`), never a download.
- **Cached real statistics** (:mod:`ganbench.metrics.fid_cache`) and a :class:`FIDProtocol` with every number.
"""

import logging
import math
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.inception import InceptionScore
from torchmetrics.image.kid import KernelInceptionDistance

from ganbench.errors import ConfigError
from ganbench.metrics.features import (
    InceptionFeatures,
    describe_extractor,
    extractor_fingerprint,
    input_description,
    prepare_images,
    quantize,
    resize_description,
)
from ganbench.metrics.fid_cache import (
    RealStatisticsInfo,
    StatisticsKey,
    default_cache_dir,
    images_digest,
    load_entry,
    save_entry,
)
from ganbench.metrics.fid_protocol import IMPLEMENTATION, FIDProtocol, FIDResult

__all__ = ["FIDEvaluator", "FIDProtocol", "FIDResult", "PrecomputedFeatures", "check_sample_sizes", "frechet_distance"]

log = logging.getLogger(__name__)


class PrecomputedFeatures(nn.Module):
    """Identity "feature extractor" handing precomputed features ``(B, d)`` to torchmetrics metrics."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, features: Tensor) -> Tensor:
        return features


class FIDEvaluator(nn.Module):
    """FID (+ KID, IS) of generated images against cached real statistics, with its protocol.

    Usage: ``set_real(real_images, pixel_range, data="MNIST", split="test")`` once (loads or computes and caches
    the statistics), then ``update(fake_images, pixel_range)`` per batch and ``compute()`` (which resets the
    generated side). No collective is ever called: every DDP rank can run it on the same images.

    Args:
        feature_extractor: ``nn.Module`` images -> ``(B, d)``; ``None`` is the FID Inception-v3 (2048 pool3).
        inception_weights_path: local Inception weights file (see :func:`find_inception_weights`).
        resize: Inception's resize to 299: ``tf1-bilinear`` (TF FID / torch-fidelity) or ``antialias-bilinear``.
        kid: also compute the Kernel Inception Distance (polynomial kernel, subsets).
        kid_subsets: the number of KID's subsets (torch-fidelity: 100).
        kid_subset_size: the images in each KID subset (torch-fidelity: 1000).
        inception_score: also compute the Inception Score (needs ``features_and_logits`` on the extractor).
        inception_score_splits: IS splits (10, as in the original).
        batch_size: images per extractor pass.
        cache_dir: folder of the real-statistics cache; ``None``: :func:`default_cache_dir`.
        use_cache: read and write that cache.
        seed: seed of KID's subsets and IS's shuffle (the global RNG is left untouched).
        range_tolerance: images may leave the data's range by this fraction of its width (then clipped).
    """

    def __init__(
        self,
        feature_extractor: nn.Module | None = None,
        inception_weights_path: str | None = None,
        resize: str = "tf1-bilinear",
        kid: bool = False,
        kid_subsets: int = 100,
        kid_subset_size: int = 1000,
        inception_score: bool = False,
        inception_score_splits: int = 10,
        batch_size: int = 500,
        cache_dir: str | Path | None = None,
        use_cache: bool = True,
        seed: int = 0,
        range_tolerance: float = 0.01,
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}.")
        self.extractor = (
            feature_extractor if feature_extractor is not None else InceptionFeatures(inception_weights_path, resize)
        )
        self.extractor.requires_grad_(False)
        self.extractor.eval()
        if inception_score and not callable(getattr(self.extractor, "features_and_logits", None)):
            raise ConfigError(
                f"inception_score needs class logits: {type(self.extractor).__name__} has no "
                "features_and_logits(images); use the Inception extractor or ganbench.nets.ClassifierFeatures."
            )
        self.num_features: int | None = _declared_num_features(self.extractor)
        self.resize = resize
        self.batch_size = batch_size
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
        self.use_cache = use_cache
        self.seed = seed
        self.range_tolerance = range_tolerance
        self.kid_options = (kid_subsets, kid_subset_size) if kid else None
        self.inception_score_splits = inception_score_splits if inception_score else None
        self.fid: FrechetInceptionDistance | None = None
        self.kid: KernelInceptionDistance | None = None
        self.inception_score: InceptionScore | None = None
        if self.num_features is not None:
            self._build_metrics(self.num_features)
        self.real_info: RealStatisticsInfo | None = None
        self._num_fake = 0
        self._failure: str | None = None

    def _build_metrics(self, num_features: int) -> None:
        """The torchmetrics metrics, fed precomputed float64 features of dimension ``num_features``."""
        self.num_features = num_features
        options = dict(sync_on_compute=False, compute_with_cache=False)  # no collective, no stale cached value
        identity = PrecomputedFeatures(num_features)
        self.fid = FrechetInceptionDistance(feature=identity, reset_real_features=False, **options)
        with warnings.catch_warnings():  # "will save all extracted features in buffer": that is the point
            warnings.simplefilter("ignore", UserWarning)
            if self.kid_options is not None:
                subsets, subset_size = self.kid_options
                self.kid = KernelInceptionDistance(identity, subsets, subset_size, reset_real_features=False, **options)
            if self.inception_score_splits is not None:
                self.inception_score = InceptionScore(identity, self.inception_score_splits, **options)
        self.to(_device_of(self.extractor, torch.device("cpu")))

    # ------------------------------------------------------------------ features

    @torch.inference_mode()
    def extract(self, images: Tensor, pixel_range: Sequence[float], name: str) -> tuple[Tensor, Tensor | None]:
        """Prepares a batch and returns float64 features ``(B, d)`` and, when IS is on, logits ``(B, K)``."""
        prepared = prepare_images(images, pixel_range, self.extractor, self.range_tolerance, name)
        device = _device_of(self.extractor, images.device)
        prepared = prepared.to(device)
        if self.inception_score_splits is not None:
            features, logits = self.extractor.features_and_logits(prepared)
            return features.double(), logits.double()
        return self.extractor(prepared).double(), None

    # ------------------------------------------------------------------ real side

    def statistics_key(self, levels: Tensor, data: str, split: str, pixel_range: Sequence[float]) -> StatisticsKey:
        """The cache key of real statistics of uint8 ``levels`` ``(N, C, H, W)``."""
        return StatisticsKey(
            {
                "data": data,
                "split": split,
                "num_real": len(levels),
                "images_sha256": images_digest(levels),
                "pixel_range": [float(value) for value in pixel_range],
                "extractor": type(self.extractor).__name__,
                "extractor_description": describe_extractor(self.extractor),
                "extractor_weights": extractor_fingerprint(self.extractor),
                "input": input_description(self.extractor),
                "quantization": "round-8bit",
            }
        )

    @torch.inference_mode()
    def set_real(
        self, images: Tensor, pixel_range: Sequence[float], data: str = "data", split: str = "test", write: bool = True
    ) -> RealStatisticsInfo:
        """Loads the real statistics of ``images`` from the cache, or computes them (and caches them when ``write``).

        Args:
            images: real images ``(N, C, H, W)`` in ``pixel_range``.
            pixel_range: ``(low, high)`` of the data.
            data: the data set's name (in the key and the protocol).
            split: the split the images come from.
            write: write a computed entry to the cache (only DDP rank 0 should).
        """
        levels = quantize(images, pixel_range, self.range_tolerance, "real images")
        if len(images) < 2:
            raise ConfigError(f"FID needs at least 2 real images, got {len(images)}.")
        low, high = (float(value) for value in pixel_range)
        key = self.statistics_key(levels, data, split, (low, high))
        if self.real_info is not None and self.real_info.key == key:
            self.real_info.status = "memory"
            return self.real_info
        path = self.cache_dir / f"{key.name}.pt" if self.use_cache else None
        entry = load_entry(path, key, self.kid_options is not None) if path is not None else None
        status = "cache"
        if entry is None:
            entry, status = self._compute_real(images, (low, high)), "computed"
            if path is not None and write:
                save_entry(path, key, entry)
        self._load_real(entry)
        self.real_info = RealStatisticsInfo(key, path, status, f"{data} {split}", int(entry["n"]))
        log.info("FID real statistics (%s): key %s, %s", status, key.name, path)
        return self.real_info

    def _compute_real(self, images: Tensor, pixel_range: tuple[float, float]) -> dict:
        """Mean, covariance and torchmetrics' accumulators of the real features, on the CPU in float64."""
        count, total, outer, kept = len(images), 0.0, 0.0, []
        for batch in _batches(images, self.batch_size):
            features, _ = self.extract(batch, pixel_range, "real images")
            features = features.cpu()
            total = total + features.sum(dim=0)
            outer = outer + features.T @ features
            if self.kid_options is not None:
                kept.append(features.float())
        mean = total / count
        cov = (outer - count * torch.outer(mean, mean)) / (count - 1)  # torchmetrics' formula, float64
        entry = {"n": count, "mean": mean, "cov": cov, "features_sum": total, "features_outer_sum": outer}
        entry["features"] = torch.cat(kept) if kept else None
        return entry

    def _load_real(self, entry: dict) -> None:
        if self.fid is None:
            self._build_metrics(int(entry["mean"].shape[0]))
        device = self.fid.real_features_sum.device
        self.fid.real_features_sum = entry["features_sum"].to(device, torch.float64)
        self.fid.real_features_cov_sum = entry["features_outer_sum"].to(device, torch.float64)
        self.fid.real_features_num_samples = torch.tensor(int(entry["n"]), device=device)
        if self.kid is not None:
            self.kid.real_features = [entry["features"].to(device, torch.float64)]

    # ------------------------------------------------------------------ generated side

    @torch.inference_mode()
    def update(self, images: Tensor, pixel_range: Sequence[float]) -> None:
        """Adds a batch of generated images ``(B, C, H, W)`` in ``pixel_range``; non-finite ones fail the run."""
        if self.fid is None:
            raise ConfigError("FIDEvaluator.update: call set_real(real_images, ...) first.")
        self._num_fake += len(images)
        if self._failure is not None:
            return
        if not bool(torch.isfinite(images).all()):
            self._failure = "the generated images contain NaN or infinite values"
            return
        for batch in _batches(images, self.batch_size):
            features, logits = self.extract(batch, pixel_range, "generated images")
            self.fid.update(features, real=False)
            if self.kid is not None:
                self.kid.update(features, real=False)
            if self.inception_score is not None:
                self.inception_score.update(logits)

    def protocol(self, num_fake: int | None = None) -> FIDProtocol:
        info = self.real_info
        return FIDProtocol(
            implementation=IMPLEMENTATION,
            feature_extractor=describe_extractor(self.extractor),
            real_data=info.data if info else "?",
            num_real=info.num_real if info else 0,
            num_fake=self._num_fake if num_fake is None else num_fake,
            resize=resize_description(self.extractor),
            statistics_key=info.key.name if info else "",
        )

    @torch.inference_mode()
    def compute(self) -> FIDResult:
        """FID (and KID, IS) of the generated images so far against the real statistics; then resets them.

        Raises:
            ConfigError: no real statistics, or too few images (fewer than 2, or not more than the feature
                dimension, which makes a covariance singular, or fewer than KID's subset size).
        """
        if self.real_info is None:
            raise ConfigError("FIDEvaluator.compute: call set_real(real_images, ...) first.")
        subset_size = self.kid_options[1] if self.kid_options is not None else None
        check_sample_sizes(self.real_info.num_real, self._num_fake, self.num_features, subset_size)
        protocol = self.protocol()
        try:
            if self._failure is not None:
                return _failed(protocol, self._failure, self)
            values = self._compute_values()
        finally:
            self.reset_generated()
        if not math.isfinite(values["fid"]):
            return _failed(protocol, f"the FID is not finite ({values['fid']})", self)
        return FIDResult(protocol=protocol, **values)

    def _compute_values(self) -> dict:
        values: dict = {"fid": float(self.fid.compute())}
        with torch.random.fork_rng(devices=[]):  # KID subsets, IS shuffle: reproducible, global RNG untouched
            torch.manual_seed(self.seed)
            if self.kid is not None:
                mean, std = self.kid.compute()
                values.update(kid_mean=float(mean), kid_std=float(std))
            if self.inception_score is not None:
                mean, std = self.inception_score.compute()
                values.update(inception_score=float(mean), inception_score_std=float(std))
        return values

    def reset_generated(self) -> None:
        """Forgets the generated images (the real statistics stay)."""
        for metric in (self.fid, self.kid, self.inception_score):
            if metric is not None:
                metric.reset()
        self._num_fake = 0
        self._failure = None


def check_sample_sizes(num_real: int, num_fake: int, num_features: int, kid_subset_size: int | None = None) -> None:
    """Raises :class:`ConfigError` unless both sets have more images than features (and than KID's subsets)."""
    for name, count in (("real", num_real), ("generated", num_fake)):
        if count < 2:
            raise ConfigError(f"FID needs at least 2 {name} images, got {count}.")
        if count <= num_features:
            raise ConfigError(
                f"FID with {num_features} features needs more than {num_features} {name} images, got {count}: the "
                f"covariance of n samples has rank <= n - 1, so it would be singular and the FID meaningless."
            )
        if kid_subset_size is not None and count < kid_subset_size:
            raise ConfigError(f"KID's kid_subset_size ({kid_subset_size}) exceeds the {count} {name} images.")


def frechet_distance(
    real_images: Tensor,
    fake_images: Tensor,
    pixel_range: Sequence[float] = (0.0, 1.0),
    feature_extractor: nn.Module | None = None,
    **options: Any,
) -> FIDResult:
    """One-shot FID of two image sets ``(N, C, H, W)`` in ``pixel_range`` (no cache unless ``cache_dir`` is given).

    Args:
        real_images: the real set.
        fake_images: the generated set.
        pixel_range: their ``(low, high)``.
        feature_extractor: as in :class:`FIDEvaluator` (``None``: Inception).
        **options: further :class:`FIDEvaluator` arguments.
    """
    options.setdefault("use_cache", "cache_dir" in options)
    evaluator = FIDEvaluator(feature_extractor, **options)
    evaluator.set_real(real_images, pixel_range)
    evaluator.update(fake_images, pixel_range)
    return evaluator.compute()


def _failed(protocol: FIDProtocol, reason: str, evaluator: FIDEvaluator) -> FIDResult:
    nan = float("nan")
    kid = (nan, nan) if evaluator.kid is not None else (None, None)
    score = (nan, nan) if evaluator.inception_score is not None else (None, None)
    return FIDResult(nan, protocol, *kid, *score, failure=reason)


def _declared_num_features(extractor: nn.Module) -> int | None:
    """``extractor.num_features`` when declared; otherwise the first batch of real features tells."""
    value = getattr(extractor, "num_features", None)
    return int(value) if isinstance(value, (int, Tensor)) else None


def _device_of(module: nn.Module, default: torch.device) -> torch.device:
    tensor = next(iter(module.parameters()), None)
    if tensor is None:
        tensor = next(iter(module.buffers()), None)
    return tensor.device if tensor is not None else default


def _batches(images: Tensor, batch_size: int) -> Iterator[Tensor]:
    for start in range(0, len(images), batch_size):
        yield images[start : start + batch_size]
