"""The project's own model as a pseudo-label teacher: its confident slotted lanes.

A trained lane_sad model has seen what the line teacher has not (CULane's slots, lanes
drawn through the hood); a line teacher has seen far more real roads. Each alone is wrong
in its own way: the model's lanes wander onto car edges on cameras it has not seen, the line
teacher's stop at the hood and have no slots. A model lane that a line teacher's lane
confirms (``--confirm``) keeps the model's slot and extent where the paint agrees. Measured
on CULane clip 06030822_0756 (never trained on) with the shipped model: precision 0.52 for
all its lanes, 0.68 for the confident ones, 0.75 confirmed by TwinLiteNet (recall 0.54,
0.43, 0.41). Used by ``lane-sad pseudo-label --teacher MODEL.pt [--confirm LINES.onnx]``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lane_sad_core.data.pseudo import OnnxLineTeacher, PseudoLabelConfig, confident_lanes, confirmed
from lane_sad_core.errors import ConfigError
from lane_sad_core.infer.detector import LaneDetector
from lane_sad_core.lanes import Lane


class ModelTeacher:
    """A lane_sad checkpoint that labels frames with its confident lanes.

    Raises:
        ConfigError: the model's slot count is not the pseudo-labels' (``cfg.num_slots``).
        CheckpointError: the file is not a readable lane_sad checkpoint.
    """

    def __init__(
        self,
        path: str | Path,
        cfg: PseudoLabelConfig,
        confirm: OnnxLineTeacher | None = None,
        threads: int | None = None,
    ) -> None:
        self.detector = LaneDetector(path, "cpu", threads=threads)
        self.confirm = confirm
        if self.detector.num_slots != cfg.num_slots:
            raise ConfigError(
                f"teacher {path} has {self.detector.num_slots} lane slots, --num-slots is {cfg.num_slots}"
            )
        self.cfg = cfg

    def lanes(self, bgr: np.ndarray) -> list[Lane]:
        """The frame's lanes the model is confident about, and that the line teacher confirms if given."""
        lanes = confident_lanes(self.detector.detect(bgr).lanes, bgr.shape[0], self.cfg)
        if self.confirm is None:
            return lanes
        return confirmed(lanes, self.confirm.lanes(bgr), bgr.shape[1], self.cfg)
