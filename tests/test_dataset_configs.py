"""The TFD, CIFAR-10 and Fashion-MNIST configs through the ``ganbench`` command, on small files in each format.

Every config is parsed (``--print_config``), then fitted for 3 steps in a subprocess with the 8000-unit
widths overridden down (the shipped values are checked against docs/paper.md separately), its checkpoint
reloaded and sampled.
"""

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from ganbench import GAN
from ganbench.cli import main
from tests.conftest import REPO, write_cifar10_batches, write_idx, write_tfd_mat

CONFIGS = sorted(
    str(path.relative_to(REPO))
    for folder in ("tfd", "cifar10", "fashion_mnist")
    for path in (REPO / "configs" / folder).glob("*.yaml")
)

SMALL_MLP_GENERATOR = ["--model.generator.init_args.hidden_dims=[32,32]"]
SMALL_MAXOUT_DISCRIMINATOR = ["--model.discriminator.init_args.hidden_units=[16,16]"]
SMALL_TFD_TOP = ["--model.generator.init_args.hidden_dims=[32,32]", "--model.generator.init_args.output_sparse_init=8"]
# Overrides that only shrink the networks; the data options are added by data_arguments().
SHRINK = {
    "configs/tfd/paper.yaml": SMALL_TFD_TOP + SMALL_MAXOUT_DISCRIMINATOR,
    "configs/tfd/paper_train.yaml": [
        "--model.generator.init_args.hidden_dims=[32,100]",
        *(argument.replace("generator.init_args.", "generator.init_args.top.init_args.") for argument in SMALL_TFD_TOP),
        *SMALL_MAXOUT_DISCRIMINATOR,
    ],
    "configs/cifar10/paper_fc.yaml": SMALL_MLP_GENERATOR + SMALL_MAXOUT_DISCRIMINATOR,
    "configs/cifar10/paper_conv.yaml": [
        "--model.generator.init_args.hidden_dims=[32,800]",
        "--model.generator.init_args.feature_shape=[8,10,10]",
        "--model.discriminator.init_args.channels=[4,4,8]",
        "--model.discriminator.init_args.hidden_units=16",
    ],
    "configs/cifar10/dcgan.yaml": ["--model.generator.init_args.width=8", "--model.discriminator.init_args.width=8"],
    "configs/cifar10/cgan.yaml": ["--model.generator.init_args.width=8", "--model.discriminator.init_args.width=8"],
    "configs/fashion_mnist/paper.yaml": SMALL_MLP_GENERATOR + SMALL_MAXOUT_DISCRIMINATOR,
}
IMAGE_SHAPES = {"tfd": (1, 48, 48), "cifar10": (3, 32, 32), "fashion_mnist": (1, 28, 28)}


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    """Small files in each data set's real format: TFD .mat, CIFAR-10 pickle batches, Fashion-MNIST IDX."""
    root = tmp_path_factory.mktemp("datasets")
    write_tfd_mat(root / "tfd" / "TFD_48x48.mat", unlabeled=40, labelled=30)
    write_cifar10_batches(root / "cifar10", per_batch=10, test_count=10)
    rng = np.random.default_rng(0)
    (root / "fashion").mkdir()
    for prefix, count in (("train", 120), ("t10k", 30)):
        write_idx(root / "fashion" / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (count, 28, 28)))
        write_idx(root / "fashion" / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, count))
    return root


def data_arguments(config: str, root: Path) -> list[str]:
    family = config.split("/")[1]
    if family == "tfd":
        return [f"--data.init_args.mat_path={root / 'tfd' / 'TFD_48x48.mat'}", "--data.init_args.batch_size=10"]
    if family == "cifar10":
        return [
            f"--data.init_args.data_dir={root / 'cifar10'}",
            "--data.init_args.train_size=40",
            "--data.init_args.batch_size=8",
        ]
    return [
        f"--data.init_args.data_dir={root / 'fashion'}",
        "--data.init_args.train_size=100",
        "--data.init_args.batch_size=10",
    ]


class Fit:
    """One ``ganbench fit`` of a config for 3 steps on the small files, running in its own process."""

    def __init__(self, config: str, root: Path, run_dir: Path, *extra: str) -> None:
        self.config, self.run_dir = config, run_dir
        arguments = [
            "fit",
            f"--config={REPO / config}",
            "--trainer.max_steps=3",
            "--trainer.max_epochs=1",
            "--trainer.accelerator=cpu",
            "--trainer.enable_progress_bar=false",
            "--trainer.limit_val_batches=1",
            f"--trainer.default_root_dir={run_dir}",
            *SHRINK[config],
            *data_arguments(config, root),
            *extra,
        ]
        environment = dict(os.environ, PYTHONPATH=str(REPO), PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
        self.stderr_path = run_dir / "stderr.txt"
        with self.stderr_path.open("w") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ganbench.cli", *arguments],
                cwd=run_dir,
                env=environment,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )

    def wait(self) -> "Fit":
        self.returncode = self.process.wait(timeout=600)
        self.stderr = self.stderr_path.read_text()
        return self

    def check_succeeded(self) -> None:
        assert self.returncode == 0, f"{self.config}: {self.stderr[-3000:]}"


