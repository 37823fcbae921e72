"""From a source frame's lanes to CULane lanes: rows, checks and slots, with a reason for
every lane that does not make it.

Slot rule (for lanes whose source gives no slot), the same one the loaders use for label
sets without existence flags (:mod:`lane_sad_core.data.slots`): each lane is extended to
the bottom row by a straight-line fit of its lower half; lanes meeting the bottom left of
the image centre take the left slots from the centre outwards (with 4 slots: slot 2, then
1, counted 1..4 from the left), the others the right slots (3, then 4). A third lane on one
side has no slot and is reported. Lanes whose source names a slot (a CVAT ``slot``
attribute, a LabelMe ``group_id``, OpenLane's ``attribute``) keep it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lane_sad_core.data.convert.frames import SourceLane
from lane_sad_core.data.convert.rows import bottom_up, resample_rows
from lane_sad_core.data.slots import bottom_x, slots_by_position
from lane_sad_core.lanes import Lane

# A source lane the source itself places outside the slots (OpenLane attribute 0).
NO_SLOT = -1


@dataclass(frozen=True)
class LaneRules:
    """How source lanes become CULane lanes.

    Attributes:
        num_slots: lane slots (CULane: 4).
        row_step: vertical spacing of label points in whole pixels (CULane: 10).
        min_rows: a lane needs at least this many rows inside the image.
        margin: fraction of the width a point may lie outside the image (annotators and
            CULane's own labels run a little past the border) before it is dropped.
    """

    num_slots: int = 4
    row_step: int = 10
    min_rows: int = 3
    margin: float = 0.05


def prepare_lanes(
    lanes: Sequence[SourceLane], width: int, height: int, rules: LaneRules
) -> tuple[list[Lane], list[str]]:
    """The frame's lanes on CULane rows with slots, ordered left to right, and the issues."""
    issues: list[str] = []
    sampled: list[tuple[SourceLane, np.ndarray]] = []
    for lane in lanes:
        rows = _rows(lane, width, height, rules, issues)
        if rows is not None:
            sampled.append((lane, rows))
    placed = _place(sampled, width, height, rules.num_slots, issues)
    return _left_to_right(placed, height, issues), issues


def _rows(lane: SourceLane, width: int, height: int, rules: LaneRules, issues: list[str]) -> np.ndarray | None:
    """The lane's points on the row grid inside the image (plus margin), or None (reported)."""
    if len(lane.points) < 2:
        issues.append(f"{lane.name}: fewer than 2 points ({len(lane.points)})")
        return None
    points, cut = bottom_up(lane.points)
    if cut:
        x, y = points[-1]
        issues.append(f"{lane.name}: turns back at ({x:.0f}, {y:.0f}); kept the part below it")
    rows = resample_rows(points, height, rules.row_step)
    pad = rules.margin * width
    rows = rows[(rows[:, 0] > -pad) & (rows[:, 0] < width - 1 + pad)]
    if len(rows) < rules.min_rows:
        issues.append(
            f"{lane.name}: too short ({len(rows)} rows {rules.row_step:g} px apart inside the image, "
            f"{rules.min_rows} needed)"
        )
        return None
    return rows


def _place(
    sampled: list[tuple[SourceLane, np.ndarray]], width: int, height: int, num_slots: int, issues: list[str]
) -> list[Lane]:
    """Slots: the source's where given, else the position rule; reports what has none."""
    taken: dict[int, str] = {}
    placed: list[Lane] = []
    unslotted: list[tuple[SourceLane, np.ndarray]] = []
    for lane, rows in sampled:
        if lane.slot is None:
            unslotted.append((lane, rows))
        elif lane.slot == NO_SLOT:
            issues.append(f"{lane.name}: the source places it outside the {num_slots} slots")
        elif not 0 <= lane.slot < num_slots:
            issues.append(f"{lane.name}: slot {lane.slot + 1} is not one of 1..{num_slots}")
        else:
            _take(lane, rows, lane.slot, taken, placed, issues)
    xs = [bottom_x(Lane(rows), height) for _, rows in unslotted]
    for (lane, rows), x, slot in zip(unslotted, xs, slots_by_position(xs, width, num_slots), strict=True):
        if slot is None:
            side = "left" if x < width / 2 else "right"
            issues.append(
                f"{lane.name}: no free slot {side} of the centre (meets the bottom at x={x:.0f}; "
                f"{num_slots} slots hold {num_slots // 2} per side)"
            )
        else:
            _take(lane, rows, slot, taken, placed, issues)
    return placed


def _left_to_right(placed: list[Lane], height: int, issues: list[str]) -> list[Lane]:
    """The lanes ordered by slot, with slots that run against their left-to-right order fixed.

    CULane's existence flags say which slots hold a lane; the loader hands those slots to
    the lanes in the order they meet the bottom of the frame. Source slots in another order
    cannot be stored, so the lanes take the same slots left to right (and it is reported).
    """
    by_slot = sorted(placed, key=lambda lane: lane.slot)
    by_x = sorted(placed, key=lambda lane: bottom_x(lane, height))
    if [id(lane) for lane in by_x] == [id(lane) for lane in by_slot]:
        return by_slot
    order = ", ".join(str(lane.slot + 1) for lane in by_x)
    issues.append(
        f"the source's slots run against the lanes' left-to-right order ({order}); "
        "the lanes take those slots from left to right"
    )
    return [Lane(lane.points, slot.slot) for lane, slot in zip(by_x, by_slot, strict=True)]


def _take(
    lane: SourceLane, rows: np.ndarray, slot: int, taken: dict[int, str], placed: list[Lane], issues: list[str]
) -> None:
    if slot in taken:
        issues.append(f"{lane.name}: slot {slot + 1} is already taken by {taken[slot]}")
        return
    taken[slot] = lane.name
    placed.append(Lane(rows, slot))
