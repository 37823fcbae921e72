"""Pseudo-labels for unlabelled frames from a teacher, kept only where trustworthy.

Two kinds of teacher. The project's own model (a lane_sad checkpoint,
:class:`~lane_sad_core.infer.model_teacher.ModelTeacher`) already gives slotted lanes; only
its confident ones are kept (:func:`confident_lanes`), then step 4 below. A binary line
segmenter such as TwinLiteNet (trained on BDD100K's real frames, shipped as ONNX) says, per
pixel, "lane line or not": no instances, no slots. Turning that into training labels for a
slot model takes four steps, each of which can only drop lanes:

1. the teacher's probability map at the source size, thresholded;
2. lines tracked through the mask row by row (the converters' binary-mask tracker,
   :func:`~lane_sad_core.data.convert.mask_lanes.binary_lanes`);
3. slots by where each line meets the bottom of the frame (the project's slot rule,
   :func:`~lane_sad_core.data.slots.slots_by_position`); a line is kept only when the
   teacher is confident along it (mean probability) and it spans enough rows;
4. in a video, a lane is kept only when a lane of the same slot lies within a few pixels of
   it in a neighbouring frame: a teacher's one-frame mistake (a car edge, a shadow) rarely
   repeats in the same place.

Slots with no kept lane are *unknown*, not absent (``?`` flags): a missed line must not be
taught as background. The teacher's lines stop where the paint is hidden (the car's hood,
occluders), unlike CULane's labels; such frames teach the lanes' position, not their extent.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from lane_sad_core.data.convert.mask_lanes import binary_lanes
from lane_sad_core.data.slots import bottom_x, slots_by_position
from lane_sad_core.errors import ConfigError
from lane_sad_core.lanes import Lane


@dataclass(frozen=True)
class PseudoLabelConfig:
    """How teacher outputs become lanes, and which are kept.

    Attributes:
        teacher_size: (width, height) of the teacher's input (TwinLiteNet: 640x360).
        output: name of the teacher's lane-probability output.
        threshold: probability above which a pixel is lane line.
        min_confidence: smallest mean teacher probability along a kept lane.
        min_rows: smallest height a kept lane spans, as a fraction of the frame's height.
        agree: in a video, largest mean distance (fraction of the width) to the same slot's
            lane in a neighbouring frame; 0 keeps single frames' lanes without that check.
        num_slots: lane slots of the student.
        confirm: a model teacher's lane is kept only when a line teacher's lane lies within
            this fraction of the width of it (when a confirming teacher is given).
    """

    teacher_size: tuple[int, int] = (640, 360)
    output: str = "lane_prob"
    threshold: float = 0.5
    min_confidence: float = 0.6
    min_rows: float = 0.08
    agree: float = 0.015
    num_slots: int = 4
    confirm: float = 0.015

    def __post_init__(self) -> None:
        if not 0 < self.threshold < 1 or not 0 <= self.min_confidence <= 1 or self.agree < 0:
            raise ConfigError("pseudo-label threshold must be in (0, 1), min_confidence in [0, 1], agree >= 0")


class OnnxLineTeacher:
    """A binary lane-line segmenter in an ONNX file: (N, 3, H, W) RGB in [0, 1] -> lane probability.

    Raises:
        ConfigError: onnxruntime is missing, or the file is not a model with the named output.
    """

    def __init__(self, path: str, cfg: PseudoLabelConfig) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise ConfigError("pseudo-labels need onnxruntime (pip install onnxruntime)") from None
        try:
            self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for bad files
            raise ConfigError(f"teacher {path}: not a readable ONNX model ({type(exc).__name__})") from None
        outputs = [o.name for o in self.session.get_outputs()]
        if cfg.output not in outputs:
            raise ConfigError(f"teacher {path} has no output {cfg.output!r} (outputs: {outputs})")
        self.input = self.session.get_inputs()[0].name
        self.cfg = cfg

    def lanes(self, bgr: np.ndarray) -> list[Lane]:
        """The frame's slotted lanes that pass the confidence and length tests (:func:`frame_lanes`)."""
        return frame_lanes(self(bgr), self.cfg)

    def __call__(self, bgr: np.ndarray) -> np.ndarray:
        """The (H, W) lane-line probability of a BGR frame, at the frame's size."""
        width, height = self.cfg.teacher_size
        rgb = cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA)[..., ::-1]
        batch = np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0
        (prob,) = self.session.run([self.cfg.output], {self.input: batch})
        return cv2.resize(prob[0, 0], (bgr.shape[1], bgr.shape[0]), interpolation=cv2.INTER_LINEAR)


