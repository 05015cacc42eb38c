"""The TFD generators: MLPGenerator's per-layer options and the second stage's StackedGenerator."""

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from ganbench import GAN
from ganbench.errors import ConfigError, ShapeMismatchError
from ganbench.nets import MaxoutDiscriminator, MLPGenerator, StackedGenerator
from ganbench.nets.layers import init_sparse_


def tfd_like_top(**kwargs) -> MLPGenerator:
    options = dict(
        latent_dim=10,
        hidden_dims=(12, 12),
        hidden_activations=("relu", "sigmoid"),
        hidden_init_biases=(0.0, -2.0),
        image_shape=(1, 4, 4),
        output_sparse_init=5,
    )
    return MLPGenerator(**{**options, **kwargs})


def test_mlp_generator_hidden_activations_biases_and_sparse_output_init():
    generator = tfd_like_top()
    linears = [layer for layer in generator.hidden if isinstance(layer, nn.Linear)]
    assert [type(layer) for layer in generator.hidden] == [nn.Linear, nn.ReLU, nn.Linear, nn.Sigmoid]
    assert linears[0].bias.abs().max() == 0 and torch.equal(linears[1].bias, torch.full((12,), -2.0))
    assert ((generator.output.weight != 0).sum(dim=1) == 5).all()  # pylearn2 sparse_init: 5 per unit
    assert all(0.045 < layer.weight.abs().max() <= 0.05 for layer in linears)


def test_sparse_init_draws_normal_weights_on_distinct_inputs():
    torch.manual_seed(0)
    layer = nn.Linear(400, 300)
    init_sparse_(layer, 100)
    nonzero = layer.weight[layer.weight != 0]
    assert nonzero.numel() == 300 * 100
    assert nonzero.std().item() == pytest.approx(1.0, abs=0.02) and nonzero.mean().item() == pytest.approx(0, abs=0.02)
    with pytest.raises(ValueError, match="nonzero <= 400"):
        init_sparse_(layer, 401)


def test_mlp_generator_output_init_range_and_argument_checks():
    generator = MLPGenerator(
        hidden_dims=(8, 8),
        image_shape=(3, 4, 4),
        output_activation="linear",
        output_bias_from_data=False,
        output_init_range=0.5,
    )
    assert 0.45 < generator.output.weight.abs().max() <= 0.5 and generator.hidden[0].weight.abs().max() <= 0.05
    assert generator.output_range is None
    with pytest.raises(ValueError, match=r"hidden_activations needs one entry per hidden layer \(2\), got 1"):
        MLPGenerator(hidden_dims=(8, 8), hidden_activations=("relu",))
    with pytest.raises(
        ValueError, match=r"every entry of hidden_activations must be one of \[.relu., .sigmoid., .tanh.\]"
    ):
        MLPGenerator(hidden_dims=(8,), hidden_activations=("softplus",))


def test_stacked_generator_puts_a_new_stack_under_the_top():
    top = tfd_like_top()
    generator = StackedGenerator(top=top, latent_dim=6, hidden_dims=(9, 10), init_range=0.05)
    assert [type(layer) for layer in generator.bottom] == [nn.Linear, nn.ReLU, nn.Linear, nn.Sigmoid]
    assert torch.equal(generator.bottom[2].bias, torch.full((10,), -2.0))
    noise = torch.randn(3, 6)
    assert_close(generator(noise), top(generator.bottom(noise)))
    assert generator.latent_dim == 6 and generator.output_range == (0.0, 1.0)
    with pytest.raises(ValueError, match="top generator takes noise of size 10 but the bottom stack ends in 7"):
        StackedGenerator(top=tfd_like_top(), hidden_dims=(9, 7))


def test_without_a_checkpoint_the_top_is_initialised_from_the_data():
    generator = StackedGenerator(top=tfd_like_top(), latent_dim=6, hidden_dims=(9, 10))
    generator.initialize_from_data(torch.full((1, 4, 4), 0.5))
    assert generator.top.output.bias.abs().max() < 1e-6  # logit(0.5) = 0


def save_pretrained(path, top: MLPGenerator) -> None:
    """A checkpoint as ganbench writes it: the GAN's state_dict under "state_dict"."""
    gan = GAN(top, MaxoutDiscriminator(image_shape=(1, 4, 4), hidden_units=(3,), pieces=2))
    torch.save({"state_dict": gan.state_dict(), "hyper_parameters": {}}, path)


def test_pretrained_top_is_loaded_when_training_starts(tmp_path):
    pretrained = tfd_like_top()
    save_pretrained(tmp_path / "pretrain.ckpt", pretrained)
    generator = StackedGenerator(
        top=tfd_like_top(), latent_dim=6, hidden_dims=(9, 10), pretrained_checkpoint=str(tmp_path / "pretrain.ckpt")
    )
    assert not torch.equal(generator.top.output.weight, pretrained.output.weight)  # nothing loaded at construction
    generator.initialize_from_data(torch.full((1, 4, 4), 0.5))
    for key, value in pretrained.state_dict().items():
        assert torch.equal(generator.top.state_dict()[key], value)


def test_pretrained_checkpoint_problems_are_clear_errors(tmp_path):
    def stacked(path):
        return StackedGenerator(top=tfd_like_top(), latent_dim=6, hidden_dims=(9, 10), pretrained_checkpoint=str(path))

    with pytest.raises(ConfigError, match="does not exist; train the pretrain stage first"):
        stacked(tmp_path / "absent.ckpt").initialize_from_data(torch.zeros(1, 4, 4))
    (tmp_path / "junk.ckpt").write_bytes(b"junk")
    with pytest.raises(ConfigError, match="cannot read pretrained_checkpoint"):
        stacked(tmp_path / "junk.ckpt").initialize_from_data(torch.zeros(1, 4, 4))
    save_pretrained(
        tmp_path / "other.ckpt", tfd_like_top(hidden_dims=(12, 13), hidden_init_biases=None, hidden_activations=None)
    )
    with pytest.raises(ShapeMismatchError, match="does not have the architecture of the configured top generator"):
        stacked(tmp_path / "other.ckpt").initialize_from_data(torch.zeros(1, 4, 4))
