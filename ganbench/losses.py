"""Adversarial losses (paper §3, Eq. 1).

Every loss takes the discriminator's raw logits (higher = more real) and returns a scalar.
With ``D(x) = sigmoid(logit)`` the log-probabilities are written with ``softplus``, which
stays finite and has finite gradients for logits of any size:

    log D(x)       = -softplus(-logit)
    log (1 - D(x)) = -softplus(logit)
"""

from abc import ABC, abstractmethod

import torch
from torch import Tensor
from torch.nn.functional import softplus


class GANLoss(ABC):
    """The two objectives of a GAN: one for the discriminator, one for the generator.

    Subclass it and implement both methods to add a loss; pick it from the command line
    with ``--model.loss=MyLoss`` (or ``mylab.losses.MyLoss``).
    """

    @abstractmethod
    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        """Loss minimised by the discriminator.

        Args:
            real_logits: ``(B,)`` logits of D on data.
            fake_logits: ``(B,)`` logits of D on generator samples.
        """

    @abstractmethod
    def generator_loss(self, fake_logits: Tensor) -> Tensor:
        """Loss minimised by the generator.

        Args:
            fake_logits: ``(B,)`` logits of D on generator samples.
        """

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

    def generator_loss(self, fake_logits: Tensor) -> Tensor:
        return -softplus(fake_logits).mean()


class NonSaturating(_BinaryCrossEntropyDiscriminator):
    """The paper's practical generator objective: G maximises ``E log D(G(z))`` (§3).

    G minimises ``-E log D(G(z)) = BCE(fake, 1)``; the released code trains with it.
    """

    def generator_loss(self, fake_logits: Tensor) -> Tensor:
        return softplus(-fake_logits).mean()


def discriminator_probability(logits: Tensor) -> Tensor:
    """Mean ``D(x) = sigmoid(logit)`` over a batch, detached: a training diagnostic."""
    return torch.sigmoid(logits.detach()).mean()
