"""Closed-form and consistency tests for the Parzen-window log-likelihood."""

import doctest
import inspect
import math

import numpy as np
import pytest
import torch
from torch.testing import assert_close

import ganbench.metrics.parzen as parzen_module
from ganbench.metrics import (
    DEFAULT_SIGMAS,
    parzen_log_likelihood,
    parzen_summary,
    select_sigma,
)

MNIST_DIMENSION = 784


def naive_log_likelihood(x: torch.Tensor, centres: torch.Tensor, sigma: float) -> torch.Tensor:
    """Reference in the style of the original ``parzen_ll.py``: broadcast differences, float64."""
    x = x.reshape(x.shape[0], -1).double()
    centres = centres.reshape(centres.shape[0], -1).double()
    scaled = (x[:, None, :] - centres[None, :, :]) / sigma
    exponents = -0.5 * scaled.square().sum(dim=2)
    dimension = x.shape[1]
    return (
        torch.logsumexp(exponents, dim=1)
        - math.log(centres.shape[0])
        - dimension * math.log(sigma * math.sqrt(2 * math.pi))
    )


def random_set(count: int, dimension: int, seed: int) -> torch.Tensor:
    return torch.rand(count, dimension, generator=torch.Generator().manual_seed(seed))


def test_single_centre_at_the_point_gives_the_paper_check_value():
    exact = -(MNIST_DIMENSION / 2) * math.log(2 * math.pi * 0.04)
    assert round(exact, 4) == 541.3515
    centre = random_set(1, MNIST_DIMENSION, seed=0)
    result = parzen_log_likelihood(centre, centre, sigma=0.2)
    assert result.dtype == torch.float64 and result.shape == (1,)
    assert_close(result, torch.tensor([exact], dtype=torch.float64), atol=1e-6, rtol=0)


def test_single_centre_matches_the_gaussian_log_density():
    centre, x = random_set(1, 50, seed=1), random_set(4, 50, seed=2)
    sigma = 0.3
    squared = (x.double() - centre.double()).square().sum(dim=1)
    expected = -squared / (2 * sigma**2) - 25 * math.log(2 * math.pi * sigma**2)
    assert_close(parzen_log_likelihood(x, centre, sigma), expected, atol=1e-9, rtol=0)


def test_duplicating_every_centre_changes_nothing():
    x, centres = random_set(20, 30, seed=3), random_set(15, 30, seed=4)
    once = parzen_log_likelihood(x, centres, sigma=0.25)
    twice = parzen_log_likelihood(x, torch.cat([centres, centres]), sigma=0.25)
    assert_close(twice, once, atol=1e-9, rtol=0)


def test_rescaling_to_minus_one_one_shifts_by_minus_d_log_two():
    x, centres = random_set(20, MNIST_DIMENSION, seed=5), random_set(40, MNIST_DIMENSION, seed=6)
    unit = parzen_log_likelihood(x, centres, sigma=0.2)
    symmetric = parzen_log_likelihood(2 * x - 1, 2 * centres - 1, sigma=0.4)
    assert_close(symmetric, unit - MNIST_DIMENSION * math.log(2), atol=1e-9, rtol=0)


def test_gaussian_data_approaches_the_analytic_expected_log_likelihood():
    # Centres and data from N(0, I); the Parzen estimate tends to N(0, (1 + sigma^2) I), whose expected
    # log-density is -d/2 [log(2 pi (1 + sigma^2)) + 1 / (1 + sigma^2)]. The test-set noise is ~0.012 nats
    # and the finite-n bias ~1e-4; dropping -log n would be off by log(20000) = 9.9 nats.
    generator = torch.Generator().manual_seed(7)
    dimension, sigma = 2, 0.5
    centres = torch.randn(20_000, dimension, generator=generator, dtype=torch.float64)
    x = torch.randn(4_000, dimension, generator=generator, dtype=torch.float64)
    variance = 1 + sigma**2
    expected = -dimension / 2 * (math.log(2 * math.pi * variance) + 1 / variance)
    mean, _ = parzen_summary(parzen_log_likelihood(x, centres, sigma))
    assert abs(mean - expected) < 0.05


@pytest.mark.parametrize("batch_size, centre_chunk", [(1, 1), (7, 7), (3, 1000), (1000, 7), (1024, None)])
def test_chunked_and_unchunked_agree(batch_size, centre_chunk):
    x, centres = random_set(23, 40, seed=8), random_set(37, 40, seed=9)
    whole = parzen_log_likelihood(x, centres, sigma=0.15, batch_size=10_000, centre_chunk=10_000)
    chunked = parzen_log_likelihood(x, centres, sigma=0.15, batch_size=batch_size, centre_chunk=centre_chunk)
    assert_close(chunked, whole, atol=1e-9, rtol=0)


@pytest.mark.parametrize("sigma", [0.05, 0.2, 1.0])
def test_matches_the_naive_float64_broadcast(sigma):
    x, centres = random_set(12, MNIST_DIMENSION, seed=10), random_set(30, MNIST_DIMENSION, seed=11)
    x = torch.cat([x, centres[:3]])  # include exact hits, where the expansion must clamp at zero
    expected = naive_log_likelihood(x, centres, sigma)
    assert_close(parzen_log_likelihood(x.float(), centres.float(), sigma), expected, atol=1e-9, rtol=0)


