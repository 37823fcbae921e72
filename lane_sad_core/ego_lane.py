"""The ego lane in metres: width, offset, heading, curvature and a lane-departure flag.

Input is what the node already has: each lane's flat-ground projection
(:func:`lane_sad_core.geometry.project_to_ground`), in the ground frame under the camera of
ROS REP 103 (x forward, y left). Each of the two ego lines (the lanes of the two middle slots,
immediately left and right of the vehicle) is fitted with a low-order polynomial y(x), and
the measures are read off the fits:

* ``width``: distance between the lines across the lane, at the camera (x = 0);
* ``offset``: the camera's distance from the lane centre, across the lane; **positive when
  the vehicle is left of the centre** (REP 103's +y), so a vehicle drifting right goes negative;
* ``heading``: the vehicle's yaw relative to the lane direction, radians, counter-clockwise
  positive (REP 103): positive when the vehicle points left of the lane;
* ``curvature``: the lane centre's curvature ``lookahead`` metres ahead, 1/m, positive when
  the lane bends left (counter-clockwise);
* ``departure``: a wheel is within ``margin`` of a line,
  ``|offset| > width / 2 - half_width - margin``.

The lines are seen from a few metres ahead on; the values at x = 0 come from extending the
fit to the camera, which is why the fit is kept to a low order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.polynomial import Polynomial

# Shortest stretch of road (metres) a line's points must span before a parabola is fitted:
# over less, the curvature term fits the points' noise rather than the road's bend.
CURVE_SPAN = 10.0
MIN_POINTS = 3


@dataclass(frozen=True)
class EgoLaneConfig:
    """How the ego lane is measured (the node's ``ego_*`` / ``vehicle_*`` parameters).

    Attributes:
        lookahead: distance ahead of the camera where ``curvature`` is read, metres.
        half_width: half the vehicle's width (wheel to wheel, outside), metres.
        margin: a wheel closer than this to a line raises ``departure``, metres.
        fit_distance: only ground points up to this far ahead are fitted, metres: further
            rows span metres of road per pixel and bend the fit with their error.
        degree: polynomial order of each line (2: a parabola, constant curvature).
    """

    lookahead: float = 10.0
    half_width: float = 0.9
    margin: float = 0.1
    fit_distance: float = 40.0
    degree: int = 2


@dataclass(frozen=True)
class EgoLane:
    """The ego lane's measures (see the module docstring for the conventions).

    Attributes:
        valid: both ego lines were seen and fitted; when False every number is NaN and
            ``departure`` is False.
        width, offset: metres.
        heading: radians.
        curvature: 1/m, at ``lookahead``.
        lookahead: metres.
        departure: a wheel is within the margin of a line.
        centre: the lane centre's fit y(x) in the ground frame (None when not valid), for
            drawing it.
    """

    valid: bool
    width: float = math.nan
    offset: float = math.nan
    heading: float = math.nan
    curvature: float = math.nan
    lookahead: float = math.nan
    departure: bool = False
    centre: Polynomial | None = None


def ego_slots(num_slots: int) -> tuple[int, int]:
    """The slots of the lines left and right of the vehicle: the two middle ones (1 and 2 of 4)."""
    return num_slots // 2 - 1, num_slots // 2


def fit_line(ground: np.ndarray, config: EgoLaneConfig) -> Polynomial | None:
    """y(x) of one line's ground points (N, 2+), or None when too few lie within ``fit_distance``.

    Least squares weighted by 1/x: one pixel of lateral error is x / focal metres on the
    road, so nearer points are the surer ones and count more.
    """
    pts = np.asarray(ground, dtype=np.float64).reshape(len(ground), -1)[:, :2]
    keep = np.isfinite(pts).all(axis=1) & (pts[:, 0] > 0.0) & (pts[:, 0] <= config.fit_distance)
    x, y = pts[keep, 0], pts[keep, 1]
    if len(x) < MIN_POINTS or np.ptp(x) <= 0.0:
        return None
    degree = min(config.degree, len(x) - 1) if np.ptp(x) >= CURVE_SPAN else 1
    return Polynomial.fit(x, y, degree, w=1.0 / x).convert()


def measure(left: Polynomial, right: Polynomial, config: EgoLaneConfig) -> EgoLane:
    """The ego lane between two fitted lines y(x) (left has the larger y)."""
    centre = (left + right) / 2.0
    slope = float(centre.deriv()(0.0))
    across = 1.0 / math.hypot(1.0, slope)  # cos of the lane's angle: lateral distances become perpendicular
    width = float(left(0.0) - right(0.0)) * across
    if not width > 0.0:  # crossed or degenerate lines: no lane between them
        return EgoLane(valid=False)
    offset = -float(centre(0.0)) * across
    d1, d2 = float(centre.deriv()(config.lookahead)), float(centre.deriv(2)(config.lookahead))
    return EgoLane(
        valid=True,
        width=width,
        offset=offset,
        heading=-math.atan(slope),
        curvature=d2 / (1.0 + d1 * d1) ** 1.5,
        lookahead=config.lookahead,
        departure=abs(offset) > width / 2.0 - config.half_width - config.margin,
        centre=centre,
    )


def ego_lane(ground_by_slot: Mapping[int, np.ndarray], num_slots: int, config: EgoLaneConfig) -> EgoLane:
    """The ego lane from the lanes' ground points, keyed by slot; invalid unless both ego lines fit.

    Args:
        ground_by_slot: slot -> (N, 3) ground points (NaN rows above the horizon allowed).
        num_slots: the model's lane slots (4 for CULane); the middle two are the ego lines.
        config: look-ahead, vehicle size, margin and fit settings.
    """
    fits = [ground_by_slot.get(slot) for slot in ego_slots(num_slots)]
    left, right = (None if g is None else fit_line(g, config) for g in fits)
    if left is None or right is None:
        return EgoLane(valid=False)
    return measure(left, right, config)
