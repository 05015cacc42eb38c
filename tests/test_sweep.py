"""``ganbench sweep``: the grid, the printed commands, the W&B sweep file, bad input, and the runner."""

import json
import sys
import types
from pathlib import Path

import pytest
import yaml

from ganbench import sweep
from tests.conftest import REPO, run_ganbench

# Stands in for ``ganbench fit``: appends its arguments to the log file named by its first argument, records
# a fake run folder in $GANBENCH_RUN_RECORD, and exits with status 3 when given --model.loss=Bad.
FAKE_FIT = """
import json, os, sys
log, arguments = sys.argv[1], sys.argv[2:]
with open(log, "a") as handle:
    handle.write(json.dumps(arguments) + "\\n")
with open(os.environ["GANBENCH_RUN_RECORD"], "a") as handle:
    handle.write(os.path.join(os.path.dirname(log), "run_" + arguments[-1].split("=")[1]) + "\\n")
sys.exit(3 if "--model.loss=Bad" in arguments else 0)
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch) -> str:
    """A config file in an empty working folder; nothing may start a subprocess."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "base.yaml").write_text("seed_everything: 0\n")
    monkeypatch.setattr(sweep.subprocess, "Popen", lambda *args, **kwargs: pytest.fail("a run was started"))
    return "base.yaml"


def test_dry_run_prints_every_command_in_order_and_runs_nothing(config, tmp_path, capsys):
    argv = ["--config", config, "--grid", "model.loss=Minimax,NonSaturating", "--seeds", "0,1,2", "--dry-run"]
    assert sweep.main([*argv, "--", "--trainer.max_steps=50", "--trainer.accelerator=cpu"]) == 0
    expected = [
        f"ganbench fit --config base.yaml --trainer.max_steps=50 --trainer.accelerator=cpu --model.loss={loss} "
        f"--seed_everything={seed}"
        for loss in ("Minimax", "NonSaturating")
        for seed in (0, 1, 2)
    ]
    assert capsys.readouterr().out.splitlines() == expected
    assert sorted(path.name for path in tmp_path.iterdir()) == ["base.yaml"]


def test_dry_run_passes_unknown_options_and_quotes_for_the_shell(config, capsys):
    argv = ["--config", config, "--config", config, "--trainer.max_steps", "5", "--dry-run"]
    assert sweep.main([*argv, "--grid", "model.generator.init_args.hidden_dims=[256, 512]"]) == 0
    expected = "ganbench fit --config base.yaml --config base.yaml --trainer.max_steps 5 "
    assert capsys.readouterr().out == expected + "'--model.generator.init_args.hidden_dims=[256, 512]'\n"


def test_values_split_on_commas_outside_brackets_braces_and_quotes():
    assert sweep.split_values("[256,512],[128,256]") == ["[256,512]", "[128,256]"]
    assert sweep.split_values("Minimax, NonSaturating") == ["Minimax", "NonSaturating"]
    assert sweep.split_values('{a: 1, b: [2, 3]},"x,y",z') == ["{a: 1, b: [2, 3]}", '"x,y"', "z"]
    grid = sweep.parse_grid(["model.generator.init_args.hidden_dims=[256,512],[128,256]"])
    assert grid == {"model.generator.init_args.hidden_dims": ["[256,512]", "[128,256]"]}


def test_two_grid_keys_give_their_cartesian_product_with_seeds_inner():
    grid = sweep.parse_grid(["a=1,2", "b=x,y,z"])
    runs = sweep.grid_overrides(grid, [7, 8])
    assert len(runs) == 12
    assert runs[:3] == [["--a=1", "--b=x", "--seed_everything=7"], ["--a=1", "--b=x", "--seed_everything=8"]] + [
        ["--a=1", "--b=y", "--seed_everything=7"]
    ]
    assert runs[-1] == ["--a=2", "--b=z", "--seed_everything=8"]
    assert sweep.grid_overrides(grid, None)[:2] == [["--a=1", "--b=x"], ["--a=1", "--b=y"]]
    assert sweep.grid_overrides({}, None) == [[]]


def test_wandb_sweep_writes_the_grid_as_a_wandb_sweep_configuration(config, tmp_path, capsys):
    argv = ["--config", config, "--grid", "model.loss=Minimax,NonSaturating", "--wandb-sweep", "sweep.yaml"]
    argv += ["--grid", "model.discriminator.init_args.dropout=0.3,0.5", "--grid", "model.x=[1,2],true,on,10"]
    assert sweep.main([*argv, "--seeds", "0,1,2", "--", "--trainer.max_steps=50"]) == 0
    assert yaml.safe_load((tmp_path / "sweep.yaml").read_text()) == {
        "program": "ganbench",
        "method": "grid",
        "name": "base",
        "command": ["${program}", "fit", "--config", "base.yaml", "--trainer.max_steps=50", "${args}"],
        "parameters": {
            "model.loss": {"values": ["Minimax", "NonSaturating"]},
            "model.discriminator.init_args.dropout": {"values": [0.3, 0.5]},
            "model.x": {"values": ["[1,2]", True, "on", 10]},
            "seed_everything": {"values": [0, 1, 2]},
        },
    }
    output = capsys.readouterr().out
    assert "sweep.yaml (48 runs)" in output and "wandb sweep sweep.yaml" in output and "wandb agent" in output


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--grid", "model.loss=Minimax"], "no --config given"),
        (["--config", "missing.yaml"], "config file not found: missing.yaml"),
        (["--config", "base.yaml", "--grid", "model.loss"], "is not KEY=V1,V2,..."),
        (["--config", "base.yaml", "--grid", "model.loss="], "has an empty value"),
        (["--config", "base.yaml", "--grid", "model.loss=Minimax,"], "has an empty value"),
        (["--config", "base.yaml", "--grid", "a=[1,2"], "unbalanced brackets"),
        (["--config", "base.yaml", "--seeds", "0,x"], "--seeds '0,x' is not a list of integers"),
        (["--config", "base.yaml", "--seeds", ""], "is not a list of integers"),
        (["--config", "base.yaml", "--grid", "a=1", "--grid", "a=2"], "--grid a is given twice"),
        (["--config", "base.yaml", "--grid", "seed_everything=1", "--seeds", "2"], "both in --grid and --seeds"),
        (["--config", "base.yaml", "--dry-run", "--compare", "out"], "not allowed with"),
        (["--config", "base.yaml", "--seeds"], "expected one argument"),
        (["--config", "base.yaml", "--wandb-sweep", "no/such/folder/sweep.yaml"], "cannot write --wandb-sweep"),
    ],
)
def test_bad_input_is_one_line_and_exit_status_2(config, capsys, argv, message):
    assert sweep.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.splitlines()) == 1
    assert captured.err.startswith("ganbench sweep: error: ") and message in captured.err


