"""A value a user configures that cannot work is refused with one line that names the class and the argument.

The ``ganbench`` command prints a :class:`ganbench.errors.ConfigError` as ``ganbench: error: <message>`` and exits
with status 2, without a traceback. The command-line tests run the real command once per family of configurable
parts (networks, optimiser, scheduler, prior, callbacks); the unit tests check every other refusal in-process, and
that legitimate edge values are still accepted.
"""

import math

import pytest
import torch
from torch import nn

from ganbench import GAN
from ganbench.callbacks import MomentumRamp, SampleGrid
from ganbench.errors import ConfigError
from ganbench.metrics import parzen_log_likelihood, parzen_over_folds, select_sigma
from ganbench.nets import (
    DCGANDiscriminator,
    DCGANGenerator,
    DeconvGenerator,
    Maxout,
    MaxoutConvDiscriminator,
    MaxoutDiscriminator,
    MLPDiscriminator,
    MLPGenerator,
    StackedGenerator,
)
from ganbench.nets.mlp import hidden_activation
from ganbench.optim import ClassicMomentumSGD, ExponentialDecay
from ganbench.priors import Normal, Uniform
from tests.conftest import REPO, run_ganbench

# ---------------------------------------------------------------------------------------------- the command


def callback(class_path: str, **init_args) -> str:
    """A ``--trainer.callbacks+=`` argument that appends one callback, as JSON."""
    import json

    return "--trainer.callbacks+=" + json.dumps({"class_path": class_path, "init_args": init_args})


COMMAND_CASES = {
    "discriminator": (
        ["--model.discriminator=ganbench.nets.MaxoutDiscriminator", "--model.discriminator.init_args.input_keep=1.5"],
        "MaxoutDiscriminator: input_keep must be in (0, 1], got 1.5",
    ),
    "generator latent_dim 0": (
        ["--model.generator.init_args.latent_dim=0"],
        "DCGANGenerator: latent_dim must be >= 1, got 0",
    ),
    "optimiser": (
        [
            "--model.generator_optimizer=ganbench.optim.ClassicMomentumSGD",
            "--model.generator_optimizer.init_args.lr=-1",
        ],
        "ClassicMomentumSGD: lr must be a finite number > 0, got -1",
    ),
    "scheduler": (
        [
            "--model.generator_scheduler=ganbench.optim.ExponentialDecay",
            "--model.generator_scheduler.init_args.decay_factor=0.5",
        ],
        "ExponentialDecay: decay_factor must be a finite number >= 1",
    ),
    "prior": (
        ["--model.prior=ganbench.priors.Normal", "--model.prior.init_args.std=0"],
        "Normal: std must be a finite number > 0, got 0",
    ),
    "sample grid": (
        [callback("ganbench.callbacks.SampleGrid", every_n_steps=0)],
        "SampleGrid: every_n_steps must be >= 1, got 0",
    ),
    "momentum ramp": (
        [callback("ganbench.callbacks.MomentumRamp", final_momentum=1.5)],
        "MomentumRamp: final_momentum must be in [0, 1), got 1.5",
    ),
}


