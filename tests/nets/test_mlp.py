import math

import pytest
import torch
from torch.testing import assert_close

from ganbench.nets import Maxout, MaxoutDiscriminator, MLPGenerator


def test_maxout_takes_max_over_consecutive_pieces():
    layer = Maxout(in_features=2, units=2, pieces=3)
    with torch.no_grad():
        layer.linear.weight.copy_(torch.tensor([[1.0, 0], [0, 1], [1, 1], [-1, 0], [0, -1], [2, 0]]))
        layer.linear.bias.zero_()
    inputs = torch.tensor([[1.0, 2.0], [-3.0, 0.5]])
    # unit 0 = max(x0, x1, x0 + x1); unit 1 = max(-x0, -x1, 2 x0)
    expected = torch.tensor([[3.0, 2.0], [0.5, 3.0]])
    assert_close(layer(inputs), expected)


def test_generator_shapes_range_and_initialisation():
    generator = MLPGenerator()
    images = generator(torch.randn(5, 100))
    assert images.shape == (5, 1, 28, 28)
    assert images.min() >= 0 and images.max() <= 1
    for layer in [generator.hidden[0], generator.hidden[2], generator.output]:
        assert layer.weight.abs().max() <= 0.05
        assert layer.weight.abs().max() > 0.045  # fills the range, U(-0.05, 0.05)
    assert generator.output_range == (0.0, 1.0)


def test_generator_output_bias_is_logit_of_clipped_pixel_mean():
    generator = MLPGenerator(latent_dim=2, hidden_dims=(3,), image_shape=(1, 2, 2))
    pixel_mean = torch.tensor([[[0.0, 0.25], [0.5, 1.0]]])
    generator.initialize_from_data(pixel_mean)
    expected = torch.logit(torch.tensor([1e-7, 0.25, 0.5, 1 - 1e-7], dtype=torch.float64)).float()
    assert_close(generator.output.bias, expected)
    # with zero weights the output is exactly the data mean (clipped)
    torch.nn.init.zeros_(generator.output.weight)
    assert_close(generator(torch.randn(1, 2))[0], pixel_mean.clamp(1e-7, 1 - 1e-7))


def test_discriminator_returns_logits_and_uses_paper_initialisation():
    discriminator = MaxoutDiscriminator()
    logits = discriminator(torch.rand(7, 1, 28, 28))
    assert logits.shape == (7,)
    linears = [m for m in discriminator.modules() if isinstance(m, torch.nn.Linear)]
    assert [tuple(layer.weight.shape) for layer in linears] == [(1200, 784), (1200, 240), (1, 240)]
    assert all(layer.weight.abs().max() <= 0.005 for layer in linears)


def dropouts(discriminator):
    return [m for m in discriminator.layers if isinstance(m, torch.nn.Dropout)]


def test_discriminator_dropout_rates_follow_the_paper():
    assert [d.p for d in dropouts(MaxoutDiscriminator())] == pytest.approx([0.2, 0.5, 0.5])


def test_pixel_dropout_scales_kept_pixels_by_1_25_with_per_example_masks():
    torch.manual_seed(0)
    pixel_dropout = dropouts(MaxoutDiscriminator())[0]
    pixel_dropout.train()
    outputs = pixel_dropout(torch.ones(2000, 784))
    assert set(outputs.unique().tolist()) == {0.0, 1.25}
    assert (outputs > 0).float().mean().item() == pytest.approx(0.8, abs=0.01)
    # every example gets its own mask
    assert not torch.equal(outputs[0], outputs[1])
    assert len({tuple(row.nonzero().flatten().tolist()) for row in outputs[:50]}) == 50


def test_hidden_dropout_keeps_half_and_scales_by_two():
    torch.manual_seed(0)
    hidden_dropout = dropouts(MaxoutDiscriminator())[1]
    outputs = hidden_dropout.train()(torch.ones(1000, 240))
    assert set(outputs.unique().tolist()) == {0.0, 2.0}
    assert (outputs > 0).float().mean().item() == pytest.approx(0.5, abs=0.01)


def test_dropout_is_off_in_eval_mode_and_on_in_train_mode():
    discriminator = MaxoutDiscriminator()
    images = torch.rand(4, 1, 28, 28)
    discriminator.eval()
    assert_close(discriminator(images), discriminator(images))
    discriminator.train()
    assert not torch.equal(discriminator(images), discriminator(images))


def test_bad_network_arguments_are_refused():
    with pytest.raises(ValueError, match="output_activation"):
        MLPGenerator(output_activation="softmax")
    with pytest.raises(ValueError, match="output_bias_from_data"):
        MLPGenerator(output_activation="tanh")
    with pytest.raises(ValueError, match="input_keep"):
        MaxoutDiscriminator(input_keep=0.0)
    assert math.prod(MLPGenerator(image_shape=(3, 8, 8), output_bias_from_data=False).image_shape) == 192


def test_generator_batch_norm_option_normalises_hidden_layers():
    generator = MLPGenerator(latent_dim=4, hidden_dims=(8, 8), image_shape=(1, 2, 2), batch_norm=True)
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in generator.modules()) == 2
    generator.train()
    hidden = generator.hidden[:2](torch.randn(64, 4) * 5 + 3)  # Linear, BatchNorm
    assert_close(hidden.mean(0), torch.zeros(8), atol=1e-5, rtol=0)
    generator.eval()
    assert generator(torch.randn(3, 4)).shape == (3, 1, 2, 2)
