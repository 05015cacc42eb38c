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

The paper's section 7 extensions are arguments, not forks: a conditional model is conditional
networks (``num_classes``) on labelled data, and an auxiliary encoder E: x -> z is ``encoder`` with
an ``encoder_mode`` (:class:`EncoderMode`). Every network is called through :mod:`ganbench.contract`,
which passes each only the inputs it declares. Watching for divergence is
:class:`ganbench.divergence.DivergenceGuard`'s job; what exact resume saves is :mod:`ganbench.run_state`'s.
"""

import inspect
import itertools
import warnings
from collections.abc import Iterator
from typing import Any, Literal

import lightning.pytorch as pl
import torch
from jsonargparse import lazy_instance
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from lightning.pytorch.core.optimizer import LightningOptimizer
from torch import Tensor, nn
from torch.nn.functional import mse_loss
from torch.optim.lr_scheduler import LRScheduler

from ganbench.contract import (
    discriminate,
    encode,
    eval_mode,
    generate,
    is_conditional,
    judges_pairs,
    num_classes_of,
    takes_labels,
)
from ganbench.cuda_check import CudaCheckOncePerRun
from ganbench.data.statistics import class_frequencies
from ganbench.divergence import DivergenceGuard
from ganbench.errors import ConfigError, first_line
from ganbench.library_internals import find_unused_parameters
from ganbench.losses import GANLoss, NonSaturating, discriminator_probability
from ganbench.nets.base import Discriminator, Encoder, Generator
from ganbench.optim import ClassicMomentumSGD, fused_unless_chosen
from ganbench.priors import Prior, Uniform
from ganbench.run_state import (
    check_optimizers_match,
    check_state_dict_matches,
    gather_from_ranks,
    load_generator_weights,
    provenance,
    restore_rng_states,
    rng_states,
)
from ganbench.validation import check_networks_fit_data, check_parts, common_num_classes

EncoderMode = Literal["joint", "bigan", "posthoc"]
"""How an auxiliary encoder E: x -> z is trained (paper §7.2).

- ``posthoc``: the paper's suggestion. G (and D) are loaded from ``generator_checkpoint`` and frozen;
  only E is trained, to regress z from fresh pairs (G(z), z). Each step is one E update.
- ``joint``: the released code's "inferer". After every G update, one E update on fresh (G(z), z)
  pairs; the gradient never reaches G (its samples are drawn without a graph, in eval mode).
- ``bigan``: BiGAN/ALI (Donahue et al. 2017; Dumoulin et al. 2017). D judges pairs: (x, E(x)) for data
  against (G(z), z); G and E are trained together, with G's optimiser, to fool it (E wants data pairs
  judged fake). Needs a discriminator of pairs (``latent_dim`` set) and the ``alternating`` schedule.
