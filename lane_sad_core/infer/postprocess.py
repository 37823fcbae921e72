"""From probability maps to lanes in source pixels: the SAD paper's decoding, or a robust curve fit.

Both start like the official CULane code (``prob2lines/getLane.m``): a slot is decoded when
its existence probability exceeds 0.5, its probability map is smoothed with a 9x9 box filter
(at the paper's 800 px width; scaled to narrower inputs), and on a row the column of highest
smoothed probability is a point when that probability exceeds 0.3.

``fit="official"`` is the paper's decoding, exactly: every 20 *source* rows from the
bottom, the row's point as it is; lanes with fewer than 2 points are dropped. A row whose
argmax jumps to a car's edge or a shadow kinks the lane there.

``fit="robust"`` (the default) reads a point on every network row instead, rejects the
rows that disagree with the lane's consensus curve (:mod:`lane_sad_core.infer.lanefit`,
``fit_tolerance`` of the image width) and samples a smooth curve x(y) through the rest at
the same output rows. A lane ends where its agreeing rows end; ``extend_to_bottom``
continues it along its tangent to the bottom row (until it leaves the image's side), as
CULane's labels run through the car's hood.

Rows. The official CULane code samples source rows y = 590, 570, ... (18 rows, 1-based)
and reads network row ``round(y * 288 / 590)``: the whole 1640x590 frame is resized to
800x288. Here rows are chosen in the source image (``src_h - 1``, ``src_h - 1 - step``,
..., never above the crop line, since cropped rows are not seen by the network) and
mapped to network rows with :func:`lane_sad_core.data.preprocess.source_to_network`, so a
crop (``crop_top``) shifts and stretches the mapping consistently with training. A point
is reported at its exact source row, and its column mapped back with
:func:`~lane_sad_core.data.preprocess.network_to_source`.

Speed. The official decoding smooths only the sampled rows: a band of kernel rows around
each is gathered (zero outside the map, like the official zero-padded convolution), summed
down the band, and box-summed along the row, for all lanes and rows at once. The robust fit
box-filters the lane channels' maps over the sampled rows' span once.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from lane_sad_core.data.preprocess import PreprocessConfig, crop_rows, network_to_source, source_to_network
from lane_sad_core.errors import ConfigError
from lane_sad_core.infer.lanefit import CurveFit, fit_lane_curve
from lane_sad_core.lanes import Lane

OFFICIAL_KERNEL, OFFICIAL_WIDTH = 9, 800  # prob2lines: a 9x9 box on 800x288 maps
FITS = ("robust", "official")


@dataclass(frozen=True)
class PostprocessConfig:
    """Parameters of :func:`lanes_from_probmaps`.

    The thresholds, smoothing and rows default to the official CULane code's; the fit to
    the robust curve (``fit="official"`` for the paper's decoding, bit for bit).

    Attributes:
        exist_threshold: a slot is decoded when its existence probability exceeds this.
        prob_threshold: a row yields a point when its best smoothed probability exceeds this.
        smooth_kernel: side of the box filter (odd); 1 disables smoothing. None (the
            default) scales the official 9 px at the paper's 800 px input width to the
            network's width (5 at 400, 3 at 256): the filter is meant to span a lane's
            width, and a 9 px box over a 2 px lane at 256 px would flatten its peak below
            the point threshold.
        row_step: distance between sampled rows, in source pixels.
        num_rows: at most this many rows from the bottom; None (the default) samples up
            to the crop line. With CULane's official crop (240 of 590 rows) that is the
            official 18 rows; a fixed 18 would stop 130 px short of the horizon on a
            1280x720 TuSimple frame and cut every lane's far end (real TuSimple F1 0.19
            with 18 rows, 0.50 up to the crop line, same model).
        y_samples: explicit source rows (e.g. TuSimple's h_samples); overrides
            ``row_step`` and ``num_rows``.
        min_points: lanes with fewer points are dropped (robust fit: also fewer agreeing rows).
        fit: ``"robust"``: a curve through the rows that agree, sampled at the rows above;
            ``"official"``: each sampled row's point as it is (the paper's decoding).
        fit_tolerance: robust fit: a row agrees with the lane's curve when its point is
            within this fraction of the image width (0.02: 33 px on a 1640 px CULane
            frame, a painted line's width near the bottom; 0.015 and 0.03 scored lower on
            the synthetic and real test sets, docs/postprocess.md).
        fit_degree: robust fit: polynomial degree of x(y) (2 follows curves; 1 only lines).
        extend_to_bottom: robust fit: continue each lane along its tangent from its lowest
            agreeing row to the bottom sampled row (CULane's labels run through the car's
            hood; on for CULane scoring). Off, a lane ends where its evidence ends.
    """

    exist_threshold: float = 0.5
    prob_threshold: float = 0.3
    smooth_kernel: int | None = None
    row_step: float = 20.0
    num_rows: int | None = None
    y_samples: tuple[float, ...] | None = None
    min_points: int = 2
    fit: str = "robust"
    fit_tolerance: float = 0.02
    fit_degree: int = 2
    extend_to_bottom: bool = False

    def __post_init__(self) -> None:
        if self.smooth_kernel is not None and (self.smooth_kernel < 1 or self.smooth_kernel % 2 == 0):
            raise ConfigError(f"smooth_kernel must be odd and >= 1, got {self.smooth_kernel}")
        if self.row_step <= 0:
            raise ConfigError(f"row_step must be > 0, got {self.row_step}")
        if self.fit not in FITS:
            raise ConfigError(f"fit must be one of {', '.join(FITS)}, got {self.fit!r}")
        if self.fit_tolerance <= 0:
            raise ConfigError(f"fit_tolerance must be > 0 (a fraction of the image width), got {self.fit_tolerance}")
        if self.fit_degree not in (1, 2, 3):
            raise ConfigError(f"fit_degree must be 1, 2 or 3, got {self.fit_degree}")
        if self.y_samples is not None:
            object.__setattr__(self, "y_samples", tuple(float(y) for y in self.y_samples))


def smoothing_kernel(cfg: PostprocessConfig, net_width: int) -> int:
    """The box filter's side: as configured, or 9 scaled from 800 px to ``net_width`` (odd)."""
    if cfg.smooth_kernel is not None:
        return cfg.smooth_kernel
    return 2 * int(OFFICIAL_KERNEL * net_width / OFFICIAL_WIDTH / 2) + 1


