"""What ``ganbench compare`` reports about its variants: statistics over seeds, tables and plots.

:mod:`ganbench.compare` reads the runs and groups them into variants; this module computes each
variant's numbers (:func:`summarize_all`) and writes them (:func:`write_reports`):

- ``comparison.md`` and ``comparison.json``: per variant and metric, the mean ± std over seeds of
  the runs' final and best values;
- ``<metric>.png``: each metric logged at more than one step, against the step: the mean over a
  variant's seeds at the steps they all logged, with a band of ± 1 standard deviation;
- ``samples.png``: the last sample grid of each variant, side by side.
"""

import json
import math
import re
import statistics
import textwrap
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no window: before pyplot is imported

import matplotlib.image  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import pyplot  # noqa: E402

from ganbench.compare import CompareError, Run, Variant, shown, warn  # noqa: E402

DASH = "—"
LOWER_IS_BETTER = re.compile(r"(^|_)fid($|_)|kid_mean")
HIGHER_IS_BETTER = (
    "parzen_ll",
    "inception_score",
    "log_likelihood",
    "classifier_score",
    "classifier_confidence",
    "class_accuracy",
)
SPREAD_ENDINGS = ("_se", "_sigma", "_std")  # uncertainties: not reported by default
PANELS_PER_ROW = 4


@dataclass
class MetricSummary:
    """One metric over one variant's runs: ``n`` runs with a finite final value, means and stds over seeds.

    A ``None`` mean is "no value"; a ``None`` std is "fewer than two values". ``runs`` lists each run's values.
    """

    n: int
    final_mean: float | None
    final_std: float | None
    best_mean: float | None
    best_std: float | None
    runs: list[dict[str, Any]]


def metric_direction(metric: str) -> int:
    """+1 if higher is better (Parzen log-likelihood, Inception and classifier scores, class accuracy), -1 if lower
    (FID, KID), 0 if neither (losses, class fractions)."""
    name = metric.rsplit("/", 1)[-1]
    if any(word in name for word in HIGHER_IS_BETTER):
        return 1
    return -1 if LOWER_IS_BETTER.search(name) else 0


def select_metrics(runs: Sequence[Run], requested: Sequence[str] | None) -> list[str]:
    """The metrics to report: ``requested``, or all but ``hp_metric`` and the ``_se``/``_sigma``/``_std`` ones.

    Raises :class:`CompareError` for a requested key that no run has.
    """
    available = sorted({key for run in runs for key in [*run.series, *run.results]})
    unknown = [key for key in requested or [] if key not in available]
    if unknown:
        raise CompareError(f"unknown metric {', '.join(unknown)}; the runs have: {', '.join(available)}")
    if requested:
        return list(dict.fromkeys(requested))
    return [key for key in available if key != "hp_metric" and not key.endswith(SPREAD_ENDINGS)]


def final_and_best(run: Run, metric: str) -> tuple[float, float | None] | None:
    """A run's value at its last step and its best value (``None`` for a metric with no better direction).

    A ``results.json`` value is both. ``None`` if the run does not have the metric.
    """
    if metric in run.results:
        return run.results[metric], run.results[metric]
    points = run.series.get(metric)
    if not points:
        return None
    last_step = max(step for step, _ in points)
    final = [value for step, value in points if step == last_step][-1]
    finite = [value for _, value in points if math.isfinite(value)]
    direction = metric_direction(metric)
    if direction == 0:
        return final, None
    if not finite:
        return final, math.nan
    return final, max(finite) if direction > 0 else min(finite)


def mean_and_std(values: Sequence[float]) -> tuple[float | None, float | None]:
    """Mean and standard deviation (ddof=1) of the finite values.

    The std is ``None`` for fewer than two finite values; the mean is NaN if no value is finite, ``None`` if
    there are no values at all.
    """
    finite = [value for value in values if math.isfinite(value)]
    if not finite:
        return (math.nan if values else None), None
    return statistics.fmean(finite), statistics.stdev(finite) if len(finite) > 1 else None


