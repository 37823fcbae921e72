"""The CULane evaluator's lane interpolation, reproduced to the last bit.

The official C++ tool (XingangPan/SCNN ``tools/lane_evaluation``, ``spline.cpp``) densifies
every lane of three or more points with a natural cubic spline parametrised by chord length
before drawing it: each interval between two points is cut into ``times`` = 50 steps, and
the lane's last point closes the list. Lanes of exactly two points are drawn as they are.

Public Python ports recompute this in float64 throughout; the C++ tool does not, which is
one reason their F1 drifts from the official one. What this module copies on purpose:

* Points are ``cv::Point2f``: the parsed doubles are rounded to float32 before anything else.
* Coordinate differences ``p[i+1].x - p[i].x`` are float-minus-float in C++, so they are
  computed and rounded in float32, then promoted to double.
* The tridiagonal solve (TDMA), the coefficients and the evaluation
  ``a + b*t + c*t^2 + d*t^3`` follow the C++ operation order in double precision.
* ``pow(t, 3)`` comes from libm: correctly rounded in the glibc of the tool's era (< 2.28),
  within 0.52 ULP since (glibc 2.36 misses correct rounding for ~1 in 1000 arguments).
  numpy's ``power`` on AVX-512 machines uses SVML and is off by one ULP for ~5 % of them,
  so the cube is computed here as a correctly rounded double-double product. A one-ULP
  difference in ``t^3`` survives the float32 cast of the point with probability ~2^-29;
  against a build of the tool on glibc 2.36 every interpolated point was bit-identical.
* Each interpolated point is stored back into a ``Point2f`` (rounded to float32).

Where the C++ tool divides by zero (two identical consecutive points), the same NaN and
infinity values appear here, so the drawing stage can treat them as OpenCV does.
"""

from __future__ import annotations

import numpy as np

_SPLIT = 134217729.0  # 2**27 + 1, Dekker's splitting constant for float64.

INTERP_TIMES = 50
"""Steps per interval in the official tool (``splineInterpTimes(lane, 50)``)."""


def _split(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c = _SPLIT * a
    high = c - (c - a)
    return high, a - high


def _two_product(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``a*b`` rounded, and its exact rounding error (Dekker), without FMA."""
    product = a * b
    a_hi, a_lo = _split(a)
    b_hi, b_lo = _split(b)
    error = ((a_hi * b_hi - product) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo
    return product, error


def cube(t: np.ndarray) -> np.ndarray:
    """``t**3`` correctly rounded, as libm's ``pow(t, 3)`` returns it."""
    square, square_err = _two_product(t, t)
    cubed, cubed_err = _two_product(square, t)
    with np.errstate(invalid="ignore", over="ignore"):
        return cubed + (cubed_err + square_err * t)


def _natural_moments(h: np.ndarray, slopes: np.ndarray) -> list[float]:
    """Second derivatives at the knots, by the C++ tool's TDMA (order of operations kept)."""
    n = len(h) + 1
    a = h[:-1].tolist()
    b = (2 * (h[:-1] + h[1:])).tolist()
    c = h[1:].tolist()
    d = (6 * (slopes[1:] - slopes[:-1])).tolist()
    c[0] = c[0] / b[0]
    d[0] = d[0] / b[0]
    for i in range(1, n - 2):
        tmp = b[i] - a[i] * c[i - 1]
        c[i] = c[i] / tmp
        d[i] = (d[i] - a[i] * d[i - 1]) / tmp
    moments = [0.0] * n
    moments[n - 2] = d[n - 3]
    for i in range(n - 4, -1, -1):
        moments[i + 1] = d[i] - c[i] * moments[i + 2]
    moments[0] = 0.0
    moments[n - 1] = 0.0
    return moments


def _interp_coordinate(
    start: np.ndarray,
    diff: np.ndarray,
    h: np.ndarray,
    t: np.ndarray,
    t2: np.ndarray,
    t3: np.ndarray,
) -> np.ndarray:
    """One coordinate of every interpolated point, shape (n-1, times)."""
    slopes = diff / h
    moments = np.asarray(_natural_moments(h, slopes))
    m0, m1 = moments[:-1], moments[1:]
    coef_b = slopes - (2 * h * m0 + h * m1) / 6
    coef_c = m0 / 2
    coef_d = (m1 - m0) / (6 * h)
    return start[:, None] + coef_b[:, None] * t + coef_c[:, None] * t2 + coef_d[:, None] * t3


def spline_interp_times(points: np.ndarray, times: int = INTERP_TIMES) -> np.ndarray:
    """Densify a lane of >= 3 points as the official ``Spline::splineInterpTimes``.

    Args:
        points: (N, 2) lane points, N >= 3; rounded to float32 as ``Point2f`` does.
        times: steps per interval.

    Returns:
        ((N-1) * times + 1, 2) float32 points: ``times`` per interval, then the last input
        point.

    Raises:
        ValueError: fewer than 3 points (the C++ tool never calls the spline for those).
    """
    pts = np.asarray(points, dtype=np.float32).reshape(-1, 2)
    if len(pts) < 3:
        raise ValueError(f"spline needs >= 3 points, got {len(pts)}")
    diff = (pts[1:] - pts[:-1]).astype(np.float64)  # float - float in C++, then promoted
    start = pts[:-1].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        h = np.sqrt(diff[:, 0] ** 2 + diff[:, 1] ** 2)
        t = (h / times)[:, None] * np.arange(times, dtype=np.float64)[None, :]
        t2 = t * t
        t3 = cube(t)
        xs = _interp_coordinate(start[:, 0], diff[:, 0], h, t, t2, t3)
        ys = _interp_coordinate(start[:, 1], diff[:, 1], h, t, t2, t3)
        dense = np.stack([xs.reshape(-1), ys.reshape(-1)], axis=1).astype(np.float32)
    return np.concatenate([dense, pts[-1:]], axis=0)
