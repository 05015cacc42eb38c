"""Conditional networks (labels), discriminators of (image, latent) pairs, and the unchanged unconditional ones."""

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from ganbench.errors import ConfigError, ShapeMismatchError
from ganbench.nets import (
    DCGANDiscriminator,
    DCGANGenerator,
    DeconvGenerator,
    MaxoutConvDiscriminator,
    MaxoutDiscriminator,
    MLPDiscriminator,
    MLPGenerator,
)

# Tiny versions of every network that takes num_classes: (class, arguments, shape of one input batch of 3).
TINY = {
    "MLPGenerator": (
        MLPGenerator,
        dict(latent_dim=3, hidden_dims=(4, 5), image_shape=(1, 2, 3), init_range=0.5),
        (3, 3),
    ),
    "DeconvGenerator": (
        DeconvGenerator,
        dict(
            latent_dim=3,
            hidden_dims=(4, 8),
            feature_shape=(2, 2, 2),
            image_shape=(1, 5, 5),
            kernel_size=3,
            stride=2,
            init_range=0.5,
        ),
        (3, 3),
    ),
    "DCGANGenerator": (DCGANGenerator, dict(latent_dim=3, image_shape=(1, 32, 32), width=2), (3, 3)),
    "MaxoutDiscriminator": (
        MaxoutDiscriminator,
        dict(image_shape=(1, 2, 3), hidden_units=(4, 3), pieces=2, init_range=0.5),
        (3, 1, 2, 3),
    ),
    "MLPDiscriminator": (MLPDiscriminator, dict(image_shape=(1, 2, 3), hidden_dims=(4, 3)), (3, 1, 2, 3)),
    "MaxoutConvDiscriminator": (
        MaxoutConvDiscriminator,
        dict(
            image_shape=(1, 8, 8),
            channels=(2, 2),
            pieces=(2, 2),
            kernel_sizes=(3, 3),
            paddings=(1, 1),
            pool_sizes=(2, 2),
            pool_strides=(2, 2),
            hidden_units=3,
            hidden_pieces=2,
            init_range=0.5,
        ),
        (3, 1, 8, 8),
    ),
    "DCGANDiscriminator": (DCGANDiscriminator, dict(image_shape=(1, 32, 32), width=2), (3, 1, 32, 32)),
}
GENERATORS = ["MLPGenerator", "DeconvGenerator", "DCGANGenerator"]
DISCRIMINATORS = ["MaxoutDiscriminator", "MLPDiscriminator", "MaxoutConvDiscriminator", "DCGANDiscriminator"]
PAIR_DISCRIMINATORS = ["MaxoutDiscriminator", "MLPDiscriminator"]

_DCGAN_BATCH_NORM = ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]

# state_dict keys of each network built with its default arguments, read off the code before num_classes existed:
# checkpoints written then must still load.
KEYS_BEFORE_CONDITIONING = {
    "MLPGenerator": [
        "hidden.0.weight",
        "hidden.0.bias",
        "hidden.2.weight",
        "hidden.2.bias",
        "output.weight",
        "output.bias",
    ],
    "DeconvGenerator": [
        "pixel_bias",
        "hidden.0.weight",
        "hidden.0.bias",
        "hidden.2.weight",
        "hidden.2.bias",
        "deconvolution.weight",
    ],
    "DCGANGenerator": [
        "layers.0.weight",
        *[f"layers.1.{name}" for name in _DCGAN_BATCH_NORM],
        "layers.3.weight",
        *[f"layers.4.{name}" for name in _DCGAN_BATCH_NORM],
        "layers.6.weight",
        *[f"layers.7.{name}" for name in _DCGAN_BATCH_NORM],
        "layers.9.weight",
        "layers.9.bias",
    ],
    "MaxoutDiscriminator": [
        "layers.1.linear.weight",
        "layers.1.linear.bias",
        "layers.3.linear.weight",
        "layers.3.linear.bias",
        "layers.5.weight",
        "layers.5.bias",
    ],
    "MLPDiscriminator": [
        "layers.0.weight",
        "layers.0.bias",
        "layers.3.weight",
        "layers.3.bias",
        "layers.6.weight",
        "layers.6.bias",
    ],
    "MaxoutConvDiscriminator": [
        "layers.1.convolution.weight",
        "layers.1.convolution.bias",
        "layers.3.convolution.weight",
        "layers.3.convolution.bias",
        "layers.5.convolution.weight",
        "layers.5.convolution.bias",
        "layers.8.linear.weight",
        "layers.8.linear.bias",
        "layers.10.weight",
        "layers.10.bias",
    ],
    "DCGANDiscriminator": [
        "layers.0.weight",
        "layers.0.bias",
        "layers.2.weight",
        *[f"layers.3.{name}" for name in _DCGAN_BATCH_NORM],
        "layers.5.weight",
        *[f"layers.6.{name}" for name in _DCGAN_BATCH_NORM],
        "layers.8.weight",
        "layers.8.bias",
    ],
}

