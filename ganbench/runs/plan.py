"""Settles, before anything is built, where a ``ganbench`` command writes and what its run is called."""

import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonargparse import Namespace

from ganbench.runs.folders import RunRecord, find_run_folder, new_wandb_id, read_run_record, write_run_record
from ganbench.runs.loggers import point_run_at_folder, uses_wandb
from ganbench.runs.names import RunOptions, command_line_overrides, describe_run, experiment_name, fixed_seed
from ganbench.runs.writable import check_output_folders_writable

# Set by rank 0 for the processes Lightning starts for the other DDP ranks, so that they share its folder.
_FOLDER_FOR_OTHER_RANKS = "GANBENCH_RUN_FOLDER"
# When set (by ``ganbench sweep``), the file to which ``ganbench fit`` appends its run folder.
RUN_RECORD_FILE = "GANBENCH_RUN_RECORD"


@dataclass
class RunPlan:
    """Where a run writes and what it is.

    Args:
        folder: the run folder.
        record: what ``run.yaml`` holds.
        existing: whether the folder is an earlier run's (resumed, or tested).
        user_config: the subcommand's config as the user gave it, with the experiment filled in (what
            ``config.yaml`` holds); the config the trainer is built from also says where to write.
    """

    folder: Path
    record: RunRecord
    existing: bool
    user_config: Namespace


def plan_run(config: Namespace, subcommand: str, words: list[str]) -> RunPlan:
    """Chooses the run folder, names the run, writes ``run.yaml`` and points the config's loggers there.

    Args:
        config: the subcommand's parsed config; edited in place (loggers, checkpoint folder, root).
        subcommand: ``fit``, ``validate``, ``test`` or ``predict``.
        words: the command line, for the overrides that name the run.
    """
    given = _as_dict(config.get("run"))
    options = RunOptions(**given)
    experiment = options.experiment or experiment_name(config.get("config") or [])
    config.run = Namespace(**{**given, "experiment": experiment})
    user_config = copy.deepcopy(config)
    root = Path(str(config.trainer.get("default_root_dir") or "."))
    other_rank_folder = os.environ.get(_FOLDER_FOR_OTHER_RANKS) if _is_other_rank() else None
    if other_rank_folder:
        folder, ckpt_path, existing = Path(other_rank_folder), config.get("ckpt_path"), True
    else:
        check_output_folders_writable([root])
        folder, ckpt_path, existing = find_run_folder(root, experiment, config.get("ckpt_path"))
    config.ckpt_path = ckpt_path
    record = _record(folder, experiment, config, words, options)
    if not other_rank_folder:
        write_run_record(folder, record)
        os.environ[_FOLDER_FOR_OTHER_RANKS] = str(folder)
        _tell_sweep(folder, subcommand)
        print(f"ganbench: run folder {folder} ({record.name})", flush=True)
    point_run_at_folder(config, folder, record)
    return RunPlan(folder, record, existing, user_config)


def _record(folder: Path, experiment: str, config: Namespace, words: list[str], options: RunOptions) -> RunRecord:
    """The folder's own record when it has one (a resumed or tested run keeps its name and W&B id), else a new one."""
    record = read_run_record(folder)
    if record is None:
        seed = config.get("seed_everything")
        name, group, tags = describe_run(experiment, command_line_overrides(words), seed, config, options)
        record = RunRecord(experiment, name, group, tags, fixed_seed(seed), folder.name)
    if uses_wandb(config) and record.wandb_id is None:
        record.wandb_id = os.environ.get("WANDB_RUN_ID") or new_wandb_id()  # wandb agent names its runs
    return record


def _tell_sweep(folder: Path, subcommand: str) -> None:
    record_file = os.environ.get(RUN_RECORD_FILE)
    if record_file and subcommand == "fit":
        with open(record_file, "a") as handle:
            handle.write(f"{folder.absolute()}\n")


def _is_other_rank() -> bool:
    """Whether this process is a DDP rank other than 0 that Lightning started (it sets LOCAL_RANK, NODE_RANK)."""
    return int(os.environ.get("LOCAL_RANK", "0") or 0) > 0 or int(os.environ.get("NODE_RANK", "0") or 0) > 0


def _as_dict(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, Namespace):
        return {key: value[key] for key in ("experiment", "name", "group", "tags") if key in value}
    if isinstance(value, RunOptions):
        return vars(value).copy()
    return dict(value)
