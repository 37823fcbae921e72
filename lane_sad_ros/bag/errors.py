"""Errors of bag reading, writing and replay (one class per role).

Both derive from :class:`~lane_sad_core.errors.LaneSadError`, so the ``lane-sad`` CLI frame
turns them into a one-line message and a non-zero exit code.
"""

from lane_sad_core.errors import LaneSadError


class BagError(LaneSadError):
    """A bag cannot be read or written; the message names the bag and what is wrong."""


class ReplayError(LaneSadError):
    """The replay cannot go on (the node did not start, exited, or never answered)."""
