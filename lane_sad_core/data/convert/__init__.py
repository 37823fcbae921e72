"""Label formats people have, converted to the CULane layout the loaders read.

One reader module per source format parses it into :class:`~.frames.SourceFrame` s;
:mod:`.prepare` puts every lane on CULane's rows and into its slot (or says why not) and
:mod:`.writer` writes the tree, the lists and the report. ``lane-sad convert`` is the
command; ``docs/your-data.md`` the guide.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from lane_sad_core.data.convert.frames import ReaderOptions, SourceFrame, SourceLane
from lane_sad_core.data.convert.prepare import LaneRules
from lane_sad_core.data.convert.report import ConvertReport
from lane_sad_core.errors import ConfigError

if TYPE_CHECKING:  # the writer imports OpenCV, which ``lane-sad --help`` should not wait for
    from lane_sad_core.data.convert.writer import WriteSettings

# Source formats, each the name of its reader module (with ``read(source, options)``).
FORMATS: tuple[str, ...] = (
    "cvat",
    "labelme",
    "tusimple",
    "bdd100k",
    "openlane",
    "lines",
    "masks",
    "lanenet",
    "tvtlane",
)

__all__ = [
    "FORMATS",
    "ConvertReport",
    "LaneRules",
    "ReaderOptions",
    "SourceFrame",
    "SourceLane",
    "convert",
    "reader",
]


def reader(name: str) -> Callable[[Path, ReaderOptions], Iterator[SourceFrame]]:
    """The ``read`` function of source format ``name``."""
    if name not in FORMATS:
        raise ConfigError(f"unknown source format {name!r}; known: {', '.join(FORMATS)}")
    return importlib.import_module(f"lane_sad_core.data.convert.{name}").read


def convert(
    source_format: str,
    source: Path,
    out: Path,
    options: ReaderOptions,
    settings: WriteSettings,
    progress: bool = False,
) -> ConvertReport:
    """Read ``source`` in ``source_format`` and write it as a CULane tree at ``out``.

    With ``progress``, a progress bar counts the frames (on a terminal only).
    """
    from lane_sad_core.data.convert.writer import convert_frames

    if not source.exists():
        raise FileNotFoundError(2, "no such file or folder", str(source))
    frames: Iterable[SourceFrame] = reader(source_format)(source, options)
    if progress:
        from tqdm import tqdm

        frames = tqdm(frames, unit="frame", desc=f"convert {source_format}", leave=False, disable=None)
    return convert_frames(frames, out, settings, source_format, source)
