"""Finding images and the files that label them, across the layouts people export.

Two habits of published sets need care: list files that name paths on the author's
machine (LaneNet's ``ROOT_PATH/lanenet-lane-detection/...``, tvtLANE's ``./data/...``),
and labels kept in a sibling folder (``images/`` beside ``labels/``, LSTR's
``train_images/`` beside ``train_labels/``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path, PurePosixPath

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def find_images(root: Path) -> list[Path]:
    """Every image file below ``root``, sorted by path."""
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def resolve_listed(text: str, base: Path) -> Path | None:
    """The file a list entry means, relative to the list's folder ``base``.

    The path as written is tried first, then with its leading folders removed one by one,
    so an absolute or machine-specific prefix does not matter as long as the tail of the
    path exists below ``base``. None when no tail exists.
    """
    parts = PurePosixPath(text.replace("\\", "/")).parts
    parts = tuple(p for p in parts if p not in ("/", "."))
    for start in range(len(parts)):
        candidate = base.joinpath(*parts[start:])
        if candidate.is_file():
            return candidate
    return None


def relative_key(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` as a POSIX string (the frame's key in the output)."""
    return path.relative_to(root).as_posix()


def sibling_label_candidates(image: Path, root: Path, suffixes: Iterable[str]) -> list[Path]:
    """Where a per-image label file may be, most specific first.

    Beside the image (``a/b.jpg`` -> ``a/b<suffix>``), then in a sibling folder where one
    path component below ``root`` that contains ``images`` is replaced by the same name with
    ``labels`` (``images/x.jpg`` -> ``labels/x<suffix>``, ``train_images/3.jpg`` ->
    ``train_labels/3<suffix>``).
    """
    out = [image.with_name(image.stem + s) for s in suffixes]
    rel = image.relative_to(root).parts
    for i, part in enumerate(rel[:-1]):
        if "images" in part:
            folder = root.joinpath(*rel[:i], part.replace("images", "labels"), *rel[i + 1 : -1])
            out.extend(folder / (image.stem + s) for s in suffixes)
    return out
