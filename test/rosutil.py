"""Helpers for tests that talk to real ROS 2 processes over real DDS."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
INSTALL = REPO / "install" / "lane_sad"
NODE_EXE = INSTALL / "lib" / "lane_sad" / "lane_sad_node"
PEERS = Path(__file__).resolve().parent / "peers"


def wait_until(predicate: Callable[[], bool], timeout: float, period: float = 0.02) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(period)
    return predicate()


def python_command(script: Path, *args: str) -> list[str]:
    """Run an installed executable or a peer script with this interpreter (the venv's)."""
    return [sys.executable, str(script), *args]


@contextmanager
def running(cmd: list[str], env: dict[str, str] | None = None) -> Iterator[subprocess.Popen]:
    """Start a process, yield it, and stop it with SIGINT (then SIGKILL) on exit."""
    proc = subprocess.Popen(
        cmd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(2)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class Spinner:
    """An rclpy node spun in a background thread, with its own context."""

    def __init__(self, name: str) -> None:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor

        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node(name, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.thread.start()

    def _spin(self) -> None:
        while self.context.ok():
            try:
                self.executor.spin_once(timeout_sec=0.05)
            except Exception:  # context shut down while spinning
                return

    def close(self) -> None:
        """Stop spinning and release the context."""
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        self.context.try_shutdown()
        self.thread.join(timeout=2.0)
