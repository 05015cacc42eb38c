"""Errors a user can fix: the CLI prints their message as one line, without a traceback.

:func:`first_line` quotes another error (a library's, an OS's) inside such a message.
"""


class GanbenchError(Exception):
    """A mistake in a config, a data path or a checkpoint, with a message that says what to do."""


class DataNotFoundError(GanbenchError, FileNotFoundError):
    """A data set's files are not where the config says."""


class ShapeMismatchError(GanbenchError, ValueError):
    """A network does not fit the data (image shape, value range, labels)."""


class ConfigError(GanbenchError, ValueError):
    """An argument has a value that cannot work."""


class DataFileError(GanbenchError, ValueError):
    """A data file is there but unreadable: truncated, corrupt, or not the file its name says."""


class OutputFolderError(GanbenchError, OSError):
    """A folder the run must write to (checkpoints, logs, samples) cannot be written."""


def first_line(error: BaseException) -> str:
    """The first line of ``str(error)`` after surrounding blank space, for a one-line message.

    Args:
        error: any exception.

    Returns:
        The first non-empty line of the message, or the exception's class name when the message is empty.
    """
    message = str(error).strip()
    return message.splitlines()[0] if message else type(error).__name__
