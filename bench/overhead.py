"""What ganbench adds to each training step, measured where the networks cost almost nothing.

Loops train tiny networks (16 hidden units: G 100 -> 16 -> 784, D 784 -> 16 -> 1) with Adam on the
embedded MNIST sample, batch 100, in Algorithm 1's order (one D update, then one G update, a step):

- the bare loop holds the training images as one float tensor, shuffles indices with ``randperm`` each
  epoch and takes each batch as ``images[indices]``: no DataLoader, no logging, no checks. Its Adam is
  ``torch.optim.Adam(params, lr, betas)`` as torch builds it (the for-loop kernel). It runs without the
  ``PYTORCH_NVML_BASED_CUDA_CHECK`` that importing Lightning sets, as a script that never imported
  Lightning would;
- the **tuned** bare loop makes the two choices ganbench makes for its user: ``fused=True`` Adam
  (``ganbench.optim.fused_unless_chosen``) and batches taken with ``index_select`` (``DeviceBatches``;
  advanced indexing is ~40 us slower a batch on the CPU). It shows how much of ganbench's figure those
  choices buy, and what ganbench costs against a hand loop that makes them too;
- the same step as a plain ``LightningModule`` (manual optimisation, as Lightning's docs write it, with the
  for-loop Adam) through the same ``Trainer`` and data: what Lightning itself costs;
- the same LightningModule with torch's own optimisers and ``backward`` inside the step, so that no
  Lightning hook fires in it, and without the NVML check (as ganbench trains): the cost of Lightning's
  loop alone, the floor of any LightningModule;
- ganbench runs its default path: ``Trainer`` + ``GAN`` + ``MNISTSampleDataModule`` (the training split
  held as a tensor, batches sliced from it), a CSV logger at the default interval (50 steps), the
  divergence watch, no progress bar.

The loops take turns (bare, tuned bare, Lightning, Lightning with no hooks, ganbench, bare, ...), and
each ratio is the median over the rounds of that round's ratio: the time per step drifts by 10-30%
between runs on a shared machine (even the bare loop's), and a round's runs are seconds apart. Printed:
ganbench / bare (the target), ganbench / tuned bare, ganbench / plain Lightning, Lightning's loop alone /
bare, and the microseconds ganbench adds per step to the bare loop.

    OMP_NUM_THREADS=1 python bench/overhead.py     # ~3 min; one thread: steadier on a shared machine
    python bench/overhead.py --steps 200 --repeats 1   # smoke run
    python bench/overhead.py --device cuda --steps 2000   # on a GPU: clocks read after synchronising

Target (issue: per-step overhead): ganbench within 1.15x of the bare loop.
"""

import argparse
import contextlib
import os
import statistics
import tempfile
import time

import lightning.pytorch as pl
import torch
from throughput import accelerator, synchronize, timed_fit  # bench/ is on the path when a script in it runs

from ganbench import GAN
from ganbench.cuda_check import VARIABLE
from ganbench.data import MNISTSampleDataModule
from ganbench.losses import NonSaturating
from ganbench.nets import MLPDiscriminator, MLPGenerator
from ganbench.priors import Uniform

HIDDEN = 16
BATCH = 100


def tiny_networks(seed: int) -> tuple[MLPGenerator, MLPDiscriminator]:
    torch.manual_seed(seed)
    return MLPGenerator(hidden_dims=(HIDDEN,)), MLPDiscriminator(hidden_dims=(HIDDEN,), dropout=0.0)


def adam(parameters, fused: bool | None = None) -> torch.optim.Adam:
    return torch.optim.Adam(parameters, lr=2e-4, betas=(0.5, 0.999), fused=fused)


