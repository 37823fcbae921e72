"""Synthetic frames per second on one core, per format, including JPEG/PNG encoding.

Runs ``FrameWriter.write`` (render + labels + encoding + file writes) in this process,
pinned to one CPU with OpenCV single-threaded, over a few batches, and reports medians.
CPU time (``process_time``) is reported beside wall time because the machine may be
shared: CPU time is what one core can do, wall time what this run got.

    python bench/bench_synth.py --out bench/results [--frames 120] [--batches 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lane_sad_core.data.synth.writer import FrameWriter, SynthSettings

TARGET_FPS = 50.0


def idlest_cpu(allowed: set[int], seconds: float = 0.5) -> int:
    """The allowed CPU with the most idle time over ``seconds`` (from /proc/stat), so the
    benchmark does not share its core with another busy process."""

    def idle() -> dict[int, tuple[int, int]]:
        out = {}
        for line in Path("/proc/stat").read_text().splitlines():
            name, *fields = line.split()
            if name.startswith("cpu") and name[3:].isdigit():
                values = [int(v) for v in fields]
                out[int(name[3:])] = (values[3] + values[4], sum(values))
        return out

    before = idle()
    time.sleep(seconds)
    after = idle()
    share = {
        cpu: (after[cpu][0] - before[cpu][0]) / max(after[cpu][1] - before[cpu][1], 1)
        for cpu in allowed
        if cpu in before and cpu in after
    }
    return max(share, key=share.get) if share else min(allowed)


def measure(fmt: str, frames: int, batches: int) -> dict[str, float]:
    """Median per-frame wall and CPU milliseconds of one format, and the build time."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = SynthSettings(fmt, frames * batches, seed=0)
        start = time.perf_counter()
        writer = FrameWriter(Path(tmp), settings)
        build = time.perf_counter() - start
        writer.write(0)  # warm-up
        wall, cpu = [], []
        for b in range(batches):
            w0, c0 = time.perf_counter(), time.process_time()
            for i in range(b * frames, (b + 1) * frames):
                writer.write(i)
            wall.append((time.perf_counter() - w0) / frames * 1000)
            cpu.append((time.process_time() - c0) / frames * 1000)
    return {"wall_ms": statistics.median(wall), "cpu_ms": statistics.median(cpu), "build_s": build}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--frames", type=int, default=120, help="frames per batch")
    parser.add_argument("--batches", type=int, default=3)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity") and Path("/proc/stat").is_file():
        os.sched_setaffinity(0, {idlest_cpu(os.sched_getaffinity(0))})
    cv2.setNumThreads(1)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    rows = []
    for fmt, size in (("culane", "1640x590"), ("tusimple", "1280x720")):
        r = measure(fmt, args.frames, args.batches)
        rows.append((fmt, size, r))
    lines = [
        "# Synthetic frame generation speed (one core)",
        "",
        f"Median of {args.batches} batches of {args.frames} frames; render + labels + JPEG "
        f"(+ CULane mask PNG) + file writes; OpenCV single-threaded, process pinned to the "
        f"idlest CPU. Target: {TARGET_FPS:.0f} frames/s. Machine load average at the start: "
        f"{load:.2f} (work on the other cores slows this one through shared caches).",
        "",
        "| format | size | frames/s (CPU time) | frames/s (wall) | ms/frame (CPU) | vs target | texture build (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for fmt, size, r in rows:
        fps_cpu, fps_wall = 1000 / r["cpu_ms"], 1000 / r["wall_ms"]
        lines.append(
            f"| {fmt} | {size} | {fps_cpu:.1f} | {fps_wall:.1f} | {r['cpu_ms']:.1f} | "
            f"{fps_cpu / TARGET_FPS:.2f}x | {r['build_s']:.2f} |"
        )
    table = "\n".join(lines) + "\n"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "synth.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
