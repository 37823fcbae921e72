"""Rolling statistics of the node, reported on /diagnostics.

Kept apart from the node so the rules (rates, percentiles, when to WARN or ERROR) are
plain Python that tests can drive without ROS.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

OK, WARN, ERROR = 0, 1, 2  # diagnostic_msgs/DiagnosticStatus levels
TRANSPORT_DOC = "docs/transport.md"


@dataclass
class HealthReport:
    """One snapshot: a level, a one-line message and the key/value pairs."""

    level: int
    message: str
    values: dict[str, str]


class Health:
    """Counts, rates and latency percentiles over a sliding window; thread-safe."""

    def __init__(self, window_s: float = 5.0, max_samples: int = 1000) -> None:
        self.window_s = window_s
        self._lock = threading.Lock()
        self._arrivals: deque[float] = deque(maxlen=max_samples)
        self._latency_ms: deque[float] = deque(maxlen=max_samples)
        self._stage_ms: dict[str, deque[float]] = {}
        self.received = self.processed = self.skipped = self.bad_input = 0
        self.debug_frames = {"overlay": 0, "attention": 0}
        self.consecutive_failures = 0
        self.last_problem = ""
        self._last_problem_at = -float("inf")
        self.started = time.monotonic()

    def on_arrival(self, replaced_unprocessed: bool) -> None:
        """An image arrived; ``replaced_unprocessed`` when it displaced an older one."""
        with self._lock:
            self.received += 1
            self.skipped += int(replaced_unprocessed)
            self._arrivals.append(time.monotonic())

    def on_processed(self, latency_ms: float, stages_ms: Mapping[str, float]) -> None:
        """A frame was answered after ``latency_ms``; ``stages_ms`` says where the time went.

        Stage names become ``<stage>_p50_ms`` values, in the order first seen, so a user can
        tell whether a slow node waits, converts, infers or publishes.
        """
        with self._lock:
            self.processed += 1
            self.consecutive_failures = 0
            self._latency_ms.append(latency_ms)
            for name, ms in stages_ms.items():
                self._stage_ms.setdefault(name, deque(maxlen=self._latency_ms.maxlen)).append(ms)

    def on_debug_output(self, name: str) -> None:
        """A frame's ``overlay`` or ``attention`` was computed (only while enabled or subscribed)."""
        with self._lock:
            self.debug_frames[name] += 1

    def on_bad_input(self, reason: str) -> None:
        with self._lock:
            self.bad_input += 1
            self._problem(f"bad input: {reason}")

    def on_warning(self, reason: str) -> None:
        """A problem that is not a frame's (a bad CameraInfo): WARN for the window."""
        with self._lock:
            self._problem(reason)

    def on_failure(self, reason: str) -> None:
        with self._lock:
            self.consecutive_failures += 1
            self._problem(f"processing failed: {reason}")

    def _problem(self, text: str) -> None:
        self.last_problem = text
        self._last_problem_at = time.monotonic()

    def _rate(self, now: float) -> float:
        recent = [t for t in self._arrivals if now - t <= self.window_s]
        if len(recent) < 2:
            return 0.0
        return (len(recent) - 1) / max(recent[-1] - recent[0], 1e-9)

    def report(self, image_timeout_s: float, failure_limit: int, publishers: int = 0) -> HealthReport:
        """The current level, message and values.

        Args:
            image_timeout_s: seconds without an image before a WARN.
            failure_limit: consecutive failures before an ERROR.
            publishers: how many publishers the image topic has now: with publishers and
                no images, frames are being lost on the way, and the message says what
                usually loses them.
        """
        with self._lock:
            now = time.monotonic()
            last = self._arrivals[-1] if self._arrivals else self.started
            lat = np.asarray(self._latency_ms) if self._latency_ms else np.zeros(1)
            values = {
                "input_rate_hz": f"{self._rate(now):.2f}",
                "latency_p50_ms": f"{np.percentile(lat, 50):.2f}",
                "latency_p95_ms": f"{np.percentile(lat, 95):.2f}",
                **{f"{name}_p50_ms": f"{np.median(ms):.2f}" for name, ms in self._stage_ms.items()},
                "frames_received": str(self.received),
                "frames_processed": str(self.processed),
                "frames_skipped": str(self.skipped),
                "frames_bad_input": str(self.bad_input),
                **{f"{name}_frames": str(n) for name, n in self.debug_frames.items()},
                "last_problem": self.last_problem,
            }
            if self.consecutive_failures >= failure_limit:
                return HealthReport(
                    ERROR, f"{self.consecutive_failures} consecutive failures: {self.last_problem}", values
                )
            if now - last > image_timeout_s:
                return HealthReport(WARN, _no_image(now - last, publishers), values)
            if now - self._last_problem_at <= self.window_s:
                return HealthReport(WARN, self.last_problem, values)
            return HealthReport(OK, "detecting lanes", values)


def _no_image(seconds: float, publishers: int) -> str:
    """Why no image arrived: nobody publishes, or frames are lost in transport."""
    if not publishers:
        return f"no image for {seconds:.1f} s"
    return (
        f"no image for {seconds:.1f} s although the image topic has {publishers} publisher(s): if they send, "
        "frames are lost in transport (likely frames larger than the DDS shared-memory segment without the "
        f"shipped transport profile, or QoS the publisher does not offer); see {TRANSPORT_DOC}"
    )
