"""``ganbench compare RUN_DIR... [--out DIR] [--metrics KEY ...]``: compares runs across configs and seeds.

    ganbench compare runs/quickstart --out comparison

finds the run folders (folders holding the ``config.yaml`` that ``ganbench fit`` writes) among its
arguments and below them, groups the runs into *variants* (runs whose configs differ only in the
seed), and reports, for each variant and metric, the mean and standard deviation over seeds of each
run's final value (at its last step) and best value (highest Parzen log-likelihood or Inception
score, lowest FID or KID). It writes into the output folder:

- ``comparison.md``: the config keys that differ, the table (also printed) and the list of runs;
- ``comparison.json``: the same numbers, machine-readable;
- ``<metric>.png``: each metric against the step, one line per variant with a band of ± 1 std;
- ``samples.png``: the last sample grid of each variant, side by side.

This module reads the runs and groups them; :mod:`ganbench.compare_plots` computes the numbers and writes the files.

A run folder that cannot be read is skipped with one line on stderr; a mistake on the command line
ends in one ``ganbench compare: error: ...`` line and exit status 2.
"""

import argparse
import csv
import json
import math
import os
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ganbench.runs.names import short_key, short_value

PROGRAM = "ganbench compare"
# Config keys that say where a run writes or what it is called, not how it trains: never a variant's difference.
BOOKKEEPING_KEYS = ("seed_everything", "ckpt_path", "config", "run", "trainer.logger", "trainer.default_root_dir")
BOOKKEEPING_ENDINGS = (".dirpath",)
GRID_NAME = re.compile(r"step_(\d+)\.png")
UNSET = "(unset)"


class CompareError(Exception):
    """A mistake on the command line, or nothing to compare: one error line, exit status 2."""


class DamagedFile(Exception):
    """A file of a run folder that is missing or cannot be read; the message says which and why."""


@dataclass
class Run:
    """One run folder, as read from its files.

    Args:
        name: the folder as shown to the user (relative to the working folder when inside it).
        config: ``config.yaml`` flattened to dotted keys (see :func:`flatten`).
        seed: ``seed_everything``, or ``run.yaml``'s ``seed``; ``None`` if neither is a number.
        experiment: ``run.yaml``'s (or the config's ``run.experiment``) experiment name, if any.
        series: metric key -> ``(step, value)`` points of ``metrics.csv``, in file order.
        results: metric key -> value from ``results.json`` (``ganbench test``).
        sample_grid: the sample grid of the highest step, if any.
    """

    name: str
    config: dict[str, Any]
    seed: int | None
    experiment: str | None
    series: dict[str, list[tuple[int, float]]]
    results: dict[str, float] = field(default_factory=dict)
    sample_grid: Path | None = None


@dataclass
class Variant:
    """Runs whose configs differ only in the seed; ``settings`` holds their values of the differing keys."""

    label: str
    settings: dict[str, Any]
    runs: list[Run]


def warn(message: str) -> None:
    """Prints one ``ganbench compare: MESSAGE`` line on stderr."""
    print(f"{PROGRAM}: {message}", file=sys.stderr)


def shown(path: Path) -> str:
    """``path`` relative to the working folder when it is inside it, else absolute."""
    relative = os.path.relpath(path)
    return str(path) if relative.startswith("..") else relative


def search_run_folders(top: Path) -> Iterator[Path]:
    """Folders holding ``config.yaml`` at or below ``top``, not inside another run folder or a ``wandb`` folder."""
    for folder, subfolders, files in os.walk(top):
        if "config.yaml" in files:
            subfolders.clear()
            yield Path(folder).resolve()
        else:
            subfolders[:] = [name for name in subfolders if name != "wandb"]


def find_run_folders(arguments: Sequence[str]) -> list[Path]:
    """The run folders named by, or found below, the command's arguments: no duplicates, sorted.

    Args:
        arguments: run folders or folders that hold run folders.
    """
    folders: set[Path] = set()
    empty = []
    for argument in arguments:
        path = Path(argument)
        if not path.is_dir():
            raise CompareError(f"{argument} is not a folder" if path.exists() else f"{argument} does not exist")
        found = set(search_run_folders(path))
        folders |= found
        empty += [] if found else [argument]
    if not folders:
        raise CompareError(f"no run folder (a folder with config.yaml) in {', '.join(arguments)}")
    for argument in empty:
        warn(f"skipping {argument}: no run folder (a folder with config.yaml) in it")
    return sorted(folders, key=shown)


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings and lists as one mapping of dotted keys (list items by index: ``trainer.callbacks.1.x``).

    A ``{class_path, init_args}`` mapping puts its class path under its own key, so that ``loss: Minimax``
    and ``loss: {class_path: Minimax, init_args: {}}`` give the same ``model.loss``.

    Args:
        value: a value loaded from YAML.
        prefix: the dotted key of ``value``.
    """
    if isinstance(value, dict):
        items = list(value.items())
        flat = {}
        if prefix and "class_path" in value:
            flat[prefix] = value["class_path"]
            items = [(key, item) for key, item in items if key != "class_path"]
    elif isinstance(value, list):
        items, flat = list(enumerate(value)), {}
    else:
        return {prefix: value}
    for key, item in items:
        flat.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def read_yaml(path: Path) -> Any:
    """The content of a YAML file; raises :class:`DamagedFile` if it is missing or not valid YAML."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DamagedFile(f"{path.name} is missing") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError, ValueError):
        raise DamagedFile(f"{path.name} is not readable YAML") from None


