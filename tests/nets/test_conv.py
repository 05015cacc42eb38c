"""The paper's convolutional CIFAR-10 networks and the DCGAN baseline: shapes, sizes, initialisation, contracts."""

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from ganbench.nets import (
    DCGANDiscriminator,
    DCGANGenerator,
    DeconvGenerator,
    MaxoutConv2d,
    MaxoutConvDiscriminator,
    MLPGenerator,
    StackedGenerator,
)
from ganbench.nets.conv import transposed_convolution_size


def small_deconv(**kwargs) -> DeconvGenerator:
    return DeconvGenerator(latent_dim=6, hidden_dims=(16, 800), feature_shape=(8, 10, 10), **kwargs)


def test_deconv_generator_maps_10x10_maps_to_exactly_32x32_without_padding_or_cropping():
    assert transposed_convolution_size(10, kernel_size=5, stride=3, padding=0) == 32  # 3 * 9 + 5
    generator = DeconvGenerator()
    assert (generator.deconvolution.kernel_size, generator.deconvolution.stride) == ((5, 5), (3, 3))
    assert generator.deconvolution.padding == (0, 0) and generator.deconvolution.output_padding == (0, 0)
    assert [layer.out_features for layer in generator.hidden if isinstance(layer, nn.Linear)] == [8000, 8000]
    assert [type(layer) for layer in generator.hidden[1::2]] == [nn.ReLU, nn.Sigmoid]
    assert generator(torch.randn(2, 100)).shape == (2, 3, 32, 32)
    assert generator.output_range is None  # linear: for contrast-normalised data


def test_deconv_generator_has_one_bias_per_output_pixel_and_paper_initialisation():
    generator = small_deconv()
    assert generator.deconvolution.bias is None and generator.pixel_bias.shape == (3, 32, 32)
    with torch.no_grad():
        generator.pixel_bias[1, 5, 7] = 3.0
        generator.deconvolution.weight.zero_()
    images = generator(torch.randn(2, 6))
    assert images[:, 1, 5, 7].tolist() == [3.0, 3.0] and images.abs().sum() == 6.0
    weights = small_deconv().deconvolution.weight
    assert 0.045 < weights.abs().max() <= 0.05


def test_deconv_generator_refuses_shapes_that_do_not_fit():
    with pytest.raises(ValueError, match="holds 800 units but the last hidden layer has 80"):
        DeconvGenerator(latent_dim=6, hidden_dims=(16, 80), feature_shape=(8, 10, 10))
    with pytest.raises(ValueError, match=r"turns \[10, 10\] maps into \[30, 30\], not the image's \[32, 32\]"):
        small_deconv(kernel_size=3)


def test_maxout_convolution_takes_max_over_consecutive_maps_then_pools_rounding_up():
    layer = MaxoutConv2d(in_channels=1, channels=2, pieces=2, kernel_size=1, padding=0, pool_size=2, pool_stride=2)
    with torch.no_grad():  # maps: x, -x (unit 0 = |x|), 2x, 3x (unit 1 = max(2x, 3x))
        layer.convolution.weight.copy_(torch.tensor([1.0, -1.0, 2.0, 3.0]).view(4, 1, 1, 1))
        layer.convolution.bias.zero_()
    inputs = torch.arange(9.0).view(1, 1, 3, 3) - 4  # 3x3: ceil((3 - 2) / 2) + 1 = 2 outputs per side
    outputs = layer(inputs)
    assert outputs.shape == (1, 2, 2, 2) and layer.output_size(3) == 2
    assert_close(outputs[0, 0], torch.tensor([[4.0, 2.0], [3.0, 4.0]]))  # max |x| per window, edges partial
    assert_close(outputs[0, 1], torch.tensor([[0.0, 3.0], [9.0, 12.0]]))


def test_maxout_conv_discriminator_has_the_released_feature_map_sizes():
    discriminator = MaxoutConvDiscriminator()
    shapes, hidden = [], torch.randn(2, 3, 32, 32)
    for layer in discriminator.layers:
        hidden = layer(hidden)
        if isinstance(layer, MaxoutConv2d):
            shapes.append(tuple(hidden.shape[1:]))
    assert shapes == [(32, 16, 16), (32, 7, 7), (192, 5, 5)]  # pylearn2/cuda-convnet pooling rounds up
    maxout = [layer for layer in discriminator.layers if type(layer).__name__ == "Maxout"][0]
    assert (maxout.linear.in_features, maxout.units, maxout.pieces) == (4800, 500, 5)
    assert hidden.shape == (2, 1)


