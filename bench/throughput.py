"""Training iterations per second: ganbench vs a plain PyTorch loop, same run, same everything.

Both train the paper's MNIST networks (maxout D with dropout, 1200-1200 G) with the paper's
classic-momentum SGD and per-minibatch lr decay, batch 100, on the embedded MNIST sample,
with the released code's simultaneous update. Runs alternate (plain, ganbench, plain, ...) so
that machine noise hits both alike; the ratio of the medians is printed.

    python bench/throughput.py            # ~2 min on 2 CPU cores
    python bench/throughput.py --steps 50 --repeats 1   # smoke run
    python bench/throughput.py --device cuda --steps 2000 --repeats 5   # on a GPU

On a GPU both loops hold the images on it, clocks are read after ``torch.cuda.synchronize()``, and the
time for 100 epochs of 50,000 images (50,000 steps of batch 100) is printed as well.
Target: ganbench >= 0.9x the plain loop.
"""

import argparse
import statistics
import tempfile
import time
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.loggers import CSVLogger

from ganbench import GAN
from ganbench.data import MNISTSampleDataModule
from ganbench.data.batches import DeviceBatches
from ganbench.losses import NonSaturating
from ganbench.nets import MaxoutDiscriminator, MLPGenerator
from ganbench.optim import ClassicMomentumSGD, ExponentialDecay
from ganbench.priors import Uniform


def paper_networks(seed: int) -> tuple[MLPGenerator, MaxoutDiscriminator]:
    torch.manual_seed(seed)
    return MLPGenerator(), MaxoutDiscriminator()