"""


class GAN(pl.LightningModule):
    """A generative adversarial net (Goodfellow et al. 2014) trained with manual optimisation.

    Args:
        generator: maps noise ``(B, latent_dim)`` (and labels, when conditional) to images ``(B, C, H, W)``.
        discriminator: maps images ``(B, C, H, W)`` (and labels, latents, when it takes them) to logits ``(B,)``.
        loss: the pair of objectives (default: the paper's non-saturating generator loss).
        prior: the noise distribution p(z) (default: uniform with unit variance, MNIST recipe).
        generator_optimizer: builds G's optimiser from its parameters (G's and E's in ``bigan`` mode).
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
        encoder: optional E: images -> latents ``(B, latent_dim)`` (paper §7.2).
        encoder_mode: how E is trained: ``joint``, ``bigan`` or ``posthoc`` (see :data:`EncoderMode`).
        encoder_optimizer: builds E's optimiser (``joint`` and ``posthoc``; ``bigan`` uses G's).
        generator_checkpoint: ``posthoc`` only: the trained GAN's checkpoint whose G and D are loaded and frozen.
        compile_networks: compile G, D and E with ``torch.compile`` before the first step: ``true``, or a dict of
            its keyword arguments (``{mode: max-autotune}``). In place, so parameter names and checkpoints are
            those of an uncompiled run. Off by default: the first steps pay the compilation (seconds to minutes),
            and compiling for the CPU needs a C++ compiler. A loss with a penalty (``R1``) is refused, as
            torch.compile cannot differentiate D's gradient again. Mixed precision is the Trainer's:
            ``--trainer.precision=bf16-mixed`` (docs/performance.md).
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
        encoder: Encoder | None = None,
        encoder_mode: EncoderMode = "joint",
        encoder_optimizer: OptimizerCallable = torch.optim.Adam,
        generator_checkpoint: str | None = None,
        compile_networks: bool | dict[str, Any] = False,
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
        check_parts(generator, discriminator, encoder, encoder_mode, schedule, generator_checkpoint)
        self._save_config()
        self.automatic_optimization = False
        self.generator = generator
        self.discriminator = discriminator
        self.encoder = encoder
        self.loss = loss
        self.prior = prior
        self.generator_optimizer = generator_optimizer
        self.discriminator_optimizer = discriminator_optimizer
        self.encoder_optimizer = encoder_optimizer
        self.generator_scheduler = generator_scheduler
        self.discriminator_scheduler = discriminator_scheduler
        self.schedule = schedule
        self.discriminator_steps = discriminator_steps
        self.noise_seed = noise_seed
        self.encoder_mode = encoder_mode if encoder is not None else None
        self.generator_checkpoint = generator_checkpoint
        self.compile_networks = compile_networks
        self._networks_compiled = False
        self.num_classes = common_num_classes(generator, discriminator, encoder)
        self.class_frequencies: Tensor | None = None  # of the training labels; fake labels are drawn from them
        self.divergence = DivergenceGuard(on_divergence, rollback_lr_factor, max_rollbacks)
        self._noise_generator: torch.Generator | None = None
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

    def __setattr__(self, name: str, value: Any) -> None:
        """``nn.Module.__setattr__``, minus its checks when they cannot change where the value goes.

        Lightning sets the module's current hook name before and after each hook it calls, about 50 times
        a training step, and ``nn.Module.__setattr__`` spends ~1.4 us on each, checking whether the value
        is a parameter, a module or a buffer to register. A name already in the instance's ``__dict__`` is
        none of those (registering one removes it from there), and a value that is not a tensor or a
        module ends in ``object.__setattr__`` anyway: such a value goes there directly (~0.1 us).
        """
        if name in self.__dict__ and not isinstance(value, (Tensor, nn.Module)):
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    @property
    def latent_dim(self) -> int:
        return self.generator.latent_dim

    def configure_callbacks(self) -> list[pl.Callback]:
        return [CudaCheckOncePerRun()]

    # ------------------------------------------------------------------ set-up

    def setup(self, stage: str) -> None:
        """Checks that the networks fit the data; initialises G from data statistics (or a checkpoint).

        Runs before a checkpoint's weights are restored, so a resumed run keeps its weights.
        """
        datamodule = getattr(self.trainer, "datamodule", None)
        check_networks_fit_data(self, datamodule)
        if self.num_classes is not None and self.class_frequencies is None:
            self.class_frequencies = class_frequencies(datamodule, self.num_classes)
        initialize = getattr(self.generator, "initialize_from_data", None)
        if stage == "fit" and callable(initialize) and hasattr(datamodule, "pixel_mean"):
            initialize(datamodule.pixel_mean())
        if stage == "fit" and self.encoder_mode == "posthoc":
            frequencies = load_generator_weights(self, self.generator_checkpoint)
            self.class_frequencies = frequencies if frequencies is not None else self.class_frequencies
        if self.encoder_mode == "posthoc":
            self.generator.requires_grad_(False)
            self.discriminator.requires_grad_(False)
        find_unused_parameters(self.trainer.strategy)  # each backward reaches G or D, not both (DDP)

    def configure_model(self) -> None:
        """Compiles G, D and E in place, once, when ``compile_networks`` asks (after :meth:`setup`)."""
        if self.compile_networks is False or self._networks_compiled:
            return
        if type(self.loss).penalty is not GANLoss.penalty:
            raise ConfigError(
                f"model.compile_networks: {self.loss!r} adds a penalty to D's loss, which may differentiate D's "
                "gradient (R1 does); torch.compile cannot. Train it uncompiled (compile_networks: false)."
            )
        options = self.compile_networks if isinstance(self.compile_networks, dict) else {}
        try:
            for network in (self.generator, self.discriminator, self.encoder):
                if network is not None:
                    network.compile(**options)  # nn.Module.compile: no `_orig_mod.` wrapper in the state_dict
        except (TypeError, ValueError, RuntimeError) as error:  # an unknown option or mode; no torch.compile here
            raise ConfigError(f"model.compile_networks: {first_line(error)}") from None
        self._networks_compiled = True

    def configure_optimizers(self) -> Any:
        generator_parameters = self.generator.parameters()
        if self.encoder_mode == "bigan":
            generator_parameters = itertools.chain(generator_parameters, self.encoder.parameters())
        optimizers = [
            _build("discriminator_optimizer", self.discriminator_optimizer, self.discriminator.parameters()),
            _build("generator_optimizer", self.generator_optimizer, generator_parameters),
        ]
        if self.encoder_mode in ("joint", "posthoc"):
            optimizers.append(_build("encoder_optimizer", self.encoder_optimizer, self.encoder.parameters()))
        optimizers = [fused_unless_chosen(optimizer) for optimizer in optimizers]
        schedulers = []
        for name, build, optimizer in (
            ("discriminator_scheduler", self.discriminator_scheduler, optimizers[0]),
            ("generator_scheduler", self.generator_scheduler, optimizers[1]),
        ):
            if build is not None:
                schedulers.append(_build(name, build, optimizer))
        saved_names = self._resume_state.get("optimizers")
        check_optimizers_match(saved_names, [type(optimizer).__name__ for optimizer in optimizers], self._resume_path)
        return optimizers, schedulers

    # ------------------------------------------------------------------ noise, labels and samples

    def draw_noise(self, num_samples: int) -> Tensor:
        """Training noise ``(num_samples, latent_dim)`` from this rank's own seeded stream."""
        return self.prior.sample(num_samples, self.latent_dim, self.device, self._training_stream())

    def draw_labels(self, num_samples: int, generator: torch.Generator | None = None) -> Tensor:
        """Class labels ``(num_samples,)`` drawn from the training data's class frequencies (uniform if unknown).

        Args:
            num_samples: how many.
            generator: optional ``torch.Generator`` on this module's device.
        """
        if self.num_classes is None:
            raise ConfigError("This GAN has no conditional network, so it has no labels to draw.")
        frequencies = self.class_frequencies
        if frequencies is None or len(frequencies) != self.num_classes:
            frequencies = torch.ones(self.num_classes)
        return torch.multinomial(frequencies.to(self.device), num_samples, replacement=True, generator=generator)

    def _training_stream(self) -> torch.Generator:
        if self._noise_generator is None or self._noise_generator.device != self.device:
            self._noise_generator = self._new_noise_generator()
        return self._noise_generator

    def _new_noise_generator(self, offset: int = 0) -> torch.Generator:
        base_seed = self.noise_seed if self.noise_seed is not None else torch.initial_seed()
        rank = self.trainer.global_rank if self._trainer is not None else 0
        return torch.Generator(self.device).manual_seed((base_seed + 1_000_003 * rank + offset) % 2**63)

    def _fake_inputs(self, num_samples: int, stream: torch.Generator | None) -> tuple[Tensor, Tensor | None]:
        """Noise ``(n, latent_dim)`` and, when some network is conditional, labels ``(n,)``, from ``stream``."""
        noise = self.prior.sample(num_samples, self.latent_dim, self.device, stream)
        labels = self.draw_labels(num_samples, stream) if self.num_classes is not None else None
        return noise, labels

    @torch.no_grad()
    def sample(
        self,
        num_samples: int,
        labels: Tensor | list[int] | None = None,
        noise: Tensor | None = None,
        generator: torch.Generator | None = None,
        batch_size: int = 1000,
    ) -> Tensor:
        """Draws ``num_samples`` images ``(n, C, H, W)`` in the data's range, G in eval mode.

        The one way ganbench runs G outside training (sample grids, evaluations, figures, ``predict``).

        Args:
            num_samples: how many images.
            labels: ``(n,)`` classes, for a conditional G; drawn from the training data's class frequencies
                when ``None``. Labels given to an unconditional G are an error.
            noise: ``(n, latent_dim)`` noise to use; drawn from the prior when ``None``.
            generator: optional ``torch.Generator`` (on this module's device) for reproducible noise and labels.
            batch_size: images generated per forward pass.
        """
        if noise is not None:
            noise = noise.to(self.device)
            if tuple(noise.shape) != (num_samples, self.latent_dim):
                raise ConfigError(
                    f"sample: noise must have shape ({num_samples}, {self.latent_dim}), got {tuple(noise.shape)}."
                )
        labels = self._labels_to_sample(num_samples, labels, generator)
        chunks = []
        with eval_mode(self.generator):
            for start, size in _chunks(num_samples, batch_size):
                z = noise[start : start + size] if noise is not None else None
                if z is None:
                    z = self.prior.sample(size, self.latent_dim, self.device, generator)
                chunks.append(generate(self.generator, z, None if labels is None else labels[start : start + size]))
        return torch.cat(chunks)

    def _labels_to_sample(
        self, num_samples: int, labels: Tensor | list[int] | None, generator: torch.Generator | None
    ) -> Tensor | None:
        """The labels ``sample`` passes G: the given ones, checked, or drawn for a conditional G."""
        num_classes = num_classes_of(self.generator)
        if labels is None:
            return self.draw_labels(num_samples, generator) if num_classes is not None else None
        labels = torch.as_tensor(labels, dtype=torch.long, device=self.device)
        takes_labels(self.generator, labels)  # labels for an unconditional G: the contract's one-line error
        if tuple(labels.shape) != (num_samples,):
            raise ConfigError(f"sample: labels must have shape ({num_samples},), got {tuple(labels.shape)}.")
        if len(labels) and not 0 <= int(labels.min()) <= int(labels.max()) < num_classes:
            raise ConfigError(
                f"sample: labels must be in 0 .. {num_classes - 1}, got values from {int(labels.min())} to "
                f"{int(labels.max())}."
            )
        return labels

    # ------------------------------------------------------------------ the contract, for training

    def _judge(self, images: Tensor, labels: Tensor | None, latents: Tensor | None) -> Tensor:
        """D's logits, given the labels and latents only if it takes them."""
        return discriminate(
            self.discriminator,
            images,
            labels if is_conditional(self.discriminator) else None,
            latents if judges_pairs(self.discriminator) else None,
        )

    def _generate(self, noise: Tensor, labels: Tensor | None) -> Tensor:
        return generate(self.generator, noise, labels if is_conditional(self.generator) else None)

    def _encode(self, images: Tensor, labels: Tensor | None) -> Tensor:
        return encode(self.encoder, images, labels if is_conditional(self.encoder) else None)

    # ------------------------------------------------------------------ training

    def training_step(self, batch: Any, batch_idx: int) -> None:
        """One step; its losses and D outputs go to the divergence watch (:class:`ganbench.divergence.DivergenceGuard`).

        It returns nothing: Lightning would copy a returned collection (detaching each tensor) at every step.
        """
        real, labels = images_and_labels(batch)
        if self.encoder_mode == "posthoc":
            self.divergence.watch(self, [self._encoder_update(len(real), counted=True)])
            return
        if self.schedule == "simultaneous":
            watched = self._simultaneous_update(real, labels)
        else:
            watched = self._discriminator_update(real, labels)
            if self.trainer.global_step % self.discriminator_steps == 0:
                watched.append(self._generator_update(real, labels))
        if self.encoder_mode == "joint":
            watched.append(self._encoder_update(len(real), counted=False))
        self.divergence.watch(self, watched)

    # Lightning reads training_step's signature at every step (does it take batch_idx?). Stored, it is not
    # rebuilt from the function each time (inspect's __signature__ protocol): about 7 us a step on the CPU.
    training_step.__signature__ = inspect.signature(training_step)

    def _discriminator_update(self, real: Tensor, labels: Tensor | None) -> list[Tensor]:
        """One D update on a fresh minibatch (inner loop of Algorithm 1); counted as the step."""
        discriminator_optimizer = self._optimizer(0)
        noise, fake_labels = self._fake_inputs(len(real), self._training_stream())
        with torch.no_grad():
            fake = self._generate(noise, fake_labels)
            real_latents = self._encode(real, labels) if self.encoder_mode == "bigan" else None
        real_logits, fake_logits = self._judge(real, labels, real_latents), self._judge(fake, fake_labels, noise)
        discriminator_loss = self._discriminator_objective(real_logits, fake_logits, real, fake, labels, real_latents)
        discriminator_optimizer.zero_grad(set_to_none=True)
        self.manual_backward(discriminator_loss)
        discriminator_optimizer.step()
        self._step_scheduler(discriminator_optimizer)
        self._log_discriminator(discriminator_loss, real_logits, fake_logits)
        return [discriminator_loss, real_logits, fake_logits]

    def _discriminator_objective(
        self,
        real_logits: Tensor,
        fake_logits: Tensor,
        real: Tensor,
        fake: Tensor,
        labels: Tensor | None,
        real_latents: Tensor | None,
    ) -> Tensor:
        """The loss's D objective plus its penalty, if it has one (given D with the data's labels and latents bound)."""
        objective = self.loss.discriminator_loss(real_logits, fake_logits)
        penalty = self.loss.penalty(lambda images: self._judge(images, labels, real_latents), real, fake.detach())
        if penalty is None:
            return objective
        if self._is_logging_step():
            self.log("train/d_penalty", penalty.detach())
        return objective + penalty

    def _generator_objective(self, fake_logits: Tensor, real_logits: Tensor | None) -> Tensor:
        if self.loss.generator_uses_real_logits:
            return self.loss.generator_loss(fake_logits, real_logits)
        return self.loss.generator_loss(fake_logits)

    def _generator_update(self, real: Tensor, labels: Tensor | None) -> Tensor:
        """One G update on fresh noise (end of an Algorithm 1 iteration); D's weights get no gradient.

        D sees the data again only when the loss's G objective needs its logits on data, and in ``bigan``
        mode, where G and E are trained together: E wants the pairs (x, E(x)) judged fake.
        """
        generator_optimizer = self._optimizer(1)
        with self.toggled_optimizer(generator_optimizer):
            noise, fake_labels = self._fake_inputs(len(real), self._training_stream())
            fake_logits = self._judge(self._generate(noise, fake_labels), fake_labels, noise)
            if self.encoder_mode == "bigan":
                real_logits = self._judge(real, labels, self._encode(real, labels))
                generator_loss = self._pair_objective(fake_logits, real_logits)
            else:
                uses_real = self.loss.generator_uses_real_logits
                real_logits = self._judge(real, labels, None).detach() if uses_real else None
                generator_loss = self._generator_objective(fake_logits, real_logits)
            generator_optimizer.zero_grad(set_to_none=True)
            self.manual_backward(generator_loss)
            self._step_uncounted(generator_optimizer)
        self._step_scheduler(generator_optimizer)
        if self._is_logging_step():
            self.log("train/g_loss", generator_loss.detach(), prog_bar=True)
        return generator_loss

    def _pair_objective(self, fake_logits: Tensor, real_logits: Tensor) -> Tensor:
        """BiGAN's objective for G and E: G's loss on (G(z), z), plus the same on the negated logits of (x, E(x)).

        Negating D's logit swaps "real" and "fake", so E minimises G's objective for wanting data pairs judged
        fake (the non-saturating form with :class:`~ganbench.losses.NonSaturating`). A loss whose G objective
        already sees the data's logits (relativistic) is used as it is.
        """
        if self.loss.generator_uses_real_logits:
            return self.loss.generator_loss(fake_logits, real_logits)
        return self.loss.generator_loss(fake_logits) + self.loss.generator_loss(-real_logits)

    def _simultaneous_update(self, real: Tensor, labels: Tensor | None) -> list[Tensor]:
        """The released code's update: D and G gradients from the same batch and z, one backward.

        D's loss is taken on a detached copy of G(z), and G receives ``dL_G/dG(z)`` through the
        surrogate ``<G(z), dL_G/dG(z)>``; one backward then gives each network exactly the
        gradient of its own loss, with the same forward pass (and dropout masks) for both.
        """
        discriminator_optimizer, generator_optimizer = self._optimizer(0), self._optimizer(1)
        noise, fake_labels = self._fake_inputs(len(real), self._training_stream())
        fake = self._generate(noise, fake_labels)
        fake_input = fake.detach().requires_grad_(True)
        real_logits, fake_logits = self._judge(real, labels, None), self._judge(fake_input, fake_labels, noise)
        discriminator_loss = self._discriminator_objective(real_logits, fake_logits, real, fake_input, labels, None)
        generator_loss = self._generator_objective(fake_logits, real_logits.detach())
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

    def _encoder_update(self, batch_size: int, counted: bool) -> Tensor:
        """One E update regressing z from fresh pairs (G(z), z); G runs without a graph, in eval mode.

        Args:
            batch_size: pairs drawn.
            counted: whether the update is the step (``posthoc``) or an extra one after G's (``joint``).
        """
        encoder_optimizer = self._optimizer(2)
        noise, fake_labels = self._fake_inputs(batch_size, self._training_stream())
        with torch.no_grad(), eval_mode(self.generator):
            fake = self._generate(noise, fake_labels)
        encoder_loss = mse_loss(self._encode(fake, fake_labels), noise)
        encoder_optimizer.zero_grad(set_to_none=True)
        self.manual_backward(encoder_loss)
        if counted:
            encoder_optimizer.step()
        else:
            self._step_uncounted(encoder_optimizer)
        if self._is_logging_step():
            if counted:  # the step's x-axis value; otherwise D's update logged it
                self.log("step", float(self.trainer.global_step))
            self.log("train/latent_error", encoder_loss.detach(), prog_bar=True)
        return encoder_loss

    def _optimizer(self, index: int) -> LightningOptimizer:
        """D's (0), G's (1) or E's (2) optimiser."""
        return self.optimizers()[index]

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
        self._evaluate(*images_and_labels(batch), "val")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._evaluate(*images_and_labels(batch), "test")

    def on_validation_epoch_start(self) -> None:
        if self.trainer.state.fn == "fit":
            self.divergence.check(self)
        self._evaluation_noise = self._new_noise_generator(offset=_EVALUATION_STREAM)

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

    def _evaluate(self, real: Tensor, labels: Tensor | None, stage: str) -> None:
        """Mean D(x) on held-out data and D(G(z)): a gap with ``train/d_real`` flags D overfitting.

        With an encoder, also E's latent regression error on fresh (G(z), z) pairs (mean squared error per
        dimension; the prior's variance is what guessing its mean scores) and the reconstruction error
        ``||G(E(x)) - x||^2`` per pixel on the held-out data. The noise comes from a stream restarted at every
        evaluation, so evaluations compare the same z over training and never consume the training stream
        (which would break exact resume).
        """
        noise, fake_labels = self._fake_inputs(len(real), self._evaluation_noise)
        fake = self._generate(noise, fake_labels)
        real_latents = self._encode(real, labels) if self.encoder is not None else None
        real_logits, fake_logits = self._judge(real, labels, real_latents), self._judge(fake, fake_labels, noise)
        self.log(f"{stage}/d_real", discriminator_probability(real_logits), sync_dist=True)
        self.log(f"{stage}/d_fake", discriminator_probability(fake_logits), sync_dist=True)
        if self.encoder is not None:
            latent_error = mse_loss(self._encode(fake, fake_labels), noise)
            reconstruction_error = mse_loss(self._generate(real_latents, labels), real)
            self.log(f"{stage}/latent_error", latent_error, sync_dist=True)
            self.log(f"{stage}/reconstruction_error", reconstruction_error, sync_dist=True)

    # ------------------------------------------------------------------ predict

    def predict_step(self, batch: Any, batch_idx: int) -> dict[str, Tensor]:
        """Images for a batch of requests ``(noise, labels)`` (``labels`` is -1 for an unconditional G).

        ``ganbench predict`` feeds it from :meth:`predict_dataloader`; :class:`ganbench.callbacks.SampleWriter`
        decides how many samples and which labels, and writes them.
        """
        noise, labels = batch
        given = labels if is_conditional(self.generator) else None
        return {"images": self.sample(len(noise), labels=given, noise=noise), "labels": labels}

    def predict_dataloader(self) -> Any:
        from ganbench.callbacks.predictions import SampleWriter  # the callbacks import this module

        writer = next((c for c in self.trainer.callbacks if isinstance(c, SampleWriter)), None)
        return (writer or SampleWriter()).requests(self)

    # ------------------------------------------------------------------ checkpoints and resume

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Adds what exact resume needs beyond Lightning's state: every rank's RNGs; the class frequencies; provenance.

        Called on every rank (Lightning dumps the checkpoint on all of them and rank 0 writes it). A checkpoint
        is never written from weights that have gone non-finite: the divergence watch reads its record first.
        """
        self.divergence.check_before_saving(self)
        state = checkpoint.setdefault("ganbench", {})
        state.update(self.divergence.state())
        state["rng_states"] = gather_from_ranks(rng_states(self._noise_generator))
        state["optimizers"] = [type(optimizer.optimizer).__name__ for optimizer in self._optimizers()]
        if self.class_frequencies is not None:
            state["class_frequencies"] = self.class_frequencies.cpu()
        state.update(provenance())

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Refuses a checkpoint of other networks in one sentence; keeps the RNG states for ``on_train_start``."""
        path = getattr(self._trainer, "ckpt_path", None) if self._trainer is not None else None
        check_state_dict_matches(self.state_dict(), checkpoint.get("state_dict", {}), path)
        self._resume_state = checkpoint.get("ganbench", {})
        self._resume_path = path
        self.checkpoint_step, self.checkpoint_epoch = checkpoint.get("global_step"), checkpoint.get("epoch")
        if self._resume_state.get("class_frequencies") is not None:
            self.class_frequencies = self._resume_state["class_frequencies"]
        self.divergence.load_state(self._resume_state)

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
    "encoder",
    "loss",
    "prior",
    "generator_optimizer",
    "discriminator_optimizer",
    "encoder_optimizer",
    "generator_scheduler",
    "discriminator_scheduler",
)


# Seed offset of the evaluation noise stream, apart from every rank's training stream.
_EVALUATION_STREAM = 7_777_777


def images_and_labels(batch: Any) -> tuple[Tensor, Tensor | None]:
    """The images and labels of a batch that is a tensor (no labels) or an ``(images, labels, ...)`` sequence."""
    if isinstance(batch, (tuple, list)):
        return batch[0], (batch[1] if len(batch) > 1 else None)
    return batch, None


def _build(argument: str, build: Any, target: Any) -> Any:
    """Builds an optimiser or a schedule; a value torch refuses (``lr=-1``) is one :class:`ConfigError`."""
    try:
        return build(target)
    except (ValueError, TypeError) as error:
        raise ConfigError(f"model.{argument}: {first_line(error)}") from None


def _chunks(total: int, chunk: int) -> list[tuple[int, int]]:
    """``(start, size)`` of each piece of ``total`` items cut into pieces of at most ``chunk``."""
    return [(start, min(chunk, total - start)) for start in range(0, total, chunk)]


def _no_closure() -> None:
    return None