@contextlib.contextmanager
def without_lightning_environment():
    """What a script that never imported Lightning sees: no ``PYTORCH_NVML_BASED_CUDA_CHECK`` (Lightning sets it).

    With it set, torch's Adam asks NVML whether CUDA is available at every step (ganbench/cuda_check.py).
    """
    saved = os.environ.pop(VARIABLE, None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ[VARIABLE] = saved


@without_lightning_environment()
def bare_loop(steps: int, warmup: int, images: torch.Tensor, tuned: bool = False) -> float:
    """Algorithm 1 by hand over an in-memory tensor (on its device); returns seconds for ``steps`` timed steps."""
    device = images.device
    generator, discriminator = (network.to(device) for network in tiny_networks(0))
    loss, prior = NonSaturating(), Uniform()
    fused = True if tuned else None
    generator_optimizer = adam(generator.parameters(), fused)
    discriminator_optimizer = adam(discriminator.parameters(), fused)
    noise_generator = torch.Generator(device=device).manual_seed(0)
    order_generator = torch.Generator().manual_seed(1)
    done, start = 0, 0.0
    while done < warmup + steps:
        order = torch.randperm(len(images), generator=order_generator).to(device)
        for first in range(0, len(images) - BATCH + 1, BATCH):
            if done == warmup:
                synchronize(device)
                start = time.perf_counter()
            if done == warmup + steps:
                break
            indices = order[first : first + BATCH]
            real = images.index_select(0, indices) if tuned else images[indices]
            with torch.no_grad():
                fake = generator(prior.sample(BATCH, generator.latent_dim, device, noise_generator))
            discriminator_loss = loss.discriminator_loss(discriminator(real), discriminator(fake))
            discriminator_optimizer.zero_grad(set_to_none=True)
            discriminator_loss.backward()
            discriminator_optimizer.step()
            fake_logits = discriminator(generator(prior.sample(BATCH, generator.latent_dim, device, noise_generator)))
            generator_loss = loss.generator_loss(fake_logits)
            generator_optimizer.zero_grad(set_to_none=True)
            generator_loss.backward()  # D's weights get gradients too; zeroed before D's next update
            generator_optimizer.step()
            done += 1
    synchronize(device)
    return time.perf_counter() - start


class PlainLightningGAN(pl.LightningModule):
    """The bare loop's step written as a plain LightningModule with manual optimisation, as its docs show.

    What Lightning itself costs a step, before anything of ganbench's (each ``optimizer.step()`` counts as a
    Lightning step here, two a batch; the benchmark counts batches). With ``hooks=False`` the step uses
    torch's own optimisers and ``backward``, so no Lightning hook fires inside it: what Lightning's loop
    costs around a step it does not see into (the fetch, ``batch_to_device``, progress counters, the batch
    hooks), the floor of any LightningModule.
    """

    def __init__(self, hooks: bool = True) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.hooks = hooks
        self.generator, self.discriminator = tiny_networks(0)
        self.loss, self.prior = NonSaturating(), Uniform()
        self.noise: torch.Generator | None = None

    def on_fit_start(self) -> None:
        self.noise = torch.Generator(device=self.device).manual_seed(0)

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        return [adam(self.discriminator.parameters()), adam(self.generator.parameters())]

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        real, _ = batch
        discriminator_optimizer, generator_optimizer = self.optimizers(use_pl_optimizer=self.hooks)
        backward = self.manual_backward if self.hooks else torch.Tensor.backward
        with torch.no_grad():
            fake = self.generator(self.prior.sample(BATCH, self.generator.latent_dim, self.device, self.noise))
        discriminator_loss = self.loss.discriminator_loss(self.discriminator(real), self.discriminator(fake))
        discriminator_optimizer.zero_grad(set_to_none=True)
        backward(discriminator_loss)
        discriminator_optimizer.step()
        fake = self.generator(self.prior.sample(BATCH, self.generator.latent_dim, self.device, self.noise))
        generator_loss = self.loss.generator_loss(self.discriminator(fake))
        generator_optimizer.zero_grad(set_to_none=True)
        backward(generator_loss)
        generator_optimizer.step()


def lightning_loop(
    steps: int, warmup: int, datamodule: MNISTSampleDataModule, log_dir: str, device: torch.device, hooks: bool = True
) -> float:
    """The same training as a plain LightningModule through the same Trainer; returns timed seconds.

    Without hooks it also runs without the NVML check (as ganbench trains), to measure the loop alone.
    """
    module = PlainLightningGAN(hooks)
    with contextlib.nullcontext() if hooks else without_lightning_environment():
        return timed_fit(module, steps, warmup, datamodule, log_dir, accelerator=accelerator(device), devices=1)


def ganbench_loop(
    steps: int, warmup: int, datamodule: MNISTSampleDataModule, log_dir: str, device: torch.device
) -> float:
    """ganbench's default path for the same training; returns timed seconds."""
    generator, discriminator = tiny_networks(0)
    gan = GAN(generator, discriminator, generator_optimizer=adam, discriminator_optimizer=adam)
    return timed_fit(gan, steps, warmup, datamodule, log_dir, accelerator=accelerator(device), devices=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=500, help="timed steps per run")
    parser.add_argument("--warmup", type=int, default=50, help="untimed steps first")
    parser.add_argument("--repeats", type=int, default=9, help="rounds (one run of each loop a round)")
    parser.add_argument("--device", default="cpu", help="where every loop trains: cpu or cuda")
    arguments = parser.parse_args()
    device = torch.device(arguments.device)
    datamodule = MNISTSampleDataModule(batch_size=BATCH)
    datamodule.setup()
    images = datamodule.split_images("train").to(device)  # (4500, 1, 28, 28) float in [0, 1], held there
    steps, warmup = arguments.steps, arguments.warmup
    loops = {
        "bare loop": lambda: bare_loop(steps, warmup, images),
        "bare, tuned": lambda: bare_loop(steps, warmup, images, tuned=True),
        "Lightning": lambda: lightning_loop(steps, warmup, datamodule, log_dir, device),
        "Lightning, no hooks": lambda: lightning_loop(steps, warmup, datamodule, log_dir, device, hooks=False),
        "ganbench": lambda: ganbench_loop(steps, warmup, datamodule, log_dir, device),
    }
    per_step: dict[str, list[float]] = {name: [] for name in loops}
    with tempfile.TemporaryDirectory() as log_dir:
        for _ in range(arguments.repeats):
            for name, loop in loops.items():
                per_step[name].append(loop() / arguments.steps)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{torch.get_num_threads()} threads"
    print(f"torch {torch.__version__}, {where}, batch {BATCH}, {HIDDEN}-unit networks")
    notes = {
        "Lightning": "; a plain LightningModule, no ganbench",
        "Lightning, no hooks": "; torch's optimisers and backward inside the step",
        "bare, tuned": "; fused Adam, index_select batches",
    }
    for name, times in per_step.items():
        runs = ", ".join(f"{t * 1e6:.0f}" for t in times)
        print(f"{name + ':':21s}{statistics.median(times) * 1e6:8.1f} us/step  (runs: {runs}{notes.get(name, '')})")

    def median_ratio(baseline: str, loop: str = "ganbench") -> float:
        return statistics.median(g / b for g, b in zip(per_step[loop], per_step[baseline]))

    bare = per_step["bare loop"]
    print(f"spread of the bare loop's runs (slowest / fastest): {max(bare) / min(bare):.2f}  (a quiet machine: ~1.1)")
    added = statistics.median(g - b for g, b in zip(per_step["ganbench"], per_step["bare loop"]))
    print(f"ganbench adds {added * 1e6:.0f} us a step to the bare loop (median over rounds)")
    ratio = median_ratio("bare loop")
    print(f"ratio ganbench / bare (time per step, median over rounds): {ratio:.3f}  (target <= 1.15)")
    print(f"ratio ganbench / tuned bare loop: {median_ratio('bare, tuned'):.3f}")
    print(f"ratio ganbench / plain Lightning: {median_ratio('Lightning'):.3f}")
    print(f"ratio Lightning with no hooks in the step / bare: {median_ratio('bare loop', 'Lightning, no hooks'):.3f}")


if __name__ == "__main__":
    main()
