"""Run names, groups and tags from the config and the command line; run folders and run.yaml."""

import os
from pathlib import Path

import pytest
from jsonargparse import Namespace

from ganbench.runs.folders import (
    RunRecord,
    find_run_folder,
    new_run_folder,
    read_run_record,
    run_folder_of_checkpoint,
    write_run_record,
)
from ganbench.runs.names import (
    RunOptions,
    command_line_overrides,
    describe_run,
    experiment_name,
    short_key,
    short_value,
)

CONFIG = Namespace(
    model=Namespace(
        loss=Namespace(class_path="ganbench.losses.Minimax"),
        generator=Namespace(class_path="ganbench.nets.MLPGenerator"),
        discriminator=Namespace(class_path="ganbench.nets.MaxoutDiscriminator"),
        schedule="simultaneous",
    ),
    data=Namespace(class_path="ganbench.data.MNISTSampleDataModule"),
)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("configs/quickstart.yaml", "quickstart"),
        ("/home/me/ganbench/configs/mnist/paper.yaml", "mnist/paper"),
        ("/tmp/experiments/my_variant.yaml", "my_variant"),
    ],
)
def test_experiment_is_the_config_path_below_configs(path, expected):
    assert experiment_name([path]) == expected
    assert experiment_name([]) == "ganbench"


def test_overrides_keep_what_changes_training_and_drop_where_and_how_it_runs():
    words = [
        "fit",
        "--config",
        "configs/quickstart.yaml",
        "--model.loss=Minimax",
        "--model.discriminator.init_args.dropout",
        "0.5",
        "--trainer.max_steps=100",
        "--seed_everything=3",
        "--trainer.logger=WandbLogger",
        "--trainer.logger.init_args.project=x",
        "--trainer.callbacks+=configs/fid/mnist_classifier.yaml",
        "--trainer.default_root_dir=/tmp/x",
        "--trainer.devices=2",
        "--trainer.log_every_n_steps=5",
        "--ckpt_path",
        "last",
        "--run.name=mine",
        "--print_config",
    ]
    assert command_line_overrides(words) == [
        ("model.loss", "Minimax"),
        ("model.discriminator.init_args.dropout", "0.5"),
        ("trainer.max_steps", "100"),
    ]


def test_short_keys_and_values():
    assert short_key("model.discriminator.init_args.dropout") == "discriminator.dropout"
    assert short_key("trainer.max_steps") == "max_steps"
    assert short_key("data.init_args.batch_size") == "data.batch_size"
    assert short_value("ganbench.losses.Minimax") == "Minimax"
    assert short_value("0.5") == "0.5" and short_value("[256,512]") == "[256,512]"
    assert short_value(None) == "null" and short_value(True) == "true"


def test_name_group_and_tags_are_derived_unless_given():
    overrides = [("model.loss", "ganbench.losses.Minimax"), ("trainer.max_steps", "100")]
    name, group, tags = describe_run("quickstart", overrides, 1, CONFIG, RunOptions())
    assert name == "quickstart loss=Minimax max_steps=100 seed=1"
    assert group == "quickstart loss=Minimax max_steps=100"
    assert tags == ["MNIST", "Minimax", "MLPGenerator", "MaxoutDiscriminator", "simultaneous"]
    assert describe_run("quickstart", [], False, CONFIG, RunOptions())[:2] == ("quickstart", "quickstart")
    given = RunOptions(name="a", group="b", tags=["c"])
    assert describe_run("quickstart", overrides, 1, CONFIG, given) == ("a", "b", ["c"])


def test_new_run_folders_count_up_and_never_reuse_one(tmp_path):
    assert new_run_folder(tmp_path / "x").name == "version_0"
    (tmp_path / "x" / "version_7").mkdir()
    (tmp_path / "x" / "version_notes").mkdir()
    assert new_run_folder(tmp_path / "x").name == "version_8"


def test_last_is_the_newest_last_checkpoint_and_a_checkpoint_names_its_run(tmp_path):
    older, newer = tmp_path / "x/version_0", tmp_path / "x/version_1"
    for folder in (older, newer):
        (folder / "checkpoints").mkdir(parents=True)
        (folder / "config.yaml").write_text("{}")
    (newer / "checkpoints/last.ckpt").write_bytes(b"1")
    (older / "checkpoints/last.ckpt").write_bytes(b"0")
    os.utime(older / "checkpoints/last.ckpt", (2_000_000_000, 2_000_000_000))  # written later: the newest
    folder, checkpoint, existing = find_run_folder(tmp_path, "x", "last")
    assert (folder, Path(checkpoint), existing) == (older, older / "checkpoints/last.ckpt", True)
    assert find_run_folder(tmp_path, "x", str(newer / "checkpoints/last.ckpt"))[::2] == (newer, True)
    assert run_folder_of_checkpoint(tmp_path / "loose.ckpt") is None
    folder, checkpoint, existing = find_run_folder(tmp_path, "other", "last")
    assert (folder.name, checkpoint, existing) == ("version_0", None, False)


def test_run_record_round_trips_and_a_damaged_one_reads_as_none(tmp_path):
    record = RunRecord("quickstart", "quickstart seed=0", "quickstart", ["MNIST"], 0, "version_0", "abc12345")
    write_run_record(tmp_path, record)
    assert read_run_record(tmp_path) == record
    (tmp_path / "run.yaml").write_text("name: [unclosed")
    assert read_run_record(tmp_path) is None
    assert read_run_record(tmp_path / "missing") is None
