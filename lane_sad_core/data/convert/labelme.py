"""LabelMe JSON, one file per image: ``shapes[]`` with ``label``, ``points`` [[x, y], ...],
``shape_type`` and ``group_id``, plus ``imagePath``, ``imageData``, ``imageHeight``,
``imageWidth``.

Shapes of type ``linestrip`` and ``line`` are lanes (with ``--lane-labels``, only those
with one of the labels); polygons, rectangles, points and the rest are counted in the
frame's report lines and left out. A shape's ``group_id``, when set, is its slot
(1 = leftmost); otherwise slots come from position. INPUT is a JSON file or a folder
searched recursively. The image is ``imagePath`` relative to the JSON file (or its file
name in ``--images``); when it is not there, the embedded ``imageData`` is used.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from lane_sad_core.data.convert.frames import ReaderOptions, SourceFrame, SourceLane
from lane_sad_core.errors import LabelError

LINE_TYPES = ("linestrip", "line")


def _load(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LabelError(f"{path}: not a JSON file ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("shapes"), list):
        raise LabelError(f"{path}: not a LabelMe file (no 'shapes' list)")
    return data


def _lanes(data: dict, path: Path, lane_labels: tuple[str, ...]) -> tuple[list[SourceLane], list[str]]:
    lanes: list[SourceLane] = []
    others: Counter[str] = Counter()
    for i, shape in enumerate(data["shapes"]):
        kind, label = shape.get("shape_type") or "polygon", str(shape.get("label", ""))
        if kind not in LINE_TYPES or (lane_labels and label not in lane_labels):
            others[f"{kind} '{label}'"] += 1
            continue
        try:
            points = np.array([(float(x), float(y)) for x, y in shape["points"]])
        except (KeyError, TypeError, ValueError):
            raise LabelError(f"{path}: shape {i + 1} has no list of [x, y] points") from None
        group = shape.get("group_id")
        slot = int(group) - 1 if isinstance(group, int) else None
        lanes.append(SourceLane(points, f"shape {i + 1} ({label})", slot))
    notes = [f"left out {n} {what} shape(s): not a lane line" for what, n in sorted(others.items())]
    return lanes, notes


def _frame(path: Path, source: Path, options: ReaderOptions) -> SourceFrame:
    data = _load(path)
    lanes, notes = _lanes(data, path, options.lane_labels)
    image_path = Path(str(data.get("imagePath") or "").replace("\\", "/"))
    image = options.images / image_path.name if options.images else path.parent / image_path
    rel = path.relative_to(source) if source.is_dir() else Path(path.name)
    key = rel.with_suffix(image_path.suffix or ".jpg").as_posix()
    size = None
    if isinstance(data.get("imageHeight"), int) and isinstance(data.get("imageWidth"), int):
        size = (data["imageHeight"], data["imageWidth"])
    frame = SourceFrame(key, image, lanes, size=size, notes=notes)
    if (not image_path.name or not image.is_file()) and data.get("imageData"):
        try:
            frame.image_bytes = base64.b64decode(data["imageData"], validate=True)
        except (binascii.Error, ValueError):
            raise LabelError(f"{path}: imageData is not base64") from None
    return frame


def read(source: Path, options: ReaderOptions) -> Iterator[SourceFrame]:
    """One frame per LabelMe file."""
    files = sorted(source.rglob("*.json")) if source.is_dir() else [source]
    if not files:
        raise LabelError(f"{source}: no LabelMe *.json files")
    for path in files:
        yield _frame(path, source, options)
