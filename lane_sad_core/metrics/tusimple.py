"""TuSimple's official lane metric: accuracy, FP and FN, as ``LaneEval`` computes them.

The reference is ``evaluate/lane.py`` of TuSimple/tusimple-benchmark (its latest revision,
with the "more than GT + 2 predictions" rule). Per image (``LaneEval.bench``):

* Each GT lane gets a pixel threshold of 20 / cos(theta), theta = arctan of the slope of a
  least-squares line x(y) through its present points (theta = 0 with < 2 points), so steep
  lanes in the image, whose x changes fast with y, get a wider tolerance.
* A prediction's accuracy on a GT lane is the share of *all* ``h_samples`` rows where
  |x_pred - x_gt| < threshold, absent values (< 0) on either side taken as -100: a row
  absent in both counts as correct, a row absent in one only as wrong.
* Each GT lane takes its best prediction (no one-to-one matching: one prediction can serve
  two GT lanes, which makes FP negative); below 0.85 it is a miss (FN), otherwise matched.
* FP = predictions - matched GT lanes. With more than 4 GT lanes, one miss is forgiven and
  the worst GT lane is dropped from the accuracy.
* accuracy = sum of best accuracies / max(min(4, GT lanes), 1); FP rate = FP / predictions
  (0 without predictions); FN rate = FN / max(min(GT lanes, 4), 1). An image without GT
  lanes thus scores accuracy 0.
* A run time above 200 ms, or more than GT + 2 predicted lanes, scores (0, 0, 1).

Over a submission (``LaneEval.bench_one_submit``), every prediction line must name a GT
``raw_file``, the two files must have as many lines, and the sums are divided by the number
of distinct GT images.

Deliberate differences: ``run_time`` may be absent (taken as 0; the official script demands
the key, most public forks do not), and errors name the offending image. Like the official
script, predictions need no ``h_samples``: each lane has one x per row of the GT image. The slope is the
closed-form least-squares slope, where the official script calls scikit-learn's
``LinearRegression``; the two agree to a few ULP, which moves a point across the threshold
only if its error equals the threshold to ~1e-13 px.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lane_sad_core.data.formats import TusimpleRecord, read_tusimple
from lane_sad_core.errors import LabelError

PIXEL_THRESH = 20.0
POINT_THRESH = 0.85
ABSENT = -100.0
MAX_RUN_TIME_MS = 200.0
MAX_COUNTED_LANES = 4
EXTRA_LANES_ALLOWED = 2


@dataclass(frozen=True)
class TusimpleFrame:
    """One image's official scores.

    Attributes:
        raw_file: the image, as named in the files.
        accuracy: mean point accuracy of the (up to 4 best-counted) GT lanes.
        fp: false positive rate of the image's predictions.
        fn: false negative rate of the image's GT lanes.
    """

    raw_file: str
    accuracy: float
    fp: float
    fn: float


@dataclass(frozen=True)
class TusimpleScore:
    """A submission's official scores: per-image values averaged over the GT images.

    Attributes:
        accuracy: mean accuracy.
        fp: mean FP rate.
        fn: mean FN rate.
        frames: per-image scores, in prediction order.
    """

    accuracy: float
    fp: float
    fn: float
    frames: list[TusimpleFrame] = field(default_factory=list)

    def as_dict(self) -> dict[str, float | int]:
        """The averages under the keys the CLI's JSON uses, plus the image count."""
        return {"accuracy": self.accuracy, "fp": self.fp, "fn": self.fn, "frames": len(self.frames)}


def lane_angle(xs: np.ndarray, ys: np.ndarray) -> float:
    """arctan of the least-squares slope dx/dy over the present points (x >= 0); 0 if < 2."""
    present = xs >= 0
    x, y = xs[present], ys[present]
    if len(x) < 2:
        return 0.0
    yc = y - y.mean()
    return float(np.arctan(np.dot(yc, x - x.mean()) / np.dot(yc, yc)))


def line_accuracies(preds: np.ndarray, gt: np.ndarray, thresh: float) -> np.ndarray:
    """Share of rows where each prediction is within ``thresh`` of ``gt`` (absent = -100).

    Args:
        preds: (P, R) x values of P predicted lanes at R rows.
        gt: (R,) x values of one GT lane.
        thresh: pixel threshold.

    Returns:
        (P,) accuracies.
    """
    p = np.where(preds >= 0, preds, ABSENT)
    g = np.where(gt >= 0, gt, ABSENT)
    return np.count_nonzero(np.abs(p - g) < thresh, axis=1) / len(g)