def sample_rows(src_shape: tuple[int, int], preprocess: PreprocessConfig, cfg: PostprocessConfig) -> np.ndarray:
    """Source rows to read, bottom first, all inside the part of the image the network sees."""
    src_h = int(src_shape[0])
    top = crop_rows(src_h, preprocess)
    if cfg.y_samples is not None:
        ys = np.asarray(sorted(cfg.y_samples, reverse=True), dtype=np.float64)
    else:
        count = int(np.floor((src_h - 1 - top) / cfg.row_step)) + 1
        if cfg.num_rows is not None:
            count = min(count, cfg.num_rows)
        ys = (src_h - 1) - cfg.row_step * np.arange(count, dtype=np.float64)
    return ys[(ys >= top) & (ys <= src_h - 1)]


def lanes_from_probmaps(
    prob: np.ndarray,
    exist: np.ndarray,
    src_shape: tuple[int, int],
    preprocess: PreprocessConfig,
    cfg: PostprocessConfig | None = None,
) -> list[Lane]:
    """Decode lanes from one image's softmax maps.

    Args:
        prob: (C, H, W) float class probabilities at network resolution; channel 0 is
            background, channel s + 1 is lane slot s.
        exist: (C - 1,) existence probabilities (after the sigmoid).
        src_shape: (height, width) of the source image.
        preprocess: the preprocessing the network input went through.
        cfg: decoding parameters.

    Returns:
        Lanes in source pixels, bottom point first, with ``slot``, ``existence`` and a
        per-point ``confidence`` (the smoothed probability at the point).
    """
    cfg = cfg or PostprocessConfig()
    prob = np.asarray(prob)
    exist = np.asarray(exist, dtype=np.float64).reshape(-1)
    if prob.ndim != 3 or prob.shape[0] != exist.shape[0] + 1:
        raise ConfigError(f"expected (L + 1, H, W) maps and (L,) existence, got {prob.shape} and {exist.shape}")
    slots = np.flatnonzero(exist > cfg.exist_threshold)
    ys = sample_rows(src_shape, preprocess, cfg)
    if slots.size == 0 or ys.size == 0:
        return []
    net_rows = np.rint(source_to_network(np.stack([np.zeros_like(ys), ys], 1), src_shape, preprocess)[:, 1])
    net_rows = np.clip(net_rows, 0, prob.shape[1] - 1).astype(np.intp)
    decode = _official_lanes if cfg.fit == "official" else _robust_lanes
    return decode(prob, exist, slots, ys, net_rows, src_shape, preprocess, cfg)


