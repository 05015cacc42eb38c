"""Checks on checkpoint files before Lightning loads them."""

import zipfile
from pathlib import Path

from ganbench.errors import GanbenchError

# Values of --ckpt_path that Lightning resolves itself.
LIGHTNING_CHECKPOINT_NAMES = ("last", "best", "hpc", "registry")


class CheckpointError(GanbenchError):
    """A checkpoint file is missing, truncated or corrupt."""


def check_checkpoint_file(path: str | Path, option: str = "--ckpt_path") -> None:
    """Refuses a missing, truncated or corrupt checkpoint with one sentence, reading no pickle.

    torch saves checkpoints as zip archives; every member's CRC is verified, so a file cut off
    by a crash or damaged on disk is caught here rather than as an unpickling traceback.

    Args:
        path: the ``.ckpt`` file.
        option: the command-line option that named it, for the message (``--model.generator_checkpoint``, ...).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"Checkpoint {path} does not exist; check {option}.")
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        damaged = f"not a readable checkpoint archive ({error})"
    if damaged is not None:
        raise CheckpointError(
            f"Checkpoint {path} is truncated or corrupt ({damaged}); it was left as it is. "
            f"{_earlier_checkpoint_hint(path, option)}"
        )


def _earlier_checkpoint_hint(path: Path, option: str) -> str:
    """Names the newest other ``.ckpt`` beside ``path`` to resume from instead, if there is one.

    Args:
        path: the damaged checkpoint.
        option: the command-line option that named it.
    """
    others = [other for other in path.parent.glob("*.ckpt") if other != path and other.is_file()]
    if not others:
        return f"Point {option} at an earlier checkpoint of the run."
    newest = max(others, key=lambda other: other.stat().st_mtime)
    return f"Resume from an earlier checkpoint instead, e.g. {option}={newest}"
