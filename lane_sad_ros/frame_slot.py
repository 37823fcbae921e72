"""A one-frame mailbox between the image callback and the processing thread.

The callback only drops the newest frame in (replacing an unprocessed one, which counts
as skipped); the worker takes it when it is free. A slow model therefore never builds a
queue: latency stays one frame deep and memory flat, whatever the camera rate.
"""

from __future__ import annotations

import threading
import time
from typing import Any


class FrameSlot:
    """Holds at most one (message, arrival time) pair."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: tuple[Any, float] | None = None
        self._closed = False

    def put(self, msg: Any) -> bool:
        """Store ``msg`` as the newest frame; True when it replaced an unprocessed one."""
        with self._cond:
            replaced = self._item is not None
            self._item = (msg, time.perf_counter())
            self._cond.notify()
        return replaced

    def take(self, timeout: float) -> tuple[Any, float] | None:
        """The newest frame, waiting up to ``timeout`` s; None on timeout or when closed."""
        with self._cond:
            if self._item is None and not self._closed:
                self._cond.wait(timeout)
            item, self._item = self._item, None
            return None if self._closed else item

    def close(self) -> None:
        """Wake the worker for good."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
