"""Shared inputs of the bag, replay and bag-eval tests: data trees, a checkpoint, the CLI."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

from lane_sad_core.data.formats import CulaneListEntry, write_culane_list

REAL_CULANE = "culane/sgadgil6__Lane-Detection-CS4476"
REAL_TUSIMPLE = "tusimple/liuruijin17__LSTR"
SMALL = {"input_height": 96, "input_width": 256}
# Thresholds 0: the untrained model answers every frame with four lanes to score; each frame
# decoded on its own, as the tests' offline detector does.
PARAMS_ALL_LANES = (
    "lane_sad:\n  ros__parameters:\n    existence_threshold: 0.0\n    point_threshold: 0.0\n    device: cpu\n"
    "    temporal_smoothing: false\n"
)


def lane_sad(*args: str | Path, timeout: float = 180) -> subprocess.CompletedProcess:
    """Run the ``lane-sad`` CLI as its own process (the tests' ROS environment inherited)."""
    return subprocess.run(
        [sys.executable, "-m", "lane_sad_core", *map(str, args)], capture_output=True, text=True, timeout=timeout
    )


def lane_sad_here(*args: str | Path) -> int:
    """Run the ``lane-sad`` CLI in this process (fast: no interpreter start); the exit code."""
    from lane_sad_core.cli import main

    return main([str(a) for a in args])


def synth_culane(root: Path) -> tuple[Path, str]:
    """8 synthetic CULane frames (seed 1) and a list of all of them, relative to the root."""
    assert lane_sad_here("synth", "--format", "culane", "--num", 8, "--out", root, "--seed", 1) == 0
    images = sorted(root.glob("driver_*/*/*.jpg"))
    write_culane_list(root / "list" / "all.txt", [CulaneListEntry(str(p.relative_to(root))) for p in images])
    return root, "list/all.txt"


def real_culane_list(real_data: Path, folder: Path) -> tuple[Path, Path]:
    """The real CULane frames (they ship no list): root and a list file of all of them."""
    root = real_data / REAL_CULANE
    images = sorted(root.glob("driver_*/*/*.jpg"))
    list_file = folder / "real_all.txt"
    write_culane_list(list_file, [CulaneListEntry(str(p.relative_to(root))) for p in images])
    return root, list_file


def real_tusimple_root(real_data: Path, root: Path) -> tuple[Path, str]:
    """The official TuSimple layout (clips/<date>/<id>/20.jpg + json) from the real frames."""
    source = real_data / REAL_TUSIMPLE / "official_labels_matched"
    with (source / "mapping.csv").open() as handle:
        for row in csv.DictReader(handle):
            target = root / row["tusimple_raw_file"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(real_data / REAL_TUSIMPLE / row["local_image"])
    shutil.copy(source / "test_label.subset.json", root / "test_label.subset.json")
    return root, "test_label.subset.json"


def small_checkpoint(path: Path) -> Path:
    """An untrained ENet-SAD at 96x256 input, saved like a trained one (as test_node.py does)."""
    import torch

    from lane_sad_core.data.preprocess import PreprocessConfig
    from lane_sad_core.models import build_model
    from lane_sad_core.models.checkpoint import model_payload, save_checkpoint

    torch.manual_seed(0)
    model = build_model("enet_sad", **SMALL)
    pre = PreprocessConfig(width=SMALL["input_width"], height=SMALL["input_height"])
    return save_checkpoint(path, model_payload(model, pre))


def params_file(path: Path) -> Path:
    path.write_text(PARAMS_ALL_LANES)
    return path


def cut(path: Path, fraction: float) -> None:
    """Truncate a file to ``fraction`` of its size, as an interrupted copy leaves it."""
    with path.open("r+b") as handle:
        handle.truncate(int(path.stat().st_size * fraction))


def read_bag(bag: Path) -> tuple[dict[str, tuple[str, int, str]], dict[str, list[tuple[int, object]]]]:
    """Every message of a bag, decoded, read with rosbags' own Reader (not lane_sad's).

    Returns:
        topic -> (type, count, type hash), and topic -> [(log time, message)] in time order.
    """
    from rosbags.rosbag2 import Reader

    from lane_sad_ros.bag import typestore

    store = typestore()
    out: dict[str, list] = {}
    with Reader(bag) as reader:
        topics = {c.topic: (c.msgtype, c.msgcount, c.digest) for c in reader.connections}
        for conn, timestamp, raw in reader.messages():
            out.setdefault(conn.topic, []).append((timestamp, store.deserialize_cdr(raw, conn.msgtype)))
    return topics, out
