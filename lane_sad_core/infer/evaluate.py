"""Run a detector over a dataset and score it with the official metrics, per category.

Used by training validation, ``lane-sad eval`` and the comparison table. Frames are
scored in memory, frame by frame, with the exact per-frame rules of the official tools:
CULane's IoU matching (canvas = the source image, 1640x590 on CULane) and TuSimple's
point accuracy / FP / FN. TuSimple data is scored at its label rows (``h_samples``);
other data TuSimple-style at every 10th source row the ground truth covers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field

from lane_sad_core.data.datasets import read_image
from lane_sad_core.data.formats import lanes_to_tusimple_row
from lane_sad_core.lanes import Lane
from lane_sad_core.metrics import CulaneCounts, CulaneSettings, culane_frame_counts, tusimple_frame_score

ROW_STEP = 10
# Lanes extended to the bottom row when scoring against each format's labels: CULane's run
# through the car's hood to the bottom row, TuSimple's stop where the marking is seen.
EXTEND_TO_BOTTOM = {"culane": True, "tusimple": False}
FP_ONLY = frozenset({"cross"})  # crossroad frames have no lanes: only FP is reported


@dataclass
class TusimpleTally:
    """Running sums of TuSimple's per-image accuracy, FP and FN."""

    accuracy: float = 0.0
    fp: float = 0.0
    fn: float = 0.0
    frames: int = 0

    def add(self, acc: float, fp: float, fn: float) -> None:
        self.accuracy, self.fp, self.fn = self.accuracy + acc, self.fp + fp, self.fn + fn
        self.frames += 1

    def as_dict(self) -> dict:
        n = max(self.frames, 1)
        return {"accuracy": self.accuracy / n, "fp": self.fp / n, "fn": self.fn / n, "frames": self.frames}


@dataclass(frozen=True)
class FrameScore:
    """One frame's CULane counts, kept so that comparisons can resample frames."""

    category: str
    tp: int
    fp: int
    fn: int


@dataclass
class EvalReport:
    """CULane counts and TuSimple-style scores, total and per category, and per frame."""

    culane: dict[str, CulaneCounts] = field(default_factory=lambda: defaultdict(CulaneCounts))
    tusimple: dict[str, TusimpleTally] = field(default_factory=lambda: defaultdict(TusimpleTally))
    frames: list[FrameScore] = field(default_factory=list)

    def as_dict(self) -> dict:
        """``{"total": {...}, "categories": {name: {...}}}`` with f1/precision/recall/tp/fp/fn and
        TuSimple-style ``tusimple_accuracy``/``tusimple_fp``/``tusimple_fn``."""

        def merged(key: str) -> dict:
            out = self.culane[key].as_dict()
            ts = self.tusimple[key].as_dict()
            out.update({"tusimple_accuracy": ts["accuracy"], "tusimple_fp": ts["fp"], "tusimple_fn": ts["fn"]})
            return out

        cats = sorted(k for k in self.culane if k != "total")
        return {"total": merged("total"), "categories": {c: merged(c) for c in cats}}


def score_rows(gt: Sequence[Lane], height: int, h_samples: Sequence[float] | None) -> list[float]:
    """The rows TuSimple-style scoring uses: the labels' own, or every 10th covered row."""
    if h_samples is not None:
        return list(h_samples)
    ys = [y for lane in gt for y in lane.points[:, 1]] if gt else [height * 0.5]
    bottom = height - 1 - (height - 1) % ROW_STEP
    return [float(y) for y in range(bottom, int(min(ys)) - 1, -ROW_STEP)][::-1]


def score_frame(
    report: EvalReport,
    category: str,
    pred: Sequence[Lane],
    gt: Sequence[Lane],
    size: tuple[int, int],
    h_samples: Sequence[float] | None = None,
) -> None:
    """Add one frame (``size`` = source (height, width)) to ``report``."""
    height, width = size
    tp, fp, fn = culane_frame_counts(pred, gt, CulaneSettings(width=width, height=height))
    rows = score_rows(gt, height, h_samples)
    acc, tfp, tfn = tusimple_frame_score(lanes_to_tusimple_row(pred, rows), lanes_to_tusimple_row(gt, rows), rows)
    report.frames.append(FrameScore(category, tp, fp, fn))
    for key in ("total", category):
        c = report.culane[key]
        report.culane[key] = CulaneCounts(c.tp + tp, c.fp + fp, c.fn + fn, c.frames + 1, key in FP_ONLY)
        report.tusimple[key].add(acc, tfp, tfn)


def evaluate_dataset(
    detector,
    dataset,
    indices: Iterable[int] | None = None,
    batch_size: int = 4,
    progress: Callable | None = None,
    on_frame: Callable[[int, list[Lane]], None] | None = None,
    slots: Collection[int] | None = None,
) -> EvalReport:
    """Detect lanes in ``dataset``'s source images and score them against its labels.

    Args:
        detector: a :class:`~lane_sad_core.infer.detector.LaneDetector`.
        dataset: a :class:`~lane_sad_core.data.datasets.LaneDataset` (CULane or TuSimple).
        indices: frames to use (default all).
        batch_size: frames per network call.
        progress: optional ``progress(iterable, total)`` wrapper (tqdm).
        on_frame: optional ``on_frame(index, lanes)`` called with each frame's detections.
        slots: score only the detections of these slots (0-based), for label sets that
            label some slots only: CULane drives with ego-lane labels are scored on slots
            1 and 2, the two lines of the ego lane.
    """
    idx = list(range(len(dataset)) if indices is None else indices)
    report = EvalReport()
    chunks = [idx[i : i + batch_size] for i in range(0, len(idx), batch_size)]
    for chunk in progress(chunks, len(chunks)) if progress else chunks:
        images = [read_image(dataset.image_path(i)) for i in chunk]
        for i, image, det in zip(chunk, images, detector.detect_batch(images)):
            lanes = det.lanes if slots is None else [lane for lane in det.lanes if lane.slot in slots]
            if on_frame is not None:
                on_frame(i, lanes)
            h_samples = getattr(dataset, "h_samples", lambda _: None)(i)
            score_frame(report, dataset.category(i), lanes, dataset.lanes(i), image.shape[:2], h_samples)
    return report


def markdown_table(report: dict) -> str:
    """The scores as a Markdown table, total first."""
    head = (
        "| split | frames | F1 | precision | recall | TP | FP | FN | TuSimple acc | FP rate | FN rate |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )

    def fmt(v: float | None) -> str:
        return "—" if v is None else f"{v:.4f}"

    rows = [head]
    for name, r in [("total", report["total"]), *report["categories"].items()]:
        rows.append(
            f"| {name} | {r['frames']} | {fmt(r['f1'])} | {fmt(r['precision'])} | {fmt(r['recall'])} | "
            f"{r['tp']} | {r['fp']} | {r['fn']} | {fmt(r['tusimple_accuracy'])} | "
            f"{fmt(r['tusimple_fp'])} | {fmt(r['tusimple_fn'])} |"
        )
    return "\n".join(rows)
