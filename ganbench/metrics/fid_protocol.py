"""What an FID number depends on, and one evaluation's result: printed next to every value ganbench reports."""

from dataclasses import dataclass

import torchmetrics

IMPLEMENTATION = f"torchmetrics {torchmetrics.__version__} FrechetInceptionDistance, float64 statistics"


@dataclass(frozen=True)
class FIDProtocol:
    """Everything an FID number depends on; ``str()`` gives the one-line form printed next to every value."""

    implementation: str
    feature_extractor: str
    real_data: str
    num_real: int
    num_fake: int
    resize: str
    quantization: str = "8-bit (rounded, as a PNG export)"
    statistics_key: str = ""

    def __str__(self) -> str:
        return (
            f"{self.implementation} | features: {self.feature_extractor} | real: {self.real_data}, "
            f"n_real={self.num_real} | n_fake={self.num_fake} | resize: {self.resize} | {self.quantization}"
        )


@dataclass(frozen=True)
class FIDResult:
    """One evaluation; values are NaN (and ``failure`` says why) when it failed, ``None`` when not asked for."""

    fid: float
    protocol: FIDProtocol
    kid_mean: float | None = None
    kid_std: float | None = None
    inception_score: float | None = None
    inception_score_std: float | None = None
    failure: str | None = None

    def describe(self, key: str = "fid") -> str:
        value = f"FAILED ({self.failure})" if self.failure else f"{self.fid:.4f}"
        return f"{key} = {value} [{self.protocol}]"
