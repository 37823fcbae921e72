"""tools/compare.py (make compare) on a tiny schedule: runs, paired scores, report, resumption."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lane_sad_core.metrics.paired import paired_effect

REPO = Path(__file__).resolve().parents[1]
TINY = [
    "--frames", "30", "--seeds", "2", "--jobs", "2", "--only", "enet_sad", "enet_ego_maps",
    "--set", "optim.iterations=3", "--set", "data.num_workers=0", "--cost-size", "96x256",
]  # fmt: skip


def compare(out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "tools" / "compare.py"), "--out", str(out), "--report", str(out / "compare.md"),
         "--plot", str(out / "compare.png"), *extra],
        capture_output=True,
        text=True,
        timeout=1800,
    )  # fmt: skip


@pytest.fixture(scope="module")
def tiny_compare(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("compare")
    done = compare(out, *TINY)
    assert done.returncode == 0, done.stderr[-2000:]
    return out


def test_rows_start_from_one_shared_phase_1_and_keep_every_frame(tiny_compare: Path) -> None:
    runs = sorted(p.name for p in (tiny_compare / "runs").iterdir())
    expected = [f"{row}_s{s}" for row in ("enet", "enet_ego", "enet_ego_maps", "enet_sad") for s in (1, 2)]
    assert runs == sorted([*expected, "enet_warmup"])  # the rows, their baselines, the shared start
    for name in expected:
        config = (tiny_compare / "runs" / name / "config.yaml").read_text()
        assert f"init: {tiny_compare / 'runs' / 'enet_warmup' / 'model.pt'}" in config
        scores = json.loads((tiny_compare / "runs" / name / "scores.json").read_text())
        assert len(scores["synthetic"]["frames"]) == scores["synthetic"]["total"]["frames"] == 12  # 40 % of 30
        assert {"culane_0756", "culane_ego_eval", "tusimple_lstr"} <= set(scores)
    maps = (tiny_compare / "runs" / "enet_ego_maps_s1" / "config.yaml").read_text()
    assert "real_culane_ego_train_gt.txt" in maps and "teacher_maps:" in maps


def test_report_gives_the_paired_effect_of_the_runs_files(tiny_compare: Path) -> None:
    def counts(name: str) -> np.ndarray:
        frames = json.loads((tiny_compare / "runs" / name / "scores.json").read_text())["synthetic"]["frames"]
        return np.array([f[1:] for f in frames])

    base = np.stack([counts(f"enet_s{s}") for s in (1, 2)])
    sad = np.stack([counts(f"enet_sad_s{s}") for s in (1, 2)])
    expected = str(paired_effect(base, sad))
    report = (tiny_compare / "compare.md").read_text()
    line = next(x for x in report.splitlines() if x.startswith("| ENet-SAD | ENet |"))
    assert line.split(" | ")[2].strip("* ") == expected
    assert "| ENet + real frames + SCNN's maps | ENet + real ego-labelled frames |" in report
    assert "SCNN against ENet-SAD" in report and (tiny_compare / "compare.png").stat().st_size > 10_000


def test_a_second_invocation_trains_nothing_again(tiny_compare: Path) -> None:
    stamps = {p: p.stat().st_mtime_ns for p in (tiny_compare / "runs").glob("*/model.pt")}
    scores = {p: p.stat().st_mtime_ns for p in (tiny_compare / "runs").glob("*/scores.json")}
    again = compare(tiny_compare, *TINY)
    assert again.returncode == 0, again.stderr[-2000:]
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert {p: p.stat().st_mtime_ns for p in scores} == scores


def test_unknown_rows_are_refused_in_one_line(tmp_path: Path) -> None:
    bad = compare(tmp_path, "--only", "enet", "enet_magic")
    assert bad.returncode != 0
    assert bad.stderr.strip().splitlines()[-1].startswith("compare: unknown row(s) ['enet_magic']")
