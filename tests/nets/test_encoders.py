"""Encoders E: images -> latents (BiGAN/ALI, the paper's learned inference): shapes, conditioning, arguments."""

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from ganbench.errors import ConfigError, ShapeMismatchError
from ganbench.nets import DCGANDiscriminator, DCGANEncoder, Encoder, MLPEncoder


def tiny_mlp(**kwargs) -> MLPEncoder:
    return MLPEncoder(image_shape=(1, 4, 4), latent_dim=3, hidden_dims=(8, 6), **kwargs)


def tiny_dcgan(**kwargs) -> DCGANEncoder:
    return DCGANEncoder(image_shape=(1, 32, 32), latent_dim=3, width=2, **kwargs)


ENCODERS = {"mlp": (tiny_mlp, (1, 4, 4)), "dcgan": (tiny_dcgan, (1, 32, 32))}


def test_mlp_encoder_defaults_map_mnist_images_to_100_latents():
    encoder = MLPEncoder()
    assert isinstance(encoder, Encoder) and encoder.latent_dim == 100 and encoder.num_classes is None
    assert [m.out_features for m in encoder.modules() if isinstance(m, nn.Linear)] == [1200, 1200, 100]
    assert sum(isinstance(m, nn.ReLU) for m in encoder.modules()) == 2
    assert encoder(torch.rand(5, 1, 28, 28)).shape == (5, 100)


def test_mlp_encoder_output_is_linear_not_squashed():
    encoder = tiny_mlp().eval()
    with torch.no_grad():
        encoder.output.bias.fill_(-5.0)
        encoder.output.bias[0] = 7.0
        latents = encoder(torch.rand(4, 1, 4, 4))
    assert latents[:, 0].min() > 1 and latents[:, 1].max() < -1  # outside any squashing range


def test_mlp_encoder_activation_and_batch_norm_options():
    encoder = tiny_mlp(activation="leaky_relu", batch_norm=True)
    assert [m.negative_slope for m in encoder.modules() if isinstance(m, nn.LeakyReLU)] == [0.2, 0.2]
    assert sum(isinstance(m, nn.BatchNorm1d) for m in encoder.modules()) == 2
    assert encoder(torch.rand(4, 1, 4, 4)).shape == (4, 3)
    linear = MLPEncoder(image_shape=(1, 4, 4), hidden_dims=())  # no hidden layers: one linear map
    assert len(linear.hidden) == 0 and (linear.output.in_features, linear.output.out_features) == (16, 100)


def test_dcgan_encoder_mirrors_the_dcgan_discriminator_trunk_with_a_linear_head():
    encoder = DCGANEncoder(width=8, latent_dim=20)
    discriminator = DCGANDiscriminator(width=8)
    trunk_shapes = [tuple(p.shape) for p in encoder.layers.parameters()]
    assert trunk_shapes == [tuple(p.shape) for p in discriminator.layers[:-1].parameters()]
    assert (encoder.output.in_features, encoder.output.out_features) == (4 * 8 * 4 * 4, 20)
    assert encoder.output.weight.std().item() == pytest.approx(0.02, rel=0.1)  # N(0, 0.02), as the convolutions
    assert encoder(torch.randn(5, 3, 32, 32)).shape == (5, 20)


@pytest.mark.parametrize("name", ENCODERS)
def test_conditional_encoder_reads_the_label_and_its_output_changes_with_the_label_alone(name):
    build, image_shape = ENCODERS[name]
    torch.manual_seed(0)
    encoder = build(num_classes=4).eval()
    assert encoder.num_classes == 4
    layer = encoder.hidden[0] if name == "mlp" else encoder.output
    width = 16 if name == "mlp" else 4 * 2 * 4 * 4  # flattened pixels, or the trunk's flattened features
    assert layer.in_features == width + 4  # the one-hot label is appended
    images = torch.rand(3, *image_shape)
    with torch.no_grad():
        first = encoder(images, torch.tensor([0, 1, 2]))
        other = encoder(images, torch.tensor([3, 1, 2]))  # only the first example's label changes
    assert first.shape == (3, 3)
    assert not torch.allclose(first[0], other[0])
    assert_close(first[1:], other[1:])


@pytest.mark.parametrize("name", ENCODERS)
def test_encoder_label_errors(name):
    build, image_shape = ENCODERS[name]
    owner = type(build()).__name__
    images = torch.rand(3, *image_shape)
    with pytest.raises(ConfigError, match=rf"^{owner} is conditional \(num_classes=4\): call it with labels \(B,\)\.$"):
        build(num_classes=4)(images)
    with pytest.raises(ConfigError, match=rf"^{owner} is not conditional: it takes no labels; set num_classes"):
        build()(images, torch.tensor([0, 1, 2]))
    with pytest.raises(ShapeMismatchError, match=r"labels must have shape \(B,\) = \(3,\)"):
        build(num_classes=4)(images, torch.tensor([0, 1]))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"latent_dim": 0}, "MLPEncoder: latent_dim must be >= 1, got 0."),
        ({"hidden_dims": (8, 0)}, "MLPEncoder: every entry of hidden_dims must be >= 1, got [8, 0]."),
        ({"image_shape": (1, 28)}, "MLPEncoder: image_shape must be [channels, height, width]"),
        ({"activation": "tanh"}, "MLPEncoder: activation must be one of ['leaky_relu', 'relu'], got 'tanh'."),
        ({"num_classes": 1}, "MLPEncoder: num_classes must be >= 2, got 1."),
    ],
)
def test_mlp_encoder_refuses_bad_arguments(arguments, message):
    with pytest.raises(ConfigError) as error:
        MLPEncoder(**arguments)
    assert str(error.value).startswith(message)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"image_shape": (1, 30, 30)}, "DCGANEncoder: image_shape must be square with a side that halves"),
        ({"latent_dim": 0}, "DCGANEncoder: latent_dim must be >= 1, got 0."),
        ({"width": 0}, "DCGANEncoder: width must be >= 1, got 0."),
        ({"num_classes": 0}, "DCGANEncoder: num_classes must be >= 2, got 0."),
    ],
)
def test_dcgan_encoder_refuses_bad_arguments(arguments, message):
    with pytest.raises(ConfigError) as error:
        DCGANEncoder(**arguments)
    assert str(error.value).startswith(message)
