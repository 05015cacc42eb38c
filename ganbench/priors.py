"""Latent priors p(z) (paper §3): where the generator's noise comes from."""

import math
from abc import ABC, abstractmethod

import torch
from torch import Tensor

from ganbench.errors import ConfigError


class Prior(ABC):
    """A distribution over ``latent_dim``-dimensional noise vectors.

    Sampling takes an explicit ``torch.Generator`` so that each process (and each DDP rank)
    can own a noise stream that is seeded, saved in checkpoints and restored on resume.
    """

    @abstractmethod
    def sample(
        self,
        num_samples: int,
        latent_dim: int,
        device: torch.device | str = "cpu",
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Draws noise of shape ``(num_samples, latent_dim)``.

        Args:
            num_samples: number of vectors.
            latent_dim: size of each vector.
            device: where to create them.
            generator: optional ``torch.Generator`` on ``device``; the global RNG when ``None``.
        """

    def __repr__(self) -> str:
        fields = ", ".join(f"{key}={value}" for key, value in vars(self).items())
        return f"{type(self).__name__}({fields})"


class Uniform(Prior):
    """Uniform noise on ``(low, high)``; the default ``(-sqrt 3, sqrt 3)`` has unit variance (MNIST recipe)."""

    def __init__(self, low: float = -math.sqrt(3.0), high: float = math.sqrt(3.0)) -> None:
        if not (math.isfinite(low) and math.isfinite(high)):
            raise ConfigError(f"Uniform: low and high must be finite numbers, got low={low!r}, high={high!r}.")
        if not low < high:
            raise ConfigError(f"Uniform: low must be < high, got low={low!r}, high={high!r}.")
        self.low = low
        self.high = high

    def sample(
        self,
        num_samples: int,
        latent_dim: int,
        device: torch.device | str = "cpu",
        generator: torch.Generator | None = None,
    ) -> Tensor:
        noise = torch.rand(num_samples, latent_dim, device=device, generator=generator)
        return noise.mul_(self.high - self.low).add_(self.low)


class Normal(Prior):
    """Gaussian noise ``N(mean, std^2)`` per coordinate; the default is the standard normal (TFD, CIFAR-10)."""

    def __init__(self, mean: float = 0.0, std: float = 1.0) -> None:
        if not math.isfinite(mean):
            raise ConfigError(f"Normal: mean must be a finite number, got {mean!r}.")
        if not (math.isfinite(std) and std > 0):
            raise ConfigError(f"Normal: std must be a finite number > 0, got {std!r}.")
        self.mean = mean
        self.std = std

    def sample(
        self,
        num_samples: int,
        latent_dim: int,
        device: torch.device | str = "cpu",
        generator: torch.Generator | None = None,
    ) -> Tensor:
        noise = torch.randn(num_samples, latent_dim, device=device, generator=generator)
        return noise.mul_(self.std).add_(self.mean)
