"""What a trained classifier makes of a generator's samples: which classes it draws, how clearly, and (for a
conditional G) whether each is the class asked for.

``num_samples`` samples (noise from this callback's own seeded ``torch.Generator``) are classified by a
``ganbench-classifier`` checkpoint (``configs/classifier/mnist.yaml``: >= 98% on the real MNIST test set). A
conditional G is asked for the same number of each class; an unconditional G draws as it likes. Logged for
every G, from the classifier's probabilities p(y|x) (float64):

- ``<stage>/class_fraction_<c>``: the fraction of samples classified as ``c`` (the class histogram).
- ``<stage>/classifier_confidence``: the mean top probability, max_y p(y|x): how clearly the samples are digits.
- ``<stage>/classifier_score``: exp(E_x KL(p(y|x) || p(y))) with p(y) the mean of p(y|x) over the samples: the
  Inception Score's formula (Salimans et al. 2016) with the data's own classifier and all samples in one split.
  It is 1 when every sample gets the same p(y|x) (one class, or none clearly) and K (the number of classes)
  when each sample is one class with certainty and the K classes are equally frequent.

For a conditional G also ``<stage>/class_accuracy`` (the fraction classified as asked),
``<stage>/class_accuracy_<c>`` per class and ``<stage>/class_confidence`` (the mean probability of the asked
class). A classifier with another number of classes than a conditional G is one clear error at start-up.
"""

import math
from dataclasses import dataclass
from typing import Any

import lightning.pytorch as pl
import torch
from torch import Tensor

from ganbench.callbacks.evaluation import EvaluationCallback, check_can_evaluate, dataset_name
from ganbench.callbacks.evaluation import announce as announce_line
from ganbench.contract import num_classes_of
from ganbench.data.base import to_unit_range
from ganbench.errors import ConfigError
from ganbench.nets.classifier import load_classifier

_OWNER = "ClassAccuracyEvaluation"


@dataclass
class ClassStatistics:
    """What a classifier's probabilities say about a set of samples, whatever made them."""

    counts: list[int]  # how many samples have c as their most probable class, for each c
    confidence: float  # the mean top probability
    score: float  # exp(E_x KL(p(y|x) || p(y)))

    @property
    def fractions(self) -> list[float]:
        """The class histogram: the fraction of samples whose most probable class is c, for each c."""
        total = sum(self.counts)
        return [count / total for count in self.counts]


def class_statistics(probabilities: Tensor) -> ClassStatistics:
    """The class histogram, mean confidence and classifier score of ``(N, K)`` class probabilities, in float64.

    The score is exp(E_x KL(p(y|x) || p(y))) = exp(H(p(y)) - E_x H(p(y|x))), with p(y) the mean row and
    0 log 0 = 0: between 1 (every row the same) and K (one-hot rows, each class equally often). For one-hot
    rows it is exp(H(fractions)), the perplexity of the histogram.

    Args:
        probabilities: ``(N, K)``, rows summing to 1.
    """
    if probabilities.ndim != 2 or probabilities.shape[0] < 1:
        raise ValueError(f"class_statistics needs (N, K) probabilities with N >= 1, got {tuple(probabilities.shape)}.")
    rows = probabilities.double()
    marginal = rows.mean(dim=0)
    divergence = (torch.special.xlogy(rows, rows) - torch.special.xlogy(rows, marginal)).sum(dim=1)  # KL per row
    counts = torch.bincount(rows.argmax(dim=1), minlength=rows.shape[1])
    return ClassStatistics(
        counts=counts.tolist(),
        confidence=float(rows.max(dim=1).values.mean()),
        score=math.exp(float(divergence.mean())),
    )


@dataclass
class ClassAccuracyResult:
    """One evaluation: the class statistics of the samples and, for a conditional G, its accuracy per class."""

    statistics: ClassStatistics
    num_samples: int
    accuracy: float | None = None  # conditional G only, as are the next three
    per_class: list[float] | None = None
    confidence: float | None = None  # the mean probability of the asked class

    @property
    def conditional(self) -> bool:
        return self.accuracy is not None

    def describe(self, data_name: str) -> str:
        statistics = self.statistics
        fractions = " ".join(f"{c}:{value:.3f}" for c, value in enumerate(statistics.fractions))
        classes = (
            f"classifier score {statistics.score:.3f}, mean top probability {statistics.confidence:.3f}; "
            f"fraction classified as each class {fractions}"
        )
        if not self.conditional:
            return f"Classes of {self.num_samples} samples ({data_name} classifier): {classes}"
        per_class = " ".join(f"{c}:{value:.3f}" for c, value in enumerate(self.per_class))
        return (
            f"Class accuracy of {self.num_samples} conditional samples ({data_name} classifier): "
            f"{self.accuracy:.4f}, mean confidence {self.confidence:.3f}; per class {per_class}; {classes}"
        )


