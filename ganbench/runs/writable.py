"""Where a run writes, and the start-up check that it can: a crash at the first checkpoint becomes one sentence."""

import tempfile
from collections.abc import Iterable
from pathlib import Path

from lightning.pytorch import Trainer

from ganbench.errors import OutputFolderError


def output_folders(trainer: Trainer) -> list[str]:
    """Where a run writes: the root folder, each logger's save_dir, each checkpoint callback's dirpath."""
    folders = [trainer.default_root_dir]
    folders += [logger.save_dir for logger in trainer.loggers if getattr(logger, "save_dir", None)]
    folders += [callback.dirpath for callback in trainer.checkpoint_callbacks if getattr(callback, "dirpath", None)]
    return [str(folder) for folder in folders if "://" not in str(folder)]


def check_output_folders_writable(paths: Iterable[str | Path]) -> None:
    """Makes each folder (with its parents) if missing and checks that a file can be written in it.

    The test file is a new uniquely named temporary file, removed at once: nothing already in the
    folder is touched and nothing is left behind (folders that were made stay).

    Args:
        paths: the run's output folders, e.g. ``trainer.default_root_dir`` and the logger's ``save_dir``.

    Raises:
        OutputFolderError: a folder is a file, cannot be made, or cannot be written to.
    """
    for path in paths:
        folder = Path(path)
        if folder.exists() and not folder.is_dir():
            _refuse_output_folder(folder, "it is a file, not a folder")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".ganbench-write-test-"):
                pass
        except OSError as error:
            _refuse_output_folder(folder, error.strerror or str(error))


def _refuse_output_folder(folder: Path, reason: str) -> None:
    raise OutputFolderError(
        f"Cannot write to output folder {folder} ({reason}); choose a writable folder with "
        "--trainer.default_root_dir (or the logger's save_dir)."
    ) from None
