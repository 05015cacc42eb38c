"""Which folder a run writes to, and ``run.yaml``, the record of what the run is.

A new run takes the next free ``<root>/<experiment>/version_<N>`` (made atomically, so two runs
started at once never share one). A run that continues a checkpoint writes into the folder that
holds it: ``--ckpt_path last`` is the newest ``last.ckpt`` of the experiment, and an explicit
``--ckpt_path RUN/checkpoints/X.ckpt`` is ``RUN``. ``ganbench test --ckpt_path ...`` likewise writes
its results next to the run that was trained.
"""

import secrets
import string
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

RUN_RECORD = "run.yaml"
CHECKPOINTS = "checkpoints"


@dataclass
class RunRecord:
    """What ``run.yaml`` holds: enough to name the run and to continue it (the same W&B run id).

    Args:
        experiment: the experiment (the folder under the root).
        name: the run's name on every dashboard.
        group: the run's group (the variant: the name without the seed).
        tags: the run's tags.
        seed: ``seed_everything``.
        version: the folder's name, ``version_<N>``.
        wandb_id: the W&B run id, once a W&B logger has been used.
    """

    experiment: str
    name: str
    group: str
    tags: list[str] = field(default_factory=list)
    seed: int | None = None
    version: str = ""
    wandb_id: str | None = None


def read_run_record(folder: str | Path) -> RunRecord | None:
    """The folder's ``run.yaml``, or ``None`` when it has none or it cannot be read."""
    path = Path(folder) / RUN_RECORD
    try:
        values = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return None
    if not isinstance(values, dict):
        return None
    known = {item.name for item in fields(RunRecord)}
    try:
        return RunRecord(**{key: value for key, value in values.items() if key in known})
    except TypeError:
        return None


def write_run_record(folder: Path, record: RunRecord) -> None:
    """Writes ``run.yaml``."""
    write_text_whole(folder / RUN_RECORD, yaml.safe_dump(asdict(record), sort_keys=False))


def write_text_whole(path: Path, text: str) -> None:
    """Writes ``text`` to ``path`` through a temporary file renamed over it, so a reader never sees half a file."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    temporary.replace(path)


def new_wandb_id() -> str:
    """A fresh W&B run id: 8 lower-case letters and digits, as W&B makes them."""
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(8))


def find_run_folder(root: Path, experiment: str, ckpt_path: Any) -> tuple[Path, Any, bool]:
    """The folder this run writes to, the checkpoint it loads, and whether the folder is an existing run's.

    Args:
        root: ``trainer.default_root_dir`` as the user gave it.
        experiment: the experiment name (a folder under ``root``).
        ckpt_path: ``--ckpt_path`` as given: ``None``, ``"last"``, ``"best"``, ... or a file.

    Returns:
        ``(folder, ckpt_path, existing)``. ``"last"`` becomes the newest ``last*.ckpt`` under
        ``root/experiment`` (``None``, and a new folder, when there is none).
    """
    if ckpt_path == "last":
        last = newest_last_checkpoint(root / experiment)
        if last is not None:
            return last.parent.parent, str(last), True
        print(f"ganbench: no last.ckpt under {root / experiment}; starting a new run.", flush=True)
        return new_run_folder(root / experiment), None, False
    owner = run_folder_of_checkpoint(ckpt_path)
    if owner is not None:
        return owner, ckpt_path, True
    return new_run_folder(root / experiment), ckpt_path, False


def run_folder_of_checkpoint(ckpt_path: Any) -> Path | None:
    """The run folder holding a checkpoint file (``RUN/checkpoints/x.ckpt`` with ``RUN/config.yaml``)."""
    if not isinstance(ckpt_path, (str, Path)) or str(ckpt_path) in ("best", "last", "hpc", "registry"):
        return None
    path = Path(ckpt_path).absolute()
    folder = path.parent.parent
    if path.parent.name == CHECKPOINTS and ((folder / "config.yaml").is_file() or (folder / RUN_RECORD).is_file()):
        return folder
    return None


def newest_last_checkpoint(experiment_folder: Path) -> Path | None:
    """The newest ``version_*/checkpoints/last*.ckpt`` of an experiment (by modification time)."""
    found = [
        path
        for path in experiment_folder.glob(f"version_*/{CHECKPOINTS}/last*.ckpt")
        if path.is_file() and not path.name.endswith(".tmp")
    ]
    return max(found, key=lambda path: path.stat().st_mtime) if found else None


def new_run_folder(experiment_folder: Path) -> Path:
    """Makes and returns the next free ``version_<N>`` (one more than the highest there)."""
    experiment_folder.mkdir(parents=True, exist_ok=True)
    taken = [
        int(path.name.removeprefix("version_"))
        for path in experiment_folder.glob("version_*")
        if path.name.removeprefix("version_").isdigit()
    ]
    number = max(taken, default=-1) + 1
    while True:
        folder = experiment_folder / f"version_{number}"
        try:
            folder.mkdir()
            return folder
        except FileExistsError:  # another run took it between the listing and now
            number += 1
