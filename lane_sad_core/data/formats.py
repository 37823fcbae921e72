"""Readers and writers of the official CULane and TuSimple label formats.

One implementation serves the dataset loaders, the synthetic generator, the scorers and
the exporters of predictions, so real and synthetic trees are read the same way.

* CULane: one ``.lines.txt`` per image, one lane per line as ``x y x y ...``; an empty
  file means no lanes. Coordinates may fall outside the image.
* TuSimple: JSON lines with ``lanes`` (x per ``h_samples`` row, -2 where absent),
  ``h_samples`` and ``raw_file``. Predictions may leave ``h_samples`` out: the official
  ``lane.py`` takes the rows from the ground truth.

Every reader checks what it reads, so a malformed file is a :class:`LabelError` naming the
file and line, never another exception: bytes that are not UTF-8, a value of the wrong
JSON type, and NaN or infinite coordinates (which would score or train as if they were
points) are all refused.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lane_sad_core.errors import LabelError
from lane_sad_core.lanes import Lane

TUSIMPLE_ABSENT = -2


def text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """The numbered lines of a text file.

    Raises:
        FileNotFoundError: the file does not exist (callers decide what that means).
        LabelError: it cannot be read (a folder, no permission), or a line is not UTF-8.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise LabelError(f"{path}: cannot read ({exc.strerror or exc})") from None
    for number, raw in enumerate(data.splitlines(), start=1):
        try:
            yield number, raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise LabelError(f"{path}:{number}: not UTF-8 text (byte 0x{raw[exc.start]:02x})") from None


def read_culane_lines(path: str | Path) -> list[Lane]:
    """Read a CULane ``.lines.txt`` file; lanes get slots in file order."""
    path = Path(path)
    lanes: list[Lane] = []
    for number, line in text_lines(path):
        fields = line.split()
        if not fields:
            continue
        try:
            values = np.array([float(v) for v in fields])
        except ValueError as exc:
            raise LabelError(f"{path}:{number}: not a number ({exc})") from None
        if not np.isfinite(values).all():
            raise LabelError(f"{path}:{number}: coordinates must be finite numbers")
        if len(values) % 2:
            raise LabelError(f"{path}:{number}: odd number of coordinates ({len(values)})")
        lanes.append(Lane(values.reshape(-1, 2), slot=len(lanes)))
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


def _number(value: object) -> bool:
    """A finite JSON number (``true`` and ``false`` are not numbers)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)


def _numbers(where: str, name: str, value: object) -> list:
    """``value`` as a list of finite numbers, or a LabelError naming ``name``."""
    if not isinstance(value, list):
        raise LabelError(f"{where}: '{name}' must be a list of numbers, got {_short(value)}")
    for v in value:
        if not _number(v):
            raise LabelError(f"{where}: '{name}' must hold finite numbers, got {_short(v)}")
    return value


def _short(value: object) -> str:
    text = json.dumps(value) if not isinstance(value, float) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _parse_tusimple_line(path: Path, number: int, line: str, need_rows: bool = True) -> TusimpleRecord:
    where = f"{path}:{number}"
    try:
        obj = json.loads(line)
    except (json.JSONDecodeError, RecursionError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
        raise LabelError(f"{where}: invalid JSON ({reason})") from None
    if not isinstance(obj, dict):
        raise LabelError(f"{where}: expected a JSON object")
    for key in ("lanes", *(("h_samples",) if need_rows else ()), "raw_file"):
        if key not in obj:
            raise LabelError(f"{where}: missing key '{key}'")
    if not isinstance(obj["raw_file"], str):
        raise LabelError(f"{where}: 'raw_file' must be a string, got {_short(obj['raw_file'])}")
    h_samples = _numbers(where, "h_samples", obj["h_samples"]) if "h_samples" in obj else []
    if not isinstance(obj["lanes"], list):
        raise LabelError(f"{where}: 'lanes' must be a list of lanes, got {_short(obj['lanes'])}")
    lanes = [_numbers(where, f"lanes[{i}]", lane) for i, lane in enumerate(obj["lanes"])]
    if "h_samples" in obj:
        for i, lane in enumerate(lanes):
            if len(lane) != len(h_samples):
                raise LabelError(f"{where}: lane {i} has {len(lane)} x values for {len(h_samples)} h_samples")
    run_time = obj.get("run_time")
    if run_time is not None and not _number(run_time):
        raise LabelError(f"{where}: 'run_time' must be a number of milliseconds, got {_short(run_time)}")
    extra = {k: v for k, v in obj.items() if k not in ("lanes", "h_samples", "raw_file", "run_time")}
    return TusimpleRecord(obj["raw_file"], h_samples, lanes, run_time, extra or None)


def iter_tusimple(path: str | Path, predictions: bool = False) -> Iterator[TusimpleRecord]:
    """Yield the records of a TuSimple JSON-lines file, checking each line.

    Args:
        path: the file.
        predictions: ``h_samples`` may be absent (the rows are the ground truth's).
    """
    path = Path(path)
    for number, line in text_lines(path):
        if line.strip():
            yield _parse_tusimple_line(path, number, line, need_rows=not predictions)


def read_tusimple(path: str | Path, predictions: bool = False) -> list[TusimpleRecord]:
    """All records of a TuSimple JSON-lines file (see :func:`iter_tusimple`)."""
    return list(iter_tusimple(path, predictions))


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
    and not as a shape error deep inside a data loader. The line blamed is one that differs
    from most lines, not merely from the first: a bad first line is named as such.
    """
    path = Path(path)
    entries: list[tuple[int, CulaneListEntry, int]] = []
    for number, line in text_lines(path):
        if line.strip():
            entries.append((number, _parse_culane_list_line(path, number, line), len(line.split())))
    widths = Counter(width for _, _, width in entries)
    if len(widths) > 1:
        raise LabelError(_odd_line(path, entries, widths))
    return [entry for _, entry, _ in entries]


def _odd_line(path: Path, entries: list[tuple[int, CulaneListEntry, int]], widths: Counter[int]) -> str:
    """The message for lines of different widths, naming the line that differs from the rest."""
    (usual, count), (_, runner_up) = widths.most_common(2)
    if count == runner_up:  # no majority: name the first two lines that differ
        first = entries[0]
        other = next(e for e in entries if e[2] != first[2])
        return f"{path}: line {first[0]} has {first[2]} fields, line {other[0]} {other[2]}; all lines need the same"
    number, _, width = next(e for e in entries if e[2] != usual)
    what = _describe_fields(width)
    return f"{path}:{number}: {width} fields ({what}), where {count} of the {len(entries)} lines have {usual}"


def _describe_fields(width: int) -> str:
    return "image only" if width == 1 else "image and mask" if width == 2 else f"{width - 2} existence flags"


def write_culane_list(path: str | Path, entries: Sequence[CulaneListEntry]) -> None:
    """Write a CULane list file, creating parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(e.to_line() + "\n" for e in entries))