def tusimple_frame_score(
    pred_lanes: Sequence[Sequence[float]],
    gt_lanes: Sequence[Sequence[float]],
    h_samples: Sequence[float],
    run_time: float = 0.0,
) -> tuple[float, float, float]:
    """One image's (accuracy, FP rate, FN rate), as ``LaneEval.bench``.

    Args:
        pred_lanes: predicted x values per lane, one per GT ``h_samples`` row (-2 absent).
        gt_lanes: GT x values per lane, same rows.
        h_samples: the GT rows (y).
        run_time: the prediction's run time in ms.

    Returns:
        ``(accuracy, fp, fn)``.

    Raises:
        ValueError: a predicted lane does not have one value per row.
    """
    rows = len(h_samples)
    for i, lane in enumerate(pred_lanes):
        if len(lane) != rows:
            raise ValueError(f"predicted lane {i} has {len(lane)} x values for {rows} h_samples")
    n_pred, n_gt = len(pred_lanes), len(gt_lanes)
    if run_time > MAX_RUN_TIME_MS or n_gt + EXTRA_LANES_ALLOWED < n_pred:
        return 0.0, 0.0, 1.0
    ys = np.asarray(h_samples, dtype=np.float64)
    preds = np.asarray(pred_lanes, dtype=np.float64).reshape(n_pred, rows)
    best_accs, fn, matched = [], 0, 0
    for lane in gt_lanes:
        gt = np.asarray(lane, dtype=np.float64)
        thresh = PIXEL_THRESH / np.cos(lane_angle(gt, ys))
        best = float(line_accuracies(preds, gt, thresh).max()) if n_pred else 0.0
        if best < POINT_THRESH:
            fn += 1
        else:
            matched += 1
        best_accs.append(best)
    fp = n_pred - matched
    if n_gt > MAX_COUNTED_LANES and fn > 0:
        fn -= 1
    total = sum(best_accs)
    if n_gt > MAX_COUNTED_LANES:
        total -= min(best_accs)
    counted = max(min(MAX_COUNTED_LANES, n_gt), 1)
    return total / counted, fp / n_pred if n_pred else 0.0, fn / counted


def score_tusimple(pred_records: Sequence[TusimpleRecord], gt_records: Sequence[TusimpleRecord]) -> TusimpleScore:
    """Score predictions against GT as ``LaneEval.bench_one_submit``.

    Args:
        pred_records: one record per image; ``lanes`` sampled at the GT's ``h_samples``.
        gt_records: the GT records.

    Returns:
        Averages over the distinct GT images, and per-image scores.

    Raises:
        LabelError: record counts differ, a prediction names an image without GT, or a
            predicted lane has the wrong number of values.
    """
    if len(pred_records) != len(gt_records):
        raise LabelError(
            f"{len(pred_records)} predictions for {len(gt_records)} GT images: "
            "every GT image needs exactly one prediction"
        )
    gts = {r.raw_file: r for r in gt_records}
    frames = []
    for pred in pred_records:
        gt = gts.get(pred.raw_file)
        if gt is None:
            raise LabelError(f"prediction for '{pred.raw_file}', which has no GT")
        try:
            scores = tusimple_frame_score(pred.lanes, gt.lanes, gt.h_samples, pred.run_time or 0.0)
        except ValueError as exc:
            raise LabelError(f"{pred.raw_file}: {exc}") from None
        frames.append(TusimpleFrame(pred.raw_file, *scores))
    num = max(len(gts), 1)
    return TusimpleScore(
        accuracy=sum(f.accuracy for f in frames) / num,
        fp=sum(f.fp for f in frames) / num,
        fn=sum(f.fn for f in frames) / num,
        frames=frames,
    )


def score_tusimple_files(pred_path: str | Path, gt_path: str | Path) -> TusimpleScore:
    """Score a TuSimple prediction JSON-lines file against a GT file.

    Predictions need ``raw_file`` and ``lanes`` only (``h_samples`` come from the GT).
    """
    for path in map(Path, (pred_path, gt_path)):
        if path.is_dir():
            raise LabelError(f"{path}: a folder, not a TuSimple JSON-lines file")
        if not path.is_file():
            raise LabelError(f"{path}: file not found")
    return score_tusimple(read_tusimple(pred_path, predictions=True), read_tusimple(gt_path))