class ClassAccuracyEvaluation(EvaluationCallback):
    """Classifies a generator's samples: the classes it draws, how clearly, and for a conditional G its accuracy.

    Args:
        checkpoint: a ``ganbench-classifier`` checkpoint for the data (``runs/classifier/mnist.ckpt``).
        num_samples: samples in all; for a conditional G the same number per class (paper-free: 10,000 for MNIST).
        every_n_epochs: during ``fit``, evaluate after every this many epochs' validation; 0 never does.
        seed: seed of the samples' noise.
        batch_size: images per forward pass.
    """

    def __init__(
        self,
        checkpoint: str = "runs/classifier/mnist.ckpt",
        num_samples: int = 10_000,
        every_n_epochs: int = 1,
        seed: int = 0,
        batch_size: int = 1000,
    ) -> None:
        super().__init__(every_n_epochs)
        if num_samples < 1 or batch_size < 1:
            raise ConfigError(f"{_OWNER}: num_samples and batch_size must be >= 1, got {num_samples}, {batch_size}.")
        self.checkpoint = checkpoint
        self.num_samples = num_samples
        self.seed = seed
        self.batch_size = batch_size
        self._classifier: torch.nn.Module | None = None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        check_can_evaluate(_OWNER, pl_module, getattr(trainer, "datamodule", None))
        num_classes = num_classes_of(getattr(pl_module, "generator", None))
        classes = getattr(self.classifier, "num_classes", None)  # loads it: a bad checkpoint fails here
        if num_classes is not None and classes is not None and classes != num_classes:
            raise ConfigError(f"{_OWNER}: the classifier knows {classes} classes but the generator {num_classes}.")

    @property
    def classifier(self) -> torch.nn.Module:
        if self._classifier is None:
            self._classifier = load_classifier(self.checkpoint).eval().requires_grad_(False)
        return self._classifier

    @torch.no_grad()
    def evaluate(self, pl_module: pl.LightningModule, datamodule: Any) -> ClassAccuracyResult:
        """Samples, classifies, scores; outside a Trainer too: ``ClassAccuracyEvaluation(ckpt).evaluate(gan, data)``.

        Args:
            pl_module: a GAN, conditional or not.
            datamodule: its data (for the pixel range).
        """
        num_classes = num_classes_of(pl_module.generator)
        labels = None
        count = self.num_samples
        if num_classes is not None:
            per_class_count = max(self.num_samples // num_classes, 1)
            labels = torch.arange(num_classes, device=pl_module.device).repeat_interleave(per_class_count)
            count = len(labels)
        noise_stream = torch.Generator(pl_module.device).manual_seed(self.seed)
        pixel_range = getattr(datamodule, "pixel_range", (0.0, 1.0)) or (0.0, 1.0)
        classifier = self.classifier.to(pl_module.device)
        chunks = []
        for start in range(0, count, self.batch_size):
            size = min(self.batch_size, count - start)
            asked = None if labels is None else labels[start : start + size]
            images = pl_module.sample(size, labels=asked, generator=noise_stream, batch_size=self.batch_size)
            chunks.append(classifier(to_unit_range(images.float(), pixel_range)).double().softmax(dim=1).cpu())
        probabilities = torch.cat(chunks)  # (count, K), float64
        result = ClassAccuracyResult(statistics=class_statistics(probabilities), num_samples=count)
        if labels is not None:
            asked = labels.cpu()
            predicted = probabilities.argmax(dim=1)
            correct = torch.bincount(asked[predicted == asked], minlength=num_classes).double()
            result.accuracy = float(correct.sum() / count)
            result.per_class = (correct / per_class_count).tolist()
            result.confidence = float(probabilities.gather(1, asked[:, None]).mean())
        return result

    def evaluate_stage(self, pl_module: pl.LightningModule, datamodule: Any, stage: str) -> ClassAccuracyResult:
        return self.evaluate(pl_module, datamodule)

    def report(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        result: ClassAccuracyResult,
        stage: str,
        announce: bool,
    ) -> None:
        statistics = result.statistics
        values = {"classifier_score": statistics.score, "classifier_confidence": statistics.confidence}
        values.update({f"class_fraction_{label}": value for label, value in enumerate(statistics.fractions)})
        if result.conditional:
            values.update({"class_accuracy": result.accuracy, "class_confidence": result.confidence})
            values.update({f"class_accuracy_{label}": value for label, value in enumerate(result.per_class)})
        for key, value in values.items():
            pl_module.log(f"{stage}/{key}", torch.tensor(value, dtype=torch.float64), sync_dist=False)
        if announce and trainer.is_global_zero:
            announce_line(trainer, result.describe(dataset_name(trainer.datamodule)))

    def headline(self, result: ClassAccuracyResult) -> float:
        return result.accuracy if result.conditional else result.statistics.score

    def entries(self, result: ClassAccuracyResult, stage: str) -> dict[str, dict[str, Any]]:
        protocol = {
            "classifier": self.checkpoint,
            "num_samples": result.num_samples,
            "labels": "the same number of samples per class" if result.conditional else "none (unconditional G)",
            "noise_seed": self.seed,
        }
        score = {
            "value": result.statistics.score,
            "protocol": {"method": "exp(E_x KL(p(y|x) || p(y))) of the classifier's probabilities, one split, float64"}
            | protocol,
            "class_fractions": result.statistics.fractions,
        }
        entries = {
            f"{stage}/classifier_score": score,
            f"{stage}/classifier_confidence": {"value": result.statistics.confidence},
        }
        if result.conditional:
            method = "fraction of conditional samples a trained classifier assigns to the asked class"
            entries[f"{stage}/class_accuracy"] = {
                "value": result.accuracy,
                "protocol": {"method": method} | protocol,
                "per_class": result.per_class,
                "predicted_histogram": result.statistics.counts,
            }
            entries[f"{stage}/class_confidence"] = {"value": result.confidence}
        return entries