# Outputs of the TINY networks (eval mode) built after torch.manual_seed(0), on torch.randn inputs drawn after
# torch.manual_seed(1), recorded from the code before num_classes existed: every fifth-or-so output value.
# They pin the initialisation order (same seed, same weights) and the forward pass.
OUTPUTS_BEFORE_CONDITIONING = {
    "MLPGenerator": [0.5163239, 0.488848, 0.5030762, 0.498459, 0.5158047],
    "DeconvGenerator": [-0.08045985, -0.03748384, -0.03792174, -0.2493407, -0.3233018],
    "DCGANGenerator": [0.0, 4.849105e-06, -1.429639e-07, -1.796911e-06, 6.497252e-07],
    "MaxoutDiscriminator": [-0.2235005, -0.7485433, -0.1464001],
    "MLPDiscriminator": [0.2968418, 0.2778715, 0.3934484],
    "MaxoutConvDiscriminator": [-0.2868932, -0.1687953, -0.4507749],
    "DCGANDiscriminator": [-7.990497e-05, -1.873929e-05, -2.984051e-05],
}


def build(name: str, **kwargs) -> nn.Module:
    """The TINY network ``name`` in eval mode (no dropout, BatchNorm's running statistics)."""
    network_class, arguments, _ = TINY[name]
    return network_class(**arguments, **kwargs).eval()


def inputs(name: str, seed: int = 1) -> torch.Tensor:
    """A batch of 3 noise vectors or images for the TINY network ``name``."""
    torch.manual_seed(seed)
    return torch.randn(TINY[name][2])


@pytest.mark.parametrize("name", TINY)
def test_unconditional_networks_keep_their_parameter_names(name):
    network = TINY[name][0]()
    assert network.num_classes is None
    assert list(network.state_dict()) == KEYS_BEFORE_CONDITIONING[name]