def frame_lanes(prob: np.ndarray, cfg: PseudoLabelConfig) -> list[Lane]:
    """Slotted lanes of one frame's teacher map that pass the confidence and length tests."""
    height, width = prob.shape
    lines, _ = binary_lanes(((prob > cfg.threshold) * 255).astype(np.uint8))
    candidates = []
    for points in lines:
        if len(points) < 2:
            continue
        ordered = points[np.argsort(-points[:, 1])].astype(np.float32)
        xs = np.clip(np.round(ordered[:, 0]).astype(int), 0, width - 1)
        candidates.append(Lane(ordered, confidence=prob[ordered[:, 1].astype(int), xs]))
    candidates = confident_lanes(candidates, height, cfg)
    slots = slots_by_position([bottom_x(lane, height) for lane in candidates], width, cfg.num_slots)
    kept = [Lane(lane.points, slot, 1.0, lane.confidence) for lane, slot in zip(candidates, slots) if slot is not None]
    return sorted(kept, key=lambda lane: lane.slot)


def confident_lanes(lanes: list[Lane], height: int, cfg: PseudoLabelConfig) -> list[Lane]:
    """The lanes whose mean point confidence and height pass the tests, in slot order.

    One rule for both teachers: a line teacher's point confidence is its probability at the
    point, a lane_sad model's its slot's probability at the decoded point. The teacher is
    sure along the lane, and the lane spans enough rows to teach a position.
    """
    kept = []
    for lane in lanes:
        confidence = float(lane.confidence.mean()) if lane.confidence.size else lane.existence
        if confidence >= cfg.min_confidence and np.ptp(lane.points[:, 1]) >= cfg.min_rows * height:
            kept.append(lane)
    return sorted(kept, key=lambda lane: lane.slot)


def confirmed(lanes: list[Lane], lines: list[Lane], width: int, cfg: PseudoLabelConfig) -> list[Lane]:
    """The lanes that one of another teacher's lanes confirms (within ``confirm`` x width)."""
    limit = cfg.confirm * width
    return [lane for lane in lanes if any(lane_distance(lane, line) <= limit for line in lines)]


def lane_distance(a: Lane, b: Lane) -> float:
    """Mean |x difference| over the rows both lanes cover (inf when they share none)."""
    lo = max(a.points[:, 1].min(), b.points[:, 1].min())
    hi = min(a.points[:, 1].max(), b.points[:, 1].max())
    if hi - lo < 1:
        return float("inf")
    rows = np.linspace(lo, hi, 16)
    xa = np.interp(rows, *_by_row(a))
    xb = np.interp(rows, *_by_row(b))
    return float(np.abs(xa - xb).mean())


def _by_row(lane: Lane) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(lane.points[:, 1])
    return lane.points[order, 1], lane.points[order, 0]


def consistent_in_time(sequence: list[list[Lane]], width: int, cfg: PseudoLabelConfig) -> list[list[Lane]]:
    """Each frame's lanes that a neighbouring frame confirms (same slot, within ``agree`` x width)."""
    if cfg.agree <= 0 or len(sequence) < 2:
        return sequence
    limit = cfg.agree * width
    kept = []
    for i, lanes in enumerate(sequence):
        neighbours = [sequence[j] for j in (i - 1, i + 1) if 0 <= j < len(sequence)]
        kept.append(
            [
                lane
                for lane in lanes
                if any(
                    lane_distance(lane, other) <= limit for n in neighbours for other in n if other.slot == lane.slot
                )
            ]
        )
    return kept
