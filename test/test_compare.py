"""tools/compare.py (make compare) on a tiny schedule: runs, scores, report numbers, resumption."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TINY = [
    "--frames",
    "30",
    "--seeds",
    "2",
    "--only",
    "enet",
    "enet_sad",
    "--set",
    "optim.iterations=3",
    "--set",
    "data.num_workers=0",
    "--cost-size",
    "96x256",
]


def compare(out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            str(REPO / "tools" / "compare.py"),
            "--out",
            str(out),
            "--report",
            str(out / "compare.md"),
            "--plot",
            str(out / "compare.png"),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=1800,
    )


@pytest.fixture(scope="module")
def tiny_compare(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("compare")
    done = compare(out, *TINY)
    assert done.returncode == 0, done.stderr[-2000:]
    return out


def test_every_row_and_seed_is_trained_and_scored(tiny_compare: Path) -> None:
    results = json.loads((tiny_compare / "results.json").read_text())
    names = ["enet_s1", "enet_s2", "enet_sad_s1", "enet_sad_s2", "enet_warmup_s1", "enet_warmup_s2"]
    assert sorted(results["scores"]) == names  # the rows and the phase-1 runs they start from
    for name in names:
        assert (tiny_compare / "runs" / name / "model.pt").is_file()
        assert results["scores"][name]["synthetic"]["total"]["frames"] == 3  # 10 % of 30 frames
    assert set(results["costs"]) == {"enet_sad"} and results["costs"]["enet_sad"]["params"] > 0
    assert (tiny_compare / "compare.png").stat().st_size > 10_000


def test_report_shows_the_mean_and_std_over_seeds(tiny_compare: Path) -> None:
    results = json.loads((tiny_compare / "results.json").read_text())
    acc = [results["scores"][f"enet_s{s}"]["synthetic"]["total"]["tusimple_accuracy"] for s in (1, 2)]
    expected = f"{100 * statistics.fmean(acc):.1f} ± {100 * statistics.stdev(acc):.1f}"
    report = (tiny_compare / "compare.md").read_text()
    enet_line = next(line for line in report.splitlines() if line.startswith("| ENet | 2 |"))
    assert enet_line.split(" | ")[-3] == expected
    assert "## The effect of SAD on ENet" in report and "3 iterations" in report
    config = (tiny_compare / "runs" / "enet_sad_s2" / "config.yaml").read_text()
    assert f"init: {tiny_compare / 'runs' / 'enet_warmup_s2' / 'model.pt'}" in config  # phase 2 of seed 2


def test_a_second_invocation_trains_nothing_again(tiny_compare: Path) -> None:
    stamps = {p: p.stat().st_mtime_ns for p in (tiny_compare / "runs").glob("*/model.pt")}
    again = compare(tiny_compare, *TINY)
    assert again.returncode == 0, again.stderr[-2000:]
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    (tiny_compare / "compare.md").unlink()
    only_report = compare(tiny_compare, *TINY, "--report-only")
    assert only_report.returncode == 0, only_report.stderr[-2000:]
    assert "| ENet-SAD | 2 |" in (tiny_compare / "compare.md").read_text()
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps


def test_unknown_rows_are_refused_in_one_line(tmp_path: Path) -> None:
    bad = compare(tmp_path, "--only", "enet", "enet_magic")
    assert bad.returncode != 0
    assert bad.stderr.strip().splitlines()[-1].startswith("compare: unknown row(s) ['enet_magic']")
