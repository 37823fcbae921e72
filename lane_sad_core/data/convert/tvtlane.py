"""tvtLANE (Zou et al., "Robust lane detection from continuous driving scenes"): sequences
of frames, each with a binary truth mask (JPEG) for the sequence's last frame.

INPUT is the folder of the index files (``train_index.txt``, ``test_index*.txt``: one
sequence per line, the input frames then the truth mask). The labelled frame is the last
input frame of a line; paths are resolved below INPUT whatever prefix they carry
(``./data/...``). Without index files, every ``truth/X`` is paired with ``image/X`` in the
same folder. Masks are thresholded at 127 (JPEG noise) and tracked as binary masks.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from lane_sad_core.data.convert.frames import ReaderOptions, SourceFrame
from lane_sad_core.data.convert.masks import mask_frame
from lane_sad_core.data.convert.paths import find_images, relative_key, resolve_listed
from lane_sad_core.errors import LabelError


def _indexed(source: Path, index: Path) -> Iterator[SourceFrame]:
    for number, line in enumerate(index.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 2:
            raise LabelError(f"{index}:{number}: expected input frames then the truth mask")
        image, truth = resolve_listed(fields[-2], source), resolve_listed(fields[-1], source)
        if image is None or truth is None:
            missing = fields[-2] if image is None else fields[-1]
            yield SourceFrame(fields[-2], None, problem=f"{index.name}:{number}: {missing} not found below {source}")
            continue
        yield mask_frame(relative_key(image, source), image, truth, "binary")


def _paired(source: Path) -> Iterator[SourceFrame]:
    for truth in find_images(source):
        if truth.parent.name != "truth":
            continue
        image = truth.parent.parent / "image" / truth.name
        key = relative_key(image, source)
        if image.is_file():
            yield mask_frame(key, image, truth, "binary")
        else:
            yield SourceFrame(key, None, problem=f"no image for {relative_key(truth, source)}")


def read(source: Path, options: ReaderOptions) -> Iterator[SourceFrame]:
    """One frame per labelled sequence."""
    if not source.is_dir():
        raise LabelError(f"{source}: tvtLANE takes the folder of its index files")
    indexes = sorted(p for p in source.glob("*.txt") if "index" in p.name)
    if not indexes:
        yield from _paired(source)
    for index in indexes:
        yield from _indexed(source, index)
