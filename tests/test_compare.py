"""``ganbench compare``: fake run folders (as ``ganbench fit``/``test`` write them) in, tables and plots out."""

import json
import statistics
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
import yaml

from ganbench.compare import flatten, last_sample_grid, main, short_label
from tests.conftest import run_ganbench

LOSSES = {"Minimax": "ganbench.losses.Minimax", "NonSaturating": "ganbench.losses.NonSaturating"}
# val/parzen_ll at steps 100 and 200, val/fid at steps 100 and 200, for seeds 0, 1, 2.
PARZEN = {"Minimax": [(40, 42), (44, 43), (41, 45)], "NonSaturating": [(50, 49), (51, 53), (52, 55)]}
FID = {"Minimax": [(30, 20), (25, 28), (35, 33)], "NonSaturating": [(10, 12), (14, 11), (9, 8)]}
# results.json's test/parzen_ll, for the seeds that have one.
TEST_PARZEN = {"Minimax": {0: 46.0, 1: 47.5}, "NonSaturating": {2: 51.25}}
HEADER = "epoch,hp_metric,step,train/d_loss,train/g_loss,val/fid,val/parzen_ll,val/parzen_se\n"


def d_loss(loss: str, seed: int, step: int) -> float:
    """The fake train/d_loss of a run at a step."""
    return 1.5 - step / 200 + seed / 10 + (0.25 if loss == "Minimax" else 0.0)


def write_config(folder: Path, loss: str, seed: int, experiment: str = "sweep") -> None:
    """A config.yaml like LightningCLI's, whose bookkeeping keys differ in every run."""
    loss_value = LOSSES[loss] if loss == "Minimax" else {"class_path": LOSSES[loss], "init_args": {}}
    config = {
        "seed_everything": seed,
        "trainer": {
            "max_steps": 200,
            "default_root_dir": f"runs/{loss}/{seed}",
            "logger": {"class_path": "lightning.pytorch.loggers.CSVLogger", "init_args": {"version": seed}},
            "callbacks": [
                {"class_path": "ganbench.callbacks.Checkpoint", "init_args": {"dirpath": f"ckpt/{loss}{seed}"}},
                {"class_path": "ganbench.callbacks.SampleGrid", "init_args": {"every_n_steps": 100}},
            ],
        },
        "model": {
            "generator": {"class_path": "ganbench.nets.MLPGenerator", "init_args": {"hidden_dims": [8, 16]}},
            "loss": loss_value,
        },
        "ckpt_path": f"last-{seed}.ckpt",
        "run": {"experiment": experiment, "name": f"{experiment} loss={loss} seed={seed}", "group": None, "tags": None},
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(config))


def write_metrics(folder: Path, loss: str, seed: int) -> None:
    """A sparse metrics.csv like Lightning's CSVLogger: train rows every 50 steps, validation rows at 100, 200."""
    (parzen_100, parzen_200), (fid_100, fid_200) = PARZEN[loss][seed], FID[loss][seed]
    rows = [HEADER]
    for step in (50, 100, 150, 200):
        rows.append(f"0,,{step},{d_loss(loss, seed, step)},0.7,,,\n")
        if step == 100:
            rows.append(f"0,{parzen_100},100,,,{fid_100},{parzen_100},1.5\n")
        if step == 200:
            rows.append(f"1,,200,,,{fid_200},{parzen_200},1.5\n")
            rows.append(f"1,{parzen_200},200,,,,,\n")
    (folder / "metrics.csv").write_text("".join(rows))


def write_run(root: Path, loss: str, seed: int, grid: bool = True) -> Path:
    """A complete fake run folder: config.yaml, metrics.csv, run.yaml, maybe results.json and sample grids."""
    folder = root / "sweep" / f"loss={loss}" / f"version_{seed}"
    write_config(folder, loss, seed)
    write_metrics(folder, loss, seed)
    run_info = {"experiment": "sweep", "name": f"sweep loss={loss} seed={seed}", "seed": seed, "version": folder.name}
    (folder / "run.yaml").write_text(yaml.safe_dump(run_info))
    if seed in TEST_PARZEN[loss]:
        value = TEST_PARZEN[loss][seed]
        metrics = {"test/parzen_ll": {"value": value, "protocol": {"sigma": 0.2}}}
        results = {
            "stage": "test",
            "checkpoint": "last.ckpt",
            "step": 200,
            "epoch": 1,
            "seed": seed,
            "metrics": metrics,
        }
        (folder / "results.json").write_text(json.dumps(results))
    if grid:
        (folder / "samples").mkdir()
        shade = 0.2 if loss == "Minimax" else 0.8
        for step in (100, 200):
            image = np.full((12, 12, 3), shade * step / 200)
            matplotlib.image.imsave(folder / "samples" / f"step_{step:07d}.png", image)
    return folder