@pytest.fixture(scope="module")
def fits(data_root, tmp_path_factory) -> dict[str, Fit]:
    """Every config fitted once, the processes running side by side (each is mostly start-up time).

    The TFD second stage starts when the first stage's checkpoint exists, from that checkpoint, with
    a G learning rate of 1e-12 so that its top must still equal the loaded weights after 3 steps.
    """
    first = [config for config in CONFIGS if config != "configs/tfd/paper_train.yaml"]
    running = {config: Fit(config, data_root, tmp_path_factory.mktemp(Path(config).stem)) for config in first}
    pretrain = running["configs/tfd/paper.yaml"].wait()
    if pretrain.returncode == 0:
        running["configs/tfd/paper_train.yaml"] = Fit(
            "configs/tfd/paper_train.yaml",
            data_root,
            tmp_path_factory.mktemp("paper_train"),
            f"--model.generator.init_args.pretrained_checkpoint={last_checkpoint(pretrain.run_dir)}",
            "--model.generator_optimizer.init_args.lr=1e-12",
        )
    return {config: fit.wait() for config, fit in running.items()}


def last_checkpoint(run_dir: Path) -> Path:
    checkpoints = sorted(run_dir.rglob("last.ckpt")) or sorted(run_dir.rglob("*.ckpt"))
    assert checkpoints, f"no checkpoint under {run_dir}"
    return checkpoints[-1]


def test_every_dataset_config_is_covered():
    assert set(CONFIGS) == set(SHRINK)


