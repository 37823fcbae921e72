"""Readers and writers of the official CULane and TuSimple label formats.

One implementation serves the dataset loaders, the synthetic generator, the scorers and
the exporters of predictions, so real and synthetic trees are read the same way.

* CULane: one ``.lines.txt`` per image, one lane per line as ``x y x y ...``; an empty
  file means no lanes. Coordinates may fall outside the image.
* TuSimple: JSON lines with ``lanes`` (x per ``h_samples`` row, -2 where absent),
  ``h_samples`` and ``raw_file``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lane_sad_core.errors import LabelError
from lane_sad_core.lanes import Lane

TUSIMPLE_ABSENT = -2


def read_culane_lines(path: str | Path) -> list[Lane]:
    """Read a CULane ``.lines.txt`` file; lanes get slots in file order."""
    path = Path(path)
    lanes: list[Lane] = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        try:
            values = [float(v) for v in fields]
        except ValueError as exc:
            raise LabelError(f"{path}:{number}: not a number ({exc})") from None
        if len(values) % 2:
            raise LabelError(f"{path}:{number}: odd number of coordinates ({len(values)})")
        lanes.append(Lane(np.array(values).reshape(-1, 2), slot=len(lanes)))
    return lanes


def format_culane_lines(lanes: Sequence[Lane]) -> str:
    """The text of a ``.lines.txt`` file for ``lanes`` (lanes with < 2 points dropped)."""
    rows = []
    for lane in lanes:
        if len(lane) < 2:
            continue
        rows.append(" ".join(f"{x:.3f} {y:.0f}" for x, y in lane.points) + " ")
    return "".join(row + "\n" for row in rows)


def write_culane_lines(path: str | Path, lanes: Sequence[Lane]) -> None:
    """Write ``lanes`` as a CULane ``.lines.txt`` file, creating parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(format_culane_lines(lanes))


@dataclass
class TusimpleRecord:
    """One line of a TuSimple label or prediction file."""

    raw_file: str
    h_samples: list[int]
    lanes: Sequence[Sequence[float]]
    run_time: float | None = None
    extra: dict | None = None

    def to_lanes(self) -> list[Lane]:
        """The record's lanes as polylines (absent rows dropped), slot = order in file."""
        out = []
        ys = np.asarray(self.h_samples, dtype=np.float64)
        for slot, xs in enumerate(self.lanes):
            xs_arr = np.asarray(xs, dtype=np.float64)
            keep = xs_arr >= 0
            out.append(Lane(np.stack([xs_arr[keep], ys[keep]], axis=1), slot=slot))
        return out

    def to_json(self) -> str:
        """One JSON line in the official layout."""
        obj: dict = {"lanes": self.lanes, "h_samples": self.h_samples, "raw_file": self.raw_file}
        if self.run_time is not None:
            obj["run_time"] = self.run_time
        if self.extra:
            obj.update(self.extra)
        return json.dumps(obj)


def _parse_tusimple_line(path: Path, number: int, line: str) -> TusimpleRecord:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise LabelError(f"{path}:{number}: invalid JSON ({exc.msg})") from None
    if not isinstance(obj, dict):
        raise LabelError(f"{path}:{number}: expected a JSON object")
    for key in ("lanes", "h_samples", "raw_file"):
        if key not in obj:
            raise LabelError(f"{path}:{number}: missing key '{key}'")
    h_samples, lanes = obj["h_samples"], obj["lanes"]
    for i, lane in enumerate(lanes):
        if len(lane) != len(h_samples):
            raise LabelError(f"{path}:{number}: lane {i} has {len(lane)} x values for {len(h_samples)} h_samples")
    extra = {k: v for k, v in obj.items() if k not in ("lanes", "h_samples", "raw_file", "run_time")}
    return TusimpleRecord(obj["raw_file"], h_samples, lanes, obj.get("run_time"), extra or None)


