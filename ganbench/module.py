"""The GAN LightningModule: Algorithm 1 of the paper, with every part injected.

What a *step* is. One ganbench step is one training batch: one discriminator update on a
fresh minibatch of m data and m noise samples. In the ``alternating`` schedule (Algorithm 1)
every ``discriminator_steps``-th step (k) also makes the generator update that ends the
iteration; in the ``simultaneous`` schedule (the released code) every step makes both updates
from the same batch and z. So with k = 1, the paper's choice, a step is one iteration of
Algorithm 1. ``trainer.global_step``, ``max_steps``, ``every_n_train_steps``,
``val_check_interval``, ``limit_train_batches`` and the loggers' x-axis all count these steps:
the generator's optimiser is stepped outside Lightning's step counter, which would otherwise
count D and G updates separately and double every figure (Lightning#17958).
"""

import warnings
from collections.abc import Iterator
from typing import Any, Literal

import lightning.pytorch as pl
import torch
from jsonargparse import lazy_instance
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from lightning.pytorch.core.optimizer import LightningOptimizer
from torch import Tensor, nn
from torch.optim.lr_scheduler import LRScheduler

from ganbench.divergence import DivergencePolicy
from ganbench.errors import ConfigError, first_line
from ganbench.library_internals import checkpoint_interval, find_unused_parameters
from ganbench.losses import GANLoss, NonSaturating, discriminator_probability
from ganbench.nets.base import Discriminator, Generator
from ganbench.optim import ClassicMomentumSGD
from ganbench.priors import Prior, Uniform
from ganbench.run_state import (
    check_optimizers_match,
    check_state_dict_matches,
    gather_from_ranks,
    provenance,
    restore_rng_states,
    rng_states,
)
from ganbench.validation import check_networks_fit_data


