import math

import pytest
import torch
from torch.testing import assert_close

from ganbench.errors import ConfigError
from ganbench.losses import R1, Hinge, Minimax, NonSaturating, RelativisticAverage


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


def test_hinge_equals_its_closed_form():
    real = torch.tensor([-2.0, 0.5, 3.0], dtype=torch.float64)
    fake = torch.tensor([-3.0, -0.5, 2.0], dtype=torch.float64)
    # D: mean(max(0, 1 - real)) + mean(max(0, 1 + fake)) = (3 + 0.5 + 0)/3 + (0 + 0.5 + 3)/3
    assert_close(Hinge().discriminator_loss(real, fake), torch.tensor(7.0 / 3, dtype=torch.float64))
    assert_close(Hinge().generator_loss(fake), torch.tensor(0.5, dtype=torch.float64))


def test_relativistic_average_equals_its_closed_form_and_sees_the_real_logits():
    real = torch.tensor([1.0, 3.0], dtype=torch.float64)
    fake = torch.tensor([0.0, -2.0], dtype=torch.float64)
    # mean(real) = 2, mean(fake) = -1: r = real + 1 = [2, 4], f = fake - 2 = [-2, -4]
    sigmoid = torch.sigmoid
    r, f = torch.tensor([2.0, 4.0], dtype=torch.float64), torch.tensor([-2.0, -4.0], dtype=torch.float64)
    discriminator = -0.5 * (torch.log(sigmoid(r)).mean() + torch.log(1 - sigmoid(f)).mean())
    generator = -0.5 * (torch.log(sigmoid(f)).mean() + torch.log(1 - sigmoid(r)).mean())
    loss = RelativisticAverage()
    assert loss.generator_uses_real_logits
    assert_close(loss.discriminator_loss(real, fake), discriminator)
    assert_close(loss.generator_loss(fake, real), generator)


def test_r1_penalty_equals_its_closed_form_for_a_linear_discriminator():
    # D(x) = <w, x> + b has gradient w at every x: the penalty is gamma / 2 * ||w||^2.
    weight = torch.tensor([[1.0, -2.0, 0.5, 3.0]])

    def discriminate(images):
        return images.flatten(1) @ weight.t().squeeze(-1) + 0.25

    real, fake = torch.randn(6, 1, 2, 2), torch.randn(6, 1, 2, 2)
    penalty = R1(gamma=4.0).penalty(discriminate, real, fake)
    assert_close(penalty, torch.tensor(0.5 * 4.0 * (1 + 4 + 0.25 + 9)))


def test_r1_penalty_of_a_quadratic_discriminator_and_its_gradient_reaches_d():
    # D(x) = a * sum(x^2): grad = 2 a x, penalty = gamma / 2 * mean_i 4 a^2 ||x_i||^2
    a = torch.tensor(0.3, requires_grad=True)
    real = torch.tensor([[1.0, 2.0], [0.0, -1.0]]).view(2, 1, 1, 2)
    penalty = R1(gamma=2.0).penalty(lambda images: a * images.flatten(1).pow(2).sum(1), real, real)
    expected = 0.5 * 2.0 * (4 * 0.09 * (5.0 + 1.0) / 2)
    assert_close(penalty, torch.tensor(expected))
    penalty.backward()  # create_graph: the penalty trains D
    assert_close(a.grad, torch.tensor(2.0 * 4 * 0.3 * 6.0 / 2 / 1))


def test_r1_wraps_another_loss_and_refuses_a_negative_gamma():
    real, fake = torch.tensor([0.5, -1.0]), torch.tensor([2.0, -3.0])
    wrapped = R1(gamma=1.0, loss=Hinge())
    assert_close(wrapped.discriminator_loss(real, fake), Hinge().discriminator_loss(real, fake))
    assert_close(wrapped.generator_loss(fake), Hinge().generator_loss(fake))
    with pytest.raises(ConfigError, match="gamma must be >= 0"):
        R1(gamma=-1.0)
