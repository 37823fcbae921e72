"""Shared steps of the converter tests: convert into tmp_path, read back with the loader."""

from __future__ import annotations

from pathlib import Path

from lane_sad_core.data.convert import ConvertReport, ReaderOptions, convert
from lane_sad_core.data.convert.writer import WriteSettings
from lane_sad_core.data.datasets import CULaneDataset


def convert_to(out: Path, source_format: str, source: Path, **options: object) -> ConvertReport:
    """Convert ``source`` into ``out`` with default settings (all frames in train)."""
    return convert(source_format, source, out, ReaderOptions(**options), WriteSettings(split=(1.0, 0.0, 0.0)))


def loaded(out: Path) -> CULaneDataset:
    """The converted tree as training reads it (the list with existence flags)."""
    return CULaneDataset(out, "list/train_gt.txt")


def lanes_by_key(out: Path) -> dict[str, list]:
    """Frame key (image path below ``frames/``, no suffix) -> the loader's lanes."""
    ds = loaded(out)
    return {ds.entries[i].image.split("/", 1)[1].rsplit(".", 1)[0]: ds.lanes(i) for i in range(len(ds))}
