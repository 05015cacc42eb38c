"""ganbench sweep: runs ganbench fit once for each point of a grid of overrides and seeds, one after another.

    ganbench sweep --config configs/quickstart.yaml \\
        --grid model.loss=Minimax,NonSaturating --seeds 0,1,2 -- --trainer.max_steps=500

runs six fits (the two losses outer, the three seeds inner), going on after a failed one, then
prints one line per run: its status, its overrides and its run folder. --dry-run prints the
commands instead, one per line (for a SLURM array or any scheduler); --wandb-sweep FILE writes the
same grid as a W&B sweep configuration; --compare OUT_DIR runs ganbench compare on the successful
runs. Everything after --, and any option that ganbench sweep does not know, goes to every run.
"""

import argparse
import itertools
import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from ganbench.runs.names import experiment_name
from ganbench.runs.plan import RUN_RECORD_FILE  # names a file where ganbench fit appends its run folder

FIT_PROGRAM = (sys.executable, "-m", "ganbench.cli", "fit")
SHOWN_PROGRAM = ("ganbench", "fit")  # how a command is printed
UNKNOWN = "—"
CLOSING = {"[": "]", "{": "}", "(": ")"}


class SweepError(Exception):
    """A mistake on the command line, reported in one line."""


class OneLineErrorParser(argparse.ArgumentParser):
    """An ArgumentParser that raises :class:`SweepError` instead of printing its usage and exiting."""

    def error(self, message: str):
        raise SweepError(message)


@dataclass
class Outcome:
    """One run of a sweep and what became of it.

    Args:
        overrides: the run's grid overrides, e.g. ``["--model.loss=Minimax", "--seed_everything=0"]``.
        exit_status: its exit status, or ``None`` if it was not started.
        folder: its run folder as ``ganbench fit`` recorded it, or ``None`` if unknown.
        interrupted: whether Ctrl-C stopped it.
    """

    overrides: list[str]
    exit_status: int | None = None
    folder: str | None = None
    interrupted: bool = False

    @property
    def status(self) -> str:
        """``ok``, ``failed (exit N)``, ``interrupted`` or ``not run``."""
        if self.interrupted:
            return "interrupted"
        if self.exit_status is None:
            return "not run"
        return "ok" if self.exit_status == 0 else f"failed (exit {self.exit_status})"


def split_values(text: str) -> list[str]:
    """Splits ``text`` on the commas that are not inside brackets, braces or quotes.

    Args:
        text: e.g. ``"[256,512],[128,256]"``, which gives ``["[256,512]", "[128,256]"]``.
    """
    values, current, closers, quote = [], "", [], None
    for character in text:
        if quote:
            quote = None if character == quote else quote
        elif character in "'\"":
            quote = character
        elif character in CLOSING:
            closers.append(CLOSING[character])
        elif character in CLOSING.values() and (not closers or closers.pop() != character):
            raise SweepError(f"unbalanced brackets in {text!r}")
        elif character == "," and not closers:
            values.append(current.strip())
            current = ""
            continue
        current += character
    if quote or closers:
        raise SweepError(f"unbalanced brackets or quotes in {text!r}")
    return values + [current.strip()]


def parse_grid(options: Sequence[str]) -> dict[str, list[str]]:
    """The grid, ``{key: values}`` in the given order, from the texts given to ``--grid KEY=V1,V2,...``.

    Args:
        options: the texts given to ``--grid``.
    """
    grid: dict[str, list[str]] = {}
    for option in options:
        key, equals, text = option.partition("=")
        key = key.strip().removeprefix("--")
        if not equals or not key:
            raise SweepError(f"--grid {option!r} is not KEY=V1,V2,... (e.g. --grid model.loss=Minimax,NonSaturating)")
        if key in grid:
            raise SweepError(f"--grid {key} is given twice; give all its values in one --grid {key}=V1,V2,...")
        grid[key] = split_values(text)
        if not all(grid[key]):
            raise SweepError(f"--grid {option!r} has an empty value; give the values as {key}=V1,V2,...")
    return grid


def parse_seeds(text: str | None) -> list[int] | None:
    """The seeds of ``--seeds 0,1,2``, or ``None`` (keep the config's seed) when not given.

    Args:
        text: the text given to ``--seeds``.
    """
    try:
        return None if text is None else [int(seed) for seed in text.split(",")]
    except ValueError:
        raise SweepError(f"--seeds {text!r} is not a list of integers such as 0,1,2") from None


def grid_overrides(grid: dict[str, list[str]], seeds: list[int] | None) -> list[list[str]]:
    """Every run's overrides: the cartesian product of the grid (first key slowest), then the seeds.

    Args:
        grid: ``{key: values}``.
        seeds: the seeds, or ``None`` to keep the config's seed.
    """
    seed_overrides = [[]] if seeds is None else [[f"--seed_everything={seed}"] for seed in seeds]
    variants = [
        [f"--{key}={value}" for key, value in zip(grid, values)] for values in itertools.product(*grid.values())
    ]
    return [variant + seed_override for variant in variants for seed_override in seed_overrides]