def iter_tusimple(path: str | Path) -> Iterator[TusimpleRecord]:
    """Yield the records of a TuSimple JSON-lines file, checking each line."""
    path = Path(path)
    with path.open() as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield _parse_tusimple_line(path, number, line)


def read_tusimple(path: str | Path) -> list[TusimpleRecord]:
    """All records of a TuSimple JSON-lines file."""
    return list(iter_tusimple(path))


def write_tusimple(path: str | Path, records: Sequence[TusimpleRecord]) -> None:
    """Write records as a TuSimple JSON-lines file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(r.to_json() + "\n" for r in records))


def lanes_to_tusimple_row(lanes: Sequence[Lane], h_samples: Sequence[float]) -> list[list[float]]:
    """Sample each lane's x at ``h_samples`` rows by linear interpolation (-2 outside it)."""
    rows = []
    for lane in lanes:
        if len(lane) < 2:
            continue
        pts = lane.points[np.argsort(lane.points[:, 1])]
        ys = np.asarray(h_samples, dtype=np.float64)
        xs = np.interp(ys, pts[:, 1], pts[:, 0], left=np.nan, right=np.nan)
        rows.append([TUSIMPLE_ABSENT if np.isnan(x) else float(round(x)) for x in xs])
    return rows


# Existence flag of a slot whose lane is not labelled either way (a lane_sad extension of
# CULane's lists, for partial labels: ego-lane-only sets, pseudo-labels); read as -1.
UNKNOWN_FLAG = "?"


@dataclass
class CulaneListEntry:
    """One line of a CULane list file (``list/train_gt.txt``, ``list/test.txt``, ...).

    Attributes:
        image: image path relative to the dataset root (the leading ``/`` of the official
            lists removed).
        mask: segmentation mask path relative to the root, or None.
        exist: per-slot existence flags (1 labelled, 0 absent, -1 unknown: neither labelled nor
            known to be absent, written ``?``), or None when the list has none.
    """

    image: str
    mask: str | None = None
    exist: tuple[int, ...] | None = None

    def to_line(self) -> str:
        """The entry in the official layout (paths with a leading ``/``)."""
        fields = ["/" + self.image.lstrip("/")]
        if self.mask is not None:
            fields.append("/" + self.mask.lstrip("/"))
        if self.exist is not None:
            fields.extend(UNKNOWN_FLAG if e < 0 else str(int(e)) for e in self.exist)
        return " ".join(fields)


def _parse_culane_list_line(path: Path, number: int, line: str) -> CulaneListEntry:
    fields = line.split()
    image = fields[0].lstrip("/")
    if len(fields) == 1:
        return CulaneListEntry(image)
    mask = fields[1].lstrip("/")
    if mask in ("0", "1"):
        raise LabelError(f"{path}:{number}: existence flags without a mask path")
    flags = fields[2:]
    if not flags:
        return CulaneListEntry(image, mask)
    if any(f not in ("0", "1", UNKNOWN_FLAG) for f in flags):
        raise LabelError(f"{path}:{number}: existence flags must be 0, 1 or ? (unknown), got {' '.join(flags)}")
    return CulaneListEntry(image, mask, tuple(-1 if f == UNKNOWN_FLAG else int(f) for f in flags))


def read_culane_list(path: str | Path) -> list[CulaneListEntry]:
    """Read a CULane list file: image paths, optionally mask paths and existence flags.

    Every entry must have the same number of fields, so a truncated line is caught here
    and not as a shape error deep inside a data loader.
    """
    path = Path(path)
    entries: list[CulaneListEntry] = []
    width = None
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        entry = _parse_culane_list_line(path, number, line)
        fields = len(line.split())
        if width is None:
            width = fields
        elif fields != width:
            raise LabelError(f"{path}:{number}: {fields} fields, earlier lines have {width}")
        entries.append(entry)
    return entries


def write_culane_list(path: str | Path, entries: Sequence[CulaneListEntry]) -> None:
    """Write a CULane list file, creating parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(e.to_line() + "\n" for e in entries))