@pytest.mark.parametrize("name", TINY)
def test_unconditional_networks_give_the_outputs_they_gave_before_for_the_same_seed(name):
    torch.manual_seed(0)
    network = build(name)
    with torch.no_grad():
        outputs = network(inputs(name)).flatten()
    sampled = outputs[:: max(1, outputs.numel() // 5)][:5]
    expected = torch.tensor(OUTPUTS_BEFORE_CONDITIONING[name])
    assert_close(sampled, expected, rtol=1e-5, atol=1e-10)


@pytest.mark.parametrize("name", TINY)
def test_conditional_output_has_the_same_shape_and_changes_with_the_label_alone(name):
    torch.manual_seed(0)
    network = build(name, num_classes=4)
    assert network.num_classes == 4
    batch = inputs(name)
    with torch.no_grad():
        unconditional_shape = build(name)(batch).shape
        first = network(batch, torch.tensor([0, 1, 2]))
        again = network(batch, torch.tensor([0, 1, 2]))
        other = network(batch, torch.tensor([3, 1, 2]))  # only the first example's label changes
    assert first.shape == unconditional_shape
    assert_close(first, again)
    assert not torch.allclose(first[0], other[0])
    assert_close(first[1:], other[1:])


@pytest.mark.parametrize("name", GENERATORS)
def test_conditional_generators_read_the_one_hot_label_after_z_in_their_first_layer(name):
    generator = build(name, num_classes=4)
    first_layer = next(m for m in generator.modules() if isinstance(m, (nn.Linear, nn.ConvTranspose2d)))
    fan_in = first_layer.in_features if isinstance(first_layer, nn.Linear) else first_layer.in_channels
    assert fan_in == 3 + 4
    # the label's weights start like the noise's: the network's own initialisation
    label_weights = first_layer.weight[:, 3:] if isinstance(first_layer, nn.Linear) else first_layer.weight[3:]
    if name == "DCGANGenerator":
        assert 0.01 < label_weights.std() < 0.03  # N(0, 0.02)
    else:
        assert label_weights.abs().max() <= 0.5  # U(-init_range, init_range)
    # a one-hot label is the same as z with ones appended at the label's position
    noise, one_hot = inputs(name), torch.tensor([[0.0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 0, 1]])
    stacked = torch.cat([noise, one_hot], dim=1)  # (3, latent_dim + num_classes)
    with torch.no_grad():
        expected = first_layer(stacked if isinstance(first_layer, nn.Linear) else stacked[:, :, None, None])
    captured = {}
    first_layer.register_forward_hook(lambda module, args, output: captured.update(output=output))
    with torch.no_grad():
        generator(noise, torch.tensor([2, 0, 3]))
    assert_close(captured["output"], expected)


@pytest.mark.parametrize("name", TINY)
def test_a_conditional_network_called_without_labels_is_refused_in_one_sentence(name):
    network = build(name, num_classes=10)
    with pytest.raises(ConfigError, match=rf"^{name} is conditional \(num_classes=10\): call it with labels \(B,\)\.$"):
        network(inputs(name))


@pytest.mark.parametrize("name", TINY)
def test_labels_given_to_an_unconditional_network_are_refused_in_one_sentence(name):
    network = build(name)
    with pytest.raises(ConfigError, match=rf"^{name} is not conditional: it takes no labels; set num_classes"):
        network(inputs(name), torch.tensor([0, 1, 2]))


@pytest.mark.parametrize("name", TINY)
def test_labels_of_another_shape_than_one_per_example_are_refused(name):
    network = build(name, num_classes=4)
    with pytest.raises(ShapeMismatchError, match=r"labels must have shape \(B,\) = \(3,\).*got \(3, 1\)"):
        network(inputs(name), torch.tensor([[0], [1], [2]]))


@pytest.mark.parametrize("name", TINY)
@pytest.mark.parametrize("num_classes", [1, 0, -3])
def test_fewer_than_two_classes_are_refused(name, num_classes):
    with pytest.raises(ConfigError, match=rf"^{name}: num_classes must be >= 2, got {num_classes}\.$"):
        build(name, num_classes=num_classes)


def test_maxout_discriminator_drops_pixels_only_never_the_label_or_the_latents():
    discriminator = MaxoutDiscriminator(
        image_shape=(1, 10, 10), hidden_units=(4,), pieces=2, input_keep=0.5, num_classes=3, latent_dim=2
    ).train()
    first_maxout = discriminator.layers[1]
    assert first_maxout.linear.in_features == 100 + 3 + 2  # pixels, one-hot label, latents
    seen = {}
    first_maxout.register_forward_pre_hook(lambda module, args: seen.update(inputs=args[0]))
    torch.manual_seed(0)
    latents = torch.tensor([[0.3, -0.7], [1.5, 0.2]])
    discriminator(torch.ones(2, 1, 10, 10), torch.tensor([2, 0]), latents=latents)
    pixels, label, latent_part = seen["inputs"].split([100, 3, 2], dim=1)
    assert set(pixels.unique().tolist()) == {0.0, 2.0}  # dropped or scaled by 1 / 0.5
    assert_close(label, torch.tensor([[0.0, 0, 1], [1, 0, 0]]))  # never dropped nor scaled
    assert_close(latent_part, latents)
    # unchanged parameter names: the label and latents widen the first maxout layer, nothing else
    assert list(discriminator.state_dict()) == list(MaxoutDiscriminator(hidden_units=(4,)).state_dict())


def test_mlp_discriminator_reads_label_and_latents_after_the_flattened_pixels():
    discriminator = MLPDiscriminator(image_shape=(1, 2, 3), hidden_dims=(4,), num_classes=3, latent_dim=2).eval()
    first_linear = discriminator.layers[0]
    assert first_linear.in_features == 6 + 3 + 2
    images, latents = torch.randn(2, 1, 2, 3), torch.randn(2, 2)
    one_hot = torch.tensor([[0.0, 1, 0], [0, 0, 1]])
    expected_hidden = first_linear(torch.cat([images.flatten(1), one_hot, latents], dim=1))
    seen = {}
    first_linear.register_forward_hook(lambda module, args, output: seen.update(output=output))
    discriminator(images, torch.tensor([1, 2]), latents)
    assert_close(seen["output"], expected_hidden)


@pytest.mark.parametrize("name", ["MaxoutConvDiscriminator", "DCGANDiscriminator"])
def test_projection_discriminator_logit_is_linear_of_features_plus_label_embedding_dot_features(name):
    torch.manual_seed(0)
    discriminator = build(name, num_classes=5)
    with torch.no_grad():  # make the embedding and the head large enough to matter
        discriminator.class_embedding.weight.normal_()
        discriminator.layers[-1].weight.normal_()
    images, labels = inputs(name), torch.tensor([4, 0, 4])
    with torch.no_grad():
        features = discriminator.layers[:-1](images).flatten(start_dim=1)  # phi(x): the last layer's input
        head = discriminator.layers[-1]
        linear = features @ head.weight.flatten() + head.bias  # the head is one linear unit of phi(x)
        projection = (discriminator.class_embedding.weight[labels] * features).sum(dim=1)
        logits = discriminator(images, labels)
    assert logits.shape == (3,)
    assert_close(logits, linear + projection)
    assert projection.abs().min() > 1e-3  # the check above would fail without the projection
    # the conditional network's parameters: the unconditional one's, and the class embedding
    assert list(discriminator.state_dict()) == [*build(name).state_dict(), "class_embedding.weight"]


def test_projection_embeddings_start_small_like_each_network_s_own_weights():
    maxout = MaxoutConvDiscriminator(channels=(4, 4, 8), hidden_units=6, num_classes=10)
    assert maxout.class_embedding.weight.shape == (10, 6)
    assert 0 < maxout.class_embedding.weight.abs().max() <= 0.005  # U(-init_range, init_range)
    dcgan = DCGANDiscriminator(width=8, num_classes=10)
    assert dcgan.class_embedding.weight.shape == (10, 4 * 8 * 4 * 4)
    assert dcgan.class_embedding.weight.std().item() == pytest.approx(0.02, rel=0.1)  # N(0, 0.02)


@pytest.mark.parametrize("name", PAIR_DISCRIMINATORS)
def test_pair_discriminator_output_changes_with_the_latents_alone(name):
    torch.manual_seed(0)
    discriminator = build(name, latent_dim=2)
    assert discriminator.latent_dim == 2
    images, latents = inputs(name), torch.randn(3, 2)
    with torch.no_grad():
        first = discriminator(images, latents=latents)
        other = discriminator(images, latents=latents + torch.tensor([[1.0, -1.0], [0, 0], [0, 0]]))
    assert first.shape == (3,)
    assert not torch.allclose(first[0], other[0])
    assert_close(first[1:], other[1:])


@pytest.mark.parametrize("name", PAIR_DISCRIMINATORS)
def test_conditional_pair_discriminator_takes_labels_and_latents(name):
    discriminator = build(name, num_classes=4, latent_dim=2)
    logits = discriminator(inputs(name), torch.tensor([0, 3, 1]), torch.randn(3, 2))
    assert logits.shape == (3,)
    with pytest.raises(ConfigError, match="call it with labels"):
        discriminator(inputs(name), latents=torch.randn(3, 2))
    with pytest.raises(ConfigError, match="call it with latents"):
        discriminator(inputs(name), torch.tensor([0, 3, 1]))


@pytest.mark.parametrize("name", PAIR_DISCRIMINATORS)
def test_pair_discriminator_refuses_a_call_without_latents_and_others_refuse_latents(name):
    pair = build(name, latent_dim=2)
    message = rf"^{name} judges \(image, latent\) pairs \(latent_dim=2\): call it with latents \(B, 2\)\.$"
    with pytest.raises(ConfigError, match=message):
        pair(inputs(name))
    with pytest.raises(ShapeMismatchError, match=r"latents must have shape \(B, latent_dim\) = \(3, 2\), got \(3, 5\)"):
        pair(inputs(name), latents=torch.randn(3, 5))
    with pytest.raises(ConfigError, match=rf"^{name} does not judge pairs: it takes no latents; set latent_dim"):
        build(name)(inputs(name), latents=torch.randn(3, 2))
    with pytest.raises(ConfigError, match=rf"^{name}: latent_dim must be >= 1, got 0\.$"):
        build(name, latent_dim=0)


def test_only_the_fully_connected_discriminators_judge_pairs():
    assert MaxoutDiscriminator().latent_dim is None and MLPDiscriminator().latent_dim is None
    assert build("MaxoutConvDiscriminator").latent_dim is None and build("DCGANDiscriminator").latent_dim is None
