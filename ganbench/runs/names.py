"""What a run is called: its experiment, name, group and tags, from the config and the command line.

A run of ``ganbench fit --config configs/quickstart.yaml --model.loss=Minimax --seed_everything=1`` is
experiment ``quickstart``, named ``quickstart loss=Minimax seed=1`` and grouped ``quickstart loss=Minimax``,
so that the seeds of one variant line up on a dashboard; its tags name the data set, the loss, the
networks and the schedule. ``--run.name``, ``--run.group`` and ``--run.tags`` override each.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Command-line keys that say where or how a run executes, not what it trains: left out of names.
_NOT_IN_NAMES = (
    "config",
    "seed_everything",
    "ckpt_path",
    "print_config",
    "run.",
    "trainer.logger",
    "trainer.default_root_dir",
    "trainer.callbacks",
    "trainer.accelerator",
    "trainer.devices",
    "trainer.strategy",
    "trainer.num_nodes",
    "trainer.enable_",
    "trainer.log_every_n_steps",
    "trainer.num_sanity_val_steps",
    "trainer.profiler",
)


@dataclass
class RunOptions:
    """How a run is named and filed (the ``run:`` section of a config, ``--run.name=...`` on the command line).

    Args:
        experiment: the folder under ``trainer.default_root_dir`` and the start of every name; by default
            the first config file's path below ``configs/`` without ``.yaml`` (``mnist/paper``).
        name: the run's name; by default the experiment, the command-line overrides and the seed.
        group: the run's group (W&B); by default the name without the seed, so seeds of a variant group.
        tags: the run's tags (W&B); by default the data set, loss, networks and schedule.
    """

    experiment: str | None = None
    name: str | None = None
    group: str | None = None
    tags: list[str] | None = None


def experiment_name(config_paths: Sequence[Any]) -> str:
    """The experiment a config file describes: its path below a ``configs`` folder, without ``.yaml``.

    ``configs/quickstart.yaml`` gives ``quickstart``, ``configs/mnist/paper.yaml`` gives ``mnist/paper``,
    any other file its stem; no config file gives ``ganbench``.

    Args:
        config_paths: the ``--config`` files in the order given.
    """
    if not config_paths:
        return "ganbench"
    path = Path(str(getattr(config_paths[0], "absolute", config_paths[0])))
    parts = path.with_suffix("").parts
    if "configs" in parts[:-1]:
        below = parts[len(parts) - 1 - parts[::-1].index("configs") + 1 :]
        return "/".join(below)
    return path.stem


def command_line_overrides(words: Iterable[str]) -> list[tuple[str, str]]:
    """The ``--key=value`` / ``--key value`` options that change what a run trains, in order.

    Options that only say where or how it runs (config files, seed, checkpoint, logger, devices,
    callbacks, output folder) are left out; the seed is named apart.

    Args:
        words: the command line after the program name (``fit --config c.yaml --model.loss=Minimax``).
    """
    words = list(words)
    overrides: list[tuple[str, str]] = []
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if not word.startswith("--"):
            continue
        key, equals, value = word[2:].partition("=")
        if not equals:
            if index >= len(words) or words[index].startswith("--"):
                continue  # a flag without a value (--print_config)
            value, index = words[index], index + 1
        if "+" in key or key.startswith(_NOT_IN_NAMES):
            continue
        overrides.append((key, value))
    return overrides


def short_key(key: str) -> str:
    """A config key as run names show it.

    ``model.discriminator.init_args.dropout`` -> ``discriminator.dropout``; ``trainer.max_steps`` -> ``max_steps``.
    """
    parts = [part for part in key.split(".") if part != "init_args"]
    if parts and parts[0] in ("model", "trainer") and len(parts) > 1:
        parts = parts[1:]
    return ".".join(parts)


def short_value(value: Any) -> str:
    """A class path by its class name (``ganbench.losses.Minimax`` -> ``Minimax``), ``None`` as ``null``,
    ``True`` as ``true``, anything else as written."""
    if value is None or isinstance(value, bool):
        return "null" if value is None else str(value).lower()
    text = str(value)
    head, _, tail = text.rpartition(".")
    if head and tail[:1].isupper() and all(part.isidentifier() for part in text.split(".")):
        return tail
    return text


def describe_run(
    experiment: str, overrides: Sequence[tuple[str, str]], seed: Any, config: Any, options: RunOptions
) -> tuple[str, str, list[str]]:
    """The run's ``(name, group, tags)``: the user's where given, else derived.

    Args:
        experiment: the experiment name.
        overrides: the command-line overrides (:func:`command_line_overrides`).
        seed: ``seed_everything`` (an int, or ``False``/``None`` for no fixed seed).
        config: the subcommand's config (``model``, ``data``) for the tags.
        options: the ``run:`` options given by the user.
    """
    variant = " ".join([experiment] + [f"{short_key(key)}={short_value(value)}" for key, value in overrides])
    name = options.name or (f"{variant} seed={seed}" if fixed_seed(seed) is not None else variant)
    group = options.group or variant
    tags = list(options.tags) if options.tags is not None else default_tags(config)
    return name, group, tags


def fixed_seed(seed: Any) -> int | None:
    """``seed_everything`` when it is a fixed seed (an int), ``None`` for ``False``, ``True`` or ``None``."""
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else None


def default_tags(config: Any) -> list[str]:
    """The data set, loss, generator, discriminator and schedule of a config, as short names."""
    model = _get(config, "model")
    tags = [dataset_tag(_class_path(_get(config, "data")))]
    tags += [short_value(_class_path(_get(model, part))) for part in ("loss", "generator", "discriminator")]
    tags.append(str(_get(model, "schedule") or ""))
    return [tag[:64] for tag in dict.fromkeys(tags) if tag and tag != "None"]


def dataset_tag(class_path: str | None) -> str:
    """``ganbench.data.MNISTSampleDataModule`` -> ``MNIST``; ``FashionMNISTDataModule`` -> ``FashionMNIST``."""
    name = short_value(class_path or "")
    return name.removesuffix("DataModule").removesuffix("Sample") or name


def _class_path(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    found = _get(value, "class_path")
    return str(found) if found is not None else type(value).__name__


def _get(container: Any, key: str) -> Any:
    """``container[key]`` for a dict or a jsonargparse Namespace, ``None`` when absent."""
    if container is None:
        return None
    if isinstance(container, dict):
        return container.get(key)
    try:
        return container.get(key) if hasattr(container, "get") else getattr(container, key, None)
    except (KeyError, AttributeError, TypeError):
        return None
