import math

import pytest
import torch
from torch.testing import assert_close

from ganbench.losses import Minimax, NonSaturating


def probability_form(real_logits, fake_logits):
    """Eq. 1 written with probabilities, in float64: the closed form the losses must equal."""
    real, fake = torch.sigmoid(real_logits.double()), torch.sigmoid(fake_logits.double())
    discriminator = -0.5 * (torch.log(real).mean() + torch.log(1 - fake).mean())
    minimax_generator = torch.log(1 - fake).mean()
    non_saturating_generator = -torch.log(fake).mean()
    return discriminator, minimax_generator, non_saturating_generator


def test_losses_equal_closed_forms_for_moderate_logits():
    real_logits = torch.tensor([-2.0, 0.0, 0.5, 3.0], dtype=torch.float64)
    fake_logits = torch.tensor([-1.0, 1.5, -4.0, 0.25], dtype=torch.float64)
    discriminator, minimax_generator, non_saturating_generator = probability_form(real_logits, fake_logits)
    assert_close(Minimax().discriminator_loss(real_logits, fake_logits), discriminator)
    assert_close(NonSaturating().discriminator_loss(real_logits, fake_logits), discriminator)
    assert_close(Minimax().generator_loss(fake_logits), minimax_generator)
    assert_close(NonSaturating().generator_loss(fake_logits), non_saturating_generator)


def test_values_at_zero_logit_are_log_two():
    zero = torch.zeros(5)
    assert_close(NonSaturating().discriminator_loss(zero, zero), torch.tensor(math.log(2.0)))
    assert_close(Minimax().generator_loss(zero), torch.tensor(-math.log(2.0)))
    assert_close(NonSaturating().generator_loss(zero), torch.tensor(math.log(2.0)))


@pytest.mark.parametrize("loss", [Minimax(), NonSaturating()])
def test_losses_and_gradients_are_finite_at_extreme_logits(loss):
    logits = torch.tensor([-100.0, 100.0], requires_grad=True)
    total = loss.discriminator_loss(logits, logits) + loss.generator_loss(logits)
    total.backward()
    assert torch.isfinite(total)
    assert torch.isfinite(logits.grad).all()


def test_extreme_logit_values():
    # D sure the sample is fake (logit -100): log(1 - D) = -softplus(-100) ~ -3.7e-44, -log D = 100.
    very_fake = torch.tensor([-100.0])
    assert_close(NonSaturating().generator_loss(very_fake), torch.tensor(100.0))
    assert_close(Minimax().generator_loss(very_fake), torch.tensor(-math.exp(-100.0)), atol=1e-30, rtol=1e-3)
    # D right on both: loss ~ 0; D wrong on both: loss ~ 100.
    assert_close(NonSaturating().discriminator_loss(torch.tensor([100.0]), very_fake), torch.tensor(0.0))
    assert_close(NonSaturating().discriminator_loss(-torch.tensor([100.0]), -very_fake), torch.tensor(100.0))


def test_minimax_generator_saturates_and_non_saturating_does_not():
    """The point of §3: when D rejects the samples, log(1 - D(G(z))) gives G almost no gradient."""
    fake_logits = torch.tensor([-10.0], requires_grad=True)
    Minimax().generator_loss(fake_logits).backward()
    minimax_gradient = fake_logits.grad.abs().item()
    fake_logits.grad = None
    NonSaturating().generator_loss(fake_logits).backward()
    non_saturating_gradient = fake_logits.grad.abs().item()
    # d/dl log(1 - sigmoid(l)) = -sigmoid(l);  d/dl -log sigmoid(l) = sigmoid(l) - 1.
    assert minimax_gradient == pytest.approx(torch.sigmoid(torch.tensor(-10.0)).item(), rel=1e-5)
    assert non_saturating_gradient == pytest.approx(1 - torch.sigmoid(torch.tensor(-10.0)).item(), rel=1e-5)
    assert non_saturating_gradient > 1000 * minimax_gradient


def test_minimax_generator_descends_on_value_function():
    """G minimising the Minimax loss lowers V(D, G); with NonSaturating it raises log D(G(z))."""
    fake_logits = torch.tensor([0.3, -0.7])
    _, minimax_generator, _ = probability_form(torch.zeros(2), fake_logits)
    assert_close(Minimax().generator_loss(fake_logits).double(), minimax_generator)
