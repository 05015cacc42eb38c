import pytest
import torch
from torch.testing import assert_close

from ganbench.callbacks import MomentumRamp
from ganbench.optim import ClassicMomentumSGD, ExponentialDecay


def test_classic_momentum_matches_hand_computed_updates_with_changing_lr_and_momentum():
    parameter = torch.nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
    optimizer = ClassicMomentumSGD([parameter], lr=0.1, momentum=0.5)
    gradients = [torch.tensor([1.0, 2.0]), torch.tensor([-1.0, 0.5]), torch.tensor([3.0, -1.0])]
    settings = [(0.1, 0.5), (0.05, 0.6), (0.02, 0.7)]
    expected, velocity = parameter.detach().clone(), torch.zeros(2, dtype=torch.float64)
    for gradient, (lr, momentum) in zip(gradients, settings):
        for group in optimizer.param_groups:
            group["lr"], group["momentum"] = lr, momentum
        parameter.grad = gradient.double()
        optimizer.step()
        velocity = momentum * velocity - lr * gradient.double()
        expected = expected + velocity
        assert_close(parameter.detach(), expected)


def test_classic_momentum_equals_torch_sgd_at_constant_lr_and_differs_when_lr_changes():
    torch.manual_seed(0)
    gradients = [torch.randn(3) for _ in range(5)]

    def run(optimizer_class, lrs):
        parameter = torch.nn.Parameter(torch.zeros(3))
        optimizer = optimizer_class([parameter], lr=0.1, momentum=0.5)
        for gradient, lr in zip(gradients, lrs):
            optimizer.param_groups[0]["lr"] = lr
            parameter.grad = gradient.clone()
            optimizer.step()
        return parameter.detach()

    constant = [0.1] * 5
    assert_close(run(ClassicMomentumSGD, constant), run(torch.optim.SGD, constant))
    decaying = [0.1, 0.05, 0.025, 0.0125, 0.00625]
    assert not torch.allclose(run(ClassicMomentumSGD, decaying), run(torch.optim.SGD, decaying))


def test_exponential_decay_values_at_given_steps():
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = ClassicMomentumSGD([parameter], lr=0.1)
    scheduler = ExponentialDecay(optimizer, decay_factor=1.000004, min_lr=1e-6)
    lrs = {}
    for step in range(1001):
        lrs[step] = optimizer.param_groups[0]["lr"]
        optimizer.step()
        scheduler.step()
    assert lrs[0] == 0.1
    assert lrs[1] == pytest.approx(0.1 / 1.000004, rel=1e-12)
    assert lrs[1000] == pytest.approx(0.1 / 1.000004**1000, rel=1e-12)


def test_exponential_decay_stops_at_the_floor():
    optimizer = ClassicMomentumSGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = ExponentialDecay(optimizer, decay_factor=1.000004, min_lr=1e-6)
    # 0.1 / 1.000004**t reaches 1e-6 after ln(1e5) / ln(1.000004) ~ 2.88 million steps
    scheduler.last_epoch = 3_000_000
    assert scheduler.get_lr() == [1e-6]
    scheduler.last_epoch = 2_000_000
    assert scheduler.get_lr()[0] == pytest.approx(0.1 / 1.000004**2_000_000, rel=1e-9)


def test_exponential_decay_state_round_trips():
    optimizer = ClassicMomentumSGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = ExponentialDecay(optimizer)
    for _ in range(7):
        optimizer.step()
        scheduler.step()
    resumed_optimizer = ClassicMomentumSGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    resumed = ExponentialDecay(resumed_optimizer)
    resumed.load_state_dict(scheduler.state_dict())
    resumed_optimizer.load_state_dict(optimizer.state_dict())
    optimizer.step(), scheduler.step(), resumed_optimizer.step(), resumed.step()
    assert resumed_optimizer.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"]


@pytest.mark.parametrize(
    ("epoch", "expected"),
    [
        (0, 0.5),
        (1, 0.5 + 0.2 / 249),
        (124, 0.5 + 0.2 * 124 / 249),
        (248, 0.5 + 0.2 * 248 / 249),
        (249, 0.7),
        (400, 0.7),
    ],
)
def test_momentum_ramp_follows_pylearn2_momentum_adjustor(epoch, expected):
    assert MomentumRamp(1, 250, 0.7).momentum(0.5, epoch) == pytest.approx(expected, rel=1e-12)


def test_momentum_ramp_sets_every_optimizer():
    optimizers = [ClassicMomentumSGD([torch.nn.Parameter(torch.zeros(1))], momentum=0.5) for _ in range(2)]

    class Trainer:
        current_epoch = 125

    Trainer.optimizers = optimizers
    MomentumRamp().on_train_epoch_start(Trainer(), None)
    for optimizer in optimizers:
        assert optimizer.param_groups[0]["momentum"] == pytest.approx(0.5 + 0.2 * 125 / 249)
        assert optimizer.param_groups[0]["initial_momentum"] == 0.5


def test_bad_optimizer_settings_are_refused():
    with pytest.raises(ValueError, match="momentum"):
        ClassicMomentumSGD([torch.nn.Parameter(torch.zeros(1))], momentum=1.0)
    with pytest.raises(ValueError, match="decay_factor"):
        ExponentialDecay(ClassicMomentumSGD([torch.nn.Parameter(torch.zeros(1))]), decay_factor=0.5)
