import math

import pytest
import torch

from ganbench.priors import Normal, Uniform


def test_uniform_prior_has_unit_variance_and_bounds():
    noise = Uniform().sample(200_000, 10, generator=torch.Generator().manual_seed(0))
    assert noise.shape == (200_000, 10)
    assert noise.min() >= -math.sqrt(3) and noise.max() <= math.sqrt(3)
    assert noise.mean().item() == pytest.approx(0.0, abs=5e-3)
    assert noise.var().item() == pytest.approx(1.0, abs=5e-3)


def test_normal_prior_moments():
    noise = Normal(mean=1.0, std=2.0).sample(200_000, 10, generator=torch.Generator().manual_seed(0))
    assert noise.mean().item() == pytest.approx(1.0, abs=1e-2)
    assert noise.std().item() == pytest.approx(2.0, abs=1e-2)
    fourth = ((noise - 1.0) / 2.0).pow(4).mean().item()
    assert fourth == pytest.approx(3.0, abs=5e-2)  # Gaussian kurtosis


def test_priors_follow_the_given_generator():
    first = Uniform().sample(4, 3, generator=torch.Generator().manual_seed(1))
    second = Uniform().sample(4, 3, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(first, second)


@pytest.mark.parametrize("make", [lambda: Uniform(1.0, 1.0), lambda: Normal(std=0.0)])
def test_degenerate_priors_are_refused(make):
    with pytest.raises(ValueError):
        make()
