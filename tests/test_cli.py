"""The ``ganbench`` command as a user runs it: shipped configs, part swapping, clear errors."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from ganbench import GAN
from tests.conftest import REPO, run_ganbench

# The MNIST configs; each other data set's configs are tested with small files of its own format
# in tests/test_dataset_configs.py.
MNIST_CONFIGS = sorted(str(path.relative_to(REPO)) for path in (REPO / "configs/mnist").glob("*.yaml"))
CONFIGS = ["configs/quickstart.yaml", *MNIST_CONFIGS]


def fit_arguments(config: str, tmp_path: Path, data_dir: Path) -> list[str]:
    """Overrides that make any shipped config fit 3 steps quickly, writing under tmp_path."""
    arguments = [
        "fit",
        f"--config={REPO / config}",
        "--trainer.max_steps=3",
        "--trainer.max_epochs=1",
        "--trainer.accelerator=cpu",
        "--trainer.enable_progress_bar=false",
        f"--trainer.default_root_dir={tmp_path}",
    ]
    data = yaml.safe_load((REPO / config).read_text())["data"]
    if "data_dir" in data.get("init_args", {}):
        arguments += [f"--data.init_args.data_dir={data_dir}", "--data.init_args.train_size=200"]
    return arguments


def last_line(result) -> str:
    return result.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("config", CONFIGS)
def test_shipped_config_prints(config, capsys):
    from ganbench.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["fit", f"--config={REPO / config}", "--print_config"])
    assert stop.value.code in (0, None)
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["model"]["generator"]["class_path"].startswith("ganbench.nets")


@pytest.fixture(scope="module")
def config_fits(tmp_path_factory, small_mnist_dir) -> dict[str, tuple[subprocess.CompletedProcess, Path]]:
    """Every shipped MNIST config fitted for 3 steps by the ``ganbench`` command, the processes side by side.

    Each process is mostly start-up time, so running them together takes about as long as the slowest.
    """
    environment = dict(os.environ, PYTHONPATH=str(REPO), PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    running = {}
    for config in CONFIGS:
        folder = tmp_path_factory.mktemp(Path(config).stem)
        process = subprocess.Popen(
            [sys.executable, "-m", "ganbench.cli", *fit_arguments(config, folder, small_mnist_dir)],
            cwd=folder,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        running[config] = (process, folder)
    fits = {}
    for config, (process, folder) in running.items():
        stdout, stderr = process.communicate(timeout=600)
        fits[config] = (subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr), folder)
    return fits


@pytest.mark.parametrize("config", CONFIGS)
def test_shipped_config_fits_saves_config_and_checkpoint_that_reloads_and_samples(config, config_fits):
    result, tmp_path = config_fits[config]
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = next(tmp_path.rglob("config.yaml")).parent
    checkpoints = sorted(run_dir.rglob("*.ckpt"))
    assert checkpoints, f"no checkpoint under {run_dir}"
    assert sorted(run_dir.rglob("samples/*.png")), "no sample grid written"
    gan = GAN.load_from_checkpoint(checkpoints[-1])
    images = gan.sample(5)
    assert images.shape == (5, 1, 28, 28)
    low, high = yaml.safe_load((REPO / config).read_text())["data"].get("init_args", {}).get("pixel_range", [0, 1])
    assert images.min() >= low and images.max() <= high
    torch.testing.assert_close(
        gan.sample(3, generator=torch.Generator().manual_seed(0)),
        gan.sample(3, generator=torch.Generator().manual_seed(0)),
    )


def test_loss_swaps_from_the_command_line(tmp_path):
    result = run_ganbench(
        "fit", f"--config={REPO / 'configs/quickstart.yaml'}", "--model.loss=Minimax", "--print_config", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout)["model"]["loss"]["class_path"] == "ganbench.losses.Minimax"


USER_PACKAGE = '''
import torch
from torch import nn

from ganbench.nets import Generator


class MyGenerator(Generator):
    """A user's own generator: one linear layer and a sigmoid."""

    def __init__(self, latent_dim: int = 16):
        super().__init__()
        self.latent_dim = latent_dim
        self.linear = nn.Linear(latent_dim, 784)

    def forward(self, noise):
        return torch.sigmoid(self.linear(noise)).view(-1, 1, 28, 28)