def read_metrics(path: Path) -> dict[str, list[tuple[int, float]]]:
    """Metric key -> ``(step, value)`` points of a Lightning CSVLogger ``metrics.csv`` (empty cells skipped).

    Raises :class:`DamagedFile` if the file is missing, not text, has no ``step`` column or a cell that
    is not a number.
    """
    try:
        rows = [row for row in csv.reader(path.read_text(encoding="utf-8").splitlines()) if row]
    except FileNotFoundError:
        raise DamagedFile("metrics.csv is missing") from None
    except (OSError, UnicodeDecodeError, csv.Error):
        raise DamagedFile("metrics.csv is not a readable CSV file") from None
    if not rows or "step" not in rows[0]:
        raise DamagedFile("metrics.csv has no step column")
    header = rows[0]
    series: dict[str, list[tuple[int, float]]] = {key: [] for key in header if key not in ("step", "epoch")}
    for line, row in enumerate(rows[1:], start=2):
        cells = {key: cell for key, cell in zip(header, row) if cell != "" and key != "epoch"}
        try:
            step = int(float(cells.pop("step")))
            for key, cell in cells.items():
                series[key].append((step, float(cell)))
        except (KeyError, ValueError, OverflowError):
            raise DamagedFile(f"metrics.csv line {line} has a missing step or a cell that is not a number") from None
    return {key: points for key, points in series.items() if points}


def read_results(path: Path) -> dict[str, float]:
    """Metric key -> value of a ``results.json`` (``{"metrics": {key: {"value": ...}}}``); ``{}`` if absent."""
    if not path.exists():
        return {}
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))["metrics"]
        values = {key: entry["value"] if isinstance(entry, dict) else entry for key, entry in metrics.items()}
        return {key: math.nan if value is None else float(value) for key, value in values.items()}
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError):
        raise DamagedFile("results.json is not readable JSON with a metrics mapping of values") from None


def last_sample_grid(folder: Path) -> Path | None:
    """The run's ``samples/step_XXXXXXX.png`` of the highest step, ``None`` if it has none."""
    grids = [
        (int(match[1]), path) for path in folder.glob("samples/*.png") if (match := GRID_NAME.fullmatch(path.name))
    ]
    return max(grids)[1] if grids else None


def load_run(folder: Path) -> Run:
    """Reads one run folder; raises :class:`DamagedFile` if its ``config.yaml`` or ``metrics.csv`` is unusable."""
    config = read_yaml(folder / "config.yaml")
    if not isinstance(config, dict):
        raise DamagedFile("config.yaml is not a YAML mapping")
    series = read_metrics(folder / "metrics.csv")
    name = shown(folder)
    try:
        info = read_yaml(folder / "run.yaml") if (folder / "run.yaml").exists() else {}
    except DamagedFile as problem:
        warn(f"ignoring run.yaml of {name}: {problem}")
        info = {}
    info = info if isinstance(info, dict) else {}
    seeds = [seed for seed in (config.get("seed_everything"), info.get("seed")) if type(seed) is int]
    run_section = config.get("run") if isinstance(config.get("run"), dict) else {}
    experiment = info.get("experiment") or run_section.get("experiment")
    run = Run(name, flatten(config), seeds[0] if seeds else None, experiment, series, {}, last_sample_grid(folder))
    try:
        run.results = read_results(folder / "results.json")
    except DamagedFile as problem:
        warn(f"ignoring results.json of {name}: {problem}")
    return run


def load_runs(folders: Sequence[Path]) -> list[Run]:
    """The runs that can be read; each one that cannot is skipped with one line on stderr."""
    runs = []
    for folder in folders:
        try:
            runs.append(load_run(folder))
        except DamagedFile as problem:
            warn(f"skipping {shown(folder)}: {problem}")
    if not runs:
        raise CompareError(f"none of the {len(folders)} run folders could be read")
    return runs


