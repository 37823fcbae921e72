"""Helpers of the training tests: a tiny synthetic set, a config writer, the CLI."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

LANE_SAD = [sys.executable, "-m", "lane_sad_core"]


def make_synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 synthetic CULane frames (seed 5), the data of every training test."""
    root = tmp_path_factory.mktemp("synth")
    subprocess.run(
        [*LANE_SAD, "synth", "--format", "culane", "--num", "30", "--out", str(root), "--seed", "5"],
        check=True,
        capture_output=True,
    )
    return root


def write_config(tmp_path: Path, root: Path, **changes: object) -> Path:
    cfg = {
        "name": "tiny",
        "out_dir": str(tmp_path / "runs"),
        "seed": 3,
        "model": {"name": "enet_sad"},
        "data": {
            "format": "culane",
            "root": str(root),
            "train_list": ["list/train_gt.txt"],
            "val_list": ["list/val_gt.txt"],
            "preprocess": {"width": 256, "height": 96},
            "num_workers": 0,
        },
        "distill": {"sad": {"start_iter": 6}},
        "optim": {"batch_size": 4, "iterations": 12},
        "schedule": {"log_every": 2, "val_every": 100, "ckpt_every": 4, "val_max_frames": 3},
    }
    for key, value in changes.items():
        node = cfg
        *parents, last = key.split(".")
        for p in parents:
            node = node[p]
        node[last] = value
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def train(config: Path, *extra: str, name: str = "tiny") -> subprocess.CompletedProcess:
    return subprocess.run(
        [*LANE_SAD, "train", "--config", str(config), "--no-progress", "--set", f"name={name}", *extra],
        capture_output=True,
        text=True,
        timeout=600,
    )


def rows(run: Path) -> list[dict]:
    with (run / "log.csv").open() as f:
        return list(csv.DictReader(f))
