"""One folder per run whatever the logger, names that line up, results next to the run.

Each test runs the ``ganbench`` command in a subprocess, as a user would, on a small recipe: tiny
networks on the embedded MNIST sample (45 steps an epoch), a grid and a checkpoint every 15 steps,
scalars every 5, a Parzen evaluation at each epoch's end.
"""

import json
from pathlib import Path

import pytest
import yaml
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.conftest import run_ganbench
from tests.wandb_records import offline_runs, read_offline_run

RECIPE = {
    "seed_everything": 0,
    "trainer": {
        "accelerator": "cpu",
        "max_steps": 45,
        "default_root_dir": "runs",
        "log_every_n_steps": 5,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "callbacks": [
            {"class_path": "ganbench.callbacks.Checkpoint", "init_args": {"every_n_train_steps": 15}},
            {"class_path": "ganbench.callbacks.SampleGrid", "init_args": {"every_n_steps": 15, "num_samples": 16}},
            {
                "class_path": "ganbench.callbacks.ParzenEvaluation",
                "init_args": {"num_samples": 100, "num_validation": 50, "num_test": 200, "every_n_epochs": 1},
            },
        ],
    },
    "model": {
        "generator": {"class_path": "ganbench.nets.MLPGenerator", "init_args": {"hidden_dims": [16]}},
        "discriminator": {"class_path": "ganbench.nets.MLPDiscriminator", "init_args": {"hidden_dims": [16]}},
        "generator_optimizer": {"class_path": "torch.optim.Adam", "init_args": {"lr": 0.001}},
        "discriminator_optimizer": {"class_path": "torch.optim.Adam", "init_args": {"lr": 0.001}},
    },
    "data": {"class_path": "ganbench.data.MNISTSampleDataModule", "init_args": {"batch_size": 100}},
}

WANDB = {"trainer": {"logger": {"class_path": "lightning.pytorch.loggers.WandbLogger"}}}
CSV_ONLY = {
    "trainer": {"logger": {"class_path": "lightning.pytorch.loggers.CSVLogger", "init_args": {"save_dir": "x"}}}
}


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """An empty folder with the recipe (``tiny.yaml``) and logger configs; W&B offline, its files kept in it."""
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(RECIPE))
    (tmp_path / "wandb.yaml").write_text(yaml.safe_dump(WANDB))
    (tmp_path / "csv.yaml").write_text(yaml.safe_dump(CSV_ONLY))
    for variable, value in {
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
        "WANDB_CONFIG_DIR": str(tmp_path / ".wandb-config"),
        "WANDB_CACHE_DIR": str(tmp_path / ".wandb-cache"),
        "WANDB_DATA_DIR": str(tmp_path / ".wandb-data"),
    }.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.delenv("WANDB_RUN_ID", raising=False)
    return tmp_path