class GAN(pl.LightningModule):
    """A generative adversarial net (Goodfellow et al. 2014) trained with manual optimisation.

    Args:
        generator: maps noise ``(B, latent_dim)`` to images ``(B, C, H, W)``; needs ``latent_dim``.
        discriminator: maps images ``(B, C, H, W)`` to logits ``(B,)``.
        loss: the pair of objectives (default: the paper's non-saturating generator loss).
        prior: the noise distribution p(z) (default: uniform with unit variance, MNIST recipe).
        generator_optimizer: builds G's optimiser from its parameters.
        discriminator_optimizer: builds D's optimiser from its parameters.
        generator_scheduler: builds G's learning-rate schedule, stepped after every G update.
        discriminator_scheduler: builds D's schedule, stepped after every D update.
        schedule: ``alternating`` (Algorithm 1: k D updates on fresh minibatches, then one G
            update) or ``simultaneous`` (released code: both updates from one batch and one z).
        discriminator_steps: k, D updates per G update in the ``alternating`` schedule.
        noise_seed: seed of the training noise stream; derived from the global seed when
            ``None``. Each DDP rank offsets it by its rank, so ranks draw different noise.
        on_divergence: when a loss or D output turns non-finite: ``stop`` with a message naming
            the step and the last good checkpoint, or ``rollback`` to that checkpoint with lower
            learning rates (docs/reliability.md).
        rollback_lr_factor: learning-rate multiplier applied at each rollback.
        max_rollbacks: rollbacks allowed before the run stops.
    """

    def __init__(
        self,
        generator: Generator,
        discriminator: Discriminator,
        loss: GANLoss = lazy_instance(NonSaturating),
        prior: Prior = lazy_instance(Uniform),
        generator_optimizer: OptimizerCallable = ClassicMomentumSGD,
        discriminator_optimizer: OptimizerCallable = ClassicMomentumSGD,
        generator_scheduler: LRSchedulerCallable | None = None,
        discriminator_scheduler: LRSchedulerCallable | None = None,
        schedule: Literal["alternating", "simultaneous"] = "alternating",
        discriminator_steps: int = 1,
        noise_seed: int | None = None,
        on_divergence: Literal["stop", "rollback"] = "stop",
        rollback_lr_factor: float = 0.5,
        max_rollbacks: int = 3,
    ) -> None:
        super().__init__()
        if schedule not in ("alternating", "simultaneous"):
            raise ConfigError(f"schedule must be 'alternating' or 'simultaneous', got {schedule!r}.")
        if discriminator_steps < 1:
            raise ConfigError(f"discriminator_steps must be >= 1, got {discriminator_steps}.")
        if on_divergence not in ("stop", "rollback"):
            raise ConfigError(f"on_divergence must be 'stop' or 'rollback', got {on_divergence!r}.")
        if not 0 < rollback_lr_factor < 1:
            raise ConfigError(f"rollback_lr_factor must be in (0, 1), got {rollback_lr_factor}.")
        latent_dim = getattr(generator, "latent_dim", None)
        if not isinstance(latent_dim, int) or isinstance(latent_dim, bool) or latent_dim < 1:
            raise ConfigError(
                f"{type(generator).__name__} needs an integer `latent_dim` attribute >= 1 (the size of its noise "
                f"vector), got {latent_dim!r}."
            )
        self._save_config()
        self.automatic_optimization = False
        self.generator = generator
        self.discriminator = discriminator
        self.loss = loss
        self.prior = prior
        self.generator_optimizer = generator_optimizer
        self.discriminator_optimizer = discriminator_optimizer
        self.generator_scheduler = generator_scheduler
        self.discriminator_scheduler = discriminator_scheduler
        self.schedule = schedule
        self.discriminator_steps = discriminator_steps
        self.noise_seed = noise_seed
        self._noise_generator: torch.Generator | None = None
        self.divergence = DivergencePolicy(on_divergence, rollback_lr_factor, max_rollbacks)
        self._evaluation_noise: torch.Generator | None = None  # restarted at every validation and test
        self._resume_state: dict[str, Any] = {}  # checkpoint["ganbench"] between loading and on_train_start
        self._resume_path: str | None = None
        self.checkpoint_step: int | None = None  # the step and epoch of the checkpoint loaded, if any
        self.checkpoint_epoch: int | None = None

    def _save_config(self) -> None:
        """Saves the hyperparameters that rebuild this module from a checkpoint.

        Built by LightningCLI, they are the config (class paths and plain values), which
        ``load_from_checkpoint`` re-instantiates. Built in Python, the parts are live objects:
        saving them would pickle networks into the checkpoint (which torch >= 2.6 refuses to
        load) and into every hparams.yaml a logger writes, so only the plain values are kept;
        pass the parts again to ``load_from_checkpoint(path, generator=..., ...)``.
        """
        with warnings.catch_warnings():  # Lightning's advice to ignore nn.Module arguments, taken below
            warnings.filterwarnings("ignore", message=".*is an instance of `nn.Module`")
            self.save_hyperparameters()
        if any(isinstance(self.hparams.get(name), nn.Module) for name in _PART_ARGUMENTS):  # built in Python
            self.save_hyperparameters(ignore=list(_PART_ARGUMENTS))

    @property
    def latent_dim(self) -> int:
        return self.generator.latent_dim

    # ------------------------------------------------------------------ set-up

    def setup(self, stage: str) -> None:
        """Checks that the networks fit the data; initialises G from data statistics.

        Runs before a checkpoint's weights are restored, so a resumed run keeps its weights.
        """
        datamodule = getattr(self.trainer, "datamodule", None)
        check_networks_fit_data(self, datamodule)
        initialize = getattr(self.generator, "initialize_from_data", None)
        if stage == "fit" and callable(initialize) and hasattr(datamodule, "pixel_mean"):
            initialize(datamodule.pixel_mean())
        enable_unused_parameter_detection(self.trainer.strategy)

    def configure_optimizers(self) -> Any:
        discriminator_optimizer = _build(
            "discriminator_optimizer", self.discriminator_optimizer, self.discriminator.parameters()
        )
        generator_optimizer = _build("generator_optimizer", self.generator_optimizer, self.generator.parameters())
        schedulers = []
        for name, build, optimizer in (
            ("discriminator_scheduler", self.discriminator_scheduler, discriminator_optimizer),
            ("generator_scheduler", self.generator_scheduler, generator_optimizer),
        ):
            if build is not None:
                schedulers.append(_build(name, build, optimizer))
        saved_names = self._resume_state.get("optimizers")
        built_names = [type(discriminator_optimizer).__name__, type(generator_optimizer).__name__]
        check_optimizers_match(saved_names, built_names, self._resume_path)
        return [discriminator_optimizer, generator_optimizer], schedulers

    # ------------------------------------------------------------------ noise and samples

    def draw_noise(self, num_samples: int) -> Tensor:
        """Training noise ``(num_samples, latent_dim)`` from this rank's own seeded stream."""
        if self._noise_generator is None or self._noise_generator.device != self.device:
            self._noise_generator = self._new_noise_generator()
        return self.prior.sample(num_samples, self.latent_dim, self.device, self._noise_generator)

    def _new_noise_generator(self, offset: int = 0) -> torch.Generator:
        base_seed = self.noise_seed if self.noise_seed is not None else torch.initial_seed()
        rank = self.trainer.global_rank if self._trainer is not None else 0
        return torch.Generator(self.device).manual_seed((base_seed + 1_000_003 * rank + offset) % 2**63)

    @torch.no_grad()
    def sample(self, num_samples: int, generator: torch.Generator | None = None, batch_size: int = 1000) -> Tensor:
        """Draws ``num_samples`` images ``(n, C, H, W)`` in the data's range, G in eval mode.

        Args:
            num_samples: how many images.
            generator: optional ``torch.Generator`` (on this module's device) for reproducible noise.
            batch_size: images generated per forward pass.
        """
        was_training = self.generator.training
        self.generator.eval()
        try:
            chunks = [
                self.generator(self.prior.sample(size, self.latent_dim, self.device, generator))
                for size in _chunk_sizes(num_samples, batch_size)
            ]
        finally:
            self.generator.train(was_training)
        return torch.cat(chunks)

    # ------------------------------------------------------------------ training

    def training_step(self, batch: Any, batch_idx: int) -> None:
        real = images_of(batch)
        if self.schedule == "simultaneous":
            watched = self._simultaneous_update(real)
        else:
            watched = self._discriminator_update(real)
            if self.trainer.global_step % self.discriminator_steps == 0:
                watched.append(self._generator_update(len(real)))
        self.divergence.record.record(self.trainer.global_step, watched)
        if self._is_logging_step() or self._checkpoint_follows():
            self.divergence.check(self)

    def _checkpoint_follows(self) -> bool:
        """Whether a checkpoint may be written before the next step (so the weights must be checked now)."""
        step = self.trainer.global_step
        every = [checkpoint_interval(callback) for callback in self.trainer.checkpoint_callbacks]
        max_steps = self.trainer.max_steps
        return self.trainer.is_last_batch or step == max_steps or any(n and step % n == 0 for n in every)

    def on_validation_epoch_start(self) -> None:
        self.divergence.check(self)
        self._evaluation_noise = self._new_noise_generator(offset=_EVALUATION_STREAM)

    def _discriminator_update(self, real: Tensor) -> list[Tensor]:
        """One D update on a fresh minibatch (inner loop of Algorithm 1); counted as the step."""
        discriminator_optimizer, _ = self.optimizers()
        with torch.no_grad():
            fake = self.generator(self.draw_noise(len(real)))
        real_logits, fake_logits = self.discriminator(real), self.discriminator(fake)
        discriminator_loss = self.loss.discriminator_loss(real_logits, fake_logits)
        discriminator_optimizer.zero_grad(set_to_none=True)
        self.manual_backward(discriminator_loss)
        discriminator_optimizer.step()
        self._step_scheduler(discriminator_optimizer)
        self._log_discriminator(discriminator_loss, real_logits, fake_logits)
        return [discriminator_loss, real_logits, fake_logits]

    def _generator_update(self, batch_size: int) -> Tensor:
        """One G update on fresh noise (end of an Algorithm 1 iteration); D's weights get no gradient."""
        _, generator_optimizer = self.optimizers()
        with self.toggled_optimizer(generator_optimizer):
            fake_logits = self.discriminator(self.generator(self.draw_noise(batch_size)))
            generator_loss = self.loss.generator_loss(fake_logits)
            generator_optimizer.zero_grad(set_to_none=True)
            self.manual_backward(generator_loss)
            self._step_uncounted(generator_optimizer)
        self._step_scheduler(generator_optimizer)
        if self._is_logging_step():
            self.log("train/g_loss", generator_loss.detach(), prog_bar=True)
        return generator_loss

    def _simultaneous_update(self, real: Tensor) -> list[Tensor]:
        """The released code's update: D and G gradients from the same batch and z, one backward.

        D's loss is taken on a detached copy of G(z), and G receives ``dL_G/dG(z)`` through the
        surrogate ``<G(z), dL_G/dG(z)>``; one backward then gives each network exactly the
        gradient of its own loss, with the same forward pass (and dropout masks) for both.
        """
        discriminator_optimizer, generator_optimizer = self.optimizers()
        fake = self.generator(self.draw_noise(len(real)))
        fake_input = fake.detach().requires_grad_(True)
        real_logits, fake_logits = self.discriminator(real), self.discriminator(fake_input)
        discriminator_loss = self.loss.discriminator_loss(real_logits, fake_logits)
        generator_loss = self.loss.generator_loss(fake_logits)
        (fake_gradient,) = torch.autograd.grad(generator_loss, fake_input, retain_graph=True)
        discriminator_optimizer.zero_grad(set_to_none=True)
        generator_optimizer.zero_grad(set_to_none=True)
        self.manual_backward(discriminator_loss + (fake * fake_gradient).sum())
        discriminator_optimizer.step()
        self._step_uncounted(generator_optimizer)
        self._step_scheduler(discriminator_optimizer)
        self._step_scheduler(generator_optimizer)
        self._log_discriminator(discriminator_loss, real_logits, fake_logits)
        if self._is_logging_step():
            self.log("train/g_loss", generator_loss.detach(), prog_bar=True)
        return [discriminator_loss, generator_loss, real_logits, fake_logits]

    def _step_uncounted(self, optimizer: LightningOptimizer) -> None:
        """Steps through the strategy (precision plugins, hooks) without advancing ``global_step``."""
        self.trainer.strategy.optimizer_step(optimizer.optimizer, closure=_no_closure)

    def _step_scheduler(self, optimizer: LightningOptimizer) -> None:
        for scheduler in self._schedulers():
            if scheduler.optimizer is optimizer.optimizer:
                scheduler.step()

    def _schedulers(self) -> Iterator[LRScheduler]:
        schedulers = self.lr_schedulers()
        if schedulers is None:
            return iter(())
        return iter(schedulers if isinstance(schedulers, list) else [schedulers])

    def _is_logging_step(self) -> bool:
        """Whether Lightning writes this step's values to the loggers (every ``log_every_n_steps``).

        ``self.log`` costs ~0.7 ms a call on the CPU (Lightning re-checks each metric's device), and
        its values are only written on these steps, so training values are logged only then; the
        progress bar shows the latest. Counted after this step's D update, as Lightning counts.
        """
        return self.trainer.global_step % max(self.trainer.log_every_n_steps, 1) == 0

    def _log_discriminator(self, loss: Tensor, real_logits: Tensor, fake_logits: Tensor) -> None:
        if not self._is_logging_step():
            return
        # The loggers' x-axis: this step's number, as sample grids and evaluations use (Lightning
        # would write the number of batches before this one).
        self.log("step", float(self.trainer.global_step))
        self.log("train/d_loss", loss.detach(), prog_bar=True)
        self.log("train/d_real", discriminator_probability(real_logits))
        self.log("train/d_fake", discriminator_probability(fake_logits))

    # ------------------------------------------------------------------ evaluation

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._evaluate_discriminator(images_of(batch), "val")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._evaluate_discriminator(images_of(batch), "test")

    def on_test_epoch_start(self) -> None:
        self._evaluation_noise = self._new_noise_generator(offset=_EVALUATION_STREAM)

    def on_validation_epoch_end(self) -> None:
        self._log_evaluation_step()

    def on_test_epoch_end(self) -> None:
        self._log_evaluation_step()

    def _log_evaluation_step(self) -> None:
        """Evaluation values go to the loggers at the step of the weights evaluated.

        During ``fit`` that is the step just made (Lightning would write the one before, a step
        behind the sample grid of the same weights); in ``validate`` and ``test``, the checkpoint's.
        """
        fitting = self.trainer.state.fn == "fit"
        step = self.trainer.global_step if fitting else self.checkpoint_step
        if step is not None and not self.trainer.sanity_checking:
            self.log("step", float(step))

    def _evaluate_discriminator(self, real: Tensor, stage: str) -> None:
        """Mean D(x) on held-out data and D(G(z)): a gap with ``train/d_real`` flags D overfitting.

        The noise comes from a stream restarted at every evaluation, so evaluations compare the same
        z over training and never consume the training stream (which would break exact resume).
        """
        fake = self.generator(self.prior.sample(len(real), self.latent_dim, self.device, self._evaluation_noise))
        real_logits, fake_logits = self.discriminator(real), self.discriminator(fake)
        self.log(f"{stage}/d_real", discriminator_probability(real_logits), sync_dist=True)
        self.log(f"{stage}/d_fake", discriminator_probability(fake_logits), sync_dist=True)

    # ------------------------------------------------------------------ checkpoints and resume

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Adds what exact resume needs beyond Lightning's state: every rank's RNGs; and the run's provenance.

        Called on every rank (Lightning dumps the checkpoint on all of them and rank 0 writes it).
        A checkpoint is never written from weights that have gone non-finite.
        """
        self.divergence.check_before_saving(self)
        checkpoint["ganbench"] = {
            "rng_states": gather_from_ranks(rng_states(self._noise_generator)),
            "optimizers": [type(optimizer.optimizer).__name__ for optimizer in self._optimizers()],
            **self.divergence.state(),
            **provenance(),
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Refuses a checkpoint of other networks in one sentence; keeps the RNG states for ``on_train_start``."""
        path = getattr(self._trainer, "ckpt_path", None) if self._trainer is not None else None
        check_state_dict_matches(self, checkpoint, path)
        self._resume_state = checkpoint.get("ganbench", {})
        self.divergence.load_state(self._resume_state)
        self._resume_path = path
        self.checkpoint_step, self.checkpoint_epoch = checkpoint.get("global_step"), checkpoint.get("epoch")

    def on_train_start(self) -> None:
        """Restores the saved RNG states last, so that nothing between loading and step N+1 draws from them."""
        saved = self._resume_state.get("rng_states")
        if saved:
            self._noise_generator = self._new_noise_generator()
            restore_rng_states(saved, self.trainer.global_rank, self._noise_generator)
        self._resume_state = {}

    def _optimizers(self) -> list[LightningOptimizer]:
        optimizers = self.optimizers() if self._trainer is not None else []
        return list(optimizers) if isinstance(optimizers, (list, tuple)) else [optimizers]


