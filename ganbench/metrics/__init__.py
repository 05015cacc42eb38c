"""Evaluation metrics for generative models."""

from ganbench.metrics.parzen import (
    DEFAULT_SIGMAS,
    ParzenLogLikelihood,
    parzen_log_likelihood,
    parzen_summary,
    select_sigma,
)

__all__ = [
    "DEFAULT_SIGMAS",
    "ParzenLogLikelihood",
    "parzen_log_likelihood",
    "parzen_summary",
    "select_sigma",
]