def fit_command(
    configs: Sequence[str], overrides: Sequence[str], extra: Sequence[str], program: Sequence[str] = FIT_PROGRAM
) -> list[str]:
    """The command of one run: ``PROGRAM --config C1 [--config C2 ...] EXTRA... OVERRIDES...``.

    Args:
        configs: the config files, in order.
        overrides: the run's grid overrides.
        extra: the arguments given to every run.
        program: the command that runs ``ganbench fit``.
    """
    return [*program, *(word for config in configs for word in ("--config", config)), *extra, *overrides]


def run_sweep(
    configs: Sequence[str], runs: Sequence[list[str]], extra: Sequence[str], program: Sequence[str] = FIT_PROGRAM
) -> list[Outcome]:
    """Runs the runs one after another, going on after a failure and stopping at Ctrl-C.

    Args:
        configs: the config files, in order.
        runs: each run's grid overrides.
        extra: the arguments given to every run.
        program: the command that runs ``ganbench fit``.

    Returns:
        One :class:`Outcome` per run.
    """
    outcomes = [Outcome(overrides) for overrides in runs]
    for index, outcome in enumerate(outcomes, start=1):
        try:
            print(f"[{index}/{len(runs)}] {shlex.join(fit_command(configs, outcome.overrides, extra, SHOWN_PROGRAM))}")
            sys.stdout.flush()
            run_one(outcome, fit_command(configs, outcome.overrides, extra, program))
        except KeyboardInterrupt:
            outcome.interrupted = True
            print(f"ganbench sweep: interrupted at run {index} of {len(runs)}", file=sys.stderr)
            break
        if outcome.exit_status != 0:
            print(f"[{index}/{len(runs)}] {outcome.status}", file=sys.stderr, flush=True)
    return outcomes


def run_one(outcome: Outcome, command: list[str]) -> None:
    """Runs ``command``, then reads its run folder from the file that ``$GANBENCH_RUN_RECORD`` names.

    Args:
        outcome: the run, whose exit status and folder are filled in.
        command: the command that runs it.
    """
    handle, record = tempfile.mkstemp(prefix="ganbench-run-", suffix=".txt")
    os.close(handle)
    try:
        process = subprocess.Popen(command, env={**os.environ, RUN_RECORD_FILE: record})
        try:
            wait_for(process)
        finally:
            outcome.exit_status = process.returncode
    finally:
        lines = [line.strip() for line in Path(record).read_text().splitlines() if line.strip()]
        outcome.folder = lines[-1] if lines else None
        os.unlink(record)


def wait_for(process: subprocess.Popen) -> None:
    """Waits for ``process``; at Ctrl-C, lets it stop by itself (saving its checkpoint), then re-raises.

    The run got the same Ctrl-C from the terminal; a second Ctrl-C kills it.

    Args:
        process: a started run.
    """
    try:
        process.wait()
    except KeyboardInterrupt:
        try:
            process.wait()
        except KeyboardInterrupt:
            process.kill()
            process.wait()
        raise


def report(outcomes: Sequence[Outcome], compare_folder: str | None = None) -> int:
    """Prints the summary table and the compare hint, or runs ``ganbench compare``; returns the exit status.

    Args:
        outcomes: the runs of the sweep.
        compare_folder: where ``ganbench compare`` writes, or ``None`` to only print the hint.

    Returns:
        0 if every run succeeded, 1 if one failed (or the comparison did), 130 if the sweep was interrupted.
    """
    print_summary(outcomes)
    if any(outcome.interrupted for outcome in outcomes):
        return 130
    failed = any(outcome.status != "ok" for outcome in outcomes)
    folders = [outcome.folder for outcome in outcomes if outcome.status == "ok"]
    if not folders or None in folders:
        return int(failed)
    if compare_folder is None:
        print(f"compare them: {shlex.join(['ganbench', 'compare', *folders])}")
        return int(failed)
    from ganbench.compare import main as compare_main

    arguments = [*folders, "--out", compare_folder]
    print(shlex.join(["ganbench", "compare", *arguments]), flush=True)
    return int(compare_main(arguments) != 0 or failed)


