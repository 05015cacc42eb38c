"""Errors a user can fix: the CLI prints their message as one line, without a traceback."""


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
