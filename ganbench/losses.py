"""Adversarial losses (paper §3, Eq. 1) and later ones on the same seam.

Every loss takes the discriminator's raw logits (higher = more real) and returns a scalar.
With ``D(x) = sigmoid(logit)`` the log-probabilities are written with ``softplus``, which
stays finite and has finite gradients for logits of any size:

    log D(x)       = -softplus(-logit)
    log (1 - D(x)) = -softplus(logit)

The seam a loss plugs into (:class:`GANLoss`): D's objective sees the logits on data and on
samples; G's sees the logits on samples, and those on data too when the loss sets
``generator_uses_real_logits``; and a loss may add a :meth:`~GANLoss.penalty` to D's objective that
needs D itself and its inputs (R1, gradient penalties).
"""

from abc import ABC, abstractmethod
from collections.abc import Callable

import torch
from jsonargparse import lazy_instance
from torch import Tensor
from torch.nn.functional import relu, softplus

from ganbench.errors import ConfigError


class GANLoss(ABC):
    """The two objectives of a GAN: one for the discriminator, one for the generator.

    Subclass it and implement both methods to add a loss; pick it from the command line
    with ``--model.loss=MyLoss`` (or ``mylab.losses.MyLoss``).

    Attributes:
        generator_uses_real_logits: when ``True``, :meth:`generator_loss` is also given D's logits on
            the step's data (a relativistic loss); otherwise it is called with the fake logits alone,
            and D is not run on data for G's update.
    """

    generator_uses_real_logits: bool = False

    @abstractmethod
    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        """Loss minimised by the discriminator.

        Args:
            real_logits: ``(B,)`` logits of D on data.
            fake_logits: ``(B,)`` logits of D on generator samples.
        """

    @abstractmethod
    def generator_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        """Loss minimised by the generator.

        Args:
            fake_logits: ``(B,)`` logits of D on generator samples.
            real_logits: ``(B,)`` logits of D on data, given only when ``generator_uses_real_logits``.
        """

    def penalty(self, discriminate: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor) -> Tensor | None:
        """A term added to D's loss that needs D and its inputs; ``None`` (the default) for none.

        Args:
            discriminate: D on a batch of images ``(B, C, H, W)`` -> logits ``(B,)``, with the step's labels
                (and latents, for a D of pairs) already bound: the same D that made ``real_logits``.
            real: ``(B, C, H, W)`` the step's data.
            fake: ``(B, C, H, W)`` the step's samples, detached from G.
        """
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class _BinaryCrossEntropyDiscriminator(GANLoss, ABC):
    """The discriminator side of Eq. 1, shared by both of the paper's generator objectives.

    D minimises ``-V / 2 = -(E log D(x) + E log(1 - D(G(z)))) / 2``, i.e.
    ``0.5 * (BCE(real, 1) + BCE(fake, 0))``, the released code's form. The factor 1/2 matters:
    with plain SGD it halves D's effective learning rate compared with the un-halved sum.
    """

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return 0.5 * (softplus(-real_logits).mean() + softplus(fake_logits).mean())


class Minimax(_BinaryCrossEntropyDiscriminator):
    """The saturating minimax game of Eq. 1: G minimises ``E log(1 - D(G(z)))``.

    This really is the saturating form: its gradient vanishes when D confidently rejects the
    samples (``fake_logits -> -inf``), which is why the paper (§3) suggests :class:`NonSaturating`
    early in training. (Several libraries call the non-saturating loss "minimax"; this one is not.)
    """

    def generator_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        return -softplus(fake_logits).mean()


class NonSaturating(_BinaryCrossEntropyDiscriminator):
    """The paper's practical generator objective: G maximises ``E log D(G(z))`` (§3).

    G minimises ``-E log D(G(z)) = BCE(fake, 1)``; the released code trains with it.
    """

    def generator_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        return softplus(-fake_logits).mean()


class Hinge(GANLoss):
    """The hinge loss (Lim & Ye 2017; Miyato et al. 2018, used with projection discriminators).

    D minimises ``E relu(1 - D(x)) + E relu(1 + D(G(z)))`` (no factor 1/2); G minimises ``-E D(G(z))``.
    """

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return relu(1.0 - real_logits).mean() + relu(1.0 + fake_logits).mean()

    def generator_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        return -fake_logits.mean()


class RelativisticAverage(GANLoss):
    """The relativistic average standard GAN (Jolicoeur-Martineau 2018): G's objective sees the data's logits.

    With ``r = real - mean(fake)`` and ``f = fake - mean(real)``, D minimises
    ``0.5 * (BCE(r, 1) + BCE(f, 0))`` and G the same with the targets swapped,
    ``0.5 * (BCE(f, 1) + BCE(r, 0))``.
    """

    generator_uses_real_logits = True

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        real_relative, fake_relative = _relative(real_logits, fake_logits)
        return 0.5 * (softplus(-real_relative).mean() + softplus(fake_relative).mean())

    def generator_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        if real_logits is None:
            raise ConfigError("RelativisticAverage: the generator's loss needs the logits on data (real_logits).")
        real_relative, fake_relative = _relative(real_logits, fake_logits)
        return 0.5 * (softplus(-fake_relative).mean() + softplus(real_relative).mean())


def _relative(real_logits: Tensor, fake_logits: Tensor) -> tuple[Tensor, Tensor]:
    return real_logits - fake_logits.mean(), fake_logits - real_logits.mean()


class R1(GANLoss):
    """A loss plus Mescheder et al.'s (2018) R1 penalty ``gamma / 2 * E ||grad_x D(x)||^2`` on data.

    Args:
        gamma: the penalty's weight (StyleGAN2 uses 10 at 1024 px; a small image wants less, e.g. 1).
        loss: the objectives the penalty is added to (default :class:`NonSaturating`).
    """

    def __init__(self, gamma: float = 10.0, loss: GANLoss = lazy_instance(NonSaturating)) -> None:
        if not gamma >= 0:
            raise ConfigError(f"R1: gamma must be >= 0, got {gamma!r}.")
        self.gamma = float(gamma)
        self.loss = loss
        self.generator_uses_real_logits = loss.generator_uses_real_logits

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return self.loss.discriminator_loss(real_logits, fake_logits)

    def generator_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        if self.generator_uses_real_logits:
            return self.loss.generator_loss(fake_logits, real_logits)
        return self.loss.generator_loss(fake_logits)

    def penalty(self, discriminate: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor) -> Tensor:
        real = real.detach().requires_grad_(True)
        (gradient,) = torch.autograd.grad(discriminate(real).sum(), real, create_graph=True)
        penalty = 0.5 * self.gamma * gradient.pow(2).flatten(start_dim=1).sum(dim=1).mean()
        inner = self.loss.penalty(discriminate, real.detach(), fake)
        return penalty if inner is None else penalty + inner

    def __repr__(self) -> str:
        return f"R1(gamma={self.gamma}, loss={self.loss!r})"


def discriminator_probability(logits: Tensor) -> Tensor:
    """Mean ``D(x) = sigmoid(logit)`` over a batch, detached: a training diagnostic."""
    return torch.sigmoid(logits.detach()).mean()