@pytest.fixture
def runs(tmp_path) -> Path:
    """Six runs in tmp_path/runs: two losses x three seeds, with a wandb folder that is no run."""
    root = tmp_path / "runs"
    for loss in LOSSES:
        for seed in (0, 1, 2):
            write_run(root, loss, seed, grid=seed != 0 or loss == "Minimax")
    wandb_files = root / "sweep" / "loss=Minimax" / "version_0" / "wandb" / "run-1" / "files"
    wandb_files.mkdir(parents=True)
    (wandb_files / "config.yaml").write_text("wandb_version: 1\n")
    other_wandb = root / "wandb" / "run-2" / "files"
    other_wandb.mkdir(parents=True)
    (other_wandb / "config.yaml").write_text("wandb_version: 1\n")
    return root


def compare(capsys, *arguments: str) -> tuple[int, str, str]:
    """Runs ``ganbench compare ARGUMENTS`` in-process: exit status, stdout, stderr."""
    status = main([str(argument) for argument in arguments])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def read_comparison(out: Path) -> dict:
    return json.loads((out / "comparison.json").read_text())


def test_means_and_stds_over_seeds(runs, tmp_path, capsys):
    status, _, error = compare(capsys, runs, "--out", tmp_path / "out")
    assert (status, error) == (0, "")
    comparison = read_comparison(tmp_path / "out")
    assert comparison["differing_keys"] == ["model.loss"]
    assert sorted(comparison["variants"]) == ["loss=Minimax", "loss=NonSaturating"]
    for loss in LOSSES:
        numbers = comparison["variants"][f"loss={loss}"]
        finals = [last for _, last in PARZEN[loss]]
        bests = [max(pair) for pair in PARZEN[loss]]
        parzen = numbers["val/parzen_ll"]
        assert parzen["n"] == 3
        assert parzen["final_mean"] == pytest.approx(statistics.mean(finals))
        assert parzen["final_std"] == pytest.approx(statistics.stdev(finals))
        assert parzen["best_mean"] == pytest.approx(statistics.mean(bests))
        assert parzen["best_std"] == pytest.approx(statistics.stdev(bests))
        fid_bests = [min(pair) for pair in FID[loss]]  # lower is better
        assert numbers["val/fid"]["best_mean"] == pytest.approx(statistics.mean(fid_bests))
        assert numbers["val/fid"]["best_std"] == pytest.approx(statistics.stdev(fid_bests))
        d_finals = [d_loss(loss, seed, 200) for seed in (0, 1, 2)]
        assert numbers["train/d_loss"]["final_mean"] == pytest.approx(statistics.mean(d_finals))
        assert numbers["train/d_loss"]["best_mean"] is None  # a loss has no best
        assert set(numbers) == {"test/parzen_ll", "train/d_loss", "train/g_loss", "val/fid", "val/parzen_ll"}
    minimax_test = comparison["variants"]["loss=Minimax"]["test/parzen_ll"]
    assert (minimax_test["n"], minimax_test["final_mean"], minimax_test["best_mean"]) == (2, 46.75, 46.75)
    assert minimax_test["final_std"] == pytest.approx(statistics.stdev([46.0, 47.5]))
    nonsaturating_test = comparison["variants"]["loss=NonSaturating"]["test/parzen_ll"]
    assert (nonsaturating_test["n"], nonsaturating_test["final_mean"], nonsaturating_test["final_std"]) == (
        1,
        51.25,
        None,
    )
    assert [run["seed"] for run in comparison["runs"]] == [0, 1, 2, 0, 1, 2]


def test_markdown_table_and_stdout(runs, tmp_path, capsys):
    status, output, _ = compare(capsys, runs, "--out", tmp_path / "out")
    assert status == 0
    text = (tmp_path / "out" / "comparison.md").read_text()
    assert "Config keys that differ: `model.loss`" in text
    rows = [
        # finals 42, 43, 45: mean 43.33, std sqrt(7/3) = 1.528; bests 42, 44, 45: mean 43.67, std 1.528
        "| val/parzen_ll | loss=Minimax | 3 | 43.33 ± 1.528 | 43.67 ± 1.528 |",
        # finals 49, 53, 55: mean 52.33, std sqrt(28/3) = 3.055; bests 50, 53, 55: mean 52.67, std 2.517
        "| val/parzen_ll | loss=NonSaturating | 3 | 52.33 ± 3.055 | 52.67 ± 2.517 |",
        "| test/parzen_ll | loss=Minimax | 2 | 46.75 ± 1.061 | 46.75 ± 1.061 |",
        "| test/parzen_ll | loss=NonSaturating | 1 | 51.25 | 51.25 |",
        "| train/d_loss | loss=Minimax | 3 | 0.85 ± 0.1 | — |",
    ]
    for row in rows:
        assert row in text.splitlines()
        assert row in output.splitlines()
    assert "val/parzen_se" not in text and "hp_metric" not in text
    folder = Path("runs") / "sweep" / "loss=NonSaturating" / "version_2"
    assert any(
        line.startswith("| ") and str(folder) in line and line.endswith("| loss=NonSaturating | 2 |")
        for line in text.splitlines()
    )


