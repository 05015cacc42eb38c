"""Lightning callbacks: crash-safe checkpoints, sample grids, the paper's momentum ramp, evaluation (Parzen, FID,
class accuracy), samples written by ``ganbench predict``, the paper's figures."""

from ganbench.callbacks.checkpoint import Checkpoint
from ganbench.callbacks.class_accuracy import ClassAccuracyEvaluation
from ganbench.callbacks.constraints import MaxColumnNorm
from ganbench.callbacks.evaluation import EvaluationCallback
from ganbench.callbacks.fid import FIDEvaluation
from ganbench.callbacks.figures import PaperFigures
from ganbench.callbacks.momentum import MomentumRamp
from ganbench.callbacks.parzen import ParzenEvaluation
from ganbench.callbacks.predictions import SampleWriter
from ganbench.callbacks.samples import SampleGrid

__all__ = [
    "Checkpoint",
    "ClassAccuracyEvaluation",
    "EvaluationCallback",
    "FIDEvaluation",
    "MaxColumnNorm",
    "MomentumRamp",
    "PaperFigures",
    "ParzenEvaluation",
    "SampleGrid",
    "SampleWriter",
]
