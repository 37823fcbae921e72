"""Error of the export package (a :class:`~lane_sad_core.errors.LaneSadError`, so the CLI
prints it as one line and exits non-zero)."""

from lane_sad_core.errors import LaneSadError


class ExportError(LaneSadError):
    """An export could not be written or does not compute what the PyTorch model computes,
    or the tool it needs (TensorRT) is missing."""
