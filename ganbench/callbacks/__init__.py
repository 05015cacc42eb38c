"""Lightning callbacks: crash-safe checkpoints, sample grids, the paper's momentum ramp, evaluation."""

from ganbench.callbacks.checkpoint import Checkpoint
from ganbench.callbacks.constraints import MaxColumnNorm
from ganbench.callbacks.evaluation import EvaluationCallback
from ganbench.callbacks.fid import FIDEvaluation
from ganbench.callbacks.momentum import MomentumRamp
from ganbench.callbacks.parzen import ParzenEvaluation
from ganbench.callbacks.samples import SampleGrid

__all__ = [
    "Checkpoint",
    "EvaluationCallback",
    "FIDEvaluation",
    "MaxColumnNorm",
    "MomentumRamp",
    "ParzenEvaluation",
    "SampleGrid",
]