def _row_peaks(smoothed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each (slot, row)'s best column and its probability, from (S, R, W) rows."""
    cols = smoothed.argmax(axis=2)
    return cols, np.take_along_axis(smoothed, cols[..., None], axis=2)[..., 0]


def _official_lanes(
    prob: np.ndarray,
    exist: np.ndarray,
    slots: np.ndarray,
    ys: np.ndarray,
    net_rows: np.ndarray,
    src_shape: tuple[int, int],
    preprocess: PreprocessConfig,
    cfg: PostprocessConfig,
) -> list[Lane]:
    """The paper's decoding: each sampled row's best point above the threshold, as it is."""
    smoothed = _smoothed_rows(prob, slots + 1, net_rows, smoothing_kernel(cfg, prob.shape[2]))  # (S, K, W)
    cols, best = _row_peaks(smoothed)
    lanes = []
    for i, slot in enumerate(slots):
        hit = best[i] > cfg.prob_threshold
        if hit.sum() < cfg.min_points:
            continue
        net_pts = np.stack([cols[i][hit].astype(np.float64), net_rows[hit].astype(np.float64)], 1)
        xs = network_to_source(net_pts, src_shape, preprocess)[:, 0]
        lanes.append(
            Lane(np.stack([xs, ys[hit]], 1), slot=int(slot), existence=float(exist[slot]), confidence=best[i][hit])
        )
    return lanes


def _robust_lanes(
    prob: np.ndarray,
    exist: np.ndarray,
    slots: np.ndarray,
    ys: np.ndarray,
    net_rows: np.ndarray,
    src_shape: tuple[int, int],
    preprocess: PreprocessConfig,
    cfg: PostprocessConfig,
) -> list[Lane]:
    """Every network row's best point, outlier rows rejected, a curve sampled at the output rows."""
    first, last = int(net_rows.min()), int(net_rows.max())
    smoothed = _smoothed_band(prob, slots + 1, first, last, smoothing_kernel(cfg, prob.shape[2]))  # (S, R, W)
    cols, best = _row_peaks(smoothed)
    rows = np.arange(first, last + 1)
    # the network grid in source pixels: each row's y, and the width of a column
    row_y = network_to_source(np.stack([np.zeros(len(rows)), rows], 1), src_shape, preprocess)[:, 1]
    col_x = float(network_to_source(np.array([[1.0, 0.0]]), src_shape, preprocess)[0, 0])
    tolerance = cfg.fit_tolerance * src_shape[1]
    lanes = []
    for i, slot in enumerate(slots):
        hit = best[i] > cfg.prob_threshold
        if hit.sum() < cfg.min_points:
            continue
        curve = fit_lane_curve(row_y[hit], cols[i][hit] * col_x, best[i][hit], tolerance, cfg.fit_degree)
        if curve is None or curve.inliers.sum() < cfg.min_points:
            continue
        evidence = rows[hit][curve.inliers]
        lowest = float(row_y[hit][curve.inliers].max())
        keep, x = _sample_curve(curve, ys, net_rows, (evidence.min(), evidence.max()), lowest, src_shape[1], cfg)
        if keep.sum() < cfg.min_points:
            continue
        net_cols = np.clip(np.rint(x / col_x), 0, prob.shape[2] - 1).astype(np.intp)
        confidence = smoothed[i, net_rows[keep] - first, net_cols]
        lanes.append(
            Lane(np.stack([x, ys[keep]], 1), slot=int(slot), existence=float(exist[slot]), confidence=confidence)
        )
    return lanes


def _sample_curve(
    curve: CurveFit,
    ys: np.ndarray,
    net_rows: np.ndarray,
    evidence: tuple[int, int],
    lowest: float,
    src_width: int,
    cfg: PostprocessConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """Which output rows the lane covers (mask over ``ys``) and the curve's columns there.

    The rows are those its evidence spans (in network rows). With ``extend_to_bottom`` the
    rows below the evidence follow the tangent at its lowest row (a polynomial extrapolated
    past its data bends away). Points outside the image's width are dropped: a lane ends at
    the image's side.
    """
    span = (net_rows >= evidence[0]) & (net_rows <= evidence[1])
    below = net_rows > evidence[1]
    keep = span | below if cfg.extend_to_bottom else span
    y = ys[keep]
    x = np.where(below[keep], float(curve(np.array([lowest]))[0]) + curve.slope(lowest) * (y - lowest), curve(y))
    inside = (x >= 0.0) & (x <= src_width - 1.0)
    keep[keep] = inside
    return keep, x[inside]


def _smoothed_rows(maps: np.ndarray, channels: np.ndarray, rows: np.ndarray, kernel: int) -> np.ndarray:
    """Box-filtered values of the (C, H, W) maps' ``channels`` on ``rows`` only: (S, K, W).

    Equals a full zero-padded ``kernel`` x ``kernel`` mean filter read at those rows. Only
    the bands around the rows are read, never whole maps (they do not fit in cache).
    """
    if kernel == 1:
        return maps[channels[:, None], rows[None, :], :].astype(np.float32, copy=False)
    height, width = maps.shape[1:]
    r = kernel // 2
    band = rows[:, None] + np.arange(-r, r + 1)  # (K, k)
    inside = ((band >= 0) & (band < height)).astype(np.float32)
    gathered = maps[channels[:, None, None], np.clip(band, 0, height - 1)[None], :]  # (S, K, k, W)
    vertical = np.matmul(inside[None, :, None, :], gathered.astype(np.float32, copy=False))  # (S, K, 1, W)
    flat = vertical.reshape(-1, width)
    box = cv2.boxFilter(flat, -1, (kernel, 1), normalize=False, borderType=cv2.BORDER_CONSTANT)
    return (box * np.float32(1.0 / (kernel * kernel))).reshape(len(channels), len(rows), width)


def _smoothed_band(maps: np.ndarray, channels: np.ndarray, first: int, last: int, kernel: int) -> np.ndarray:
    """Box-filtered ``channels`` of the (C, H, W) maps on rows ``first`` to ``last``: (S, R, W).

    The same zero-padded mean filter as :func:`_smoothed_rows`, over a contiguous band: the
    band plus ``kernel // 2`` rows either side (the map's own rows where there are any,
    zeros beyond its edges) is filtered whole, one OpenCV box filter per lane (faster
    here than any vectorised NumPy form tried).
    """
    height = maps.shape[1]
    r = kernel // 2
    top, bottom = max(0, first - r), min(height, last + r + 1)
    out = np.empty((len(channels), last - first + 1, maps.shape[2]), np.float32)
    for i, channel in enumerate(channels):
        band = maps[channel, top:bottom].astype(np.float32, copy=False)
        box = cv2.boxFilter(band, -1, (kernel, kernel), normalize=False, borderType=cv2.BORDER_CONSTANT)
        out[i] = box[first - top : last - top + 1] * np.float32(1.0 / (kernel * kernel))
    return out
