"""Stop signals as an exception that ``finally`` blocks see, never in the middle of a write.

By default only SIGINT (Ctrl-C) becomes an exception in Python; SIGTERM, which ``timeout``,
systemd and ``docker stop`` send, and SIGHUP (the terminal closed) end the process on the
spot, so no ``finally`` runs: an output being written is left as it was at that moment.
:func:`install` makes all three raise :class:`Interrupted` (a ``KeyboardInterrupt``) in the
main thread, so every command stops the same way whichever of them arrives.

A signal can arrive between any two bytecodes, also halfway through appending a record to
a file, which would leave the record cut. Code that must not be cut runs inside
:func:`deferred`: a stop signal arriving there is raised when the block ends.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

_local = threading.local()
_pending: list[int] = []


class Interrupted(KeyboardInterrupt):
    """A stop signal arrived; ``signum`` says which (the exit code is ``128 + signum``)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def install() -> None:
    """Raise :class:`Interrupted` on SIGINT, SIGTERM and SIGHUP (call from the main thread)."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, _on_signal)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    if getattr(_local, "depth", 0):  # handlers run in the main thread: this is its depth
        _pending.append(signum)
        return
    raise Interrupted(signum)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """A block that a stop signal does not cut: the signal is raised when the block ends."""
    _local.depth = getattr(_local, "depth", 0) + 1
    try:
        yield
    finally:
        _local.depth -= 1
        if not _local.depth and _pending and threading.current_thread() is threading.main_thread():
            signum = _pending[0]
            _pending.clear()
            raise Interrupted(signum)