def synchronize(device: torch.device) -> None:
    """Waits for the device's queued kernels, so that a clock read after it counts them (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def accelerator(device: torch.device) -> str:
    """The ``Trainer`` accelerator that trains on ``device``."""
    return "gpu" if device.type == "cuda" else device.type


def plain_loop(steps: int, warmup: int, datamodule: MNISTSampleDataModule, device: torch.device) -> float:
    """The same training written by hand; returns seconds for ``steps`` timed iterations.

    Its batches are ganbench's own (``DeviceBatches``: the training images held on ``device``, sliced in a
    fresh order each epoch), so the two loops differ only in the training around them.
    """
    generator, discriminator = paper_networks(0)
    generator.initialize_from_data(datamodule.pixel_mean())
    generator, discriminator = generator.to(device), discriminator.to(device)
    batches = DeviceBatches(datamodule.datasets["train"], datamodule.batch_size, device)
    loss, prior = NonSaturating(), Uniform()
    generator_optimizer = ClassicMomentumSGD(generator.parameters(), lr=0.1, momentum=0.5)
    discriminator_optimizer = ClassicMomentumSGD(discriminator.parameters(), lr=0.1, momentum=0.5)
    schedulers = [ExponentialDecay(generator_optimizer), ExponentialDecay(discriminator_optimizer)]
    noise_generator = torch.Generator(device=device).manual_seed(0)
    done, start = 0, 0.0
    while done < warmup + steps:
        for real, _ in batches:  # one epoch
            if done == warmup:
                synchronize(device)
                start = time.perf_counter()
            if done == warmup + steps:
                break
            fake = generator(prior.sample(len(real), generator.latent_dim, device, noise_generator))
            fake_input = fake.detach().requires_grad_(True)
            real_logits, fake_logits = discriminator(real), discriminator(fake_input)
            discriminator_loss = loss.discriminator_loss(real_logits, fake_logits)
            generator_loss = loss.generator_loss(fake_logits)
            (fake_gradient,) = torch.autograd.grad(generator_loss, fake_input, retain_graph=True)
            discriminator_optimizer.zero_grad(set_to_none=True)
            generator_optimizer.zero_grad(set_to_none=True)
            (discriminator_loss + (fake * fake_gradient).sum()).backward()
            discriminator_optimizer.step()
            generator_optimizer.step()
            for scheduler in schedulers:
                scheduler.step()
            done += 1
    synchronize(device)
    return time.perf_counter() - start


class StepTimer:
    """Times the training batches after the first ``warmup``, then stops the run after ``steps`` of them.

    It rides on ``module``'s own ``on_train_batch_start`` and ``on_train_batch_end``, which Lightning calls
    at every step anyway: a timing ``Callback`` would add a dispatch of its own to each of the eight callback
    hooks of a step (about 20 us on the CPU, 1% of ``bench/overhead.py``'s step), counted as the module's
    time. It counts batches itself, so a module that steps its optimisers outside Lightning's step counter
    (``bench/overhead.py``'s hook-free loop) is timed alike; it ends the run with ``trainer.should_stop``.
    """

    def __init__(self, module: pl.LightningModule, warmup: int, steps: int) -> None:
        self.start, self.end, self.batches = 0.0, 0.0, 0
        start_hook, end_hook = module.on_train_batch_start, module.on_train_batch_end

        def on_train_batch_start(batch: Any, batch_idx: int) -> Any:
            if self.batches == warmup:
                synchronize(module.device)
                self.start = time.perf_counter()
            return start_hook(batch, batch_idx)

        def on_train_batch_end(outputs: Any, batch: Any, batch_idx: int) -> None:
            end_hook(outputs, batch, batch_idx)
            self.batches += 1
            if self.batches == warmup + steps:
                synchronize(module.device)
                self.end = time.perf_counter()
                module.trainer.should_stop = True

        module.on_train_batch_start, module.on_train_batch_end = on_train_batch_start, on_train_batch_end


def ganbench_loop(
    steps: int, warmup: int, datamodule: MNISTSampleDataModule, log_dir: str, device: torch.device
) -> float:
    """ganbench's Trainer with its default logging (every 50 steps); returns timed seconds."""
    return timed_fit(paper_gan(), steps, warmup, datamodule, log_dir, accelerator=accelerator(device), devices=1)


def paper_gan(**options: Any) -> GAN:
    """The paper's MNIST recipe as ``GAN`` (the released code's simultaneous update); ``options`` go to ``GAN``."""
    generator, discriminator = paper_networks(0)
    return GAN(
        generator,
        discriminator,
        loss=NonSaturating(),
        prior=Uniform(),
        schedule="simultaneous",
        generator_optimizer=lambda p: ClassicMomentumSGD(p, lr=0.1, momentum=0.5),
        discriminator_optimizer=lambda p: ClassicMomentumSGD(p, lr=0.1, momentum=0.5),
        generator_scheduler=ExponentialDecay,
        discriminator_scheduler=ExponentialDecay,
        **options,
    )


def timed_fit(
    module: pl.LightningModule,
    steps: int,
    warmup: int,
    datamodule: MNISTSampleDataModule,
    log_dir: str,
    **trainer_options: Any,
) -> float:
    """Fits ``module`` on the CPU with a CSV logger at its default interval and no progress bar, checkpoints or
    validation; returns the seconds of the ``steps`` steps after ``warmup`` (also used by ``bench/overhead.py``
    and ``bench/speedups.py``). ``trainer_options`` (``precision``, ``accelerator``) go to the ``Trainer``."""
    timer = StepTimer(module, warmup, steps)
    options = dict(
        accelerator="cpu",
        max_epochs=-1,  # the timer stops the run
        logger=CSVLogger(log_dir),
        callbacks=[],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
    )
    trainer = pl.Trainer(**{**options, **trainer_options})
    trainer.fit(module, datamodule=datamodule)
    return timer.end - timer.start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=300, help="timed iterations per run")
    parser.add_argument("--warmup", type=int, default=20, help="untimed iterations first")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each")
    parser.add_argument("--device", default="cpu", help="where both loops train: cpu or cuda")
    arguments = parser.parse_args()
    device = torch.device(arguments.device)
    datamodule = MNISTSampleDataModule(batch_size=100)
    datamodule.setup()
    plain_times, ganbench_times = [], []
    with tempfile.TemporaryDirectory() as log_dir:
        for _ in range(arguments.repeats):
            plain_times.append(plain_loop(arguments.steps, arguments.warmup, datamodule, device))
            ganbench_times.append(ganbench_loop(arguments.steps, arguments.warmup, datamodule, log_dir, device))
    plain_rate = arguments.steps / statistics.median(plain_times)
    ganbench_rate = arguments.steps / statistics.median(ganbench_times)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{torch.get_num_threads()} threads"
    print(f"torch {torch.__version__}, {where}, batch 100, paper MNIST networks")
    print(f"plain PyTorch loop: {plain_rate:7.2f} it/s  (runs: {', '.join(f'{t:.2f}s' for t in plain_times)})")
    print(f"ganbench (Trainer): {ganbench_rate:7.2f} it/s  (runs: {', '.join(f'{t:.2f}s' for t in ganbench_times)})")
    print(f"ratio ganbench / plain: {ganbench_rate / plain_rate:.3f}  (target >= 0.9)")
    epochs = 100 * 50_000 // datamodule.batch_size  # 100 epochs of the full 50,000-image training split
    print(f"100 epochs of 50,000 images ({epochs} steps): ganbench {epochs / ganbench_rate / 60:.1f} min, ", end="")
    print(f"plain loop {epochs / plain_rate / 60:.1f} min (target on one H100: under 3 min)")


if __name__ == "__main__":
    main()