def test_plots_are_images(runs, tmp_path, capsys):
    out = tmp_path / "out"
    status, output, _ = compare(capsys, runs, "--out", out)
    assert status == 0
    for name in ("val_parzen_ll", "val_fid", "train_d_loss", "samples"):
        image = matplotlib.image.imread(out / f"{name}.png")
        assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100 and image.shape[2] in (3, 4)
        assert f"{name}.png" in output
    samples = matplotlib.image.imread(out / "samples.png")
    assert samples.shape[1] > samples.shape[0]  # two panels side by side
    assert not (out / "test_parzen_ll.png").exists()  # one value per run: no curve
    assert not (out / "val_parzen_se.png").exists()


def test_ignored_keys_do_not_make_variants(tmp_path, capsys):
    for seed in (0, 1, 2):
        write_run(tmp_path / "runs", "Minimax", seed)
    status, output, _ = compare(capsys, tmp_path / "runs", "--out", tmp_path / "out")
    assert status == 0
    comparison = read_comparison(tmp_path / "out")
    assert comparison["differing_keys"] == []
    assert list(comparison["variants"]) == ["sweep"]  # run.yaml's experiment
    assert comparison["variants"]["sweep"]["val/parzen_ll"]["n"] == 3
    assert "Config keys that differ: none" in (tmp_path / "out" / "comparison.md").read_text()


def test_metrics_option_restricts_the_report(runs, tmp_path, capsys):
    out = tmp_path / "out"
    status, _, _ = compare(capsys, runs, "--out", out, "--metrics", "val/parzen_ll", "val/parzen_se")
    assert status == 0
    comparison = read_comparison(out)
    assert set(comparison["variants"]["loss=Minimax"]) == {"val/parzen_ll", "val/parzen_se"}
    assert comparison["variants"]["loss=Minimax"]["val/parzen_se"]["final_mean"] == 1.5
    assert sorted(path.name for path in out.glob("*.png")) == ["samples.png", "val_parzen_ll.png", "val_parzen_se.png"]


def test_parent_folder_is_searched_without_wandb_or_duplicates(runs, tmp_path, capsys):
    nested = runs / "sweep" / "loss=Minimax" / "version_1" / "inner"
    write_config(nested, "Minimax", 5)  # inside a run folder: not a run
    one_run = runs / "sweep" / "loss=Minimax" / "version_0"
    status, _, error = compare(capsys, runs, one_run, runs / "sweep", "--out", tmp_path / "out")
    assert (status, error) == (0, "")
    comparison = read_comparison(tmp_path / "out")
    assert len(comparison["runs"]) == 6
    assert not any("wandb" in run["run"] or "inner" in run["run"] for run in comparison["runs"])


@pytest.mark.parametrize(
    ("name", "damage", "reason"),
    [
        ("no_metrics", lambda folder: (folder / "metrics.csv").unlink(), "metrics.csv is missing"),
        ("garbage", lambda folder: (folder / "metrics.csv").write_bytes(bytes(range(256)) * 4), "metrics.csv"),
        ("no_step", lambda folder: (folder / "metrics.csv").write_text("epoch,val/fid\n0,1.0\n"), "no step column"),
        ("bad_cell", lambda folder: (folder / "metrics.csv").write_text("step,val/fid\n100,oops\n"), "not a number"),
        ("bad_config", lambda folder: (folder / "config.yaml").write_text("model: [unclosed\n"), "config.yaml"),
    ],
)
def test_unreadable_run_is_skipped_with_one_line(runs, tmp_path, capsys, name, damage, reason):
    damaged = write_run(tmp_path / "more", "Minimax", 2)
    damaged = damaged.rename(tmp_path / "more" / name)
    damage(damaged)
    status, _, error = compare(capsys, runs, damaged, "--out", tmp_path / "out")
    assert status == 0
    assert len(error.splitlines()) == 1 and "Traceback" not in error
    assert error.startswith(f"ganbench compare: skipping {damaged}: ") and reason in error
    assert len(read_comparison(tmp_path / "out")["runs"]) == 6


