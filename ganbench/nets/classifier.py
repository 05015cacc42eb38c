"""A small CNN classifier for 28x28 grey images (MNIST, Fashion-MNIST): domain features for FID, class accuracy.

Inception features, trained on ImageNet photographs, say little about 28x28 digits; the penultimate layer of a
classifier trained on the data set itself is the usual domain-specific alternative ("MNIST-FID"), and its
predictions give the class accuracy of conditional samples. :class:`MNISTClassifier` is the network (no training
logic, see :mod:`ganbench.classifier`); :class:`ClassifierFeatures` loads a trained one from a checkpoint as a
frozen feature extractor that :class:`ganbench.metrics.FIDEvaluator` and torchmetrics' ``feature=`` accept.
"""

import hashlib
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from ganbench.errors import ConfigError, first_line


class MNISTClassifier(nn.Module):
    """Three conv blocks (conv 3x3, BatchNorm, ReLU, 2x2 max-pool), a ReLU feature layer, a linear classifier.

    ``(B, 1, 28, 28) -> 32x14x14 -> 64x7x7 -> 128x3x3 -> feature_dim -> num_classes``; about 0.3 M parameters.
    Inputs are pixels in ``[0, 1]`` (the module centres them itself).

    Args:
        num_classes: number of classes.
        feature_dim: width of the penultimate (feature) layer.
        channels: output channels of the three conv blocks.
        dropout: dropout on the features before the classifier (training only).
        image_shape: ``(C, H, W)`` of the inputs.

    Shapes: ``forward``: ``(B, C, H, W) -> (B, num_classes)`` logits; ``features``: ``-> (B, feature_dim)``.
    """

    def __init__(
        self,
        num_classes: int = 10,
        feature_dim: int = 128,
        channels: Sequence[int] = (32, 64, 128),
        dropout: float = 0.3,
        image_shape: Sequence[int] = (1, 28, 28),
    ) -> None:
        super().__init__()
        if len(channels) != 3:
            raise ConfigError(f"MNISTClassifier: channels must list 3 widths, got {list(channels)}.")
        self.num_classes = num_classes
        self.feature_dim = feature_dim
        self.image_shape = tuple(image_shape)
        widths = [self.image_shape[0], *channels]
        blocks: list[nn.Module] = []
        for width_in, width_out in zip(widths[:-1], widths[1:]):
            blocks += [
                nn.Conv2d(width_in, width_out, 3, padding=1, bias=False),
                nn.BatchNorm2d(width_out),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
        self.body = nn.Sequential(*blocks)
        height, width = self.image_shape[1] // 8, self.image_shape[2] // 8
        self.feature_layer = nn.Sequential(
            nn.Flatten(), nn.Linear(channels[-1] * height * width, feature_dim), nn.ReLU(inplace=True)
        )
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(feature_dim, num_classes)

    def features(self, images: Tensor) -> Tensor:
        """Penultimate-layer features ``(B, feature_dim)`` of images ``(B, C, H, W)`` in ``[0, 1]``."""
        return self.feature_layer(self.body(images - 0.5))

    def classify(self, features: Tensor) -> Tensor:
        """Logits ``(B, num_classes)`` from features ``(B, feature_dim)``."""
        return self.classifier(self.dropout(features))

    def forward(self, images: Tensor) -> Tensor:
        return self.classify(self.features(images))


class ClassifierFeatures(nn.Module):
    """A trained classifier's penultimate features as a frozen FID feature extractor (always in eval mode).

    Loads the network from a ``ganbench-classifier fit`` checkpoint (``configs/classifier/mnist.yaml`` writes
    ``runs/classifier/mnist.ckpt``). Usable as torchmetrics' ``feature=`` (``forward`` returns ``(B, d)``) and as
    ``FIDEvaluation(feature_extractor=...)``, which also reads the attributes below to prepare images.

    Args:
        checkpoint: path to the classifier's Lightning checkpoint.

    Attributes:
        num_features: feature dimension d.
        input_channels, input_size: the images it takes, ``(C)`` and ``(H, W)``; inputs are floats in ``[0, 1]``.
        fingerprint: SHA-256 of the weights, part of the FID statistics' cache key.

    Shapes: ``forward``: ``(B, C, H, W) -> (B, d)``; ``features_and_logits``: ``-> ((B, d), (B, classes))``.
    """

    input_dtype = torch.float32

    def __init__(self, checkpoint: str) -> None:
        super().__init__()
        self.checkpoint = str(checkpoint)
        self.network = load_classifier(self.checkpoint)
        self.network.requires_grad_(False)
        self.network.eval()
        self.num_features = int(self.network.feature_dim)
        self.input_channels = int(self.network.image_shape[0])
        self.input_size = tuple(int(size) for size in self.network.image_shape[1:])
        self.fingerprint = state_fingerprint(self.network)

    def train(self, mode: bool = True) -> "ClassifierFeatures":
        """Stays in evaluation mode (BatchNorm statistics and dropout frozen)."""
        return super().train(False)

    def forward(self, images: Tensor) -> Tensor:
        return self.network.features(images)

    def features_and_logits(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """Features ``(B, d)`` and class logits ``(B, classes)`` from one pass."""
        features = self.network.features(images)
        return features, self.network.classify(features)

    def describe(self) -> str:
        """How the FID protocol line names these features."""
        name = type(self.network).__name__
        return f"{name} penultimate {self.num_features} ({Path(self.checkpoint).name}, weights {self.fingerprint})"

    def extra_repr(self) -> str:
        return f"checkpoint={self.checkpoint!r}, num_features={self.num_features}"


def load_classifier(checkpoint: str) -> nn.Module:
    """The network of a ``ganbench-classifier`` checkpoint, on the CPU; one clear error when it cannot be read."""
    from ganbench.classifier import ClassifierModule  # the LightningModule imports this file

    path = Path(checkpoint).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"ClassifierFeatures: no checkpoint at {path}. Train one with "
            "`ganbench-classifier fit --config configs/classifier/mnist.yaml` (writes runs/classifier/mnist.ckpt) "
            "and point `checkpoint` at it."
        )
    try:
        with warnings.catch_warnings():  # "Attribute 'network' is an instance of nn.Module": CLI-built, on purpose
            warnings.simplefilter("ignore", UserWarning)
            module = ClassifierModule.load_from_checkpoint(path, map_location="cpu")
    except Exception as error:  # unpickling, missing keys, a GAN checkpoint given by mistake, ...
        raise ConfigError(
            f"ClassifierFeatures: {path} is not a ganbench-classifier checkpoint that loads ({first_line(error)})."
        ) from None
    return module.network


def state_fingerprint(module: nn.Module) -> str:
    """SHA-256 (first 16 hex digits) of a module's parameters and buffers, in ``state_dict`` order."""
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]
