"""BDD100K lane polylines (Scalabel format): frames with ``name`` and ``labels[]`` whose
``category`` is a lane type and whose ``poly2d`` holds ``vertices``, ``types`` ('L' a
vertex, 'C' a cubic Bezier control point) and ``closed``.

Three releases are read: ``category`` ``"lane/single white"`` (the original per-image
files, with ``frames[0].objects`` and ``poly2d`` as ``[x, y, type]`` triples), ``"lane"``
with ``attributes.laneType`` (the 2018 label file), and the bare type ``"single white"``
(``lane_train.json`` / ``lane_val.json``). Crosswalks and lines drawn across the road
(``laneDirection`` / ``direction`` "vertical", e.g. stop lines) are left out, and so are
road curbs unless ``--keep-curbs``; each is named in the frame's report lines. Closed
shapes are areas, not lanes. INPUT is a label file or a folder of per-image files; images
are ``name`` in ``--images`` (BDD100K keeps them in ``images/100k/<split>/``), else beside
the labels. BDD100K gives no slots; lanes are placed by position.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from lane_sad_core.data.convert.frames import ReaderOptions, SourceFrame, SourceLane
from lane_sad_core.errors import LabelError

LANE_TYPES = (
    "crosswalk",
    "double other",
    "double white",
    "double yellow",
    "road curb",
    "single other",
    "single white",
    "single yellow",
)
_BEZIER_STEPS = 16


def lane_type(label: dict) -> str | None:
    """The lane type of a label (``single white``, ...), or None when it is not a lane."""
    category = str(label.get("category", ""))
    if category.startswith("lane/"):
        return category[len("lane/") :]
    if category == "lane":
        return str((label.get("attributes") or {}).get("laneType", "lane"))
    return category if category in LANE_TYPES else None


def bezier_path(vertices: np.ndarray, types: str) -> np.ndarray:
    """The polyline through ``vertices``, cubic Bezier segments sampled where types say 'C'."""
    out = [vertices[0]]
    i = 0
    while i < len(vertices) - 1:
        if types[i + 1 : i + 3] == "CC" and i + 3 < len(vertices):
            p0, p1, p2, p3 = vertices[i : i + 4]
            t = np.linspace(0.0, 1.0, _BEZIER_STEPS + 1)[1:, None]
            out.extend((1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t**2 * p2 + t**3 * p3)
            i += 3
        else:
            out.append(vertices[i + 1])
            i += 1
    return np.asarray(out, dtype=np.float64)


def _polylines(poly2d: list, where: str) -> list[tuple[np.ndarray, str, bool]]:
    """(vertices, types, closed) of each polyline of a label, whichever release wrote it."""
    if poly2d and isinstance(poly2d[0], (list, tuple)):
        triples = np.asarray([p[:2] for p in poly2d], dtype=np.float64)
        return [(triples, "".join(str(p[2]) if len(p) > 2 else "L" for p in poly2d), False)]
    out = []
    for poly in poly2d:
        try:
            vertices = np.asarray(poly["vertices"], dtype=np.float64).reshape(-1, 2)
        except (KeyError, TypeError, ValueError):
            raise LabelError(f"{where}: poly2d without a list of [x, y] vertices") from None
        out.append((vertices, str(poly.get("types") or "L" * len(vertices)), bool(poly.get("closed"))))
    return out


def _left_out(kind: str, label: dict, keep_curbs: bool) -> str | None:
    attributes = label.get("attributes") or {}
    direction = attributes.get("laneDirection", attributes.get("direction"))
    if kind == "crosswalk":
        return "a crosswalk"
    if direction == "vertical":
        return "drawn across the road (laneDirection vertical)"
    if kind == "road curb" and not keep_curbs:
        return "a road curb (--keep-curbs keeps them)"
    return None


def _frame(item: dict, labels: list, root: Path, where: str, keep_curbs: bool) -> SourceFrame:
    name = str(item.get("name", ""))
    if not name:
        raise LabelError(f"{where}: a frame without a name")
    key = name if Path(name).suffix else f"{name}.jpg"
    lanes: list[SourceLane] = []
    notes: list[str] = []
    for i, label in enumerate(labels):
        kind = lane_type(label)
        if kind is None or "poly2d" not in label:
            continue
        lane_name = f"label {label.get('id', i + 1)} ({kind})"
        reason = _left_out(kind, label, keep_curbs)
        if reason:
            notes.append(f"{lane_name}: left out, {reason}")
            continue
        for vertices, types, closed in _polylines(label["poly2d"] or [], f"{where}: {name}"):
            if closed:
                notes.append(f"{lane_name}: left out, a closed shape (an area, not a line)")
            else:
                lanes.append(SourceLane(bezier_path(vertices, types), lane_name))
    return SourceFrame(key, root / key, lanes, notes=notes)


def _items(path: Path) -> list[tuple[dict, list]]:
    """(frame, labels) pairs of one file of any release."""
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LabelError(f"{path}: not a JSON file ({exc})") from None
    if isinstance(data, dict) and isinstance(data.get("frames"), list) and "labels" not in data:
        if data["frames"] and "objects" in data["frames"][0]:  # per-image file of the first release
            return [(data, data["frames"][0]["objects"] or [])]
        data = data["frames"]  # Scalabel export with frames and config
    frames = data if isinstance(data, list) else [data]
    if not all(isinstance(f, dict) for f in frames):
        raise LabelError(f"{path}: not a BDD100K label file (expected frame objects)")
    return [(f, f.get("labels") or []) for f in frames]


def read(source: Path, options: ReaderOptions) -> Iterator[SourceFrame]:
    """One frame per frame object of every label file."""
    files = sorted(source.glob("*.json")) if source.is_dir() else [source]
    if not files:
        raise LabelError(f"{source}: no *.json label files")
    for path in files:
        root = options.images or path.parent
        for item, labels in _items(path):
            yield _frame(item, labels, root, str(path), options.keep_curbs)
