"""Points every logger, the checkpoints and ``trainer.default_root_dir`` of a config at the run's folder.

This edits the subcommand's parsed config before LightningCLI builds the trainer, so each logger is
built by Lightning as usual, only told where to write and what the run is called:

- TensorBoard and CSV: ``save_dir``, ``name`` and ``version`` so that their ``log_dir`` is the folder
  (TensorBoard's placeholder ``hp_metric`` of -1 is turned off: the evaluation callbacks log a real one).
- Weights & Biases: ``save_dir`` the folder (W&B's files go to ``<folder>/wandb/``), ``id`` the run's
  id from ``run.yaml`` (a resumed run continues the same W&B run), ``name``, ``group`` and ``tags``
  unless the config sets them, ``project`` ``ganbench`` unless set.
- A ``CSVLogger`` is added when none is configured, so every run folder has ``metrics.csv`` for
  ``ganbench compare``; ``logger: false`` still means no logger at all.
- Checkpoint callbacks without a ``dirpath`` save to ``<folder>/checkpoints``.

``trainer.log_dir`` is then the run folder whatever the loggers are, which is where ganbench's
callbacks (sample grids, config, results) write.
"""

import importlib
from pathlib import Path
from typing import Any

from jsonargparse import Namespace
from lightning.pytorch.callbacks import ModelCheckpoint

from ganbench.runs.folders import CHECKPOINTS, RunRecord

TENSORBOARD = "lightning.pytorch.loggers.TensorBoardLogger"
CSV = "lightning.pytorch.loggers.CSVLogger"
_WANDB_NAMES = ("WandbLogger",)
_VERSIONED_NAMES = ("TensorBoardLogger", "CSVLogger")


def point_run_at_folder(config: Namespace, folder: Path, record: RunRecord) -> None:
    """Edits a subcommand's config in place so that the whole run writes into ``folder``.

    Args:
        config: the subcommand's parsed config (``trainer``, ``model``, ...), before instantiation.
        folder: the run folder (``<root>/<experiment>/version_<N>``).
        record: the run's name, group, tags and W&B id.
    """
    trainer = config.trainer
    trainer.default_root_dir = str(folder)
    trainer.logger = _loggers_writing_to(trainer.get("logger"), folder, record)
    for callback in trainer.get("callbacks") or []:
        if _is_checkpoint_callback(callback) and (callback.get("init_args") or {}).get("dirpath") is None:
            _set(callback, dirpath=str(folder / CHECKPOINTS))


def uses_wandb(config: Namespace) -> bool:
    """Whether the config's loggers include Weights & Biases."""
    return any(_class_name(logger) in _WANDB_NAMES for logger in _as_list(config.trainer.get("logger")))


def _loggers_writing_to(logger: Any, folder: Path, record: RunRecord) -> Any:
    """The logger setting with every logger pointed at ``folder``: a list, or ``False`` for none."""
    if logger is False:
        return False
    loggers = _as_list(logger) or [_logger(TENSORBOARD)]  # None/True: Lightning's default, TensorBoard
    if not any(_class_name(each) == "CSVLogger" for each in loggers):
        loggers.append(_logger(CSV))
    for each in loggers:
        name = _class_name(each)
        if name in _VERSIONED_NAMES:
            _set(each, save_dir=str(folder.parent.parent), name=folder.parent.name, version=_version(folder))
            if name == "TensorBoardLogger":
                _set(each, default_hp_metric=False)
        elif name in _WANDB_NAMES:
            _point_wandb(each, folder, record)
    return loggers


def _version(folder: Path) -> int | str:
    """``version_3`` -> 3 (TensorBoard and CSV then name the folder ``version_3`` and the progress bar shows 3)."""
    number = folder.name.removeprefix("version_")
    return int(number) if number.isdigit() else folder.name


def _point_wandb(logger: Namespace, folder: Path, record: RunRecord) -> None:
    arguments = logger.init_args
    _set(logger, save_dir=str(folder), id=record.wandb_id, version=None)
    for key, value in (("name", record.name), ("group", record.group), ("tags", record.tags)):
        if arguments.get(key) is None:
            _set(logger, **{key: value})
    if arguments.get("project") is None:
        _set(logger, project="ganbench")


def _logger(class_path: str) -> Namespace:
    return Namespace(class_path=class_path, init_args=Namespace())


def _set(entry: Namespace, **values: Any) -> None:
    """Sets ``init_args`` of a logger or callback entry of the config."""
    if entry.get("init_args") is None:
        entry.init_args = Namespace()
    for key, value in values.items():
        entry.init_args[key] = value


def _as_list(logger: Any) -> list[Any]:
    if logger is None or isinstance(logger, bool):
        return []
    return list(logger) if isinstance(logger, list) else [logger]


def _class_name(logger: Any) -> str:
    class_path = logger.get("class_path", "") if isinstance(logger, Namespace) else type(logger).__name__
    return str(class_path).rpartition(".")[2]


def _is_checkpoint_callback(callback: Any) -> bool:
    """Whether a callback entry of the config builds a ``ModelCheckpoint`` (or a subclass)."""
    if not isinstance(callback, Namespace) or not callback.get("class_path"):
        return False
    module_name, _, class_name = str(callback.class_path).rpartition(".")
    try:
        found = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError):
        return False
    return isinstance(found, type) and issubclass(found, ModelCheckpoint)