def test_examples_are_flattened_per_example():
    images, centres = random_set(5, MNIST_DIMENSION, seed=12), random_set(9, MNIST_DIMENSION, seed=13)
    flat = parzen_log_likelihood(images, centres, sigma=0.3)
    shaped = parzen_log_likelihood(images.reshape(5, 1, 28, 28), centres.reshape(9, 28, 28), sigma=0.3)
    assert_close(shaped, flat, atol=0, rtol=0)


def test_select_sigma_maximises_the_validation_log_likelihood():
    validation, centres = random_set(25, 20, seed=14), random_set(40, 20, seed=15)
    best, means = select_sigma(validation, centres)
    assert means.shape == (len(DEFAULT_SIGMAS),) and means.dtype == torch.float64
    grid = torch.tensor(DEFAULT_SIGMAS, dtype=torch.float64)
    assert_close(grid, torch.logspace(-1, 0, 10, dtype=torch.float64))
    expected = torch.stack([parzen_log_likelihood(validation, centres, sigma).mean() for sigma in grid.tolist()])
    assert_close(means, expected, atol=1e-9, rtol=0)
    assert best == DEFAULT_SIGMAS[int(torch.argmax(expected))]


def test_select_sigma_sees_only_validation_data():
    parameters = ("validation", "centres", "sigmas", "batch_size", "centre_chunk")
    assert tuple(inspect.signature(select_sigma).parameters) == parameters
    generator = torch.Generator().manual_seed(16)
    centres = torch.rand(50, 10, generator=generator)
    near = centres[:20] + 0.01 * torch.randn(20, 10, generator=generator)  # favours the smallest sigma
    far = torch.rand(20, 10, generator=generator)  # favours a wider kernel
    grid = [0.02, 0.1, 0.5]
    best_near, _ = select_sigma(near, centres, grid)
    best_far, _ = select_sigma(far, centres, grid)
    assert best_near == 0.02 and best_far != 0.02
    assert select_sigma(near, centres, grid)[0] == best_near  # deterministic given the validation set


def test_summary_is_the_mean_and_the_population_standard_error():
    centres = random_set(30, MNIST_DIMENSION, seed=17)
    values = parzen_log_likelihood(random_set(18, MNIST_DIMENSION, seed=18), centres, sigma=0.2)
    numpy_values = values.numpy()
    expected_error = np.std(numpy_values) / np.sqrt(numpy_values.size)
    assert parzen_summary(values) == pytest.approx((numpy_values.mean(), expected_error), rel=1e-12)


def test_docstring_examples_run():
    assert doctest.testmod(parzen_module).failed == 0


@pytest.mark.parametrize(
    "x, centres, sigma, message",
    [
        (torch.rand(3, 784), torch.rand(4, 783), 0.2, r"different dimensionality.*\(3, 784\).*\(4, 783\)"),
        (torch.rand(0, 784), torch.rand(4, 784), 0.2, "x is empty"),
        (torch.rand(3, 784), torch.rand(0, 784), 0.2, "centres is empty"),
        (torch.rand(3, 784), torch.rand(4, 784), 0.0, "sigma must be a finite positive"),
        (torch.rand(3, 784), torch.rand(4, 784), -0.1, "sigma must be a finite positive"),
        (torch.rand(3, 784), torch.rand(4, 784), math.nan, "sigma must be a finite positive"),
        (torch.rand(3, 784), torch.rand(4, 784), math.inf, "sigma must be a finite positive"),
        (torch.full((3, 784), math.nan), torch.rand(4, 784), 0.2, "x contains NaN"),
        (torch.rand(3, 784), torch.full((4, 784), math.inf), 0.2, "centres contains NaN or infinite"),
        (torch.zeros(3, 784, dtype=torch.uint8), torch.rand(4, 784), 0.2, "x must be floating point"),
        (torch.rand(784), torch.rand(4, 784), 0.2, r"x must have shape \(N, features...\)"),
    ],
)
def test_bad_input_raises_a_clear_value_error(x, centres, sigma, message):
    with pytest.raises(ValueError, match=message):
        parzen_log_likelihood(x, centres, sigma)


def test_bad_grid_and_summary_arguments_raise_value_error():
    x, centres = torch.rand(3, 5), torch.rand(4, 5)
    with pytest.raises(ValueError, match="sigma grid is empty"):
        select_sigma(x, centres, sigmas=[])
    with pytest.raises(ValueError, match="sigma must be a finite positive"):
        select_sigma(x, centres, sigmas=[0.1, -1.0])
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        parzen_log_likelihood(x, centres, 0.1, batch_size=0)
    with pytest.raises(ValueError, match="log_likelihoods is empty"):
        parzen_summary(torch.empty(0))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_runs_on_the_device_of_x_without_tf32():
    torch.backends.cuda.matmul.allow_tf32 = True
    try:
        x, centres = random_set(50, MNIST_DIMENSION, seed=40), random_set(60, MNIST_DIMENSION, seed=41)
        result = parzen_log_likelihood(x.cuda(), centres, sigma=0.05)
        assert result.device.type == "cuda"
        assert_close(result.cpu(), naive_log_likelihood(x, centres, 0.05), atol=1e-9, rtol=0)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = False
