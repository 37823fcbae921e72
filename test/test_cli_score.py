"""``lane-sad score`` as a user runs it: a subprocess, its table, its JSON, its errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ROWS = list(range(300, 400, 10))


def run_score(*args: str | Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "lane_sad_core", "score", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )


def write_json_lines(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


@pytest.fixture
def tusimple_files(tmp_path: Path) -> tuple[Path, Path]:
    lane_a, lane_b = [500] * 10, [800] * 10
    gt = write_json_lines(
        tmp_path / "gt.json",
        [
            {"lanes": [lane_a, lane_b], "h_samples": ROWS, "raw_file": "a.jpg"},
            {"lanes": [lane_a], "h_samples": ROWS, "raw_file": "b.jpg"},
        ],
    )
    # a.jpg: lane_b missed -> (0.5, 0, 0.5); b.jpg: perfect -> means (0.75, 0, 0.25).
    pred = write_json_lines(
        tmp_path / "pred.json",
        [
            {"lanes": [lane_a], "h_samples": ROWS, "raw_file": "a.jpg", "run_time": 5},
            {"lanes": [lane_a], "h_samples": ROWS, "raw_file": "b.jpg", "run_time": 5},
        ],
    )
    return pred, gt


def test_tusimple_table_and_json(tusimple_files: tuple[Path, Path], tmp_path: Path) -> None:
    pred, gt = tusimple_files
    out = tmp_path / "out" / "score.json"
    result = run_score("--format", "tusimple", "--pred", pred, "--gt", gt, "--json", out)
    assert result.returncode == 0, result.stderr
    assert "TuSimple: 2 images" in result.stdout
    assert "accuracy      75.00 %" in result.stdout
    assert "FN           0.2500" in result.stdout
    numbers = json.loads(out.read_text())
    assert {k: numbers[k] for k in ("accuracy", "fp", "fn")} == {
        "accuracy": 0.75,
        "fp": 0.0,
        "fn": 0.25,
    }


def _culane_tree(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    gt, pred = tmp_path / "gt" / "d", tmp_path / "pred" / "d"
    gt.mkdir(parents=True)
    pred.mkdir(parents=True)
    lane = "800 550 800 350 800 150\n"
    (gt / "a.lines.txt").write_text(lane)
    (pred / "a.lines.txt").write_text(lane)
    (gt / "c.lines.txt").write_text("")
    (pred / "c.lines.txt").write_text(lane + "300 550 300 150\n")
    lst = tmp_path / "test.txt"
    lst.write_text("/d/a.jpg\n/d/c.jpg\n")
    split = tmp_path / "split"
    split.mkdir()
    (split / "test0_normal.txt").write_text("/d/a.jpg\n")
    (split / "test7_cross.txt").write_text("/d/c.jpg\n")
    return tmp_path / "pred", tmp_path / "gt", lst, split


def test_culane_table_and_json(tmp_path: Path) -> None:
    pred, gt, lst, split = _culane_tree(tmp_path)
    out = tmp_path / "culane.json"
    result = run_score(
        "--format",
        "culane",
        "--pred",
        pred,
        "--gt",
        gt,
        "--list",
        lst,
        "--categories",
        split,
        "--json",
        out,
        "--workers",
        "1",
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # total: a is one TP; c (crossroad) adds two FP -> P = 1/3, R = 1, F1 = 0.5
    assert lines[2].split() == ["total", "2", "1", "2", "0", "33.33", "100.00", "50.00"]
    assert lines[3].split() == ["normal", "1", "1", "0", "0", "100.00", "100.00", "100.00"]
    assert lines[4].split() == ["cross", "1", "-", "2", "-", "-", "-", "-"]
    numbers = json.loads(out.read_text())
    keys = {"tp", "fp", "fn", "precision", "recall", "f1"}
    assert keys <= numbers.keys() and "categories" in numbers
    assert numbers["f1"] == 0.5
    assert set(numbers["categories"]) == {"normal", "cross"}
    for counts in numbers["categories"].values():
        assert keys <= counts.keys()
    assert numbers["categories"]["cross"]["fp"] == 2
    assert numbers["categories"]["cross"]["f1"] is None


def test_culane_without_list_scores_every_label(tmp_path: Path) -> None:
    pred, gt, _, _ = _culane_tree(tmp_path)
    result = run_score("--format", "culane", "--pred", pred, "--gt", gt, "--workers", "2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[2].split()[:5] == ["total", "2", "1", "2", "0"]


def test_culane_iou_threshold(tmp_path: Path) -> None:
    pred, gt, lst, _ = _culane_tree(tmp_path)
    # Move a's detection 14 px sideways: IoU ~ (31 - 14) / (31 + 14) = 0.38 for the 401 row
    # straight part (caps lower it slightly): a miss at the official 0.5, a TP at 0.3.
    (pred / "d" / "a.lines.txt").write_text("814 550 814 350 814 150\n")
    strict = run_score("--format", "culane", "--pred", pred, "--gt", gt, "--list", lst)
    loose = run_score("--format", "culane", "--pred", pred, "--gt", gt, "--list", lst, "--iou", "0.3")
    assert strict.stdout.splitlines()[2].split()[:5] == ["total", "2", "0", "3", "1"]
    assert loose.stdout.splitlines()[0].startswith("CULane (IoU > 0.3,")
    assert loose.stdout.splitlines()[2].split()[:5] == ["total", "2", "1", "2", "0"]


def _assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("lane-sad score: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def test_malformed_culane_prediction(tmp_path: Path) -> None:
    pred, gt, lst, _ = _culane_tree(tmp_path)
    (pred / "d" / "a.lines.txt").write_text("800 550 800\n")
    result = run_score("--format", "culane", "--pred", pred, "--gt", gt, "--list", lst, "--workers", "1")
    _assert_one_line_error(result, "a.lines.txt:1", "odd number of coordinates")


def test_malformed_tusimple_prediction(tusimple_files: tuple[Path, Path]) -> None:
    pred, gt = tusimple_files
    pred.write_text(pred.read_text() + "{not json\n")
    result = run_score("--format", "tusimple", "--pred", pred, "--gt", gt)
    _assert_one_line_error(result, "pred.json:3", "invalid JSON")


def test_bad_arguments(tusimple_files: tuple[Path, Path], tmp_path: Path) -> None:
    pred, gt = tusimple_files
    result = run_score("--format", "tusimple", "--pred", pred, "--gt", gt, "--list", gt)
    _assert_one_line_error(result, "--list and --categories apply to --format culane only")
    result = run_score("--format", "culane", "--pred", tmp_path / "none", "--gt", tmp_path)
    _assert_one_line_error(result, "none: prediction folder not found")
