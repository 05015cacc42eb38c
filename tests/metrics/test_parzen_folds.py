"""The TFD Table 1 aggregation: sigma per fold on its validation split, mean over folds, error across folds."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ganbench import GAN
from ganbench.data import TFDDataModule
from ganbench.metrics.parzen import DEFAULT_SIGMAS, parzen_log_likelihood, select_sigma
from ganbench.metrics.parzen_folds import FoldsResult, parzen_over_folds
from tests.conftest import REPO, write_tfd_mat

DIMENSION = 6


def uniform(count: int, seed: int, dimension: int = DIMENSION) -> torch.Tensor:
    return torch.rand(count, dimension, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def near(centres: torch.Tensor, count: int, spread: float, seed: int) -> torch.Tensor:
    """``count`` points, each a centre plus Gaussian noise of standard deviation ``spread``."""
    generator = torch.Generator().manual_seed(seed)
    index = torch.randint(0, len(centres), (count,), generator=generator)
    return centres[index] + spread * torch.randn(count, centres.shape[1], dtype=torch.float64, generator=generator)


@pytest.fixture
def centres() -> torch.Tensor:
    return uniform(40, seed=0)


@pytest.fixture
def folds(centres) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Three folds whose validation sets favour a small, a middle and a large bandwidth."""
    return [
        (near(centres, 30, spread, seed=10 + fold), near(centres, 20 + 5 * fold, spread, seed=20 + fold))
        for fold, spread in enumerate((0.01, 0.3, 0.9))
    ]


def test_mean_and_error_equal_an_independent_computation_per_fold(centres, folds):
    result = parzen_over_folds(centres, folds)
    expected_means, expected_sigmas = [], []
    for validation, test in folds:
        sigma, _ = select_sigma(validation, centres, DEFAULT_SIGMAS)
        expected_sigmas.append(sigma)
        expected_means.append(float(parzen_log_likelihood(test, centres, sigma).mean()))
    assert result.sigmas == pytest.approx(expected_sigmas, rel=0, abs=0)
    assert result.means == pytest.approx(expected_means, rel=1e-12)
    assert result.mean == pytest.approx(np.mean(expected_means), rel=1e-12)
    assert result.error == pytest.approx(np.std(expected_means) / np.sqrt(len(folds)), rel=1e-12)  # ddof=0
    assert result.num_folds == 3 and result.num_centres == 40 and result.fold_ids == (0, 1, 2)
    assert result.test_sizes == (20, 25, 30) and result.validation_sizes == (30, 30, 30)


def test_within_fold_standard_error_is_the_population_one(centres, folds):
    result = parzen_over_folds(centres, folds)
    for (_, test), sigma, standard_error in zip(folds, result.sigmas, result.standard_errors, strict=True):
        values = parzen_log_likelihood(test, centres, sigma).numpy()
        assert standard_error == pytest.approx(values.std() / np.sqrt(len(values)), rel=1e-12)


def test_validation_sets_favouring_different_bandwidths_get_different_sigmas(centres, folds):
    result = parzen_over_folds(centres, folds)
    assert result.sigmas[0] == DEFAULT_SIGMAS[0]  # points on the centres: the smallest bandwidth
    assert result.sigmas[0] < result.sigmas[1] < result.sigmas[2]


def test_sigma_is_chosen_on_validation_only(centres, folds):
    result = parzen_over_folds(centres, folds)
    # Fold 0's test data replaced by widely spread points, which on their own favour a large bandwidth.
    spread_test = near(centres, 20, 0.9, seed=99)
    assert select_sigma(spread_test, centres)[0] != result.sigmas[0]
    changed = parzen_over_folds(centres, [(folds[0][0], spread_test), *folds[1:]])
    assert changed.sigmas == result.sigmas
    assert changed.means[1:] == result.means[1:] and changed.means[0] != result.means[0]
    # Changing fold 1's validation data (but not its test data) changes its sigma.
    moved = parzen_over_folds(centres, [folds[0], (near(centres, 30, 0.01, seed=7), folds[1][1]), folds[2]])
    assert moved.sigmas[1] == DEFAULT_SIGMAS[0] != result.sigmas[1]


def test_one_fold_has_no_error_across_folds_and_image_shapes_are_flattened(centres, folds):
    single = parzen_over_folds(centres, folds[:1], fold_ids=[3])
    assert single.error == 0.0 and single.fold_ids == (3,) and single.mean == single.means[0]
    images = [(validation.reshape(-1, 1, 2, 3), test.reshape(-1, 1, 2, 3)) for validation, test in folds]
    shaped = parzen_over_folds(centres.reshape(-1, 1, 3, 2), images)
    assert shaped.means == pytest.approx(parzen_over_folds(centres, folds).means, rel=1e-12)


def test_table_line_and_fold_lines():
    result = FoldsResult(
        fold_ids=(0, 1, 2, 3, 4),
        sigmas=(0.0464,) * 5,
        means=(2000.0, 2010.0, 2057.0, 2100.0, 2118.5),
        standard_errors=(20.0,) * 5,
        test_sizes=(100,) * 5,
        validation_sizes=(50,) * 5,
        mean=2057.1,
        error=26.3,
        num_centres=10_000,
    )
    assert result.table_line("TFD") == (
        "Parzen log-likelihood on TFD test, mean over 5 folds: 2057.1 +- 26.3 nats (error across folds; "
        "sigma per fold 0.0464, 0.0464, 0.0464, 0.0464, 0.0464; n = 10000 samples)"
    )
    lines = result.fold_lines()
    assert len(lines) == 5 and lines[4].startswith("fold 4: 2118.50 +- 20.00 nats (sigma 0.0464")


