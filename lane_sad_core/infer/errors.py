"""Error of the inference package (a :class:`~lane_sad_core.errors.LaneSadError`, so the CLI
prints it as one line and exits non-zero)."""

from lane_sad_core.errors import LaneSadError


class BackendError(LaneSadError):
    """A backend cannot load here: runtime not installed, no such device, no model file."""
