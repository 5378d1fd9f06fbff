"""Error kinds raised for bad input. The CLI prints ``str(error)`` on one line and exits with 2."""


class InfoclustError(Exception):
    """Base class: a user-facing problem with input, config or files (never a bug)."""


class DataError(InfoclustError, ValueError):
    """A dataset, file or array that cannot be read or has the wrong shape/content."""


class ConfigError(InfoclustError):
    """An unknown name, misspelled key or impossible setting in a config or argument."""


class CheckpointError(InfoclustError):
    """A run folder or checkpoint that is missing, corrupt or incompatible."""


class TrainingError(InfoclustError):
    """Training diverged (e.g. the loss became NaN): a setting to change, named in the message."""


class RunFolderError(InfoclustError):
    """A run folder or output path that cannot be written: full disk, read-only, a file in the way,
    or another process writing it."""