def test_bad_input_is_refused(centres, folds):
    with pytest.raises(ValueError, match="No folds"):
        parzen_over_folds(centres, [])
    with pytest.raises(ValueError, match="Fold 1, validation split: .*empty"):
        parzen_over_folds(centres, [folds[0], (torch.empty(0, DIMENSION, dtype=torch.float64), folds[1][1])])
    with pytest.raises(ValueError, match="Fold 0, test split: .*empty"):
        parzen_over_folds(centres, [(folds[0][0], torch.empty(0, DIMENSION, dtype=torch.float64))])
    with pytest.raises(ValueError, match="Fold 0, validation split: .*dimensionality"):
        parzen_over_folds(centres, [(uniform(5, 1, dimension=3), folds[0][1])])
    with pytest.raises(ValueError, match="pair"):
        parzen_over_folds(centres, [(folds[0][0],)])
    with pytest.raises(ValueError, match="fold_ids"):
        parzen_over_folds(centres, folds, fold_ids=[0, 1])


# ---------------------------------------------------------------------- the script, end to end

SCRIPT = REPO / "bench" / "parzen_tfd_folds.py"
ENVIRONMENT = dict(os.environ, PYTHONPATH=str(REPO), PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")


def run_script(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], cwd=cwd, env=ENVIRONMENT, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def tfd_run(tmp_path_factory) -> tuple[Path, Path]:
    """A small TFD .mat and a checkpoint of configs/tfd/paper.yaml, shrunk, after 2 steps of ``ganbench fit``."""
    root = tmp_path_factory.mktemp("tfd_folds")
    mat = root / "TFD_48x48.mat"
    write_tfd_mat(mat, unlabeled=40, labelled=30)
    arguments = [
        "fit",
        f"--config={REPO / 'configs' / 'tfd' / 'paper.yaml'}",
        "--trainer.max_steps=2",
        "--trainer.max_epochs=1",
        "--trainer.accelerator=cpu",
        "--trainer.enable_progress_bar=false",
        "--trainer.limit_val_batches=0",
        f"--trainer.default_root_dir={root}",
        "--model.generator.init_args.hidden_dims=[32,32]",
        "--model.generator.init_args.output_sparse_init=8",
        "--model.discriminator.init_args.hidden_units=[16,16]",
        f"--data.init_args.mat_path={mat}",
        "--data.init_args.batch_size=10",
    ]
    fit = subprocess.run(
        [sys.executable, "-m", "ganbench.cli", *arguments],
        cwd=root,
        env=ENVIRONMENT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert fit.returncode == 0, fit.stderr[-3000:]
    checkpoints = sorted(root.rglob("last.ckpt")) or sorted(root.rglob("*.ckpt"))
    assert checkpoints, "no checkpoint written"
    return mat, checkpoints[-1]


def test_script_prints_the_fold_lines_and_the_table_line_matching_an_in_process_computation(tfd_run, tmp_path):
    mat, checkpoint = tfd_run
    done = run_script("--ckpt", str(checkpoint), "--mat", str(mat), "--num-samples", "50", "--seed", "3", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[:5]] == [f"fold {fold}" for fold in range(5)]
    table = re.fullmatch(
        r"Parzen log-likelihood on TFD test, mean over 5 folds: (-?[\d.]+) \+- ([\d.]+) nats "
        r"\(error across folds; sigma per fold ([\d., ]+); n = 50 samples\)",
        lines[5],
    )
    assert table, lines[5]

    gan = GAN.load_from_checkpoint(checkpoint, map_location="cpu")
    with torch.no_grad():
        centres = gan.sample(50, generator=torch.Generator().manual_seed(3)).double().flatten(1)
    folds = []
    for fold in range(5):
        datamodule = TFDDataModule(mat_path=str(mat), fold=fold)
        folds.append(tuple(datamodule.split_images(split).double().flatten(1) for split in ("val", "test")))
    expected = parzen_over_folds(centres, folds)
    assert float(table.group(1)) == pytest.approx(expected.mean, abs=0.051)
    assert float(table.group(2)) == pytest.approx(expected.error, abs=0.051)
    assert [float(sigma) for sigma in table.group(3).split(", ")] == pytest.approx(expected.sigmas, abs=5e-5)


def test_script_scores_chosen_folds_only(tfd_run, tmp_path):
    mat, checkpoint = tfd_run
    done = run_script(
        "--ckpt", str(checkpoint), "--mat", str(mat), "--num-samples", "20", "--folds", "1", "3", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("fold 1: ") and lines[1].startswith("fold 3: ")
    assert "mean over 2 folds" in lines[2] and "n = 20 samples" in lines[2]


def test_script_refuses_a_missing_mat_file_in_one_line(tmp_path):
    done = run_script("--ckpt", str(tmp_path / "none.ckpt"), "--mat", str(tmp_path / "TFD_48x48.mat"), cwd=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    message = done.stderr.strip().splitlines()
    assert len(message) == 1 and "TFD_48x48.mat not found" in message[0] and "not publicly downloadable" in message[0]