def test_runner_goes_on_after_a_failed_run_and_reports_it(tmp_path, capsys):
    script, log = tmp_path / "fake_fit.py", tmp_path / "log.txt"
    script.write_text(FAKE_FIT)
    runs = sweep.grid_overrides(sweep.parse_grid(["model.loss=Minimax,Bad"]), [0, 1])
    outcomes = sweep.run_sweep(["a.yaml", "b.yaml"], runs, ["--x=1"], program=[sys.executable, str(script), str(log)])
    assert sweep.report(outcomes) == 1
    arguments = [json.loads(line) for line in log.read_text().splitlines()]
    assert arguments == [["--config", "a.yaml", "--config", "b.yaml", "--x=1", *overrides] for overrides in runs]
    assert [outcome.status for outcome in outcomes] == ["ok", "ok", "failed (exit 3)", "failed (exit 3)"]
    assert [outcome.folder for outcome in outcomes] == [str(tmp_path / f"run_{seed}") for seed in (0, 1, 0, 1)]
    lines = capsys.readouterr().out.splitlines()
    header = "ganbench fit --config a.yaml --config b.yaml --x=1 --model.loss=Minimax --seed_everything=1"
    assert lines[1] == f"[2/4] {header}"
    assert lines[5] == "ganbench sweep: 2 ok, 2 failed"
    assert lines[6].split() == ["ok", "--model.loss=Minimax", "--seed_everything=0", str(tmp_path / "run_0")]
    assert lines[8].split() == [
        "failed",
        "(exit",
        "3)",
        "--model.loss=Bad",
        "--seed_everything=0",
        str(tmp_path / "run_0"),
    ]
    assert lines[10] == f"compare them: ganbench compare {tmp_path / 'run_0'} {tmp_path / 'run_1'}"


def test_compare_gets_the_folders_of_the_successful_runs(monkeypatch, tmp_path, capsys):
    calls = []
    fake_compare = types.SimpleNamespace(main=lambda argv: calls.append(argv) or 0)
    monkeypatch.setitem(sys.modules, "ganbench.compare", fake_compare)
    outcomes = [sweep.Outcome(["--a=1"], 0, "/runs/1"), sweep.Outcome(["--a=2"], 0, "/runs/2")]
    assert sweep.report(outcomes, str(tmp_path / "out")) == 0
    assert calls == [["/runs/1", "/runs/2", "--out", str(tmp_path / "out")]]
    outcomes.append(sweep.Outcome(["--a=3"], 1, None))
    assert sweep.report(outcomes, str(tmp_path / "out")) == 1 and len(calls) == 2
    outcomes.append(sweep.Outcome(["--a=4"], 0, None))  # a successful run whose folder is unknown: no comparison
    assert sweep.report(outcomes, str(tmp_path / "out")) == 1 and len(calls) == 2
    assert capsys.readouterr().out.splitlines()[-1].split() == ["ok", "--a=4", "—"]


def test_ctrl_c_stops_the_sweep_and_reports_what_ran(monkeypatch, tmp_path, capsys):
    waited = []

    def wait_for(process):
        waited.append(process.args)
        process.wait()
        if len(waited) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(sweep, "wait_for", wait_for)
    program = [sys.executable, "-c", "import sys; sys.exit(0)"]
    outcomes = sweep.run_sweep(["a.yaml"], [["--a=1"], ["--a=2"], ["--a=3"]], [], program=program)
    assert [outcome.status for outcome in outcomes] == ["ok", "interrupted", "not run"]
    assert sweep.report(outcomes) == 130
    assert "1 ok, 1 interrupted, 1 not run" in capsys.readouterr().out


def test_entry_point_dispatches_sweep():
    result = run_ganbench(
        *["sweep", "--config", "configs/quickstart.yaml", "--grid", "model.loss=Minimax,NonSaturating"],
        *["--seeds", "0,1", "--dry-run", "--", "--trainer.max_steps=5"],
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"ganbench fit --config configs/quickstart.yaml --trainer.max_steps=5 --model.loss={loss} "
        f"--seed_everything={seed}"
        for loss in ("Minimax", "NonSaturating")
        for seed in (0, 1)
    ]
