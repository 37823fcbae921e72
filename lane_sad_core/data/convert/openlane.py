"""OpenLane 2D lanes: one JSON per frame with ``file_path`` and ``lane_lines[]`` holding
``uv`` ([[u...], [v...]] in image pixels), ``category``, ``attribute`` and ``trackid``.

``attribute`` is OpenLane's own slot (1 left-left, 2 left, 3 right, 4 right-right, 0 none
of these) and is kept, counted from the ego lane (with 6 slots, attribute 2 is slot 3): a
lane with 0 is reported as outside the slots. Curbsides
(categories 20 and 21) are left out unless ``--keep-curbs`` (then they are placed by
position). ``file_path`` starts with the split (``training/...``, ``validation/...``) while
the published example keeps its images in ``images/<segment>/``: the image is looked up
below ``--images`` (default: the nearest ``images`` folder beside INPUT or above it) with
leading folders of ``file_path`` dropped until it exists. INPUT is the annotation folder
(searched recursively) or one JSON file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from lane_sad_core.data.convert.frames import ReaderOptions, SourceFrame, SourceLane
from lane_sad_core.data.convert.paths import resolve_listed
from lane_sad_core.data.convert.prepare import NO_SLOT
from lane_sad_core.errors import LabelError

CATEGORIES = {
    0: "unknown",
    1: "white-dash",
    2: "white-solid",
    3: "double-white-dash",
    4: "double-white-solid",
    5: "white-ldash-rsolid",
    6: "white-lsolid-rdash",
    7: "yellow-dash",
    8: "yellow-solid",
    9: "double-yellow-dash",
    10: "double-yellow-solid",
    11: "yellow-ldash-rsolid",
    12: "yellow-lsolid-rdash",
    20: "left-curbside",
    21: "right-curbside",
}
CURBS = (20, 21)


def _lane(line: dict, where: str, options: ReaderOptions) -> tuple[SourceLane | None, str | None]:
    """The lane of one ``lane_lines`` entry, or a note why it is left out."""
    category = int(line.get("category", 0))
    name = f"track {line.get('trackid', '?')} ({CATEGORIES.get(category, category)})"
    if category in CURBS and not options.keep_curbs:
        return None, f"{name}: left out, a curbside (--keep-curbs keeps them)"
    try:
        uv = np.asarray(line["uv"], dtype=np.float64)
    except (KeyError, TypeError, ValueError):
        raise LabelError(f"{where}: a lane line without uv [[u...], [v...]]") from None
    if uv.ndim != 2 or uv.shape[0] != 2:
        raise LabelError(f"{where}: uv has shape {uv.shape}, expected (2, N)")
    attribute = int(line.get("attribute", 0))
    ego_left = options.num_slots // 2 - 1  # attribute 2
    slot = None if category in CURBS else (ego_left + attribute - 2 if attribute > 0 else NO_SLOT)
    return SourceLane(uv.T, name, slot), None


def _frame(path: Path, images: Path, options: ReaderOptions) -> SourceFrame:
    try:
        data = json.loads(path.read_text())
        file_path = str(data["file_path"])
        lines = list(data.get("lane_lines") or [])
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
        raise LabelError(f"{path}: not an OpenLane annotation ({exc})") from None
    lanes, notes = [], []
    for line in lines:
        lane, note = _lane(line, str(path), options)
        if lane is not None:
            lanes.append(lane)
        if note:
            notes.append(note)
    image = resolve_listed(file_path, images)
    if image is None:
        return SourceFrame(file_path, None, lanes, notes=notes, problem=f"no image for {file_path} below {images}")
    return SourceFrame(file_path, image, lanes, notes=notes)


def _images_folder(source: Path) -> Path:
    """The nearest ``images`` folder beside ``source`` or beside one of its parents."""
    for folder in [source, *source.parents][:4]:
        if (folder.parent / "images").is_dir():
            return folder.parent / "images"
    return source if source.is_dir() else source.parent


def read(source: Path, options: ReaderOptions) -> Iterator[SourceFrame]:
    """One frame per annotation file."""
    files = sorted(source.rglob("*.json")) if source.is_dir() else [source]
    if not files:
        raise LabelError(f"{source}: no OpenLane *.json annotation files")
    images = options.images or _images_folder(source)
    for path in files:
        yield _frame(path, images, options)
