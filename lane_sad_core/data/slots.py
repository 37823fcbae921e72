"""Which slot a lane boundary occupies, for label sets that do not say.

Segmentation models for lanes predict a fixed number of *slots* (CULane: 4, ordered left to
right: ego-left-left, ego-left, ego-right, ego-right-right). CULane's ``train_gt.txt`` gives
existence flags, but the real sample folders, TuSimple's JSON and custom sets do not. The
common practice (SCNN's label generator, the TuSimple segmentation lists) is to order the
lanes by where they meet the bottom of the image and to split them at the image centre:
lanes meeting the bottom left of the centre fill the left half of the slots outward from
the middle, the others fill the right half. That is what :func:`assign_slots` does; lanes
beyond the outermost slot are dropped (:func:`slots_by_position` tells which, so that
``lane-sad convert`` can report them).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lane_sad_core.lanes import Lane


def bottom_x(lane: Lane, image_height: float) -> float:
    """Where the lane meets the image bottom: a straight-line fit of its lower half.

    The lower half is used because far points bend with curvature and are least precise;
    a one-point lane returns that point's x.
    """
    pts = lane.points[np.argsort(-lane.points[:, 1])]
    if len(pts) == 1:
        return float(pts[0, 0])
    low = pts[: max(2, (len(pts) + 1) // 2)]
    if np.ptp(low[:, 1]) < 1e-6:
        return float(low[:, 0].mean())
    slope, intercept = np.polyfit(low[:, 1], low[:, 0], 1)
    return float(slope * image_height + intercept)


def slots_by_position(bottom_xs: Sequence[float], image_width: float, num_slots: int) -> list[int | None]:
    """The slot of each lane from where it meets the image bottom, None where its side is full.

    Lanes left of the centre fill the left half of the slots outward from the middle (with 4
    slots: 1, then 0), the others the right half (2, then 3).
    """
    centre = image_width / 2.0
    half = num_slots // 2
    slots: list[int | None] = [None] * len(bottom_xs)
    left = sorted((i for i, x in enumerate(bottom_xs) if x < centre), key=lambda i: -bottom_xs[i])
    right = sorted((i for i, x in enumerate(bottom_xs) if x >= centre), key=lambda i: bottom_xs[i])
    for rank, i in enumerate(left[:half]):
        slots[i] = half - 1 - rank
    for rank, i in enumerate(right[: num_slots - half]):
        slots[i] = half + rank
    return slots


def assign_slots(lanes: Sequence[Lane], image_width: float, image_height: float, num_slots: int) -> list[Lane]:
    """Copies of ``lanes`` with slots set from their bottom x, ordered by slot.

    Lanes with fewer than 2 points are ignored. With ``num_slots`` = 4 the lane nearest the
    centre on the left gets slot 1, the next one slot 0; on the right slots 2 then 3.
    """
    usable = [lane for lane in lanes if len(lane) >= 2]
    slots = slots_by_position([bottom_x(lane, image_height) for lane in usable], image_width, num_slots)
    slotted = [_with_slot(lane, slot) for lane, slot in zip(usable, slots, strict=True) if slot is not None]
    return sorted(slotted, key=lambda lane: lane.slot)


def flip_lanes(lanes: Sequence[Lane], image_width: float, num_slots: int) -> list[Lane]:
    """Mirror lanes left-right: x -> width - 1 - x and slot k -> num_slots - 1 - k.

    Mirroring swaps left and right, so the ego-left boundary becomes the ego-right one;
    keeping the old slot would teach a model that a left boundary lies to the right.
    """
    out = []
    for lane in lanes:
        pts = lane.points.copy()
        pts[:, 0] = image_width - 1 - pts[:, 0]
        slot = num_slots - 1 - lane.slot if lane.slot >= 0 else -1
        out.append(Lane(pts, slot, lane.existence, lane.confidence.copy()))
    return sorted(out, key=lambda lane: lane.slot)


def _with_slot(lane: Lane, slot: int) -> Lane:
    return Lane(lane.points.copy(), slot, lane.existence, lane.confidence.copy())
