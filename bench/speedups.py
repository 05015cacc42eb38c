"""Time per step of the paper's MNIST recipe with the optional speed-ups: torch.compile, bf16 autocast, both.

The four variants train the paper's MNIST networks (maxout D with dropout, 1200-1200 G; 3.7 M parameters)
with classic-momentum SGD, the per-minibatch lr decay and the released code's simultaneous update, batch
100, on the embedded MNIST sample, through ganbench's real ``Trainer`` path (``bench/throughput.py``'s
``timed_fit``):

- ``baseline``: float32, eager;
- ``compile``: ``GAN(compile_networks=True)`` (``--model.compile_networks=true``), inductor by default;
- ``bf16``: ``Trainer(precision="bf16-mixed")`` (``--trainer.precision=bf16-mixed``);
- ``compile+bf16``: both.

Runs alternate (baseline, compile, bf16, compile+bf16, baseline, ...) so machine noise hits all alike; the
first ``--warmup`` steps (compilation included) are not timed. Printed: each variant's median time per step,
its speed-up over the baseline (baseline time / its time, > 1 is faster), and its start-up: the fit's wall
time less its timed steps (set-up, the warm-up steps and tear-down; compilation, where it applies).

    OMP_NUM_THREADS=1 python bench/speedups.py                  # ~4 min; one thread: steadier on a shared machine
    python bench/speedups.py --steps 30 --warmup 5 --repeats 1  # smoke run
    python bench/speedups.py --accelerator gpu --compile-mode max-autotune  # on a GPU
"""

import argparse
import statistics
import tempfile
import time

import torch
from throughput import paper_gan, timed_fit  # bench/ is on the path when a script in it runs

from ganbench.data import MNISTSampleDataModule

VARIANTS = {  # name: (compile_networks, precision)
    "baseline": (False, "32-true"),
    "compile": (True, "32-true"),
    "bf16": (False, "bf16-mixed"),
    "compile+bf16": (True, "bf16-mixed"),
}


def run(
    variant: str, arguments: argparse.Namespace, datamodule: MNISTSampleDataModule, log_dir: str
) -> tuple[float, float]:
    """One fit of ``variant``; returns (timed seconds, start-up seconds)."""
    compile_networks, precision = VARIANTS[variant]
    if compile_networks and arguments.compile_mode:
        compile_networks = {"mode": arguments.compile_mode}
    gan = paper_gan(compile_networks=compile_networks)
    start = time.perf_counter()
    options = dict(precision=precision, accelerator=arguments.accelerator)
    seconds = timed_fit(gan, arguments.steps, arguments.warmup, datamodule, log_dir, **options)
    return seconds, time.perf_counter() - start - seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=150, help="timed steps per run")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps first (compilation happens here)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each variant")
    parser.add_argument("--accelerator", default="cpu", help="the Trainer's accelerator (cpu, gpu)")
    parser.add_argument("--compile-mode", default=None, help="torch.compile's mode (default: its own default)")
    arguments = parser.parse_args()
    datamodule = MNISTSampleDataModule(batch_size=100)
    datamodule.setup()
    times: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    startups: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    with tempfile.TemporaryDirectory() as log_dir:
        for _ in range(arguments.repeats):
            for variant in VARIANTS:
                seconds, startup = run(variant, arguments, datamodule, log_dir)
                times[variant].append(seconds)
                startups[variant].append(startup)
    device = torch.cuda.get_device_name() if arguments.accelerator == "gpu" else torch.backends.cpu.get_cpu_capability()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {device}, batch 100, paper MNIST networks, "
        f"{arguments.steps} timed steps after {arguments.warmup}, compile mode {arguments.compile_mode or 'default'}"
    )
    baseline = statistics.median(times["baseline"]) / arguments.steps
    for variant in VARIANTS:
        step = statistics.median(times[variant]) / arguments.steps
        runs = ", ".join(f"{seconds:.2f}s" for seconds in times[variant])
        startup = ", ".join(f"{seconds:.1f}s" for seconds in startups[variant])
        print(
            f"{variant:>13}: {step * 1e3:7.2f} ms/step  speed-up {baseline / step:5.2f}x  "
            f"(runs: {runs}; start-up: {startup})"
        )


if __name__ == "__main__":
    main()
