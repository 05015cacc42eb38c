"""Feature extractors for FID/KID/IS and the image preparation they need, offline.

The default extractor is the FID Inception-v3 (TensorFlow's 2015-12-05 graph converted to PyTorch), run through
torchmetrics' ``NoTrainInceptionV3`` (torch-fidelity's network). Its weights are never downloaded here: they are
found in a local file (:func:`find_inception_weights`) or one :class:`InceptionWeightsNotFoundError` says which
file to fetch and where to put it. Any ``nn.Module`` mapping images to ``(B, d)`` features works as well; it may
declare what it takes with the attributes ``input_channels``, ``input_size`` (``(H, W)``), ``input_dtype``
(``torch.uint8``: 0..255; a float dtype: ``[0, 1]``) and ``num_features``, and may offer
``features_and_logits(images)`` for the Inception Score.

Images are prepared like a PNG export: mapped from the data's ``pixel_range`` to ``[0, 255]``, rounded to
integers (real 8-bit data round-trips exactly), grey repeated to three channels when the extractor wants RGB.
"""

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from ganbench.errors import ConfigError, GanbenchError, ShapeMismatchError, first_line
from ganbench.library_internals import inception_features_and_logits

#: The file torchmetrics (through torch-fidelity) downloads into torch hub's ``checkpoints`` folder.
INCEPTION_WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_WEIGHTS_URL = (
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth"
)
#: pytorch-fid's copy of the same converted TF weights (same hash prefix, same parameter names).
PYTORCH_FID_WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
PYTORCH_FID_WEIGHTS_URL = (
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth"
)
#: Environment variable naming a weights file, for clusters where configs are shared between machines.
WEIGHTS_ENVIRONMENT_VARIABLE = "GANBENCH_INCEPTION_WEIGHTS"

#: Resize modes of the Inception input (to 299 x 299): TF1's bilinear (FID, torch-fidelity, StudioGAN's
#: "legacy" numbers) or PyTorch's antialiased bilinear (torchmetrics' default since 1.8, clean-fid-like).
RESIZE_MODES = ("tf1-bilinear", "antialias-bilinear")


class InceptionWeightsNotFoundError(GanbenchError, FileNotFoundError):
    """The FID Inception weights are not on this machine (ganbench never downloads them)."""


def find_inception_weights(path: str | os.PathLike | None = None) -> Path:
    """The local FID Inception weights file: ``path``, else ``$GANBENCH_INCEPTION_WEIGHTS``, else torch hub's cache.

    torchmetrics would call ``torch.hub.load_state_dict_from_url``, which reads
    ``<torch hub dir>/checkpoints/weights-inception-2015-12-05-6726825d.pth`` if it exists and downloads it
    otherwise (hanging or failing deep inside urllib offline). ganbench looks in the same place first (also for
    pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth``) and always hands torchmetrics an explicit path.

    Raises:
        InceptionWeightsNotFoundError: naming the file, its URL and where to put it.
    """
    hub_folder = Path(torch.hub.get_dir()) / "checkpoints"
    if path is None:
        path = os.environ.get(WEIGHTS_ENVIRONMENT_VARIABLE) or None
    if path is not None:
        candidate = Path(path).expanduser()
        if candidate.is_file():
            return candidate
        raise InceptionWeightsNotFoundError(_missing_message(f"There is no file at {candidate}.", hub_folder))
    for name in (INCEPTION_WEIGHTS_FILE, PYTORCH_FID_WEIGHTS_FILE):
        if (hub_folder / name).is_file():
            return hub_folder / name
    first = f"The FID Inception weights are not in {hub_folder} and ganbench never downloads them."
    raise InceptionWeightsNotFoundError(_missing_message(first, hub_folder))


