"""The demo's road sequence: synthetic frames, held-out real frames, unlabelled real frames.

Each frame carries its ground truth when it has one, so the demo can report accuracy on
exactly the frames that are labelled. Nothing here touches ROS.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from lane_sad_core.cli import main as cli_main
from lane_sad_core.data.datasets import CULaneDataset
from lane_sad_core.lanes import Lane

REAL_CULANE_CLIP = "culane/sgadgil6__Lane-Detection-CS4476/driver_161_90frame/06030822_0756.MP4"
REAL_UNLABELLED = "unlabelled/udacity__CarND-Advanced-Lane-Lines/test_images"


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
        cli_main(
            [
                "synth",
                "--format",
                "culane",
                "--num",
                str(count),
                "--out",
                str(out),
                "--seed",
                str(seed),
                "--split",
                "0,0,1",
                "--overwrite",
            ]
        )
    data = CULaneDataset(out, "list/test.txt")
    for i in range(len(data)):
        yield SequenceFrame(
            f"synth/{data.image_path(i).name}", _read(data.image_path(i)), data.lanes(i), data.category(i)
        )


def real_culane_frames(real_root: Path, list_file: Path) -> Iterator[SequenceFrame]:
    """The held-out real CULane clip (the default model never trained on it)."""
    clip = real_root / REAL_CULANE_CLIP
    list_file = list_file.resolve()
    if not clip.is_dir():
        return
    root = clip.parents[1]
    list_file.parent.mkdir(parents=True, exist_ok=True)
    list_file.write_text("".join(f"/{clip.parent.name}/{clip.name}/{p.name}\n" for p in sorted(clip.glob("*.jpg"))))
    data = CULaneDataset(root, list_file)
    for i in range(len(data)):
        yield SequenceFrame(f"real_culane/{data.image_path(i).name}", _read(data.image_path(i)), data.lanes(i), "real")


def unlabelled_frames(real_root: Path) -> Iterator[SequenceFrame]:
    """Real road images without labels (other cameras, other countries)."""
    for path in sorted((real_root / REAL_UNLABELLED).glob("*.jpg")):
        yield SequenceFrame(f"unlabelled/{path.name}", _read(path), None, "unlabelled")


def _read(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(2, "cannot read image", str(path))
    return image


def demo_sequence(work: Path, real_root: Path, synthetic: int = 40, seed: int = 7) -> list[SequenceFrame]:
    """The whole sequence: synthetic first, then real frames where ``real_root`` exists."""
    frames = list(synthetic_frames(work / "synth", synthetic, seed))
    if real_root.is_dir():
        frames += list(real_culane_frames(real_root, work / "real_culane_list.txt"))
        frames += list(unlabelled_frames(real_root))
    return frames