def print_summary(outcomes: Sequence[Outcome]) -> None:
    """Prints how many runs ended how, then one line per run: status, overrides, run folder.

    Args:
        outcomes: the runs of the sweep.
    """
    counts = {status: 0 for status in ("ok", "failed", "interrupted", "not run")}
    for outcome in outcomes:
        counts[outcome.status.partition(" (")[0]] += 1
    print("\nganbench sweep: " + ", ".join(f"{count} {status}" for status, count in counts.items() if count))
    rows = [(outcome.status, shlex.join(outcome.overrides) or "(no overrides)", outcome.folder) for outcome in outcomes]
    status_width = max(len(status) for status, _, _ in rows)
    overrides_width = max(len(overrides) for _, overrides, _ in rows)
    for status, overrides, folder in rows:
        print(f"  {status:<{status_width}}  {overrides:<{overrides_width}}  {folder or UNKNOWN}")


def wandb_value(text: str) -> str | int | float | bool:
    """A grid value for W&B: a number or ``true``/``false`` as such, anything else as the text given.

    Args:
        text: the value as given to ``--grid``.
    """
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, bool):
        return value if text.lower() in ("true", "false") else text  # not YAML 1.1's yes/no/on/off
    return value if isinstance(value, (int, float)) else text


def wandb_sweep_config(configs: Sequence[str], grid: dict, seeds: list[int] | None, extra: Sequence[str]) -> dict:
    """The W&B sweep configuration of the grid, whose agent runs ``ganbench fit ... --KEY=VALUE ...``.

    Args:
        configs: the config files, in order; the first one's experiment names the sweep.
        grid: ``{key: values}``.
        seeds: the seeds, or ``None`` to keep the config's seed.
        extra: the arguments given to every run.
    """
    parameters = {key: {"values": [wandb_value(value) for value in values]} for key, values in grid.items()}
    if seeds is not None:
        parameters["seed_everything"] = {"values": list(seeds)}
    command = ["${program}", *fit_command(configs, [], extra, program=["fit"]), "${args}"]
    name = experiment_name(configs)
    return {"program": "ganbench", "method": "grid", "name": name, "command": command, "parameters": parameters}


def write_wandb_sweep(path: str, configuration: dict, run_count: int) -> None:
    """Writes ``configuration`` to ``path`` and prints how to start the sweep.

    Args:
        path: the YAML file to write.
        configuration: the W&B sweep configuration.
        run_count: how many runs the grid has.
    """
    try:
        Path(path).write_text(yaml.safe_dump(configuration, sort_keys=False))
    except OSError as error:
        raise SweepError(f"cannot write --wandb-sweep {path}: {error.strerror or error}") from None
    print(f"wrote the W&B sweep configuration {path} ({run_count} runs); start it with")
    print(f"  wandb sweep {shlex.quote(path)}")
    print("  wandb agent ENTITY/PROJECT/SWEEP_ID    (on each machine; the runs need a WandbLogger in their config)")


def parse_arguments(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    """The options of ``ganbench sweep``, and the arguments for every run (unknown options, then those after ``--``).

    Args:
        argv: the command-line arguments after ``sweep``.
    """
    parser = OneLineErrorParser(
        prog="ganbench sweep", allow_abbrev=False, description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--config", action="append", default=[], metavar="FILE", help="config file (repeatable)")
    parser.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2", help="values of a key (repeatable)")
    parser.add_argument("--seeds", metavar="0,1,2", help="seeds (default: the config's seed)")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--dry-run", action="store_true", help="print the commands, one per line; run nothing")
    action.add_argument("--wandb-sweep", metavar="FILE", help="write a W&B sweep configuration; run nothing")
    action.add_argument("--compare", metavar="OUT_DIR", help="run ganbench compare on the successful runs")
    words = list(argv)
    end = words.index("--") if "--" in words else len(words)
    options, unknown = parser.parse_known_args(words[:end])
    if not options.config:
        raise SweepError("no --config given (e.g. --config configs/quickstart.yaml)")
    for config in options.config:
        if not Path(config).is_file():
            raise SweepError(f"config file not found: {config}")
    return options, unknown + words[end + 1 :]


def main(argv: list[str]) -> int:
    """``ganbench sweep ARGS``; returns the exit status (2 for a mistake on the command line).

    Args:
        argv: the command-line arguments after ``sweep``.
    """
    try:
        options, extra = parse_arguments(argv)
        grid, seeds = parse_grid(options.grid), parse_seeds(options.seeds)
        if seeds is not None and "seed_everything" in grid:
            raise SweepError("seed_everything is both in --grid and --seeds; give the seeds with --seeds")
        runs = grid_overrides(grid, seeds)
        if options.wandb_sweep:
            write_wandb_sweep(options.wandb_sweep, wandb_sweep_config(options.config, grid, seeds, extra), len(runs))
            return 0
    except SweepError as error:
        print(f"ganbench sweep: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    except SystemExit as stop:  # --help
        return stop.code if isinstance(stop.code, int) else 0
    if options.dry_run:
        for overrides in runs:
            print(shlex.join(fit_command(options.config, overrides, extra, SHOWN_PROGRAM)))
        return 0
    return report(run_sweep(options.config, runs, extra), options.compare)
