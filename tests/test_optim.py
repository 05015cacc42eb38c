from functools import partial

import pytest
import torch
from torch.testing import assert_close

from ganbench.callbacks import MomentumRamp
from ganbench.optim import ClassicMomentumSGD, ExponentialDecay, fused_unless_chosen
from tests.conftest import RandomImages, tiny_gan, tiny_trainer


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


def adam_steps(optimizer: torch.optim.Optimizer, parameter: torch.nn.Parameter, steps: int = 5) -> torch.Tensor:
    torch.manual_seed(1)
    for _ in range(steps):
        parameter.grad = torch.randn_like(parameter)
        optimizer.step()
    return parameter.detach().clone()


def test_an_optimiser_left_to_torch_is_rebuilt_fused_with_the_same_settings_and_update():
    torch.manual_seed(0)
    start = torch.randn(4, 3)
    parameter, reference = torch.nn.Parameter(start.clone()), torch.nn.Parameter(start.clone())
    groups = [{"params": [parameter], "lr": 0.01}]
    optimizer = fused_unless_chosen(torch.optim.Adam(groups, lr=2e-4, betas=(0.5, 0.999), weight_decay=0.1))
    assert optimizer.defaults["fused"] is True and optimizer.param_groups[0]["fused"] is True
    assert optimizer.param_groups[0]["lr"] == 0.01 and optimizer.param_groups[0]["params"] == [parameter]
    assert optimizer.defaults["betas"] == (0.5, 0.999) and optimizer.defaults["weight_decay"] == 0.1
    unfused = torch.optim.Adam([{"params": [reference], "lr": 0.01}], lr=2e-4, betas=(0.5, 0.999), weight_decay=0.1)
    assert_close(adam_steps(optimizer, parameter), adam_steps(unfused, reference))
    assert not torch.equal(parameter.detach(), start)  # it did update


@pytest.mark.parametrize(
    "build",
    [
        lambda parameters: torch.optim.Adam(parameters, fused=False),  # the config said no
        lambda parameters: torch.optim.Adam(parameters, foreach=True),  # the config chose another kernel
        lambda parameters: torch.optim.Adam([{"params": parameters, "foreach": False}]),  # so did a group
        lambda parameters: torch.optim.RMSprop(parameters),  # no fused kernel in torch
        lambda parameters: ClassicMomentumSGD(parameters),
    ],
)
def test_an_optimiser_whose_kernel_was_chosen_or_that_has_no_fused_one_is_kept(build):
    optimizer = build([torch.nn.Parameter(torch.zeros(2))])
    assert fused_unless_chosen(optimizer) is optimizer


def test_the_gan_builds_torch_optimisers_fused_and_its_own_unchanged(tmp_path):
    adam = partial(torch.optim.Adam, lr=2e-4, betas=(0.5, 0.999))  # as the CLI builds them from a config
    trainer = tiny_trainer(tmp_path, max_steps=1)
    trainer.fit(tiny_gan(generator_optimizer=adam), RandomImages(count=8, batch_size=4))
    discriminator_optimizer, generator_optimizer = trainer.optimizers
    assert isinstance(discriminator_optimizer, ClassicMomentumSGD)
    assert generator_optimizer.defaults["fused"] is True