def test_maxout_conv_discriminator_dropout_and_initialisation_follow_the_paper():
    discriminator = MaxoutConvDiscriminator()
    rates = [layer.p for layer in discriminator.layers if isinstance(layer, nn.Dropout)]
    assert rates == pytest.approx([0.2, 0.5, 0.5, 0.5, 0.5])
    weights = [m.weight for m in discriminator.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(weights) == 5 and all(0.004 < weight.abs().max() <= 0.005 for weight in weights)
    convolutions = [m for m in discriminator.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size[0], c.padding[0]) for c in convolutions] == [
        (64, 8, 4),
        (64, 8, 3),
        (384, 5, 3),
    ]


def test_dcgan_generator_and_discriminator_for_32x32_in_minus_one_to_one():
    generator = DCGANGenerator(width=8)
    images = generator(torch.randn(5, 100))
    assert images.shape == (5, 3, 32, 32) and images.abs().max() < 1
    assert generator.output_range == (-1.0, 1.0)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in generator.modules()) == 3
    discriminator = DCGANDiscriminator(width=8)
    assert discriminator(images).shape == (5,)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in discriminator.modules()) == 2  # none on the first layer
    assert sum(isinstance(m, nn.LeakyReLU) and m.negative_slope == 0.2 for m in discriminator.modules()) == 3
    full = DCGANGenerator()
    assert [m.out_channels for m in full.modules() if isinstance(m, nn.ConvTranspose2d)] == [256, 128, 64, 3]
    weights = torch.cat([m.weight.flatten() for m in full.modules() if isinstance(m, nn.ConvTranspose2d)])
    assert weights.std().item() == pytest.approx(0.02, rel=0.05)


def test_dcgan_generator_with_a_sigmoid_output_makes_pixels_in_zero_to_one():
    tanh = DCGANGenerator(latent_dim=5, image_shape=(1, 28, 28), width=4)
    sigmoid = DCGANGenerator(latent_dim=5, image_shape=(1, 28, 28), width=4, output_activation="sigmoid")
    sigmoid.load_state_dict(tanh.state_dict())  # the same parameters: only the last activation differs
    noise = torch.randn(3, 5)
    images = sigmoid(noise)
    assert sigmoid.output_range == (0.0, 1.0) and 0 < images.min() and images.max() < 1
    pre_activation = torch.atanh(tanh(noise))
    torch.testing.assert_close(images, torch.sigmoid(pre_activation))
    with pytest.raises(ValueError, match=r"output_activation must be one of \['linear', 'sigmoid', 'tanh'\]"):
        DCGANGenerator(output_activation="relu")


def test_dcgan_refuses_sizes_that_do_not_halve_down_to_4_to_7():
    with pytest.raises(ValueError, match="halves down to 4..7"):
        DCGANGenerator(image_shape=(3, 30, 30))
    with pytest.raises(ValueError, match="square"):
        DCGANDiscriminator(image_shape=(1, 28, 32))


@pytest.mark.parametrize(("side", "features"), [(28, (8, 7, 7)), (32, (16, 4, 4)), (48, (16, 6, 6)), (64, (32, 4, 4))])
def test_dcgan_networks_make_and_judge_mnist_and_other_sides(side, features):
    generator = DCGANGenerator(latent_dim=5, image_shape=(1, side, side), width=4, num_classes=10)
    discriminator = DCGANDiscriminator(image_shape=(1, side, side), width=4, num_classes=10)
    labels = torch.tensor([3, 7])
    images = generator(torch.randn(2, 5), labels)
    assert images.shape == (2, 1, side, side)
    assert discriminator(images, labels).shape == (2,)
    assert tuple(discriminator.layers[:-1](images).shape[1:]) == features  # phi(x) of the projection


GENERATORS = {
    "deconv": lambda: small_deconv(),
    "dcgan": lambda: DCGANGenerator(width=4),
    "stacked": lambda: StackedGenerator(
        top=MLPGenerator(latent_dim=5, hidden_dims=(8,), image_shape=(3, 32, 32)),
        latent_dim=6,
        hidden_dims=(7, 5),
    ),
}
DISCRIMINATORS = {
    "maxout_conv": lambda: MaxoutConvDiscriminator(channels=(4, 4, 8), hidden_units=6),
    "dcgan": lambda: DCGANDiscriminator(width=4),
}


@pytest.mark.parametrize("name", GENERATORS)
def test_generator_contract(name):
    generator = GENERATORS[name]().eval()
    assert isinstance(generator.latent_dim, int)
    images = generator(torch.randn(3, generator.latent_dim))
    assert images.shape == (3, 3, 32, 32)
    if generator.output_range is not None:
        low, high = generator.output_range
        assert low <= images.min() and images.max() <= high


@pytest.mark.parametrize("name", DISCRIMINATORS)
def test_discriminator_contract_returns_raw_logits(name):
    discriminator = DISCRIMINATORS[name]().eval()
    logits = discriminator(torch.randn(4, 3, 32, 32))
    assert logits.shape == (4,)
    assert not any(isinstance(m, nn.Sigmoid) for m in discriminator.modules())
