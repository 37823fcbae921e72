"""Lane lines from label masks: one point per image row, the mean x of the lane's pixels.

Instance masks (one grey level per lane, LaneNet's ``gt_instance_image``) give each lane
its pixels directly. Binary masks (tvtLANE's ``truth``, LaneNet's ``gt_binary_image``) say
only "lane or not", and lanes converge towards the horizon, so connected components would
merge neighbouring lanes. They are followed instead row by row from the bottom: each row's
runs of lane pixels continue the track whose line (fitted through its last rows) passes
nearest, within a gate; a run that covers the predicted x of two tracks is where they
merge, and both stop there; a run that continues no track starts one. Tracks survive gaps
of up to ``max_gap`` rows (dashes). Rows where a lane's pixels touch the left or right
border give no point: the visible part of a line leaving the frame is cut, and its centre
would be off. The writer then samples the per-row points at CULane's row spacing. JPEG
masks are thresholded at 127 (tvtLANE's carry JPEG noise).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

_FIT_ROWS = 15  # rows a track's direction is fitted over
_MIN_TRACK_ROWS = 5  # shorter tracks are specks, not lanes


def instance_lanes(mask: np.ndarray) -> tuple[list[tuple[int, np.ndarray]], int]:
    """(grey level, (N, 2) points bottom first) per lane, and how many specks were ignored.

    Levels with fewer pixels than 1e-4 of the image (at least 10) are specks, not lanes.
    """
    height, width = mask.shape
    levels, counts = np.unique(mask[mask > 0], return_counts=True)
    min_pixels = max(10, round(1e-4 * mask.size))
    out = []
    for level in levels[counts >= min_pixels]:
        on = mask == level
        ys, xs = np.nonzero(on)
        n = np.bincount(ys, minlength=height)
        sums = np.bincount(ys, weights=xs, minlength=height)
        rows = np.flatnonzero((n > 0) & ~on[:, 0] & ~on[:, width - 1])[::-1]
        out.append((int(level), np.stack([sums[rows] / n[rows], rows.astype(np.float64)], axis=1)))
    return out, int(np.sum(counts < min_pixels))


def row_runs(row: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) column of each run of True pixels in a row."""
    padded = np.concatenate([[False], row, [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2], strict=True)]


@dataclass(eq=False)
class _Track:
    ys: list[float] = field(default_factory=list)
    xs: list[float] = field(default_factory=list)
    edge: list[bool] = field(default_factory=list)
    done: bool = False

    def predict(self, y: float) -> float:
        if len(self.ys) < 2:
            return self.xs[-1]
        ys, xs = np.asarray(self.ys[-_FIT_ROWS:]), np.asarray(self.xs[-_FIT_ROWS:])
        if np.ptp(ys) < 1:
            return float(xs[-1])
        slope, intercept = np.polyfit(ys, xs, 1)
        return float(slope * y + intercept)

    def add(self, y: float, run: tuple[int, int], width: int) -> None:
        self.ys.append(y)
        self.xs.append((run[0] + run[1]) / 2.0)
        self.edge.append(run[0] == 0 or run[1] == width - 1)

    def points(self) -> np.ndarray:
        """(N, 2) points, bottom first, without the rows that touch a border."""
        keep = ~np.asarray(self.edge)
        return np.stack([np.asarray(self.xs)[keep], np.asarray(self.ys)[keep]], axis=1)


def binary_lanes(mask: np.ndarray, max_gap: int | None = None) -> tuple[list[np.ndarray], int]:
    """(N, 2) points bottom first per lane tracked in a binary mask, and specks ignored.

    Args:
        mask: (H, W) uint8; pixels > 127 are lane.
        max_gap: rows a track may go unseen (default 15% of the height).
    """
    on = mask > 127
    height, width = on.shape
    max_gap = max_gap if max_gap is not None else max(3, round(0.15 * height))
    base_gate = max(3.0, 0.01 * width)
    tracks: list[_Track] = []
    for y in range(height - 1, -1, -1):
        runs = [r for r in row_runs(on[y]) if r[1] - r[0] < 0.25 * width]
        for t in tracks:
            t.done = t.done or t.ys[-1] - y > max_gap
        live = [t for t in tracks if not t.done]
        _step(live, runs, float(y), base_gate, tracks, width)
    kept = [t for t in tracks if len(t.ys) >= _MIN_TRACK_ROWS]
    return [t.points() for t in kept], len(tracks) - len(kept)


def _step(
    live: list[_Track], runs: list[tuple[int, int]], y: float, base_gate: float, tracks: list[_Track], width: int
) -> None:
    """Extend, stop or start tracks with one row's runs."""
    predictions = [t.predict(y) for t in live]
    used_tracks: set[int] = set()
    free_runs = []
    for a, b in runs:
        inside = [i for i, p in enumerate(predictions) if a - 1 <= p <= b + 1]
        if len(inside) >= 2:  # two lanes meet in this run: their tracks end here
            for i in inside:
                live[i].done = True
                used_tracks.add(i)
        else:
            free_runs.append((a, b))
    pairs = []
    for r, (a, b) in enumerate(free_runs):
        centre = (a + b) / 2.0
        for i, (track, p) in enumerate(zip(live, predictions, strict=True)):
            gate = base_gate * (1.0 + (track.ys[-1] - y) / 10.0) + (b - a) / 2.0
            if i not in used_tracks and abs(p - centre) <= gate:
                pairs.append((abs(p - centre), i, r))
    used_runs: set[int] = set()
    for _, i, r in sorted(pairs):
        if i in used_tracks or r in used_runs:
            continue
        used_tracks.add(i)
        used_runs.add(r)
        live[i].add(y, free_runs[r], width)
    for r, run in enumerate(free_runs):
        if r not in used_runs:
            track = _Track()
            track.add(y, run, width)
            tracks.append(track)