def _missing_message(first: str, hub_folder: Path) -> str:
    return (
        f"{first} Inception FID needs {INCEPTION_WEIGHTS_FILE} (the TF FID Inception, 2015-12-05, as torchmetrics "
        f"and torch-fidelity use it). On a machine with internet: `wget {INCEPTION_WEIGHTS_URL}`; copy it to "
        f"{hub_folder}/ (torch hub's cache, $TORCH_HOME/hub/checkpoints) or anywhere and set "
        f"`inception_weights_path: /path/to/{INCEPTION_WEIGHTS_FILE}` (or ${WEIGHTS_ENVIRONMENT_VARIABLE}). "
        f"pytorch-fid's {PYTORCH_FID_WEIGHTS_FILE} works too. Or use a domain extractor: "
        "`feature_extractor: {class_path: ganbench.nets.ClassifierFeatures, init_args: {checkpoint: ...}}`."
    )


class InceptionFeatures(nn.Module):
    """The FID Inception-v3: pool3 features ``(B, 2048)`` and 1008-way logits (for IS) from one pass.

    Takes uint8 RGB images of any size and resizes them to 299 x 299 itself (torchmetrics'
    ``NoTrainInceptionV3``, ``antialias=False`` for ``tf1-bilinear``).

    Args:
        weights_path: the local weights file; found by :func:`find_inception_weights` when ``None``.
        resize: one of :data:`RESIZE_MODES`.
    """

    input_channels = 3
    input_size = None
    input_dtype = torch.uint8
    num_features = 2048

    def __init__(self, weights_path: str | None = None, resize: str = "tf1-bilinear") -> None:
        super().__init__()
        if resize not in RESIZE_MODES:
            raise ConfigError(f"resize must be one of {RESIZE_MODES}, got {resize!r}.")
        path = find_inception_weights(weights_path)
        try:
            from torchmetrics.image.fid import NoTrainInceptionV3
        except ImportError:  # pragma: no cover - torchmetrics is a dependency
            raise GanbenchError("Inception FID needs torchmetrics >= 1.8.") from None
        try:
            import torch_fidelity  # noqa: F401
        except ImportError:
            raise GanbenchError(
                "Inception FID runs torch-fidelity's network: `pip install torch-fidelity` (or "
                "`pip install 'ganbench[fid]'`), or use a domain feature extractor."
            ) from None
        try:
            self.network = NoTrainInceptionV3(
                name="inception-v3-compat",
                features_list=["2048", "logits_unbiased"],
                feature_extractor_weights_path=str(path),
                antialias=resize == "antialias-bilinear",
            )
        except (RuntimeError, KeyError, OSError, ValueError) as error:
            raise InceptionWeightsNotFoundError(
                f"{path} is not the FID Inception weights file {INCEPTION_WEIGHTS_FILE} ({first_line(error)})."
            ) from None
        self.weights_path = path
        self.resize = resize
        self.fingerprint = f"{path.name}:{path.stat().st_size}"

    def train(self, mode: bool = True) -> "InceptionFeatures":
        return super().train(False)

    def features_and_logits(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """``(B, 3, H, W)`` uint8 -> pool3 features ``(B, 2048)`` and logits ``(B, 1008)`` (bias-free, as in IS)."""
        features, logits = inception_features_and_logits(self.network, images)
        return features.reshape(len(images), -1), logits

    def forward(self, images: Tensor) -> Tensor:
        return self.features_and_logits(images)[0]

    def describe(self) -> str:
        return f"InceptionV3 pool3 2048 ({self.weights_path.name}, resize {self.resize} to 299)"


def describe_extractor(extractor: nn.Module) -> str:
    """A short human-readable name: the extractor's ``describe()`` if it has one, else class and dimension."""
    describe = getattr(extractor, "describe", None)
    if callable(describe):
        return str(describe())
    return f"{type(extractor).__name__}({getattr(extractor, 'num_features', '?')} features)"


def extractor_fingerprint(extractor: nn.Module) -> str:
    """Identifies the extractor's weights for the cache key: its ``fingerprint`` or a hash of its state."""
    fingerprint = getattr(extractor, "fingerprint", None)
    if isinstance(fingerprint, str):
        return fingerprint
    digest = hashlib.sha256(type(extractor).__qualname__.encode())
    for name, tensor in extractor.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def input_description(extractor: nn.Module) -> dict:
    """The input format an extractor declares (part of the statistics' cache key)."""
    return {
        "channels": getattr(extractor, "input_channels", None),
        "size": list(getattr(extractor, "input_size", None) or []),
        "dtype": str(getattr(extractor, "input_dtype", torch.float32)),
        "resize": getattr(extractor, "resize", "none"),
    }


def resize_description(extractor: nn.Module) -> str:
    """How the protocol line names the resize: Inception's mode to 299, or none at the extractor's native size."""
    if isinstance(extractor, InceptionFeatures):
        return f"{extractor.resize} to 299x299"
    size = getattr(extractor, "input_size", None)
    return f"none (native {size[0]}x{size[1]})" if size else "none"


def prepare_images(
    images: Tensor,
    pixel_range: Sequence[float],
    extractor: nn.Module,
    range_tolerance: float = 0.01,
    name: str = "images",
) -> Tensor:
    """Data-range images ``(B, C, H, W)`` -> what ``extractor`` takes (8-bit levels, its channels, dtype).

    Args:
        images: finite images in ``pixel_range``; values up to ``range_tolerance`` of the range's width outside it
            are clipped (as a PNG export clips them), further out is an error.
        pixel_range: ``(low, high)`` of the data.
        extractor: reads ``input_channels``, ``input_size`` and ``input_dtype`` from it when present.
        range_tolerance: allowed excursion outside ``pixel_range``, as a fraction of its width.
        name: how error messages call the images.

    Raises:
        ShapeMismatchError: wrong rank, channels or size, or values outside ``pixel_range``.
    """
    wanted_size = getattr(extractor, "input_size", None)
    if wanted_size is not None and images.ndim == 4 and tuple(images.shape[2:]) != tuple(wanted_size):
        raise ShapeMismatchError(
            f"{name} are {tuple(images.shape[2:])} pixels but {type(extractor).__name__} takes {tuple(wanted_size)}."
        )
    levels = quantize(images, pixel_range, range_tolerance, name)
    levels = _match_channels(levels, getattr(extractor, "input_channels", None), extractor, name)
    dtype = getattr(extractor, "input_dtype", torch.float32)
    return levels if dtype == torch.uint8 else (levels / 255.0).to(dtype)


def quantize(
    images: Tensor, pixel_range: Sequence[float], range_tolerance: float = 0.01, name: str = "images"
) -> Tensor:
    """Images ``(B, 1 or 3, H, W)`` in ``pixel_range`` -> uint8 levels ``round(255 (x - low) / (high - low))``.

    Raises:
        ShapeMismatchError: wrong rank or channels, or values outside ``pixel_range`` by more than the tolerance.
    """
    low, high = (float(value) for value in pixel_range)
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ShapeMismatchError(f"{name} must have shape (B, 1 or 3, H, W), got {tuple(images.shape)}.")
    check_range(images, (low, high), range_tolerance, name)
    levels = ((images.double() - low) * (255.0 / (high - low))).round_().clamp_(0, 255)
    return levels.to(torch.uint8)


def check_range(images: Tensor, pixel_range: tuple[float, float], tolerance: float, name: str) -> None:
    """Raises :class:`ShapeMismatchError` when ``images`` leave ``pixel_range`` by more than ``tolerance`` x width."""
    low, high = pixel_range
    margin = tolerance * (high - low)
    minimum, maximum = float(images.min()), float(images.max())
    if minimum < low - margin or maximum > high + margin:
        raise ShapeMismatchError(
            f"{name} have values in [{minimum:.4g}, {maximum:.4g}] but the data's pixel_range is ({low:g}, {high:g}); "
            "FID reads images in the data's range (set the generator's output activation or the data's pixel_range "
            "to match)."
        )


def _match_channels(images: Tensor, wanted: int | None, extractor: nn.Module, name: str) -> Tensor:
    channels = images.shape[1]
    if wanted is None or wanted == channels:
        return images
    if channels == 1 and wanted == 3:
        return images.expand(-1, 3, -1, -1).contiguous()
    raise ShapeMismatchError(f"{name} have {channels} channels but {type(extractor).__name__} takes {wanted}.")