@pytest.mark.parametrize("config", CONFIGS)
def test_config_prints(config, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", f"--config={REPO / config}", "--print_config"])
    assert exit_info.value.code in (0, None)
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["model"]["generator"]["class_path"].startswith("ganbench.nets")
    assert printed["data"]["class_path"].startswith("ganbench.data")


def check_run(fit: Fit) -> GAN:
    """The run succeeded and saved its config, a sample grid and a checkpoint that reloads and samples."""
    fit.check_succeeded()
    assert sorted(fit.run_dir.rglob("config.yaml")), "no config.yaml saved"
    assert sorted(fit.run_dir.rglob("samples/*.png")), "no sample grid written"
    gan = GAN.load_from_checkpoint(last_checkpoint(fit.run_dir), map_location="cpu")
    images = gan.sample(4, generator=torch.Generator().manual_seed(0))
    assert images.shape == (4, *IMAGE_SHAPES[fit.config.split("/")[1]])
    assert torch.isfinite(images).all()
    return gan


@pytest.mark.parametrize("config", [config for config in CONFIGS if not config.startswith("configs/tfd/")])
def test_config_fits_saves_a_checkpoint_that_reloads_and_samples(config, fits):
    gan = check_run(fits[config])
    ranges = {"paper.yaml": (0, 1), "dcgan.yaml": (-1, 1), "cgan.yaml": (-1, 1)}
    low, high = ranges.get(Path(config).name, (-np.inf, np.inf))
    images = gan.sample(4)
    assert images.min() >= low and images.max() <= high


def test_tfd_pretrain_fits_with_max_column_norm_on_every_layer(fits):
    gan = check_run(fits["configs/tfd/paper.yaml"])
    linears = [m for m in gan.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 6  # G: 3 layers, D: 2 maxout layers and the logit
    for layer in linears:
        assert layer.weight.norm(dim=1).max() <= 1.9365 + 1e-5
    images = gan.sample(4)
    assert images.min() >= 0 and images.max() <= 1


def test_tfd_train_stage_starts_from_the_pretrained_generator(fits):
    pretrained_checkpoint = last_checkpoint(fits["configs/tfd/paper.yaml"].run_dir)
    pretrained = torch.load(pretrained_checkpoint, map_location="cpu", weights_only=True)["state_dict"]
    gan = check_run(fits["configs/tfd/paper_train.yaml"])
    for key, value in gan.generator.top.state_dict().items():
        torch.testing.assert_close(value, pretrained[f"generator.{key}"], atol=1e-6, rtol=0)
    assert len(gan.generator.bottom) == 4  # Linear, ReLU, Linear, Sigmoid: 5 linear layers in all


def run_in_process(*arguments: str) -> str:
    """Runs the ``ganbench`` entry point here; returns the last line it wrote to stderr (it must exit 2)."""
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), pytest.raises(SystemExit) as exit_info:
        main(list(arguments))
    assert exit_info.value.code == 2, stderr.getvalue()[-2000:]
    assert "Traceback" not in stderr.getvalue()
    return stderr.getvalue().strip().splitlines()[-1]


def in_process_fit_arguments(config: str, root: Path, run_dir: Path, *extra: str) -> list[str]:
    return [
        "fit",
        f"--config={REPO / config}",
        "--trainer.max_steps=1",
        "--trainer.logger=false",
        "--trainer.enable_progress_bar=false",
        f"--trainer.default_root_dir={run_dir}",
        *SHRINK[config],
        *data_arguments(config, root),
        *extra,
    ]


def test_missing_tfd_file_is_one_clear_error(data_root, tmp_path):
    arguments = in_process_fit_arguments("configs/tfd/paper.yaml", data_root, tmp_path)
    last_line = run_in_process(*arguments, f"--data.init_args.mat_path={tmp_path / 'TFD_48x48.mat'}")
    assert last_line.startswith(f"ganbench: error: {tmp_path / 'TFD_48x48.mat'} not found.")
    assert "not publicly downloadable" in last_line


def test_tfd_train_stage_with_a_missing_pretrained_checkpoint_is_one_clear_error(data_root, tmp_path):
    absent = tmp_path / "absent.ckpt"
    arguments = in_process_fit_arguments("configs/tfd/paper_train.yaml", data_root, tmp_path)
    last_line = run_in_process(*arguments, f"--model.generator.init_args.pretrained_checkpoint={absent}")
    assert (
        last_line == f"ganbench: error: pretrained_checkpoint {absent} does not exist; train the pretrain stage first."
    )


def test_sigmoid_generator_on_contrast_normalised_cifar10_is_one_clear_error(data_root, tmp_path):
    arguments = in_process_fit_arguments("configs/cifar10/paper_fc.yaml", data_root, tmp_path)
    last_line = run_in_process(*arguments, "--model.generator.init_args.output_activation=sigmoid")
    assert "MLPGenerator outputs values in (0.0, 1.0) but the data is unbounded (preprocessing='gcn'" in last_line
    assert "linear output" in last_line


def shipped(config: str) -> dict:
    return yaml.safe_load((REPO / config).read_text())


def test_shipped_tfd_values_follow_the_released_code():
    for config in ("configs/tfd/paper.yaml", "configs/tfd/paper_train.yaml"):
        values = shipped(config)
        generator = values["model"]["generator"]["init_args"]
        top = generator.get("top", {}).get("init_args", generator)
        assert top["hidden_dims"] == [8000, 8000] and top["hidden_activations"] == ["relu", "sigmoid"]
        assert top["hidden_init_biases"] == [0.0, -2.0] and top["output_sparse_init"] == 100
        assert values["model"]["discriminator"]["init_args"]["hidden_units"] == [1200, 1200]
        assert values["model"]["generator_optimizer"]["init_args"]["lr"] == 0.05
        assert values["model"]["prior"]["class_path"] == "ganbench.priors.Normal"
        norms = [c for c in values["trainer"]["callbacks"] if c["class_path"].endswith("MaxColumnNorm")]
        assert norms[0]["init_args"]["max_norm"] == 1.9365
        assert values["data"]["init_args"]["train_split"] == "unlabeled"
    assert shipped("configs/tfd/paper.yaml")["trainer"]["max_epochs"] == 50
    train_stage = shipped("configs/tfd/paper_train.yaml")
    assert train_stage["trainer"]["max_epochs"] == 22
    assert train_stage["model"]["generator"]["init_args"]["hidden_dims"] == [8000, 100]


def test_shipped_cifar10_values_follow_the_released_code():
    fully_connected, convolutional = (
        shipped("configs/cifar10/paper_fc.yaml"),
        shipped("configs/cifar10/paper_conv.yaml"),
    )
    assert fully_connected["model"]["generator"]["init_args"]["output_init_range"] == 0.5
    assert fully_connected["model"]["discriminator"]["init_args"]["hidden_units"] == [1600, 1600]
    assert convolutional["model"]["generator"]["init_args"]["feature_shape"] == [80, 10, 10]
    assert convolutional["model"]["discriminator"]["init_args"]["paddings"] == [4, 3, 3]
    for values, lr, batch in ((fully_connected, 0.025, 100), (convolutional, 0.004, 128)):
        assert values["model"]["generator"]["init_args"]["hidden_dims"] == [8000, 8000]
        assert values["model"]["generator_optimizer"]["init_args"]["lr"] == lr
        assert values["data"]["init_args"]["batch_size"] == batch
        assert values["data"]["init_args"]["preprocessing"] == "gcn"
        assert values["data"]["init_args"]["train_size"] == 40000
    dcgan = shipped("configs/cifar10/dcgan.yaml")
    assert dcgan["model"]["generator_optimizer"]["init_args"] == {"lr": 0.0002, "betas": [0.5, 0.999]}
    assert dcgan["data"]["init_args"]["pixel_range"] == [-1.0, 1.0]