def summarize(variant: Variant, metric: str) -> MetricSummary | None:
    """One metric over a variant's runs; ``None`` if none of them has it."""
    values = [(run, final_and_best(run, metric)) for run in variant.runs]
    values = [(run, pair) for run, pair in values if pair is not None]
    if not values:
        return None
    finals = [final for _, (final, _) in values]
    bests = [best for _, (_, best) in values if best is not None]
    runs = [{"run": run.name, "seed": run.seed, "final": final, "best": best} for run, (final, best) in values]
    n = sum(math.isfinite(final) for final in finals)
    return MetricSummary(n, *mean_and_std(finals), *mean_and_std(bests), runs)


def summarize_all(variants: Sequence[Variant], metrics: Sequence[str]) -> dict[str, dict[str, MetricSummary]]:
    """Variant label -> metric -> summary, for the metrics each variant has."""
    summaries = {}
    for variant in variants:
        pairs = ((metric, summarize(variant, metric)) for metric in metrics)
        summaries[variant.label] = {metric: summary for metric, summary in pairs if summary is not None}
    return summaries


def mean_text(mean: float | None, std: float | None) -> str:
    """``46.08 ± 1.92`` (4 significant digits), ``46.08`` without a std, ``—`` without a value."""
    if mean is None:
        return DASH
    return f"{mean:.4g}" if std is None else f"{mean:.4g} ± {std:.4g}"


def cell(value: Any) -> str:
    """A value as a Markdown table cell."""
    return str(DASH if value is None else value).replace("|", "\\|")


def table_lines(summaries: dict[str, dict[str, MetricSummary]]) -> list[str]:
    """The Markdown table: one row per metric and variant, the variants of a metric next to each other."""
    lines = ["| metric | variant | n | final (mean ± std) | best (mean ± std) |", "|---|---|---|---|---|"]
    metrics = sorted({metric for by_metric in summaries.values() for metric in by_metric})
    for metric in metrics:
        for label, by_metric in summaries.items():
            if metric not in by_metric:
                continue
            summary = by_metric[metric]
            final = mean_text(summary.final_mean, summary.final_std)
            best = mean_text(summary.best_mean, summary.best_std)
            lines.append(f"| {cell(metric)} | {cell(label)} | {summary.n} | {final} | {best} |")
    return lines


def markdown(keys: Sequence[str], variants: Sequence[Variant], table: Sequence[str]) -> str:
    """The text of ``comparison.md``: the differing keys, the table, a note on the columns and the runs."""
    differing = ", ".join(f"`{key}`" for key in keys) if keys else "none (the runs differ only in their seed)"
    lines = ["# ganbench compare", "", f"Config keys that differ: {differing}", "", *table, ""]
    lines += [
        "final: the value at the run's last logged step; best: its highest (Parzen log-likelihood, Inception score)",
        "or lowest (FID, KID) value; mean ± standard deviation over the variant's seeds (ddof=1); n: runs with a",
        "finite final value. A `results.json` value (`ganbench test`) is both final and best.",
        "",
        "## Runs",
        "",
        "| run | variant | seed |",
        "|---|---|---|",
    ]
    lines += [
        f"| {cell(run.name)} | {cell(variant.label)} | {cell(run.seed)} |"
        for variant in variants
        for run in variant.runs
    ]
    return "\n".join(lines) + "\n"


def json_ready(value: Any) -> Any:
    """``value`` with NaN and infinite floats as ``None`` (null), so that the file is strict JSON."""
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_ready(item) for item in value]
    return None if isinstance(value, float) and not math.isfinite(value) else value


def comparison_json(keys: Sequence[str], variants: Sequence[Variant], summaries: dict) -> str:
    """The text of ``comparison.json``: ``variants`` maps label -> metric -> numbers (see :class:`MetricSummary`)."""
    content = {
        "differing_keys": list(keys),
        "variants": {
            label: {metric: asdict(summary) for metric, summary in metrics.items()}
            for label, metrics in summaries.items()
        },
        "settings": {variant.label: variant.settings for variant in variants},
        "runs": [
            {"run": run.name, "variant": variant.label, "seed": run.seed}
            for variant in variants
            for run in variant.runs
        ],
    }
    return json.dumps(json_ready(content), indent=2, allow_nan=False, default=str) + "\n"


