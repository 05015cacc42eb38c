"""Does a conditional generator make the class it is asked for? A trained classifier's verdict on its samples.

For each class ``c``, ``num_samples / num_classes`` samples are drawn with label ``c`` (noise from this
callback's own seeded ``torch.Generator``) and classified by a ``ganbench-classifier`` checkpoint
(``configs/classifier/mnist.yaml``: >= 98% on the real MNIST test set). Logged: ``<stage>/class_accuracy``
(the fraction classified as asked), ``<stage>/class_accuracy_<c>`` per class and ``<stage>/class_confidence``
(the classifier's mean probability of the asked class). An unconditional G (or a classifier with another
number of classes) is one clear error at start-up.
"""

from dataclasses import dataclass, field
from typing import Any

import lightning.pytorch as pl
import torch

from ganbench.callbacks.evaluation import EvaluationCallback, check_can_evaluate, dataset_name
from ganbench.callbacks.evaluation import announce as announce_line
from ganbench.contract import num_classes_of
from ganbench.data.base import to_unit_range
from ganbench.errors import ConfigError
from ganbench.nets.classifier import load_classifier

_OWNER = "ClassAccuracyEvaluation"


@dataclass
class ClassAccuracyResult:
    """One evaluation: overall accuracy, per class, the mean confidence, and how it was made."""

    accuracy: float
    per_class: list[float]
    confidence: float
    num_samples: int
    predicted_histogram: list[int] = field(default_factory=list)

    def describe(self, data_name: str) -> str:
        per_class = " ".join(f"{c}:{value:.3f}" for c, value in enumerate(self.per_class))
        return (
            f"Class accuracy of {self.num_samples} conditional samples ({data_name} classifier): "
            f"{self.accuracy:.4f}, mean confidence {self.confidence:.3f}; per class {per_class}"
        )


class ClassAccuracyEvaluation(EvaluationCallback):
    """Classifies a conditional generator's samples and logs how often they are of the asked class.

    Args:
        checkpoint: a ``ganbench-classifier`` checkpoint for the data (``runs/classifier/mnist.ckpt``).
        num_samples: samples in all, the same number per class (paper-free: 10,000 for MNIST).
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
        if num_classes is None:
            raise ConfigError(f"{_OWNER} needs a conditional generator (num_classes set); this one takes no labels.")
        classes = getattr(self.classifier, "num_classes", None)
        if classes is not None and classes != num_classes:
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
            pl_module: a GAN with a conditional generator.
            datamodule: its data (for the pixel range).
        """
        num_classes = num_classes_of(pl_module.generator)
        per_class_count = max(self.num_samples // num_classes, 1)
        labels = torch.arange(num_classes, device=pl_module.device).repeat_interleave(per_class_count)
        noise_stream = torch.Generator(pl_module.device).manual_seed(self.seed)
        pixel_range = getattr(datamodule, "pixel_range", (0.0, 1.0)) or (0.0, 1.0)
        classifier = self.classifier.to(pl_module.device)
        correct = torch.zeros(num_classes, dtype=torch.float64)
        confidence = torch.zeros((), dtype=torch.float64)
        histogram = torch.zeros(num_classes, dtype=torch.long)
        for start in range(0, len(labels), self.batch_size):
            asked = labels[start : start + self.batch_size]
            images = pl_module.sample(len(asked), labels=asked, generator=noise_stream, batch_size=self.batch_size)
            probabilities = classifier(to_unit_range(images.float(), pixel_range)).softmax(dim=1)
            predicted = probabilities.argmax(dim=1)
            correct += torch.bincount(asked[predicted == asked], minlength=num_classes).double().cpu()
            confidence += probabilities.gather(1, asked[:, None]).double().sum().cpu()
            histogram += torch.bincount(predicted, minlength=num_classes).cpu()
        per_class = (correct / per_class_count).tolist()
        return ClassAccuracyResult(
            accuracy=float(correct.sum() / len(labels)),
            per_class=per_class,
            confidence=float(confidence / len(labels)),
            num_samples=len(labels),
            predicted_histogram=histogram.tolist(),
        )

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
        values = {"class_accuracy": result.accuracy, "class_confidence": result.confidence}
        values.update({f"class_accuracy_{label}": value for label, value in enumerate(result.per_class)})
        for key, value in values.items():
            pl_module.log(f"{stage}/{key}", torch.tensor(value, dtype=torch.float64), sync_dist=False)
        if announce and trainer.is_global_zero:
            announce_line(trainer, result.describe(dataset_name(trainer.datamodule)))

    def headline(self, result: ClassAccuracyResult) -> float:
        return result.accuracy

    def entries(self, result: ClassAccuracyResult, stage: str) -> dict[str, dict[str, Any]]:
        protocol = {
            "method": "fraction of conditional samples a trained classifier assigns to the asked class",
            "classifier": self.checkpoint,
            "num_samples": result.num_samples,
            "labels": "the same number of samples per class",
            "noise_seed": self.seed,
        }
        accuracy = {
            "value": result.accuracy,
            "protocol": protocol,
            "per_class": result.per_class,
            "predicted_histogram": result.predicted_histogram,
        }
        return {f"{stage}/class_accuracy": accuracy, f"{stage}/class_confidence": {"value": result.confidence}}