def ganbench(workdir: Path, *args: str) -> str:
    result = run_ganbench(*args, cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def csv_rows(folder: Path) -> list[dict[str, str]]:
    import csv

    with open(folder / "metrics.csv") as handle:
        return list(csv.DictReader(handle))


def steps_with(rows: list[dict[str, str]], key: str) -> list[int]:
    return [int(row["step"]) for row in rows if row.get(key)]


def test_two_wandb_runs_in_a_row_each_get_their_own_folder_config_scalars_and_images(workdir):
    ganbench(workdir, "fit", "--config=tiny.yaml", "--config=wandb.yaml")
    ganbench(workdir, "fit", "--config=tiny.yaml", "--config=wandb.yaml", "--model.loss=Minimax")

    first, second = workdir / "runs/tiny/version_0", workdir / "runs/tiny/version_1"
    assert sorted(path.name for path in (workdir / "runs/tiny").iterdir()) == ["version_0", "version_1"]
    records = []
    for folder, loss in ((first, "NonSaturating"), (second, "Minimax")):
        assert {"config.yaml", "environment.yaml", "run.yaml", "metrics.csv", "samples", "checkpoints"} <= {
            path.name for path in folder.iterdir()
        }
        assert yaml.safe_load((folder / "config.yaml").read_text())["model"]["loss"]["class_path"].endswith(loss)
        assert sorted(path.name for path in (folder / "samples").iterdir()) == [
            "step_0000015.png",
            "step_0000030.png",
            "step_0000045.png",
        ]
        (offline,) = offline_runs(folder)
        records.append(read_offline_run(offline))
        assert (offline / "files/ganbench/config.yaml").read_text() == (folder / "config.yaml").read_text()
    assert records[0]["id"] != records[1]["id"]
    assert records[0]["name"] == "tiny seed=0" and records[0]["group"] == "tiny"
    assert records[1]["name"] == "tiny loss=Minimax seed=0" and records[1]["group"] == "tiny loss=Minimax"
    assert records[1]["tags"] == ["MNIST", "Minimax", "MLPGenerator", "MLPDiscriminator", "alternating"]
    history = records[1]["history"]
    scalar_steps = [row["trainer/global_step"] for row in history if "train/d_loss" in row]
    image_steps = [row["trainer/global_step"] for row in history if "samples" in row or "samples/count" in row]
    parzen_steps = [row["trainer/global_step"] for row in history if "val/parzen_ll" in row]
    assert scalar_steps == list(range(5, 50, 5))
    assert image_steps == [15, 30, 45] and parzen_steps == [45]
    config = records[1]["config"]  # the whole resolved config, not only the model's arguments
    assert config["data"]["init_args"]["batch_size"] == 100
    assert config["trainer"]["max_steps"] == 45 and config["seed_everything"] == 0
    assert config["run"]["name"] == "tiny loss=Minimax seed=0"
    assert config["model"]["loss"]["class_path"] == "ganbench.losses.Minimax"


def test_resume_last_continues_the_same_wandb_run_and_steps_and_default_root_dir_moves_everything(workdir):
    moved = ("--config=tiny.yaml", "--config=wandb.yaml", "--trainer.default_root_dir=elsewhere")
    ganbench(workdir, "fit", *moved, "--trainer.max_steps=30")
    output = ganbench(workdir, "fit", *moved, "--trainer.max_steps=45", "--ckpt_path=last")

    assert not (workdir / "runs").exists()  # nothing under the config's runs/, W&B's files included
    assert sorted(path.name for path in workdir.iterdir() if not path.name.startswith(".")) == [
        "csv.yaml",
        "elsewhere",
        "tiny.yaml",
        "wandb.yaml",
    ]
    folder = workdir / "elsewhere/tiny/version_0"
    assert "run folder elsewhere/tiny/version_0" in output and not (workdir / "elsewhere/tiny/version_1").exists()
    assert (folder / "checkpoints/last.ckpt").is_file() and (folder / "samples/step_0000045.png").is_file()
    first, resumed = (read_offline_run(path) for path in offline_runs(folder))
    assert first["id"] == resumed["id"] == yaml.safe_load((folder / "run.yaml").read_text())["wandb_id"]
    assert resumed["name"] == first["name"]
    resumed_steps = [row["trainer/global_step"] for row in resumed["history"] if "train/d_loss" in row]
    assert resumed_steps == [35, 40, 45]
    assert steps_with(csv_rows(folder), "train/d_loss") == list(range(5, 50, 5))  # metrics.csv kept, continued
    assert (folder / "config.yaml").is_file() and (folder / "config-resumed-1.yaml").is_file()


def test_tensorboard_and_csv_runs_in_a_row_keep_apart_and_log_scalars_and_images_at_the_same_steps(workdir):
    ganbench(workdir, "fit", "--config=tiny.yaml")
    ganbench(workdir, "fit", "--config=tiny.yaml", "--config=csv.yaml", "--seed_everything=1")

    folders = [workdir / f"runs/tiny/version_{index}" for index in range(2)]
    names = [yaml.safe_load((folder / "run.yaml").read_text())["name"] for folder in folders]
    assert names == ["tiny seed=0", "tiny seed=1"]
    events = EventAccumulator(str(folders[0]), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    assert [event.step for event in events.Scalars("train/d_loss")] == list(range(5, 50, 5))
    assert [event.step for event in events.Images("samples")] == [15, 30, 45]
    assert [event.step for event in events.Scalars("val/parzen_ll")] == [45]
    assert "hp_metric" in events.Tags()["scalars"]
    assert [event.value for event in events.Scalars("hp_metric")] == pytest.approx(
        [event.value for event in events.Scalars("val/parzen_ll")]
    )  # the real headline value, not a placeholder -1
    assert not list(folders[1].glob("events.out.tfevents.*"))  # CSV only
    for folder in folders:  # a metrics.csv beside TensorBoard too
        rows = csv_rows(folder)
        assert steps_with(rows, "train/d_loss") == list(range(5, 50, 5))
        assert steps_with(rows, "val/parzen_ll") == [45]
        assert (folder / "samples/step_0000045.png").is_file()
    assert csv_rows(folders[0]) != csv_rows(folders[1])  # another seed, other numbers


def test_test_writes_results_json_into_the_trained_runs_folder_and_logs_there(workdir):
    ganbench(workdir, "fit", "--config=tiny.yaml", "--run.name=my run", "--run.tags=[a,b]")
    checkpoint = workdir / "runs/tiny/version_0/checkpoints/last.ckpt"
    output = ganbench(workdir, "test", "--config=tiny.yaml", f"--ckpt_path={checkpoint}")

    folder = checkpoint.parent.parent
    assert sorted(path.name for path in (workdir / "runs/tiny").iterdir()) == ["version_0"]
    results = json.loads((folder / "results.json").read_text())
    assert results["stage"] == "test" and results["step"] == 45 and results["epoch"] == 0
    assert results["seed"] == 0 and results["checkpoint"] == str(checkpoint)
    assert results["run"]["name"] == "my run" and results["run"]["tags"] == ["a", "b"]
    parzen = results["metrics"]["test/parzen_ll"]
    protocol = parzen["protocol"]
    assert protocol["num_samples"] == 100 and protocol["sigma_chosen_on"] == "50 validation images"
    assert protocol["scored"] == "200 images of the test split" and protocol["sigma"] > 0
    assert parzen["unit"] == "nats" and parzen["standard_error"] > 0
    assert set(results["metrics"]) >= {"test/d_real", "test/d_fake", "test/parzen_se", "test/parzen_sigma"}
    table_line = next(line for line in output.splitlines() if "Parzen log-likelihood on MNIST test" in line)
    assert table_line.startswith("Parzen log-likelihood") and f"{parzen['value']:.2f}" in table_line
    rows = csv_rows(folder)
    assert steps_with(rows, "train/d_loss") == list(range(5, 50, 5))  # the training rows are kept
    (tested,) = [row for row in rows if row.get("test/parzen_ll")]
    assert int(tested["step"]) == 45 and float(tested["test/parzen_ll"]) == pytest.approx(parzen["value"])
    assert (folder / "config.yaml").is_file() and (folder / "config-test-1.yaml").is_file()


def test_no_last_checkpoint_starts_a_new_run_saying_so_and_tells_a_sweep_its_folder(workdir, monkeypatch):
    record = workdir / "record.txt"
    monkeypatch.setenv("GANBENCH_RUN_RECORD", str(record))
    result = run_ganbench("fit", "--config=tiny.yaml", "--trainer.max_steps=5", "--ckpt_path=last", cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "no last.ckpt under runs/tiny; starting a new run" in result.stdout
    everything = result.stdout + result.stderr  # an ordinary run: no library tips or deprecation notices
    assert "Tip:" not in everything and "deprecated" not in everything.lower()
    assert (workdir / "runs/tiny/version_0/checkpoints/last.ckpt").is_file()
    assert record.read_text().splitlines() == [str((workdir / "runs/tiny/version_0").absolute())]