def write_reports(out: Path, keys: Sequence[str], variants: Sequence[Variant], summaries: dict) -> list[Path]:
    """Writes ``comparison.md``, ``comparison.json`` and the plots into ``out``; returns the paths written.

    Args:
        out: the output folder (it exists).
        keys: the config keys that differ between the runs.
        variants: the variants, as grouped by :func:`ganbench.compare.group_variants`.
        summaries: their numbers, from :func:`summarize_all`.
    """
    written = [out / "comparison.md", out / "comparison.json"]
    written[0].write_text(markdown(keys, variants, table_lines(summaries)), encoding="utf-8")
    written[1].write_text(comparison_json(keys, variants, summaries), encoding="utf-8")
    metrics = list(dict.fromkeys(metric for by_metric in summaries.values() for metric in by_metric))
    for metric in metrics:
        path = out / f"{metric.replace('/', '_')}.png"
        if plot_metric(path, variants, metric):
            written.append(path)
    if plot_samples(out / "samples.png", variants):
        written.append(out / "samples.png")
    return written


def variant_curve(variant: Variant, metric: str) -> tuple[np.ndarray, np.ndarray] | None:
    """The steps at which all the variant's runs that log ``metric`` logged it, and their values (runs x steps).

    At a step logged twice (a resumed run), the later value counts. ``None`` if there is no such step.
    """
    by_step = [dict(run.series[metric]) for run in variant.runs if run.series.get(metric)]
    steps = sorted(set.intersection(*(set(values) for values in by_step))) if by_step else []
    if not steps:
        return None
    return np.array(steps), np.array([[values[step] for step in steps] for values in by_step])


def plot_metric(path: Path, variants: Sequence[Variant], metric: str) -> bool:
    """Plots ``metric`` against the step, one line per variant; returns ``False`` (writing nothing) if no
    variant has it at more than one step."""
    curves = [(variant.label, variant_curve(variant, metric)) for variant in variants]
    curves = [(label, curve) for label, curve in curves if curve is not None]
    if not any(len(steps) > 1 for _, (steps, _) in curves):
        return False
    figure, axes = pyplot.subplots(figsize=(7, 4.5))
    for label, (steps, values) in curves:
        mean = values.mean(axis=0)
        (line,) = axes.plot(steps, mean, marker="o" if len(steps) <= 30 else None, label=f"{label} (n={len(values)})")
        if len(values) > 1:
            spread = values.std(axis=0, ddof=1)
            axes.fill_between(steps, mean - spread, mean + spread, color=line.get_color(), alpha=0.2)
    axes.set(xlabel="step", ylabel=metric, title=f"{metric}: mean over seeds, band ± 1 std")
    axes.grid(alpha=0.3)
    axes.legend()
    save(figure, path)
    return True


def read_grid(variant: Variant) -> tuple[Run, np.ndarray] | None:
    """The first of the variant's runs with a readable sample grid, and the grid; an unreadable one is reported."""
    for run in variant.runs:
        if run.sample_grid is None:
            continue
        try:
            return run, matplotlib.image.imread(run.sample_grid)
        except (OSError, ValueError, SyntaxError):
            warn(f"ignoring the sample grid {shown(run.sample_grid)}: not a readable PNG image")
    return None


def plot_samples(path: Path, variants: Sequence[Variant]) -> bool:
    """Shows the last sample grid of each variant side by side; returns ``False`` (writing nothing) if none has one."""
    panels = [(variant, grid) for variant in variants if (grid := read_grid(variant)) is not None]
    if not panels:
        return False
    columns = min(len(panels), PANELS_PER_ROW)
    rows = math.ceil(len(panels) / columns)
    figure, axes_grid = pyplot.subplots(rows, columns, figsize=(3.2 * columns, 3.6 * rows), squeeze=False)
    for axes in axes_grid.flat:
        axes.axis("off")
    for axes, (variant, (run, image)) in zip(axes_grid.flat, panels):
        axes.imshow(image, cmap="gray" if image.ndim == 2 else None)
        seed = "unknown" if run.seed is None else run.seed
        axes.set_title(textwrap.fill(f"{variant.label} (seed {seed})", 32), fontsize=9)
    save(figure, path)
    return True


def save(figure: Any, path: Path) -> None:
    """Saves a figure as PNG and closes it."""
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    pyplot.close(figure)