_PART_ARGUMENTS = (
    "generator",
    "discriminator",
    "loss",
    "prior",
    "generator_optimizer",
    "discriminator_optimizer",
    "generator_scheduler",
    "discriminator_scheduler",
)


# Seed offset of the evaluation noise stream, apart from every rank's training stream.
_EVALUATION_STREAM = 7_777_777


def images_of(batch: Any) -> Tensor:
    """The images of a batch that is either a tensor or an ``(images, labels, ...)`` sequence."""
    return batch[0] if isinstance(batch, (tuple, list)) else batch


def enable_unused_parameter_detection(strategy: pl.strategies.Strategy) -> None:
    """DDP must tolerate parameters without gradients: each backward touches G or D, not both.

    Turned on here so that ``--trainer.strategy=ddp`` works as it is for a GAN.
    """
    find_unused_parameters(strategy)


def _build(argument: str, build: Any, target: Any) -> Any:
    """Builds an optimiser or a schedule; a value torch refuses (``lr=-1``) is one :class:`ConfigError`."""
    try:
        return build(target)
    except (ValueError, TypeError) as error:
        raise ConfigError(f"model.{argument}: {first_line(error)}") from None


def _chunk_sizes(total: int, chunk: int) -> list[int]:
    return [min(chunk, total - start) for start in range(0, total, chunk)]


def _no_closure() -> None:
    return None
