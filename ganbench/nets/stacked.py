"""A new fully connected stack put under a (pretrained) generator: the TFD recipe's second stage.

The released ``tfd_pretrain/train.yaml`` builds ``100 -> 8000 ReLU -> 100 sigmoid`` and appends the
layers of the generator trained by ``pretrain.yaml`` (``add_layers``): a 5-layer generator whose
pretrained top now reads the sigmoid code instead of noise, and keeps training.
"""

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from ganbench.errors import ConfigError, ShapeMismatchError, first_line
from ganbench.nets.arguments import (
    check_at_least,
    check_each_at_least,
    check_each_choice,
    check_init_range,
    check_one_per_layer,
)
from ganbench.nets.base import Generator
from ganbench.nets.layers import init_uniform_
from ganbench.nets.mlp import HIDDEN_ACTIVATIONS, hidden_activation


class StackedGenerator(Generator):
    """``top(bottom(z))``: a fully connected ``bottom`` whose output is the ``top`` generator's noise.

    The architecture comes entirely from the arguments, so a checkpoint of this generator reloads
    without the pretrained file. The pretrained weights enter once, when training starts: the GAN
    calls :meth:`initialize_from_data` before a resumed run's own weights are restored, and that is
    where ``top`` is loaded from ``pretrained_checkpoint``.

    Args:
        top: the generator to stack on, e.g. the pretrain stage's ``MLPGenerator``; its
            ``latent_dim`` must equal the bottom's output width.
        latent_dim: size of the noise vector z.
        hidden_dims: widths of the bottom's layers; the last is the code fed to ``top``.
        hidden_activations: ``relu``/``sigmoid``/``tanh`` per bottom layer.
        hidden_init_biases: initial bias per bottom layer (TFD: ``[0, -2]``).
        init_range: the bottom's weights start ``U(-init_range, init_range)``.
        pretrained_checkpoint: a ganbench checkpoint whose ``generator`` has ``top``'s architecture;
            ``None`` trains ``top`` from scratch (then ``top.initialize_from_data`` runs as usual).

    Shapes: ``(B, latent_dim) -> top's (B, C, H, W)``.
    """

    def __init__(
        self,
        top: nn.Module,
        latent_dim: int = 100,
        hidden_dims: Sequence[int] = (8000, 100),
        hidden_activations: Sequence[str] = ("relu", "sigmoid"),
        hidden_init_biases: Sequence[float] = (0.0, -2.0),
        init_range: float = 0.05,
        pretrained_checkpoint: str | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        check_at_least(owner, "latent_dim", latent_dim, 1)
        check_each_at_least(owner, "hidden_dims", hidden_dims, 1, allow_empty=False)
        check_one_per_layer(owner, "hidden_activations", hidden_activations, len(hidden_dims))
        check_one_per_layer(owner, "hidden_init_biases", hidden_init_biases, len(hidden_dims))
        check_each_choice(owner, "hidden_activations", hidden_activations, HIDDEN_ACTIVATIONS)
        check_init_range(owner, "init_range", init_range)
        if getattr(top, "latent_dim", None) != hidden_dims[-1]:
            raise ConfigError(
                f"{owner}: the top generator takes noise of size {getattr(top, 'latent_dim', None)} but the bottom "
                f"stack ends in {hidden_dims[-1]} units; make top's latent_dim equal to hidden_dims[-1]."
            )
        self.latent_dim = latent_dim
        self.pretrained_checkpoint = pretrained_checkpoint
        widths = [latent_dim, *hidden_dims]
        layers: list[nn.Module] = []
        for width_in, width_out, activation, bias in zip(
            widths[:-1], widths[1:], hidden_activations, hidden_init_biases
        ):
            linear = nn.Linear(width_in, width_out)
            init_uniform_(linear, init_range, bias)
            layers += [linear, hidden_activation(activation)]
        self.bottom = nn.Sequential(*layers)
        self.top = top

    @property
    def output_range(self) -> tuple[float, float] | None:
        """The top generator's output range."""
        return getattr(self.top, "output_range", None)

    def forward(self, noise: Tensor) -> Tensor:
        return self.top(self.bottom(noise))  # (B, latent_dim) -> (B, code) -> (B, C, H, W)

    def initialize_from_data(self, pixel_mean: Tensor) -> None:
        """Loads ``top`` from ``pretrained_checkpoint``; without one, initialises ``top`` from the data.

        Args:
            pixel_mean: ``(C, H, W)`` mean training image, passed on to ``top`` when not pretrained.
        """
        if self.pretrained_checkpoint is None:
            initialize = getattr(self.top, "initialize_from_data", None)
            if callable(initialize):
                initialize(pixel_mean)
            return
        self.top.load_state_dict(load_generator_state(self.pretrained_checkpoint, self.top))


def load_generator_state(path: str | Path, like: nn.Module) -> dict[str, Tensor]:
    """The generator weights stored in a ganbench checkpoint, checked against the module ``like``.

    Args:
        path: a ``.ckpt`` written by ``ganbench fit``.
        like: the module the weights must fit (same parameter names and shapes).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"pretrained_checkpoint {path} does not exist; train the pretrain stage first.")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # unpickling errors come in many types
        raise ConfigError(f"cannot read pretrained_checkpoint {path}: {first_line(error)}") from None
    prefix = "generator."
    state = {
        key[len(prefix) :]: value for key, value in checkpoint.get("state_dict", {}).items() if key.startswith(prefix)
    }
    expected = like.state_dict()
    mismatched = sorted(
        key
        for key in expected.keys() | state.keys()
        if key not in state or key not in expected or state[key].shape != expected[key].shape
    )
    if mismatched:
        raise ShapeMismatchError(
            f"the generator in {path} does not have the architecture of the configured top generator "
            f"(parameters that differ or are missing: {', '.join(mismatched[:5])}); configure top exactly "
            "as the pretrain stage's generator."
        )
    return state