'''


def test_user_generator_from_own_package_plugs_in_by_class_path(tmp_path):
    (tmp_path / "mylab").mkdir()
    (tmp_path / "mylab" / "__init__.py").write_text("")
    (tmp_path / "mylab" / "nets.py").write_text(USER_PACKAGE)
    arguments = fit_arguments("configs/quickstart.yaml", tmp_path, tmp_path)
    result = run_ganbench(*arguments, "--model.generator=mylab.nets.MyGenerator", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    saved = yaml.safe_load(next(tmp_path.rglob("config.yaml")).read_text())
    assert saved["model"]["generator"]["class_path"] == "mylab.nets.MyGenerator"
    checkpoint = sorted(tmp_path.rglob("*.ckpt"))[-1]
    sys.path.insert(0, str(tmp_path))
    try:
        import mylab.nets

        gan = GAN.load_from_checkpoint(checkpoint)
        assert isinstance(gan.generator, mylab.nets.MyGenerator)
        assert gan.sample(2).shape == (2, 1, 28, 28)
    finally:
        sys.path.remove(str(tmp_path))


QUICKSTART = f"--config={REPO / 'configs/quickstart.yaml'}"


def test_plain_module_as_generator_is_one_line_saying_to_subclass_generator(tmp_path):
    (tmp_path / "plainlab.py").write_text(
        USER_PACKAGE.replace("class MyGenerator(Generator)", "class MyGenerator(nn.Module)")
    )
    result = run_ganbench("fit", QUICKSTART, "--model.generator=plainlab.MyGenerator", cwd=tmp_path)
    line = one_error_line(result)
    assert "plainlab.MyGenerator is an nn.Module but not a ganbench.nets.Generator; subclass it" in line


def one_error_line(result) -> str:
    """The run's only stderr line, checked to be ganbench's one-line error (no traceback, no usage block)."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ganbench: error: "), lines[0]
    return lines[0]


def test_unknown_config_key_is_one_clear_error(tmp_path):
    result = run_ganbench("fit", QUICKSTART, "--model.no_such_key=1", cwd=tmp_path)
    assert one_error_line(result) == (
        "ganbench: error: unknown option --model.no_such_key; run `ganbench fit --help` for the accepted options."
    )


def test_misspelt_option_suggests_the_right_one(tmp_path):
    result = run_ganbench("fit", QUICKSTART, "--model.shedule=alternating", cwd=tmp_path)
    assert "unknown option --model.shedule (did you mean --model.schedule?)" in one_error_line(result)


def test_misspelt_key_in_a_config_file_is_one_clear_error(tmp_path):
    config = (REPO / "configs/quickstart.yaml").read_text().replace("schedule:", "shedule:")
    (tmp_path / "bad.yaml").write_text(config)
    result = run_ganbench("fit", "--config=bad.yaml", cwd=tmp_path)
    assert "unknown key 'model.shedule' in the config (did you mean model.schedule?)" in one_error_line(result)


def test_misspelt_argument_of_a_part_names_the_class_and_suggests(tmp_path):
    result = run_ganbench("fit", QUICKSTART, "--model.generator.init_args.widht=8", cwd=tmp_path)
    line = one_error_line(result)
    assert "unknown" in line or "has no argument" in line
    assert "widht" in line and "width" in line


@pytest.mark.parametrize(
    "option, expected",
    [
        ("--model.discriminator_steps=two", "model.discriminator_steps: expected int, got two"),
        ("--trainer.max_steps=abc", "trainer.max_steps: expected int, got abc"),
        ("--model.schedule=sometimes", "model.schedule: expected one of 'alternating', 'simultaneous', got sometimes"),
    ],
)
def test_wrong_type_is_one_clear_error(tmp_path, option, expected):
    result = run_ganbench("fit", QUICKSTART, option, cwd=tmp_path)
    assert one_error_line(result).startswith(f"ganbench: error: {expected}; run `ganbench fit --help`")


def test_wrong_class_path_is_one_clear_error(tmp_path):
    result = run_ganbench("fit", QUICKSTART, "--model.generator=mylab.nowhere.Generator", cwd=tmp_path)
    assert one_error_line(result) == (
        "ganbench: error: model.generator: cannot import 'mylab.nowhere.Generator' (No module named 'mylab'); "
        "check the spelling, and that its package is installed or on PYTHONPATH."
    )


def test_misspelt_short_class_name_suggests_the_right_one(tmp_path):
    result = run_ganbench("fit", QUICKSTART, "--model.loss=NonSaturatng", cwd=tmp_path)
    assert "model.loss: NonSaturatng is neither an importable class_path" in one_error_line(result)
    assert "(did you mean NonSaturating?)" in one_error_line(result)


def test_missing_mnist_folder_offline_is_one_clear_error(tmp_path):
    result = run_ganbench(
        "fit",
        f"--config={REPO / 'configs/mnist/paper.yaml'}",
        f"--data.init_args.data_dir={tmp_path / 'absent'}",
        "--trainer.max_steps=1",
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert last_line(result).startswith("ganbench: error: train-images-idx3-ubyte[.gz] not found in")
    assert "download=true" in last_line(result)


def test_generator_that_does_not_fit_the_data_is_one_clear_error(tmp_path):
    result = run_ganbench(
        *fit_arguments("configs/quickstart.yaml", tmp_path, tmp_path),
        "--model.generator.init_args.image_shape=[1,32,32]",
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "makes images of shape (1, 32, 32) but the data has shape (1, 28, 28)" in last_line(result)


def test_error_raised_while_building_a_part_is_one_clear_line(tmp_path):
    result = run_ganbench(
        "fit", f"--config={REPO / 'configs/quickstart.yaml'}", "--model.discriminator_steps=0", cwd=tmp_path
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert last_line(result) == "ganbench: error: discriminator_steps must be >= 1, got 0."


def test_version_and_help_name_ganbench(capsys):
    from ganbench.cli import main

    main(["--version"])
    assert capsys.readouterr().out.startswith("ganbench 0.")
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    help_text = capsys.readouterr().out
    assert "ganbench: train, evaluate and compare GANs" in help_text
    assert "Lightning Trainer command line" not in help_text
    assert "sweep" in help_text and "compare" in help_text


def test_an_abbreviated_key_is_refused_with_its_did_you_mean(capsys):
    """argparse would take --model.schedul for --model.schedule; ganbench turns abbreviations off."""
    from ganbench.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["fit", QUICKSTART, "--model.schedul=simultaneous", "--print_config"])
    assert stop.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error == (
        "ganbench: error: unknown option --model.schedul (did you mean --model.schedule?); "
        "run `ganbench fit --help` for the accepted options."
    )
