"""Benchmark the Parzen-window log-likelihood at MNIST size against a naive form and a bare matrix product.

Usage::

    python bench/parzen.py [--n 10000] [--validation 1000] [--quick]

Data are uniform random in ``[0, 1]`` (float32, as generator output would be), ``d = 784``. Timed in one
run, each the best of ``--repeats`` runs:

* the bare float64 matrix product ``(n x d) @ (d x n)``, the floor any exact method must pay;
* evaluation of the ``n`` test points at one sigma with :func:`ganbench.metrics.parzen_log_likelihood`;
* the 10-sigma selection on the validation points with :func:`ganbench.metrics.select_sigma`;
* the whole protocol: selection, then evaluation at the chosen sigma, then mean and standard error;
* the naive broadcast form of the original ``parzen_ll.py`` (``(x[:, None] - mu[None]) / sigma``, square,
  sum, logsumexp, float64, ``--naive-batch`` test points at a time) on ``--naive-points`` test points,
  extrapolated linearly to ``n`` points (and, for the protocol, to ``n + 10 x validation`` evaluations,
  since the original script re-evaluates the validation set once per sigma).
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import Callable

import torch

from ganbench.metrics import DEFAULT_SIGMAS, parzen_log_likelihood, parzen_summary, select_sigma


def naive_log_likelihood(x: torch.Tensor, centres: torch.Tensor, sigma: float, batch_size: int) -> torch.Tensor:
    """The original script's broadcast form, in float64, ``batch_size`` test points at a time."""
    centres = centres.double()
    dimension = centres.shape[1]
    values = []
    for start in range(0, x.shape[0], batch_size):
        scaled = (x[start : start + batch_size].double()[:, None, :] - centres[None, :, :]) / sigma
        exponents = -0.5 * scaled.square().sum(dim=2)
        log_mean = torch.logsumexp(exponents, dim=1) - math.log(centres.shape[0])
        values.append(log_mean - dimension * math.log(sigma * math.sqrt(2 * math.pi)))
    return torch.cat(values)


def synchronise() -> None:
    """Wait for queued CUDA work so that wall-clock times are complete."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def best_time(function: Callable[[], object], repeats: int) -> tuple[float, object]:
    """Smallest wall-clock time over ``repeats`` calls, and the last result."""
    times, result = [], None
    for _ in range(repeats):
        synchronise()
        start = time.perf_counter()
        result = function()
        synchronise()
        times.append(time.perf_counter() - start)
    return min(times), result


def time_bare_product(left: torch.Tensor, right: torch.Tensor, repeats: int) -> float:
    """Best time of the float64 product ``left @ right.T``, the floor for any exact method."""
    left, right = left.double(), right.double()
    return best_time(lambda: left @ right.T, repeats)[0]


def protocol(validation: torch.Tensor, test: torch.Tensor, centres: torch.Tensor) -> tuple[float, float, float]:
    """Sigma selection on validation, evaluation on test: ``(sigma, mean, standard_error)``."""
    sigma, _ = select_sigma(validation, centres)
    mean, standard_error = parzen_summary(parzen_log_likelihood(test, centres, sigma))
    return sigma, mean, standard_error


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="centres and test points (default 10000)")
    parser.add_argument("--validation", type=int, default=1_000, help="validation points (default 1000)")
    parser.add_argument("--dimension", type=int, default=784)
    parser.add_argument("--naive-points", type=int, default=20, help="test points timed in the naive form")
    parser.add_argument("--naive-batch", type=int, default=2, help="test points per naive broadcast")
    parser.add_argument("--repeats", type=int, default=3, help="timings are the best of this many runs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--device", default="cpu", help="device for all tensors, e.g. cuda (default cpu)")
    parser.add_argument("--quick", action="store_true", help="small smoke-test run (n=500, validation=100)")
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.n, arguments.validation, arguments.naive_points, arguments.repeats = 500, 100, 4, 1
    return arguments


def main() -> None:
    arguments = parse_arguments()
    n, validation_size, dimension = arguments.n, arguments.validation, arguments.dimension
    if arguments.threads is not None:
        torch.set_num_threads(arguments.threads)
    generator = torch.Generator().manual_seed(arguments.seed)
    sizes = (n, n, validation_size)
    centres, test, validation = (torch.rand(size, dimension, generator=generator) for size in sizes)
    centres, test, validation = (values.to(arguments.device) for values in (centres, test, validation))
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"torch {torch.__version__} on {arguments.device}, {torch.get_num_threads()} CPU threads, load {load}")
    print(f"times are the best of {arguments.repeats} runs")
    print(f"n = {n} centres, {n} test points, {validation_size} validation points, d = {dimension}")

    sigma = 0.2
    parzen_log_likelihood(test[:10], centres[:10], sigma)  # warm-up: thread pool, kernels
    product_time = time_bare_product(centres, test, arguments.repeats)
    evaluation_time, fast = best_time(lambda: parzen_log_likelihood(test, centres, sigma), arguments.repeats)
    selection_time, _ = best_time(lambda: select_sigma(validation, centres), arguments.repeats)
    protocol_time, (chosen, mean, standard_error) = best_time(
        lambda: protocol(validation, test, centres), arguments.repeats
    )
    subset = test[: arguments.naive_points]
    naive_time, naive = best_time(
        lambda: naive_log_likelihood(subset, centres, sigma, arguments.naive_batch), arguments.repeats
    )
    naive_evaluation = naive_time / subset.shape[0] * n
    naive_protocol = naive_time / subset.shape[0] * (n + len(DEFAULT_SIGMAS) * validation_size)
    difference = (naive - fast[: subset.shape[0]]).abs().max().item()

    sigma_count = len(DEFAULT_SIGMAS)
    print(f"bare float64 product ({n} x {dimension}) @ ({dimension} x {n}): {product_time:.3f} s")
    print(f"evaluation, {n} test points at sigma = {sigma}: {evaluation_time:.3f} s")
    print(f"selection, {sigma_count} sigmas on {validation_size} validation points: {selection_time:.3f} s")
    print(f"whole protocol (selection + evaluation + summary): {protocol_time:.3f} s")
    print(f"naive broadcast: {naive_time:.3f} s for {subset.shape[0]} points (batch {arguments.naive_batch})")
    print(f"  extrapolated evaluation of {n} points: {naive_evaluation:.1f} s")
    print(f"  extrapolated protocol ({n} + {sigma_count} x {validation_size} evaluations): {naive_protocol:.1f} s")
    print(f"max |naive - fast| on the subset: {difference:.2e} nats")
    print(f"speed-up over naive, evaluation:      {naive_evaluation / evaluation_time:8.1f}x (target >= 50x)")
    print(f"speed-up over naive, whole protocol:  {naive_protocol / protocol_time:8.1f}x")
    print(f"evaluation / bare product:            {evaluation_time / product_time:8.2f}x (target <= 3x)")
    print(f"whole protocol / bare product:        {protocol_time / product_time:8.2f}x")
    print(f"result on random data: sigma = {chosen:.4f}, mean LL = {mean:.2f} +- {standard_error:.2f} nats")


if __name__ == "__main__":
    main()
