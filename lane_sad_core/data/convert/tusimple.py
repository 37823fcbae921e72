"""TuSimple label files: JSON lines of ``lanes`` (x per ``h_samples`` row, -2 where absent),
``h_samples`` and ``raw_file`` (the image, relative to the dataset root).

INPUT is one label file or a folder whose ``*.json`` files are all label files (TuSimple's
``label_data_0313.json`` ... ``test_label.json``). Images are found relative to the label
file's folder unless ``--images`` names the root. TuSimple gives no slots; lanes are
placed by position.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from lane_sad_core.data.convert.frames import ReaderOptions, SourceFrame, SourceLane
from lane_sad_core.data.formats import iter_tusimple
from lane_sad_core.errors import LabelError


def label_files(source: Path) -> list[Path]:
    """The label files INPUT names (a file, or the ``*.json`` of a folder)."""
    files = sorted(source.glob("*.json")) if source.is_dir() else [source]
    if not files:
        raise LabelError(f"{source}: no *.json label files")
    return files


def read(source: Path, options: ReaderOptions) -> Iterator[SourceFrame]:
    """One frame per record of every label file."""
    for path in label_files(source):
        root = options.images or path.parent
        for record in iter_tusimple(path):
            lanes = [SourceLane(lane.points, f"lane {i + 1}") for i, lane in enumerate(record.to_lanes())]
            yield SourceFrame(record.raw_file.lstrip("/"), root / record.raw_file.lstrip("/"), lanes)
