"""Error classes of lane_sad_core, one per role.

Each message names the file, key or shape at fault, so a user can act on it.
"""


class LaneSadError(Exception):
    """Base class of every error this library raises on purpose."""


class LabelError(LaneSadError):
    """A label file is malformed (the message names the file and line)."""


class ConfigError(LaneSadError):
    """A configuration key or value is invalid."""


class CheckpointError(LaneSadError):
    """A checkpoint is missing, corrupt, or would execute code on load."""
