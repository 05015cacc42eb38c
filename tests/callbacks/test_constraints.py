"""MaxColumnNorm: pylearn2's max_col_norm, applied by the optimisers' step hooks."""

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from ganbench.callbacks import MaxColumnNorm
from ganbench.callbacks.constraints import renorm_units_
from ganbench.errors import ConfigError
from tests.conftest import RandomImages, tiny_gan, tiny_trainer


def test_long_rows_are_scaled_to_the_cap_and_short_rows_are_left_alone():
    layer = nn.Linear(2, 3)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[3.0, 4.0], [0.3, 0.4], [0.0, -10.0]]))
        layer.bias.fill_(7.0)
    renorm_units_(layer, 2.0)
    assert_close(layer.weight, torch.tensor([[1.2, 1.6], [0.3, 0.4], [0.0, -2.0]]), atol=1e-6, rtol=0)
    assert torch.equal(layer.bias, torch.full((3,), 7.0))  # biases are not constrained


@pytest.mark.parametrize("layer, units", [(nn.Conv2d(3, 5, 4), 5), (nn.ConvTranspose2d(3, 5, 4), 5)])
def test_convolutions_cap_each_output_channels_kernel(layer, units):
    with torch.no_grad():
        layer.weight.normal_(0, 10)
    renorm_units_(layer, 1.5)
    dimension = 0 if isinstance(layer, nn.Conv2d) else 1
    norms = layer.weight.transpose(0, dimension).flatten(1).norm(dim=1)
    assert norms.shape == (units,)
    assert_close(norms, torch.full((units,), 1.5), atol=1e-5, rtol=0)


def row_norms(module: nn.Module) -> list[float]:
    return [m.weight.norm(dim=1).max().item() for m in module.modules() if isinstance(m, nn.Linear)]


@pytest.mark.parametrize("schedule", ["simultaneous", "alternating"])
def test_every_layer_of_both_networks_stays_capped_while_training(tmp_path, schedule):
    def big_steps(parameters):
        return torch.optim.SGD(parameters, lr=50.0)

    gan = tiny_gan(schedule=schedule, generator_optimizer=big_steps, discriminator_optimizer=big_steps)
    callback = MaxColumnNorm(max_norm=0.3)
    trainer = tiny_trainer(tmp_path, max_steps=3, callbacks=[callback])
    trainer.fit(gan, datamodule=RandomImages())
    assert max(row_norms(gan.generator) + row_norms(gan.discriminator)) <= 0.3 + 1e-6
    assert callback._handles == []  # the hooks are gone after fit
    assert all(not optimizer._optimizer_step_post_hooks for optimizer in trainer.optimizers)


def test_only_the_named_networks_are_constrained(tmp_path):
    def big_steps(parameters):
        return torch.optim.SGD(parameters, lr=50.0)

    gan = tiny_gan(generator_optimizer=big_steps, discriminator_optimizer=big_steps)
    for network in (gan.generator, gan.discriminator):
        for layer in network.modules():
            if isinstance(layer, nn.Linear):
                nn.init.constant_(layer.weight, 1.0)  # every row longer than the cap
    trainer = tiny_trainer(tmp_path, max_steps=3, callbacks=[MaxColumnNorm(max_norm=0.3, modules=["discriminator"])])
    trainer.fit(gan, datamodule=RandomImages())
    assert max(row_norms(gan.discriminator)) <= 0.3 + 1e-6
    assert max(row_norms(gan.generator)) > 0.3


def test_the_constraint_runs_right_after_each_optimizer_step():
    layer = nn.Linear(4, 2)
    optimizer = torch.optim.SGD(layer.parameters(), lr=100.0)
    callback = MaxColumnNorm(max_norm=1.0)
    handle = optimizer.register_step_post_hook(callback._constrainer([layer]))
    layer(torch.ones(1, 4)).sum().backward()
    optimizer.step()
    assert layer.weight.norm(dim=1).max() <= 1.0 + 1e-6
    handle.remove()


def test_bad_arguments_are_refused():
    with pytest.raises(ConfigError, match="max_norm > 0"):
        MaxColumnNorm(max_norm=0)
