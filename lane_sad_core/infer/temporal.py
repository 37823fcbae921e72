"""Steady lanes over a video: per-slot smoothing with a gate against lag and a hold against flicker.

Each frame is decoded on its own, so a lane's columns wobble by a few pixels from frame to
frame and a lane whose existence hovers near the threshold drops out for a frame and comes
back. :class:`LaneTracker` keeps one track per lane slot:

* **smoothing**: at the rows both share, the output column moves ``alpha`` of the way from
  the track's column to the new one (exponential smoothing); rows only the new lane has
  take its columns, and the output's rows are always the new lane's (a lane still ends
  where its evidence ends);
* **gate**: when the new lane is, on average over the shared rows, more than ``gate`` of the
  image width away from the track (a lane change re-assigns slots; a new lane takes the
  slot), the track restarts at the new lane instead of lagging behind it;
* **hold**: a slot missing from a frame keeps its last lane for ``hold`` frames, then is
  dropped;
* **restart**: frames that go back in time (a bag looping, a stream restarting), jump more
  than ``max_gap`` seconds ahead, or change size drop every track.

Frames are told apart by their stamps: the detector smooths only frames that come with
one, so independent images (a dataset, a folder) are never blended.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lane_sad_core.errors import ConfigError
from lane_sad_core.lanes import Lane


@dataclass(frozen=True)
class TemporalConfig:
    """Parameters of :class:`LaneTracker`.

    Attributes:
        alpha: weight of the newest frame, in (0, 1]; 1 disables smoothing. 0.4 cuts the
            p95 frame-to-frame jitter on the real videos to 0.37-0.47 of the unsmoothed one
            (``bench/results/jitter.md``) and lags a steady drift by (1 - alpha) / alpha =
            1.5 frames; 0.5 cut it only to 0.55 on the highway video.
        gate: a new lane further than this fraction of the image width (mean over the
            shared rows) from its slot's track restarts the track (0.04: 38 px at 960 px).
        hold: frames a missing lane is still reported with its last curve.
        max_gap: seconds between two frames beyond which every track restarts.
    """

    alpha: float = 0.4
    gate: float = 0.04
    hold: int = 2
    max_gap: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha <= 1.0:
            raise ConfigError(f"temporal alpha must be in (0, 1], got {self.alpha}")
        if self.gate <= 0:
            raise ConfigError(f"temporal gate must be > 0 (a fraction of the image width), got {self.gate}")
        if self.hold < 0:
            raise ConfigError(f"temporal hold must be >= 0 frames, got {self.hold}")
        if self.max_gap <= 0:
            raise ConfigError(f"temporal max_gap must be > 0 s, got {self.max_gap}")


@dataclass
class _Track:
    lane: Lane
    misses: int = 0


@dataclass
class LaneTracker:
    """Smooths one stream's lanes frame by frame (see the module docstring).

    Attributes:
        cfg: the parameters; may be replaced between frames.
    """

    cfg: TemporalConfig = field(default_factory=TemporalConfig)
    _tracks: dict[int, _Track] = field(default_factory=dict, init=False)
    _last: tuple[float, tuple[int, int]] | None = field(default=None, init=False)

    def reset(self) -> None:
        """Forget every track (the next frame is taken as it is)."""
        self._tracks.clear()
        self._last = None

    def update(self, lanes: list[Lane], shape: tuple[int, int], stamp: float) -> list[Lane]:
        """The smoothed lanes of the frame at ``stamp`` (seconds) of size ``shape`` (height, width).

        Lanes without a slot (-1) pass through untouched.
        """
        shape = (int(shape[0]), int(shape[1]))
        if self._last is not None and (
            stamp < self._last[0] or stamp - self._last[0] > self.cfg.max_gap or shape != self._last[1]
        ):
            self.reset()
        self._last = (stamp, shape)
        out = [lane for lane in lanes if lane.slot < 0]
        gate = self.cfg.gate * shape[1]
        for lane in lanes:
            if lane.slot < 0:
                continue
            track = self._tracks.get(lane.slot)
            smoothed = lane if track is None else _blend(track.lane, lane, self.cfg.alpha, gate)
            self._tracks[lane.slot] = _Track(smoothed)
            out.append(smoothed)
        seen = {lane.slot for lane in lanes}
        for slot in [s for s in self._tracks if s not in seen]:
            track = self._tracks[slot]
            track.misses += 1
            if track.misses > self.cfg.hold:
                del self._tracks[slot]
            else:
                out.append(track.lane)
        return sorted(out, key=lambda lane: lane.slot)


def _blend(old: Lane, new: Lane, alpha: float, gate: float) -> Lane:
    """``new`` with its columns moved towards ``old`` at the rows both cover; ``new`` past the gate."""
    x_old = old.x_at(new.points[:, 1])
    shared = ~np.isnan(x_old)
    if not shared.any():
        return new
    x_new = new.points[:, 0]
    if np.mean(np.abs(x_new[shared] - x_old[shared])) > gate:
        return new
    x = np.where(shared, x_old + alpha * (x_new - x_old), x_new)
    return Lane(np.stack([x, new.points[:, 1]], 1), new.slot, new.existence, new.confidence)
