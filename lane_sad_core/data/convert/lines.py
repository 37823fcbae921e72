"""Per-image text labels, one lane per line as ``x y x y ...`` (CULane's ``.lines.txt``,
LSTR's TuSimple ``.txt`` files, and many custom exports).

INPUT is the image folder (searched recursively). An image's label is the first of, in
order: ``<stem>.lines.txt`` or ``<stem>.txt`` beside it; the same in ``--labels`` at the
image's relative path; the same in a sibling folder, where a path component containing
``images`` is read with ``labels`` in its place (``train_images/3.jpg`` ->
``train_labels/3.txt``). Points may run in either direction. Images without a label file
are reported and skipped; an empty label file is a frame without lanes. Slots by position.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from lane_sad_core.data.convert.frames import ReaderOptions, SourceFrame, SourceLane
from lane_sad_core.data.convert.paths import find_images, relative_key, sibling_label_candidates
from lane_sad_core.data.formats import read_culane_lines
from lane_sad_core.errors import LabelError

SUFFIXES = (".lines.txt", ".txt")


def label_for(image: Path, root: Path, options: ReaderOptions) -> Path | None:
    """The label file of ``image``, or None."""
    candidates = sibling_label_candidates(image, root, SUFFIXES)
    if options.labels is not None:
        rel = image.relative_to(root)
        candidates[len(SUFFIXES) : len(SUFFIXES)] = [options.labels / rel.parent / (image.stem + s) for s in SUFFIXES]
    return next((c for c in candidates if c.is_file()), None)


def read(source: Path, options: ReaderOptions) -> Iterator[SourceFrame]:
    """One frame per image below ``source``."""
    if not source.is_dir():
        raise LabelError(f"{source}: the lines format takes the image folder")
    for image in find_images(source):
        key = relative_key(image, source)
        label = label_for(image, source, options)
        if label is None:
            yield SourceFrame(key, image, problem=f"no label file ({image.stem}.lines.txt or .txt) found")
            continue
        lanes = [SourceLane(lane.points, f"lane {i + 1}") for i, lane in enumerate(read_culane_lines(label))]
        yield SourceFrame(key, image, lanes)
