"""CVAT for images 1.1 XML (``annotations.xml`` of a CVAT export): ``<image name width
height>`` elements holding ``<polyline label points="x0,y0;x1,y1;...">`` shapes.

Every polyline is a lane (or, with ``--lane-labels``, every polyline with one of those
labels); other polylines and other shape kinds (boxes, polygons, points, masks) are counted
in the frame's report lines and left out. A polyline's
slot is read from an ``<attribute name="slot">`` child when it has one (1 = leftmost, as in
CULane's existence flags); otherwise slots come from position. INPUT is the XML file, or a
folder holding ``annotations.xml``; images are looked up in ``--images``, else in the
export's ``images/`` folder, else beside the XML.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from lane_sad_core.data.convert.frames import ReaderOptions, SourceFrame, SourceLane
from lane_sad_core.errors import LabelError

SHAPES = ("box", "polygon", "points", "mask", "cuboid", "ellipse", "skeleton", "tag")


def _xml_file(source: Path) -> Path:
    path = source / "annotations.xml" if source.is_dir() else source
    if not path.is_file():
        raise LabelError(f"{source}: no annotations.xml")
    return path


def _points(text: str, where: str) -> np.ndarray:
    try:
        return np.array([(float(x), float(y)) for x, y in (p.split(",") for p in text.strip().split(";") if p)])
    except ValueError:
        raise LabelError(f"{where}: points '{text[:40]}' are not 'x,y;x,y;...'") from None


def _slot(shape: ET.Element, where: str) -> int | None:
    for attribute in shape.findall("attribute"):
        if attribute.get("name") == "slot" and (attribute.text or "").strip():
            try:
                return int(attribute.text or "") - 1
            except ValueError:
                raise LabelError(f"{where}: slot attribute '{attribute.text}' is not a number") from None
    return None


def _frame(image: ET.Element, root: Path, path: Path, lane_labels: tuple[str, ...]) -> SourceFrame:
    name = image.get("name")
    if not name:
        raise LabelError(f"{path}: an <image> element has no name")
    where = f"{path}: image {name}"
    lanes = []
    others = Counter(child.tag for child in image if child.tag in SHAPES)
    for i, shape in enumerate(image.findall("polyline")):
        label = shape.get("label", "polyline")
        if lane_labels and label not in lane_labels:
            others[f"'{label}' polyline"] += 1
            continue
        points = _points(shape.get("points", ""), where)
        lanes.append(SourceLane(points, f"polyline {i + 1} ({label})", _slot(shape, where)))
    notes = [f"left out {n} {tag} shape(s): not a lane polyline" for tag, n in sorted(others.items())]
    try:
        size = (int(image.get("height", "")), int(image.get("width", "")))
    except ValueError:
        size = None
    return SourceFrame(name, root / name, lanes, size=size, notes=notes)


def read(source: Path, options: ReaderOptions) -> Iterator[SourceFrame]:
    """One frame per ``<image>`` element."""
    path = _xml_file(source)
    root = options.images or (path.parent / "images" if (path.parent / "images").is_dir() else path.parent)
    try:
        tree = ET.parse(path)
    except ET.ParseError as exc:
        raise LabelError(f"{path}: not valid XML ({exc})") from None
    if tree.getroot().tag != "annotations":
        raise LabelError(f"{path}: the root element is <{tree.getroot().tag}>, CVAT's is <annotations>")
    for image in tree.getroot().iter("image"):
        yield _frame(image, root, path, options.lane_labels)
