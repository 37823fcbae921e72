"""Training end to end on a tiny synthetic set: logs, SAD switch-on, exact resume, DDP."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from trainutil import LANE_SAD, make_synth_root, rows, train, write_config

from lane_sad_core.train.data import EpochSampler


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_synth_root(tmp_path_factory)


def test_run_writes_logs_curves_and_a_loadable_model(tmp_path: Path, synth_root: Path) -> None:
    from lane_sad_core.infer.detector import LaneDetector

    out = train(write_config(tmp_path, synth_root, **{"schedule.val_every": 6}))
    assert out.returncode == 0, out.stderr
    run = tmp_path / "runs" / "tiny"
    log = rows(run)
    assert [int(r["iteration"]) for r in log] == [2, 4, 6, 8, 10, 12]
    assert all(not r["sad_E2_E3"] for r in log if int(r["iteration"]) <= 6)  # SAD from iteration 6 on
    assert all(float(r["sad_E2_E3"]) > 0 for r in log if int(r["iteration"]) > 6)
    assert [r["iteration"] for r in log if r["val_f1"]] == ["6", "12"]
    assert float(log[-1]["lr"]) == 0.0 and float(log[0]["lr"]) < 0.01  # poly decay to 0
    assert (run / "curves.png").stat().st_size > 1000
    assert yaml.safe_load((run / "config.yaml").read_text())["optim"]["iterations"] == 12
    det = LaneDetector(run / "model.pt", device="cpu")
    assert det.meta.model_name == "enet_sad" and det.meta.iteration == 12
    assert (det.preprocess.width, det.preprocess.height) == (256, 96)


def test_existing_run_is_not_overwritten(tmp_path: Path, synth_root: Path) -> None:
    cfg = write_config(tmp_path, synth_root, **{"optim.iterations": 4})
    assert train(cfg).returncode == 0
    again = train(cfg)
    assert again.returncode == 2
    assert "last.pt exists: pass --resume" in again.stderr


@pytest.mark.parametrize(
    "damage, line",
    [
        (lambda path: path.unlink(), r"lane-sad train: error: missing CULane label file: '(\S+\.lines\.txt)'"),
        (
            lambda path: path.write_text("1 2 3\n"),
            r"lane-sad train: error: (\S+\.lines\.txt):1: odd number of coordinates \(3\)",
        ),
    ],
)
def test_bad_label_in_a_worker_is_one_line(tmp_path: Path, synth_root: Path, damage, line: str) -> None:
    """A label file missing or malformed when a DataLoader worker reads it: exit 2, one line naming it."""
    import shutil

    root = tmp_path / "data"
    shutil.copytree(synth_root, root)
    images = [line.split()[0] for line in (root / "list" / "train_gt.txt").read_text().splitlines()]
    for image in images:
        damage((root / image.lstrip("/")).with_suffix(".lines.txt"))
    out = train(write_config(tmp_path, root, **{"data.num_workers": 1, "optim.iterations": 2}))
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1
    named = re.fullmatch(line, lines[0])
    assert named, lines[0]
    assert any(named.group(1).endswith(image.replace(".jpg", ".lines.txt")) for image in images)


def test_resume_after_kill_9_is_exact(tmp_path: Path, synth_root: Path) -> None:
    cfg = write_config(tmp_path, synth_root)
    assert train(cfg, name="straight").returncode == 0
    killed = tmp_path / "runs" / "killed"
    proc = subprocess.Popen(
        [*LANE_SAD, "train", "--config", str(cfg), "--no-progress", "--set", "name=killed"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while not (killed / "last.pt").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_at_kill = torch.load(killed / "last.pt", weights_only=True)["iteration"]
    assert done_at_kill < 12, "the run finished before it could be killed"
    resumed = train(cfg, "--resume", str(killed / "last.pt"), name="killed")
    assert resumed.returncode == 0, resumed.stderr
    a = torch.load(tmp_path / "runs" / "straight" / "model.pt", weights_only=True)["state_dict"]
    b = torch.load(killed / "model.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a), "resumed weights differ from the uninterrupted run"
    strip = lambda log: [{k: v for k, v in r.items() if k != "seconds"} for r in log]  # noqa: E731
    assert strip(rows(killed)) == strip(rows(tmp_path / "runs" / "straight"))


def test_sampler_shards_are_disjoint_and_resume_mid_epoch() -> None:
    full = list(EpochSampler(50, 4, seed=1, epoch=2))
    a = list(EpochSampler(50, 4, seed=1, epoch=2, rank=0, world=2))
    b = list(EpochSampler(50, 4, seed=1, epoch=2, rank=1, world=2))
    assert len(full) == 48 and len(a) == len(b) == 24 and not set(a) & set(b)
    assert list(EpochSampler(50, 4, seed=1, epoch=2, start_batch=3)) == full[12:]
    assert full != list(EpochSampler(50, 4, seed=1, epoch=3))


@pytest.mark.slow
def test_ddp_two_processes_on_cpu_with_gloo(tmp_path: Path, synth_root: Path) -> None:
    cfg = write_config(tmp_path, synth_root, **{"optim.iterations": 4, "optim.batch_size": 2})
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc-per-node",
            "2",
            "--master-port",
            str(29500 + os.getpid() % 1000),
            "-m",
            "lane_sad_core",
            "train",
            "--config",
            str(cfg),
            "--no-progress",
            "--set",
            "name=ddp",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    run = tmp_path / "runs" / "ddp"
    ckpt = torch.load(run / "last.pt", weights_only=True)
    assert ckpt["iteration"] == 4 and len(ckpt["rng"]) == 2  # both ranks' RNG states saved
    assert [int(r["iteration"]) for r in rows(run)] == [2, 4]  # one log, written by rank 0


def test_init_from_a_checkpoint(tmp_path: Path, synth_root: Path) -> None:
    cfg = write_config(tmp_path, synth_root, **{"optim.iterations": 2, "schedule.val_every": 100})
    assert train(cfg, name="base").returncode == 0
    base = tmp_path / "runs" / "base" / "model.pt"
    ok = train(cfg, "--set", f"model.init={base}", "--set", "optim.name=adamw", "--set", "optim.lr=1e-12", name="ft")
    assert ok.returncode == 0, ok.stderr
    a = torch.load(base, weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "runs" / "ft" / "model.pt", weights_only=True)["state_dict"]
    convs = [k for k in a if k.endswith("weight") and a[k].dim() == 4]
    # lr 1e-12 (0 is refused): each step moves a weight by ~1e-12, so the initial weights survive
    assert all(torch.allclose(a[k], b[k], rtol=0, atol=1e-8) for k in convs)
    bad = train(
        cfg, "--set", f"model.init={base}", "--set", "model.name=resnet18", "--set", "distill.sad=null", name="bad"
    )
    assert bad.returncode == 2 and "holds a enet_sad model, the config a resnet18" in bad.stderr
