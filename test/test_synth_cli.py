"""The ``lane-sad synth`` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lane_sad_core.cli import main


def test_writes_a_tree_and_reports_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ts"
    code = main(
        [
            "synth",
            "--format",
            "tusimple",
            "--num",
            "3",
            "--out",
            str(out),
            "--seed",
            "5",
            "--categories",
            "night",
            "curve:3",
            "--split",
            "1,0,0",
            "--focal",
            "950",
        ]
    )
    assert code == 0
    assert "wrote 3 tusimple frames" in capsys.readouterr().out
    meta = json.loads((out / "meta.json").read_text())
    assert meta["settings"]["categories"] == {"night": 1.0, "curve": 3.0}
    assert meta["preset"]["focal"] == 950.0
    assert set(meta["categories"].values()) <= {"night", "curve"}
    assert len((out / "label_data_synth.json").read_text().splitlines()) == 3


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--categories", "fog"], "unknown category 'fog'"),
        (["--size", "big"], "--size must look like 1640x590"),
        (["--split", "1,2"], "--split must be three"),
        (["--num", "0"], "--num and --workers must be at least 1"),
        (["--photo-textures", "/nonexistent/photos"], "--photo-textures: /nonexistent/photos is not a folder"),
        (["--features", "fog"], "unknown synthetic feature 'fog'"),
        (["--features", "photo"], "--features photo needs --photo-textures DIR"),
    ],
)
def test_bad_options_exit_2_with_a_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    base = ["synth", "--format", "culane", "--num", "2", "--out", str(tmp_path / "o")]
    assert main(base + argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("lane-sad synth: error:") and message in err


def test_refuses_to_write_into_a_non_empty_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "keep.txt").write_text("x")
    assert main(["synth", "--format", "culane", "--num", "1", "--out", str(tmp_path)]) == 2
    assert "not empty" in capsys.readouterr().err


def test_features_switch_on_the_cars_rig(tmp_path: Path) -> None:
    """``--features rig``: the preset gets per-frame camera rigs, and the same seed's frames
    change (the horizon and the labels move with the camera)."""
    base = ["synth", "--format", "culane", "--num", "2", "--seed", "3", "--split", "1,0,0"]
    assert main([*base, "--out", str(tmp_path / "plain")]) == 0
    assert main([*base, "--out", str(tmp_path / "rig"), "--features", "rig"]) == 0
    plain, rig = (json.loads((tmp_path / name / "meta.json").read_text())["preset"] for name in ("plain", "rig"))
    assert plain["rig_horizon"] is None and rig["rig_horizon"] == [0.5, 0.66]
    labels = sorted((tmp_path / "plain").rglob("*.lines.txt"))
    assert labels and any(
        p.read_text() != (tmp_path / "rig" / p.relative_to(tmp_path / "plain")).read_text() for p in labels
    )


def test_a_feature_of_the_other_look_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["synth", "--format", "tusimple", "--num", "1", "--out", str(tmp_path / "o"), "--features", "hood"]
    assert main(argv) == 2
    assert "synthetic feature 'hood' does not apply to the tusimple look" in capsys.readouterr().err