def test_damaged_results_json_skips_only_the_results(runs, tmp_path, capsys):
    folder = runs / "sweep" / "loss=Minimax" / "version_1"
    (folder / "results.json").write_text("{not json")
    status, _, error = compare(capsys, runs, "--out", tmp_path / "out")
    assert status == 0
    assert len(error.splitlines()) == 1 and "results.json" in error and "version_1" in error
    minimax = read_comparison(tmp_path / "out")["variants"]["loss=Minimax"]
    assert (minimax["test/parzen_ll"]["n"], minimax["test/parzen_ll"]["final_mean"]) == (1, 46.0)
    assert minimax["val/parzen_ll"]["n"] == 3


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["{runs}", "--metrics", "val/nope"],
            "unknown metric val/nope; the runs have: hp_metric, test/parzen_ll, train/d_loss, train/g_loss, val/fid, ",
        ),
        (["{runs}/missing"], "missing does not exist"),
        (["{empty}"], "no run folder (a folder with config.yaml) in"),
        ([], "the following arguments are required: RUN_DIR"),
    ],
)
def test_command_line_mistakes_are_one_line(runs, tmp_path, capsys, arguments, message):
    (tmp_path / "empty").mkdir()
    arguments = [word.format(runs=runs, empty=tmp_path / "empty") for word in arguments]
    status, output, error = compare(capsys, *arguments, "--out", tmp_path / "out")
    assert status == 2
    assert len(error.splitlines()) == 1 and error.startswith("ganbench compare: error: ") and message in error
    assert not (tmp_path / "out").exists()


def test_no_readable_run_is_an_error(tmp_path, capsys):
    folder = write_run(tmp_path / "runs", "Minimax", 0)
    (folder / "metrics.csv").unlink()
    status, _, error = compare(capsys, tmp_path / "runs", "--out", tmp_path / "out")
    assert status == 2
    assert error.splitlines()[0].startswith(f"ganbench compare: skipping {folder}: metrics.csv is missing")
    assert error.splitlines()[1] == "ganbench compare: error: none of the 1 run folders could be read"


def test_flattening_and_labels():
    config = {"model": {"loss": {"class_path": "ganbench.losses.Minimax", "init_args": {"k": 2}}}, "a": [{"b": 1}]}
    assert flatten(config) == {"model.loss": "ganbench.losses.Minimax", "model.loss.init_args.k": 2, "a.0.b": 1}
    settings = {"model.loss": "ganbench.losses.Minimax", "model.generator.init_args.hidden_dims.0": 256}
    assert short_label(settings) == "loss=Minimax generator.hidden_dims.0=256"
    assert (
        short_label({"model.schedule": None, "trainer.max_steps": 1, "x": True}) == "schedule=null max_steps=1 x=true"
    )


def test_last_sample_grid_is_the_highest_step(tmp_path):
    assert last_sample_grid(tmp_path) is None
    (tmp_path / "samples").mkdir()
    for name in ("step_900.png", "step_1000.png", "notes.png"):
        (tmp_path / "samples" / name).write_bytes(b"")
    assert last_sample_grid(tmp_path) == tmp_path / "samples" / "step_1000.png"


def test_nan_final_value_is_left_out_of_n(runs, tmp_path, capsys):
    metrics = runs / "sweep" / "loss=Minimax" / "version_0" / "metrics.csv"
    metrics.write_text(metrics.read_text().replace(",20,42,1.5\n", ",20,nan,1.5\n"))  # val/parzen_ll at step 200
    status, _, _ = compare(capsys, runs, "--out", tmp_path / "out")
    assert status == 0
    parzen = read_comparison(tmp_path / "out")["variants"]["loss=Minimax"]["val/parzen_ll"]
    assert (parzen["n"], parzen["final_mean"]) == (2, 44.0)  # seeds 1 and 2: 43, 45
    assert parzen["best_mean"] == pytest.approx(statistics.mean([40, 44, 45]))  # seed 0's best: step 100
    assert parzen["runs"][0]["final"] is None  # NaN is null in the JSON


def test_entry_point_dispatches_to_compare(runs, tmp_path):
    finished = run_ganbench("compare", str(runs), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert finished.returncode == 0, finished.stderr
    assert "| val/parzen_ll | loss=Minimax | 3 | 43.33 ± 1.528 | 43.67 ± 1.528 |" in finished.stdout
    assert (tmp_path / "out" / "comparison.md").is_file()


def test_which_way_each_metric_improves():
    from ganbench.compare_plots import metric_direction

    for higher in ("val/parzen_ll", "test/classifier_score", "test/class_accuracy_3", "val/classifier_confidence"):
        assert metric_direction(higher) == 1, higher
    for lower in ("test/fid", "val/fid", "test/kid_mean"):
        assert metric_direction(lower) == -1, lower
    for neither in ("train/d_loss", "test/class_fraction_1"):
        assert metric_direction(neither) == 0, neither
