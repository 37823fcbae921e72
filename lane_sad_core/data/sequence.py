"""The demo's road sequence: synthetic frames, held-out real frames, unlabelled real frames.

Each frame carries its ground truth when it has one, so the demo can report accuracy on
exactly the frames that are labelled. Where real frames live is the caller's setting
(the demo's ``--real-data``); nothing here touches ROS.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from lane_sad_core.data.datasets import CULaneDataset
from lane_sad_core.data.synth.writer import SynthSettings, write_dataset
from lane_sad_core.lanes import Lane


@dataclass
class SequenceFrame:
    """One frame to publish: its name, pixels, and ground truth (None when unlabelled)."""

    name: str
    image: np.ndarray
    lanes: list[Lane] | None
    category: str


def synthetic_frames(out: Path, count: int, seed: int) -> Iterator[SequenceFrame]:
    """``count`` synthetic CULane-format frames (all nine categories), rendered into ``out``."""
    if not (out / "list" / "test.txt").is_file():
        write_dataset(out, SynthSettings(format="culane", num=count, seed=seed, splits=(0.0, 0.0, 1.0)))
    data = CULaneDataset(out, "list/test.txt")
    for i in range(len(data)):
        yield SequenceFrame(
            f"synth/{data.image_path(i).name}", _read(data.image_path(i)), data.lanes(i), data.category(i)
        )


def real_culane_frames(clip: Path, list_file: Path) -> Iterator[SequenceFrame]:
    """The frames of one labelled CULane clip folder (``<root>/<driver>/<clip>.MP4``).

    Args:
        clip: the clip folder; nothing is yielded when it does not exist.
        list_file: where to write the CULane list of its frames.
    """
    list_file = list_file.resolve()
    if not clip.is_dir():
        return
    root = clip.parents[1]
    list_file.parent.mkdir(parents=True, exist_ok=True)
    list_file.write_text("".join(f"/{clip.parent.name}/{clip.name}/{p.name}\n" for p in sorted(clip.glob("*.jpg"))))
    data = CULaneDataset(root, list_file)
    for i in range(len(data)):
        yield SequenceFrame(f"real_culane/{data.image_path(i).name}", _read(data.image_path(i)), data.lanes(i), "real")


def unlabelled_frames(folder: Path) -> Iterator[SequenceFrame]:
    """The ``.jpg`` road images of ``folder``, without labels (other cameras, other countries)."""
    for path in sorted(folder.glob("*.jpg")):
        yield SequenceFrame(f"unlabelled/{path.name}", _read(path), None, "unlabelled")


def _read(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(2, "cannot read image", str(path))
    return image


def demo_sequence(
    work: Path, real_clip: Path | None = None, unlabelled: Path | None = None, synthetic: int = 40, seed: int = 7
) -> list[SequenceFrame]:
    """The whole sequence: synthetic first, then the real frames of the folders given.

    Args:
        work: folder for the rendered frames and list files.
        real_clip: a labelled CULane clip folder (see :func:`real_culane_frames`), or None.
        unlabelled: a folder of unlabelled ``.jpg`` road images, or None.
        synthetic: number of synthetic frames.
        seed: their seed.
    """
    frames = list(synthetic_frames(work / "synth", synthetic, seed))
    if real_clip is not None:
        frames += list(real_culane_frames(real_clip, work / "real_culane_list.txt"))
    if unlabelled is not None:
        frames += list(unlabelled_frames(unlabelled))
    return frames