@pytest.mark.parametrize("extra, expected", COMMAND_CASES.values(), ids=COMMAND_CASES.keys())
def test_the_command_refuses_a_wrong_value_in_one_line(tmp_path, extra, expected):
    result = run_ganbench(
        "fit",
        f"--config={REPO / 'configs' / 'quickstart.yaml'}",
        "--trainer.max_steps=1",
        "--trainer.enable_progress_bar=false",
        f"--trainer.default_root_dir={tmp_path}",
        *extra,
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("ganbench: error: "), last_line
    assert expected in last_line


# ---------------------------------------------------------------------------------------------- networks


def tiny_top(latent_dim: int = 10) -> MLPGenerator:
    return MLPGenerator(latent_dim=latent_dim, hidden_dims=(4,), image_shape=(1, 2, 2), output_bias_from_data=False)


def small_deconv(**changes) -> DeconvGenerator:
    """A small DeconvGenerator: 6 -> 16 -> 8 x 2 x 2 maps -> 5 x 5 images (3 (2 - 1) + 2)."""
    arguments = dict(
        latent_dim=6,
        hidden_dims=(16, 32),
        feature_shape=(8, 2, 2),
        image_shape=(1, 5, 5),
        kernel_size=2,
        stride=3,
    )
    return DeconvGenerator(**{**arguments, **changes})


def small_maxout_convolutions(**changes) -> MaxoutConvDiscriminator:
    arguments = dict(
        image_shape=(1, 8, 8),
        channels=(2,),
        pieces=(2,),
        kernel_sizes=(3,),
        paddings=(1,),
        pool_sizes=(2,),
        pool_strides=(2,),
        hidden_units=3,
        hidden_pieces=2,
    )
    return MaxoutConvDiscriminator(**{**arguments, **changes})


NETWORK_CASES = {
    # MLPGenerator
    "MLPGenerator latent_dim 0": (
        lambda: MLPGenerator(latent_dim=0),
        r"^MLPGenerator: latent_dim must be >= 1, got 0\.",
    ),
    "MLPGenerator latent_dim negative": (lambda: MLPGenerator(latent_dim=-3), r"^MLPGenerator: latent_dim .* got -3"),
    "MLPGenerator hidden_dims": (
        lambda: MLPGenerator(hidden_dims=(8, 0)),
        r"^MLPGenerator: every entry of hidden_dims must be >= 1, got \[8, 0\]",
    ),
    "MLPGenerator image_shape length": (
        lambda: MLPGenerator(image_shape=(28, 28)),
        r"^MLPGenerator: image_shape must be \[channels, height, width\], three sizes >= 1, got \[28, 28\]",
    ),
    "MLPGenerator image_shape size": (lambda: MLPGenerator(image_shape=(1, 0, 28)), r"^MLPGenerator: image_shape"),
    "MLPGenerator hidden_init_biases": (
        lambda: MLPGenerator(hidden_dims=(8, 8), hidden_init_biases=(0.0,)),
        r"^MLPGenerator: hidden_init_biases needs one entry per hidden layer \(2\), got 1",
    ),
    "MLPGenerator output_activation": (
        lambda: MLPGenerator(output_activation="softmax"),
        r"^MLPGenerator: output_activation must be one of \['linear', 'sigmoid', 'tanh'\], got 'softmax'",
    ),
    "MLPGenerator output_bias_from_data": (
        lambda: MLPGenerator(output_activation="tanh"),
        r"^MLPGenerator: output_bias_from_data=True needs output_activation='sigmoid', got 'tanh'",
    ),
    "MLPGenerator init_range": (
        lambda: MLPGenerator(init_range=-0.05),
        r"^MLPGenerator: init_range must be a finite number >= 0, got -0.05",
    ),
    "MLPGenerator output_init_range": (
        lambda: MLPGenerator(output_init_range=math.nan),
        r"^MLPGenerator: output_init_range must be a finite number >= 0, got nan",
    ),
    "MLPGenerator output_sparse_init 0": (
        lambda: MLPGenerator(hidden_dims=(8,), output_sparse_init=0),
        r"^MLPGenerator: output_sparse_init must be between 1 and 8 \(the inputs of the output layer\), got 0",
    ),
    "MLPGenerator output_sparse_init too large": (
        lambda: MLPGenerator(latent_dim=5, hidden_dims=(), output_sparse_init=6),
        r"^MLPGenerator: output_sparse_init must be between 1 and 5",
    ),
    # MaxoutDiscriminator
    "MaxoutDiscriminator input_keep": (
        lambda: MaxoutDiscriminator(input_keep=0.0),
        r"^MaxoutDiscriminator: input_keep must be in \(0, 1\], got 0.0",
    ),
    "MaxoutDiscriminator hidden_keep": (
        lambda: MaxoutDiscriminator(hidden_keep=1.5),
        r"^MaxoutDiscriminator: hidden_keep must be in \(0, 1\], got 1.5",
    ),
    "MaxoutDiscriminator pieces": (
        lambda: MaxoutDiscriminator(pieces=0),
        r"^MaxoutDiscriminator: pieces must be >= 1, got 0",
    ),
    "MaxoutDiscriminator hidden_units": (
        lambda: MaxoutDiscriminator(hidden_units=(240, 0)),
        r"^MaxoutDiscriminator: every entry of hidden_units must be >= 1, got \[240, 0\]",
    ),
    "MaxoutDiscriminator image_shape": (
        lambda: MaxoutDiscriminator(image_shape=(784,)),
        r"^MaxoutDiscriminator: image_shape must be \[channels, height, width\]",
    ),
    "MaxoutDiscriminator init_range": (
        lambda: MaxoutDiscriminator(init_range=-1.0),
        r"^MaxoutDiscriminator: init_range must be a finite number >= 0",
    ),
    # MLPDiscriminator
    "MLPDiscriminator dropout 1": (
        lambda: MLPDiscriminator(dropout=1.0),
        r"^MLPDiscriminator: dropout must be in \[0, 1\), got 1.0",
    ),
    "MLPDiscriminator dropout negative": (
        lambda: MLPDiscriminator(dropout=-0.1),
        r"^MLPDiscriminator: dropout must be in \[0, 1\), got -0.1",
    ),
    "MLPDiscriminator hidden_dims": (
        lambda: MLPDiscriminator(hidden_dims=(0,)),
        r"^MLPDiscriminator: every entry of hidden_dims must be >= 1, got \[0\]",
    ),
    "MLPDiscriminator image_shape": (
        lambda: MLPDiscriminator(image_shape=(1, 28, -28)),
        r"^MLPDiscriminator: image_shape .* got \[1, 28, -28\]",
    ),
    # Maxout
    "Maxout units": (lambda: Maxout(4, units=0, pieces=2), r"^Maxout: units must be >= 1, got 0"),
    "Maxout pieces": (lambda: Maxout(4, units=2, pieces=0), r"^Maxout: pieces must be >= 1, got 0"),
    # DeconvGenerator
    "DeconvGenerator latent_dim": (
        lambda: small_deconv(latent_dim=0),
        r"^DeconvGenerator: latent_dim must be >= 1, got 0",
    ),
    "DeconvGenerator hidden_dims empty": (
        lambda: small_deconv(hidden_dims=(), hidden_activations=()),
        r"^DeconvGenerator: hidden_dims must list at least one layer, got \[\]",
    ),
    "DeconvGenerator hidden_dims zero": (
        lambda: small_deconv(hidden_dims=(0, 32)),
        r"^DeconvGenerator: every entry of hidden_dims must be >= 1, got \[0, 32\]",
    ),
    "DeconvGenerator hidden_activations count": (
        lambda: small_deconv(hidden_activations=("relu",)),
        r"^DeconvGenerator: hidden_activations needs one entry per hidden layer \(2\), got 1",
    ),
    "DeconvGenerator hidden_activations name": (
        lambda: small_deconv(hidden_activations=("relu", "gelu")),
        r"^DeconvGenerator: every entry of hidden_activations must be one of .*, got 'gelu'",
    ),
    "DeconvGenerator feature_shape": (
        lambda: small_deconv(feature_shape=(32,)),
        r"^DeconvGenerator: feature_shape must be \[channels, height, width\], three sizes >= 1, got \[32\]",
    ),
    "DeconvGenerator image_shape": (
        lambda: small_deconv(image_shape=(0, 5, 5)),
        r"^DeconvGenerator: image_shape .* got \[0, 5, 5\]",
    ),
    "DeconvGenerator kernel_size": (
        lambda: small_deconv(kernel_size=0),
        r"^DeconvGenerator: kernel_size must be >= 1, got 0",
    ),
    "DeconvGenerator stride": (lambda: small_deconv(stride=0), r"^DeconvGenerator: stride must be >= 1, got 0"),
    "DeconvGenerator padding": (lambda: small_deconv(padding=-1), r"^DeconvGenerator: padding must be >= 0, got -1"),
    "DeconvGenerator output_activation": (
        lambda: small_deconv(output_activation="relu"),
        r"^DeconvGenerator: output_activation must be one of",
    ),
    "DeconvGenerator init_range": (
        lambda: small_deconv(init_range=math.inf),
        r"^DeconvGenerator: init_range must be a finite number >= 0, got inf",
    ),
    "DeconvGenerator feature units": (
        lambda: small_deconv(hidden_dims=(16, 30)),
        r"^DeconvGenerator: feature_shape \[8, 2, 2\] holds 32 units but the last hidden layer has 30; make",
    ),
    "DeconvGenerator output size": (
        lambda: small_deconv(kernel_size=3),
        r"^DeconvGenerator: a 3x3 transposed convolution .* turns \[2, 2\] maps into \[6, 6\], not the image's "
        r"\[5, 5\]; change",
    ),
    # MaxoutConvDiscriminator
    "MaxoutConvDiscriminator lengths": (
        lambda: small_maxout_convolutions(pieces=(2, 2)),
        r"^MaxoutConvDiscriminator: channels, pieces, .* need one entry per convolution layer each, got lengths "
        r"\{'channels': 1, 'pieces': 2,",
    ),
    "MaxoutConvDiscriminator channels": (
        lambda: small_maxout_convolutions(channels=(0,)),
        r"^MaxoutConvDiscriminator: every entry of channels must be >= 1, got \[0\]",
    ),
    "MaxoutConvDiscriminator paddings": (
        lambda: small_maxout_convolutions(paddings=(-1,)),
        r"^MaxoutConvDiscriminator: every entry of paddings must be >= 0, got \[-1\]",
    ),
    "MaxoutConvDiscriminator pool_strides": (
        lambda: small_maxout_convolutions(pool_strides=(0,)),
        r"^MaxoutConvDiscriminator: every entry of pool_strides must be >= 1, got \[0\]",
    ),
    "MaxoutConvDiscriminator hidden_units": (
        lambda: small_maxout_convolutions(hidden_units=0),
        r"^MaxoutConvDiscriminator: hidden_units must be >= 1, got 0",
    ),
    "MaxoutConvDiscriminator hidden_pieces": (
        lambda: small_maxout_convolutions(hidden_pieces=0),
        r"^MaxoutConvDiscriminator: hidden_pieces must be >= 1, got 0",
    ),
    "MaxoutConvDiscriminator input_keep": (
        lambda: small_maxout_convolutions(input_keep=1.5),
        r"^MaxoutConvDiscriminator: input_keep must be in \(0, 1\], got 1.5",
    ),
    "MaxoutConvDiscriminator hidden_keep": (
        lambda: small_maxout_convolutions(hidden_keep=0),
        r"^MaxoutConvDiscriminator: hidden_keep must be in \(0, 1\], got 0",
    ),
    "MaxoutConvDiscriminator image_shape": (
        lambda: small_maxout_convolutions(image_shape=(8, 8)),
        r"^MaxoutConvDiscriminator: image_shape must be \[channels, height, width\]",
    ),
    "MaxoutConvDiscriminator init_range": (
        lambda: small_maxout_convolutions(init_range=-0.005),
        r"^MaxoutConvDiscriminator: init_range must be a finite number >= 0",
    ),
    "MaxoutConvDiscriminator no pixels left": (
        lambda: small_maxout_convolutions(image_shape=(1, 2, 2), paddings=(0,)),
        r"^MaxoutConvDiscriminator: convolution layer 0 leaves no pixels for \[1, 2, 2\] images; use fewer",
    ),
    # DCGAN
    "DCGANGenerator latent_dim": (
        lambda: DCGANGenerator(latent_dim=0),
        r"^DCGANGenerator: latent_dim must be >= 1, got 0",
    ),
    "DCGANGenerator image_shape": (
        lambda: DCGANGenerator(image_shape=(3, 30, 30)),
        r"^DCGANGenerator: image_shape must be square with a side that halves down to 4..7 .*, got \[3, 30, 30\]; "
        "resize",
    ),
    "DCGANGenerator width": (lambda: DCGANGenerator(width=0), r"^DCGANGenerator: width must be >= 1, got 0"),
    "DCGANDiscriminator image_shape": (
        lambda: DCGANDiscriminator(image_shape=(1, 28, 32)),
        r"^DCGANDiscriminator: image_shape must be square .*, got \[1, 28, 32\]",
    ),
    "DCGANDiscriminator channels": (
        lambda: DCGANDiscriminator(image_shape=(0, 32, 32)),
        r"^DCGANDiscriminator: image_shape must be \[channels, height, width\], three sizes >= 1",
    ),
    "DCGANDiscriminator width": (
        lambda: DCGANDiscriminator(width=-1),
        r"^DCGANDiscriminator: width must be >= 1, got -1",
    ),
    # StackedGenerator
    "StackedGenerator latent_dim": (
        lambda: StackedGenerator(top=tiny_top(), latent_dim=0, hidden_dims=(9, 10)),
        r"^StackedGenerator: latent_dim must be >= 1, got 0",
    ),
    "StackedGenerator hidden_dims empty": (
        lambda: StackedGenerator(top=tiny_top(), hidden_dims=(), hidden_activations=(), hidden_init_biases=()),
        r"^StackedGenerator: hidden_dims must list at least one layer, got \[\]",
    ),
    "StackedGenerator hidden_dims zero": (
        lambda: StackedGenerator(top=tiny_top(), hidden_dims=(0, 10)),
        r"^StackedGenerator: every entry of hidden_dims must be >= 1, got \[0, 10\]",
    ),
    "StackedGenerator hidden_activations count": (
        lambda: StackedGenerator(top=tiny_top(), hidden_dims=(9, 10), hidden_activations=("relu",)),
        r"^StackedGenerator: hidden_activations needs one entry per hidden layer \(2\), got 1",
    ),
    "StackedGenerator hidden_init_biases count": (
        lambda: StackedGenerator(top=tiny_top(), hidden_dims=(9, 10), hidden_init_biases=(0.0, 0.0, 0.0)),
        r"^StackedGenerator: hidden_init_biases needs one entry per hidden layer \(2\), got 3",
    ),
    "StackedGenerator hidden_activations name": (
        lambda: StackedGenerator(top=tiny_top(), hidden_dims=(9, 10), hidden_activations=("relu", "softmax")),
        r"^StackedGenerator: every entry of hidden_activations must be one of .*, got 'softmax'",
    ),
    "StackedGenerator init_range": (
        lambda: StackedGenerator(top=tiny_top(), hidden_dims=(9, 10), init_range=-1),
        r"^StackedGenerator: init_range must be a finite number >= 0",
    ),
    "StackedGenerator top latent_dim": (
        lambda: StackedGenerator(top=tiny_top(10), hidden_dims=(9, 7)),
        r"^StackedGenerator: the top generator takes noise of size 10 but the bottom stack ends in 7",
    ),
    "hidden_activation name": (lambda: hidden_activation("softplus"), r"activation must be one of .*'softplus'"),
}


@pytest.mark.parametrize("make, message", NETWORK_CASES.values(), ids=NETWORK_CASES.keys())
def test_a_network_refuses_a_value_that_cannot_work(make, message):
    with pytest.raises(ConfigError, match=message):
        make()


def test_networks_accept_legitimate_edge_values():
    """No hidden layers, no dropout, keep everything, zero initial weights: meaningful and still accepted."""
    generator = MLPGenerator(latent_dim=1, hidden_dims=(), image_shape=(1, 2, 2), init_range=0.0)
    assert generator(torch.zeros(2, 1)).shape == (2, 1, 2, 2)
    MLPGenerator(latent_dim=3, hidden_dims=(4,), image_shape=(1, 2, 2), output_sparse_init=4)
    discriminator = MaxoutDiscriminator(image_shape=(1, 2, 2), hidden_units=(), input_keep=1.0, hidden_keep=1.0)
    assert discriminator(torch.zeros(2, 1, 2, 2)).shape == (2,)
    MLPDiscriminator(image_shape=(1, 2, 2), hidden_dims=(), dropout=0.0)
    assert small_deconv(padding=0)(torch.zeros(2, 6)).shape == (2, 1, 5, 5)
    assert small_maxout_convolutions()(torch.zeros(2, 1, 8, 8)).shape == (2,)
    StackedGenerator(
        top=tiny_top(1), latent_dim=1, hidden_dims=(1,), hidden_activations=("tanh",), hidden_init_biases=(0,)
    )


# ---------------------------------------------------------------------------------------------- the GAN module


class NoiseTaker(nn.Module):
    """A stand-in generator with whatever ``latent_dim`` a test gives it."""

    def __init__(self, latent_dim) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.linear = nn.Linear(1, 4)


@pytest.mark.parametrize("latent_dim", [0, -1, 2.5, None, True])
def test_the_gan_refuses_a_generator_without_a_positive_integer_latent_dim(latent_dim):
    discriminator = MLPDiscriminator(image_shape=(1, 2, 2), hidden_dims=(4,))
    with pytest.raises(
        ConfigError, match=rf"^NoiseTaker needs an integer `latent_dim` attribute >= 1 .*got {latent_dim}"
    ):
        GAN(NoiseTaker(latent_dim), discriminator)


# ---------------------------------------------------------------------------------------------- optimiser, priors


def parameters() -> list[nn.Parameter]:
    return [nn.Parameter(torch.zeros(1))]


OTHER_CASES = {
    "ClassicMomentumSGD lr 0": (
        lambda: ClassicMomentumSGD(parameters(), lr=0.0),
        r"^ClassicMomentumSGD: lr must be a finite number > 0, got 0.0",
    ),
    "ClassicMomentumSGD lr nan": (
        lambda: ClassicMomentumSGD(parameters(), lr=math.nan),
        r"^ClassicMomentumSGD: lr must be a finite number > 0, got nan",
    ),
    "ClassicMomentumSGD momentum 1": (
        lambda: ClassicMomentumSGD(parameters(), momentum=1.0),
        r"^ClassicMomentumSGD: momentum must be in \[0, 1\), got 1.0",
    ),
    "ClassicMomentumSGD momentum negative": (
        lambda: ClassicMomentumSGD(parameters(), momentum=-0.5),
        r"^ClassicMomentumSGD: momentum must be in \[0, 1\), got -0.5",
    ),
    "ExponentialDecay decay_factor": (
        lambda: ExponentialDecay(ClassicMomentumSGD(parameters()), decay_factor=0.5),
        r"^ExponentialDecay: decay_factor must be a finite number >= 1 .*, got 0.5",
    ),
    "ExponentialDecay min_lr": (
        lambda: ExponentialDecay(ClassicMomentumSGD(parameters()), min_lr=-1e-6),
        r"^ExponentialDecay: min_lr must be a finite number >= 0, got -1e-06",
    ),
    "Uniform low equals high": (lambda: Uniform(1.0, 1.0), r"^Uniform: low must be < high, got low=1.0, high=1.0"),
    "Uniform low above high": (lambda: Uniform(2.0, -2.0), r"^Uniform: low must be < high, got low=2.0, high=-2.0"),
    "Uniform infinite": (
        lambda: Uniform(-math.inf, 1.0),
        r"^Uniform: low and high must be finite numbers, got low=-inf, high=1.0",
    ),
    "Normal std 0": (lambda: Normal(std=0.0), r"^Normal: std must be a finite number > 0, got 0.0"),
    "Normal std negative": (lambda: Normal(std=-1.0), r"^Normal: std must be a finite number > 0, got -1.0"),
    "Normal std infinite": (lambda: Normal(std=math.inf), r"^Normal: std must be a finite number > 0, got inf"),
    "Normal mean nan": (lambda: Normal(mean=math.nan), r"^Normal: mean must be a finite number, got nan"),
    "SampleGrid every_n_steps": (
        lambda: SampleGrid(every_n_steps=0),
        r"^SampleGrid: every_n_steps must be >= 1, got 0",
    ),
    "SampleGrid num_samples": (lambda: SampleGrid(num_samples=-4), r"^SampleGrid: num_samples must be >= 1, got -4"),
    "SampleGrid nrow": (lambda: SampleGrid(nrow=0), r"^SampleGrid: nrow must be >= 1, got 0"),
    "MomentumRamp saturate_epoch": (
        lambda: MomentumRamp(start_epoch=10, saturate_epoch=5),
        r"^MomentumRamp: saturate_epoch must be >= start_epoch \(10\), got 5",
    ),
    "MomentumRamp final_momentum 1": (
        lambda: MomentumRamp(final_momentum=1.0),
        r"^MomentumRamp: final_momentum must be in \[0, 1\), got 1.0",
    ),
    "MomentumRamp final_momentum negative": (
        lambda: MomentumRamp(final_momentum=-0.1),
        r"^MomentumRamp: final_momentum must be in \[0, 1\), got -0.1",
    ),
}


@pytest.mark.parametrize("make, message", OTHER_CASES.values(), ids=OTHER_CASES.keys())
def test_an_optimiser_prior_or_callback_refuses_a_value_that_cannot_work(make, message):
    with pytest.raises(ConfigError, match=message):
        make()


def test_optimiser_prior_and_callbacks_accept_legitimate_edge_values():
    ClassicMomentumSGD(parameters(), lr=1e-9, momentum=0.0)
    ExponentialDecay(ClassicMomentumSGD(parameters()), decay_factor=1.0, min_lr=0.0)
    Uniform(-1, 1)
    Normal(mean=-3.0, std=1e-3)
    SampleGrid(every_n_steps=1, num_samples=1, nrow=1)
    MomentumRamp(start_epoch=3, saturate_epoch=3, final_momentum=0.0)


# ---------------------------------------------------------------------------------------------- Parzen settings


def test_parzen_settings_are_config_errors_and_tensor_problems_stay_value_errors():
    x, centres = torch.rand(3, 5), torch.rand(4, 5)
    with pytest.raises(ConfigError, match="sigma grid is empty"):
        select_sigma(x, centres, sigmas=[])
    with pytest.raises(ConfigError, match="sigma must be a finite positive number, got -1.0"):
        select_sigma(x, centres, sigmas=[0.1, -1.0])
    with pytest.raises(ConfigError, match="batch_size must be >= 1 .*, got 0"):
        parzen_log_likelihood(x, centres, 0.1, batch_size=0)
    with pytest.raises(ConfigError, match="centre_chunk must be >= 1 or None .*, got 0"):
        parzen_log_likelihood(x, centres, 0.1, centre_chunk=0)
    with pytest.raises(ConfigError, match="^batch_size must be >= 1"):  # the same in every fold: no fold named
        parzen_over_folds(centres, [(x, x)], batch_size=0)
    with pytest.raises(ValueError, match="x must be floating point") as raised:
        parzen_log_likelihood(x.to(torch.uint8), centres, 0.1)
    assert not isinstance(raised.value, ConfigError)


def test_a_torch_optimiser_refusing_its_value_is_one_config_error():
    """torch's own checks (Adam with lr=-1) end as one ConfigError naming the argument, not a traceback."""
    from tests.conftest import tiny_gan

    gan = tiny_gan(generator_optimizer=lambda parameters: torch.optim.Adam(parameters, lr=-1.0))
    with pytest.raises(ConfigError, match=r"^model.generator_optimizer: Invalid learning rate: -1.0"):
        gan.configure_optimizers()