def is_bookkeeping(key: str) -> bool:
    """Whether a flattened config key only names the seed, a folder, a logger or the run (never a difference)."""
    return key.endswith(BOOKKEEPING_ENDINGS) or any(
        key == name or key.startswith(f"{name}.") for name in BOOKKEEPING_KEYS
    )


def setting(run: Run, key: str) -> str:
    """A run's value of a config key, as text that tells apart types and a missing key."""
    return repr(run.config[key]) if key in run.config else UNSET


def differing_keys(runs: Sequence[Run]) -> list[str]:
    """The flattened config keys whose values (or presence) differ between the runs, bookkeeping keys aside."""
    keys = sorted({key for run in runs for key in run.config if not is_bookkeeping(key)})
    return [key for key in keys if len({setting(run, key) for run in runs}) > 1]


def short_label(settings: dict[str, Any]) -> str:
    """``{model.loss: ganbench.losses.Minimax, model.generator.init_args.x: 2}`` -> ``loss=Minimax generator.x=2``."""
    return " ".join(f"{short_key(key)}={short_value(value)}" for key, value in settings.items())


def group_variants(runs: Sequence[Run], keys: Sequence[str]) -> list[Variant]:
    """Groups the runs by their values of ``keys``: one variant per distinct set of values, sorted by label.

    Args:
        runs: the runs to compare.
        keys: the config keys that differ between them (:func:`differing_keys`).
    """
    groups: dict[tuple[str, ...], list[Run]] = {}
    for run in runs:
        groups.setdefault(tuple(setting(run, key) for key in keys), []).append(run)
    variants = []
    for members in groups.values():
        settings = {key: members[0].config.get(key, UNSET) for key in keys}
        members.sort(key=lambda run: (run.seed is None, run.seed or 0, run.name))
        variants.append(Variant(short_label(settings), settings, members))
    if not keys:
        experiments = {run.experiment for run in runs}
        variants[0].label = str(experiments.pop()) if len(experiments) == 1 and None not in experiments else "all runs"
    if len({variant.label for variant in variants}) < len(variants):  # short labels collide: show full keys
        for variant in variants:
            variant.label = " ".join(f"{key}={value!r}" for key, value in variant.settings.items())
    return sorted(variants, key=lambda variant: variant.label)


class OneLineErrorParser(argparse.ArgumentParser):
    """An ArgumentParser that raises :class:`CompareError` instead of printing its usage and exiting."""

    def error(self, message: str):
        raise CompareError(message)


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    """The command's arguments: ``runs``, ``out`` and ``metrics`` (``None`` for the default metrics)."""
    description = "Compares runs (their final and best metrics, curves and samples) across configs and seeds."
    parser = OneLineErrorParser(prog=PROGRAM, description=description, allow_abbrev=False)
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folders, or folders to search for them")
    parser.add_argument("--out", default="comparison", metavar="DIR", help="output folder (default: comparison)")
    parser.add_argument("--metrics", nargs="+", metavar="KEY", help="metric keys to report (default: all)")
    return parser.parse_args(argv)


def compare(arguments: Sequence[str], out: Path, requested: Sequence[str] | None) -> list[Path]:
    """Compares the runs found in ``arguments``, prints the table and writes the reports; returns their paths.

    Args:
        arguments: run folders, or folders to search for them.
        out: the output folder (made if missing).
        requested: the metric keys to report, or ``None`` for all.
    """
    from ganbench.compare_plots import select_metrics, summarize_all, table_lines, write_reports  # imports matplotlib

    runs = load_runs(find_run_folders(arguments))
    metrics = select_metrics(runs, requested)
    keys = differing_keys(runs)
    variants = group_variants(runs, keys)
    summaries = summarize_all(variants, metrics)
    print(f"{len(runs)} runs in {len(variants)} variants; config keys that differ: {', '.join(keys) or 'none'}")
    print("\n".join(table_lines(summaries)))
    try:
        out.mkdir(parents=True, exist_ok=True)
        return write_reports(out, keys, variants, summaries)
    except OSError as error:
        raise CompareError(f"cannot write into the output folder {out}: {error.strerror or error}") from None


def main(argv: list[str]) -> int:
    """``ganbench compare ARGS``; returns the exit status (2 for a mistake on the command line or no readable run).

    Args:
        argv: the command-line arguments after ``compare``.
    """
    try:
        options = parse_arguments(argv)
        written = compare(options.runs, Path(options.out), options.metrics)
    except CompareError as error:
        print(f"{PROGRAM}: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    except SystemExit as stop:  # --help
        return stop.code if isinstance(stop.code, int) else 0
    for path in written:
        print(f"wrote {shown(path)}")
    return 0
