"""From probability maps to lanes in source pixels: the SAD paper's post-processing.

For each lane slot whose existence probability exceeds 0.5, its probability map is
smoothed with a 9x9 box filter (at the paper's 800 px width; scaled to narrower inputs)
and, every 20 *source* rows from the bottom, the column of highest smoothed probability
is taken when that probability exceeds 0.3; lanes with fewer than 2 points are dropped
(official ``prob2lines/getLane.m``). An optional smoothing spline x(y) can then even out
the points.

Rows. The official CULane code samples source rows y = 590, 570, ... (18 rows, 1-based)
and reads network row ``round(y * 288 / 590)``: the whole 1640x590 frame is resized to
800x288. Here rows are chosen in the source image (``src_h - 1``, ``src_h - 1 - step``,
..., never above the crop line, since cropped rows are not seen by the network) and
mapped to network rows with :func:`lane_sad_core.data.preprocess.source_to_network`, so a
crop (``crop_top``) shifts and stretches the mapping consistently with training. A point
is reported at its exact source row, and its column mapped back with
:func:`~lane_sad_core.data.preprocess.network_to_source`.

Speed. Only the sampled rows are ever smoothed: a band of kernel rows around each is
gathered (zero outside the map, like the official zero-padded convolution), summed down
the band, and box-summed along the row, for all lanes and rows at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.interpolate import UnivariateSpline

from lane_sad_core.data.preprocess import PreprocessConfig, crop_rows, network_to_source, source_to_network
from lane_sad_core.errors import ConfigError
from lane_sad_core.lanes import Lane

OFFICIAL_KERNEL, OFFICIAL_WIDTH = 9, 800  # prob2lines: a 9x9 box on 800x288 maps


@dataclass(frozen=True)
class PostprocessConfig:
    """Parameters of :func:`lanes_from_probmaps` (defaults: the official CULane code).

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
        min_points: lanes with fewer points are dropped.
        spline_sigma: 0 keeps the raw points; > 0 fits a cubic smoothing spline x(y)
            allowing about this many source pixels of noise per point.
    """

    exist_threshold: float = 0.5
    prob_threshold: float = 0.3
    smooth_kernel: int | None = None
    row_step: float = 20.0
    num_rows: int | None = None
    y_samples: tuple[float, ...] | None = None
    min_points: int = 2
    spline_sigma: float = 0.0

    def __post_init__(self) -> None:
        if self.smooth_kernel is not None and (self.smooth_kernel < 1 or self.smooth_kernel % 2 == 0):
            raise ConfigError(f"smooth_kernel must be odd and >= 1, got {self.smooth_kernel}")
        if self.row_step <= 0:
            raise ConfigError(f"row_step must be > 0, got {self.row_step}")
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
    height, width = prob.shape[1:]
    net_rows = np.rint(source_to_network(np.stack([np.zeros_like(ys), ys], 1), src_shape, preprocess)[:, 1])
    net_rows = np.clip(net_rows, 0, height - 1).astype(np.intp)
    smoothed = _smoothed_rows(prob, slots + 1, net_rows, smoothing_kernel(cfg, width))  # (S, K, W)
    cols = smoothed.argmax(axis=2)
    best = np.take_along_axis(smoothed, cols[..., None], axis=2)[..., 0]
    lanes = []
    for i, slot in enumerate(slots):
        hit = best[i] > cfg.prob_threshold
        if hit.sum() < cfg.min_points:
            continue
        net_pts = np.stack([cols[i][hit].astype(np.float64), net_rows[hit].astype(np.float64)], 1)
        xs = network_to_source(net_pts, src_shape, preprocess)[:, 0]
        if cfg.spline_sigma > 0:
            xs = _spline_smooth(ys[hit], xs, cfg.spline_sigma, float(src_shape[1]))
        lanes.append(
            Lane(np.stack([xs, ys[hit]], 1), slot=int(slot), existence=float(exist[slot]), confidence=best[i][hit])
        )
    return lanes


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


def _spline_smooth(ys: np.ndarray, xs: np.ndarray, sigma: float, src_width: float) -> np.ndarray:
    """x(y) through a cubic smoothing spline (lower degree for few points), kept in the image."""
    if len(ys) < 3:
        return xs
    order = np.argsort(ys)
    spline = UnivariateSpline(ys[order], xs[order], k=min(3, len(ys) - 1), s=len(ys) * sigma**2)
    return np.clip(spline(ys), 0.0, src_width - 1.0)
