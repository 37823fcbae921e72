"""How steady lanes are over a video: frame-to-frame jitter of matched lanes and flicker.

No labels needed. Two consecutive frames' lanes are the same lane when they share a slot
and lie close: their mean column difference over the rows both cover is within ``match``
of the image width (further apart, it is a slot switch, counted but not jitter). Jitter is
the absolute column displacement of matched lanes at fixed rows (every ``row_step`` source
rows from the bottom), pooled over the video. A flicker is a slot that vanishes for 1 to
``max_gap`` frames and comes back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from lane_sad_core.lanes import Lane


@dataclass(frozen=True)
class StabilityReport:
    """Jitter and flicker of one lane sequence.

    Attributes:
        frames: frames in the sequence.
        lanes: lanes over all frames.
        displacements: absolute column change (px) of matched lanes at the fixed rows.
        switches: lanes present in consecutive frames in one slot but too far apart to match.
        flickers: times a slot vanished for 1 to ``max_gap`` frames and came back.
    """

    frames: int
    lanes: int
    displacements: np.ndarray
    switches: int
    flickers: int

    @property
    def median(self) -> float:
        """Median jitter in pixels (NaN without matched lanes)."""
        return float(np.median(self.displacements)) if self.displacements.size else float("nan")

    @property
    def p95(self) -> float:
        """95th percentile of the jitter in pixels (NaN without matched lanes)."""
        return float(np.percentile(self.displacements, 95)) if self.displacements.size else float("nan")


def stability(
    frames: Sequence[Sequence[Lane]],
    shape: tuple[int, int],
    row_step: float = 20.0,
    match: float = 0.05,
    max_gap: int = 3,
) -> StabilityReport:
    """Jitter and flicker of the lanes of consecutive frames of size ``shape`` (height, width)."""
    height, width = shape
    rows = (height - 1) - row_step * np.arange(int((height - 1) // row_step) + 1)
    moves: list[np.ndarray] = []
    switches = 0
    for before, after in pairwise(frames):
        previous = {lane.slot: lane for lane in before}
        for lane in after:
            if lane.slot not in previous:
                continue
            dx = np.abs(lane.x_at(rows) - previous[lane.slot].x_at(rows))
            dx = dx[~np.isnan(dx)]
            if dx.size == 0:
                continue
            if dx.mean() > match * width:
                switches += 1
            else:
                moves.append(dx)
    return StabilityReport(
        frames=len(frames),
        lanes=sum(len(f) for f in frames),
        displacements=np.concatenate(moves) if moves else np.zeros(0),
        switches=switches,
        flickers=_flickers(frames, max_gap),
    )


def _flickers(frames: Sequence[Sequence[Lane]], max_gap: int) -> int:
    """Absences of 1 to ``max_gap`` frames between two presences of a slot."""
    count = 0
    for slot in {lane.slot for f in frames for lane in f}:
        present = np.flatnonzero([any(lane.slot == slot for lane in f) for f in frames])
        gaps = np.diff(present) - 1
        count += int(np.sum((gaps >= 1) & (gaps <= max_gap)))
    return count
