"""Evaluation metrics for generative models."""

from ganbench.metrics.features import InceptionFeatures, InceptionWeightsNotFoundError, find_inception_weights
from ganbench.metrics.fid import FIDEvaluator, FIDProtocol, FIDResult, frechet_distance
from ganbench.metrics.parzen import (
    DEFAULT_SIGMAS,
    parzen_log_likelihood,
    parzen_summary,
    select_sigma,
)
from ganbench.metrics.parzen_folds import FoldsResult, parzen_over_folds
from ganbench.metrics.parzen_protocol import ParzenProtocol, ParzenResult

__all__ = [
    "DEFAULT_SIGMAS",
    "FIDEvaluator",
    "FIDProtocol",
    "FIDResult",
    "FoldsResult",
    "InceptionFeatures",
    "InceptionWeightsNotFoundError",
    "ParzenProtocol",
    "ParzenResult",
    "find_inception_weights",
    "frechet_distance",
    "parzen_log_likelihood",
    "parzen_over_folds",
    "parzen_summary",
    "select_sigma",
]
