"""``lane-sad eval`` and ``lane-sad infer`` as a user runs them (subprocesses, real files)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from lane_sad_core.data.formats import read_tusimple

LANE_SAD = [sys.executable, "-m", "lane_sad_core"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*LANE_SAD, *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small ENet-SAD with settled batch-norm statistics (a few training-mode passes)."""
    import torch

    from lane_sad_core.data.preprocess import PreprocessConfig
    from lane_sad_core.models import build_model
    from lane_sad_core.models.checkpoint import model_payload, save_checkpoint

    torch.manual_seed(1)
    model = build_model("enet_sad", input_height=96, input_width=256)
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(2, 3, 96, 256))
    return save_checkpoint(
        tmp_path_factory.mktemp("ck") / "m.pt", model_payload(model, PreprocessConfig(width=256, height=96))
    )


@pytest.fixture(scope="module")
def tusimple_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ts")
    assert (
        run(
            "synth", "--format", "tusimple", "--num", "10", "--out", str(root), "--seed", "2", "--split", "0,0,1"
        ).returncode
        == 0
    )
    return root


def test_eval_tusimple_predictions_rescore_to_the_same_numbers(
    checkpoint: Path, tusimple_root: Path, tmp_path: Path
) -> None:
    """eval's own TuSimple numbers equal `lane-sad score` on the predictions it wrote."""
    out = run(
        "eval",
        "--checkpoint",
        str(checkpoint),
        "--data",
        str(tusimple_root),
        "--format",
        "tusimple",
        "--labels",
        "test_label.json",
        "--json",
        str(tmp_path / "e.json"),
        "--pred-out",
        str(tmp_path / "p"),
        "--device",
        "cpu",
    )
    assert out.returncode == 0, out.stderr
    assert "| total | 10 |" in out.stdout
    ours = json.loads((tmp_path / "e.json").read_text())["total"]
    preds = read_tusimple(tmp_path / "p" / "predictions.json")
    assert len(preds) == 10
    scored = run(
        "score",
        "--format",
        "tusimple",
        "--pred",
        str(tmp_path / "p" / "predictions.json"),
        "--gt",
        str(tusimple_root / "test_label.json"),
        "--json",
        str(tmp_path / "s.json"),
    )
    assert scored.returncode == 0, scored.stderr
    official = json.loads((tmp_path / "s.json").read_text())
    assert ours["tusimple_accuracy"] == pytest.approx(official["accuracy"], abs=1e-12)
    assert ours["tusimple_fp"] == pytest.approx(official["fp"], abs=1e-12)
    assert ours["tusimple_fn"] == pytest.approx(official["fn"], abs=1e-12)


def test_eval_culane_per_category(checkpoint: Path, tmp_path: Path) -> None:
    root = tmp_path / "cu"
    assert (
        run(
            "synth", "--format", "culane", "--num", "12", "--out", str(root), "--seed", "4", "--split", "0,0,1"
        ).returncode
        == 0
    )
    out = run(
        "eval",
        "--checkpoint",
        str(checkpoint),
        "--data",
        str(root),
        "--format",
        "culane",
        "--json",
        str(tmp_path / "e.json"),
        "--pred-out",
        str(tmp_path / "p"),
        "--device",
        "cpu",
    )
    assert out.returncode == 0, out.stderr
    report = json.loads((tmp_path / "e.json").read_text())
    assert report["total"]["frames"] == 12
    assert sum(c["frames"] for c in report["categories"].values()) == 12
    assert len(list((tmp_path / "p").rglob("*.lines.txt"))) == 12


def test_eval_missing_checkpoint_is_one_line(tmp_path: Path) -> None:
    out = run("eval", "--checkpoint", str(tmp_path / "none.pt"), "--data", str(tmp_path), "--format", "culane")
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1 and "none.pt" in out.stderr


def test_infer_images_and_video(checkpoint: Path, tmp_path: Path) -> None:
    images = tmp_path / "imgs"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        cv2.imwrite(str(images / f"f{i}.jpg"), rng.integers(0, 255, (180, 320, 3), np.uint8))
    video = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (320, 180))
    for _ in range(5):
        writer.write(rng.integers(0, 255, (180, 320, 3), np.uint8))
    writer.release()
    out = run(
        "infer",
        "--checkpoint",
        str(checkpoint),
        str(images),
        str(video),
        "--out",
        str(tmp_path / "o"),
        "--attention",
        "--device",
        "cpu",
    )
    assert out.returncode == 0, out.stderr
    o = tmp_path / "o"
    for stem in ("f0", "f1"):
        assert cv2.imread(str(o / f"{stem}.png")).shape == (180, 320, 3)
        assert cv2.imread(str(o / f"{stem}_attention.png")).shape == (180, 320, 3)
        record = json.loads((o / f"{stem}.json").read_text())
        assert set(record) == {"image", "lanes", "timings_ms"}
        for lane in record["lanes"]:
            assert all(0 <= y <= 180 for _, y in lane["points"])
    assert len((o / "clip.jsonl").read_text().splitlines()) == 5
    cap = cv2.VideoCapture(str(o / "clip.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 5
    cap.release()


def test_infer_unreadable_input(checkpoint: Path, tmp_path: Path) -> None:
    out = run("infer", "--checkpoint", str(checkpoint), str(tmp_path / "missing.jpg"), "--out", str(tmp_path))
    assert out.returncode == 2 and "missing.jpg does not exist" in out.stderr


def test_bad_decoding_options_are_one_line(checkpoint: Path, tmp_path: Path) -> None:
    out = run("eval", "--checkpoint", str(checkpoint), "--data", str(tmp_path), "--format", "culane", "--fit", "spline")
    assert out.returncode == 2 and out.stderr.strip() == (
        "lane-sad eval: error: fit must be one of robust, official, got 'spline'"
    )
    out = run("infer", str(tmp_path), "--out", str(tmp_path / "o"), "--fit-tolerance", "0")
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1 and "fit_tolerance" in out.stderr


def test_eval_slots_scores_only_those_slots(tmp_path: Path) -> None:
    """--slots 2,3 keeps the ego lane's two detections per frame (the shipped model finds lanes here)."""
    root = tmp_path / "cu"
    assert (
        run(
            "synth", "--format", "culane", "--num", "6", "--out", str(root), "--seed", "5", "--split", "0,0,1"
        ).returncode
        == 0
    )
    reports = {}
    for name, extra in (("all", []), ("ego", ["--slots", "2,3"])):
        out = run(
            "eval",
            "--data",
            str(root),
            "--format",
            "culane",
            "--json",
            str(tmp_path / f"{name}.json"),
            "--pred-out",
            str(tmp_path / name),
            "--device",
            "cpu",
            *extra,
        )
        assert out.returncode == 0, out.stderr
        reports[name] = json.loads((tmp_path / f"{name}.json").read_text())["total"]
        written = [len(p.read_text().splitlines()) for p in (tmp_path / name).rglob("*.lines.txt")]
        assert len(written) == 6
        reports[name]["most_lanes"] = max(written)
    assert reports["ego"]["most_lanes"] <= 2 < reports["all"]["most_lanes"]
    assert reports["ego"]["tp"] + reports["ego"]["fp"] < reports["all"]["tp"] + reports["all"]["fp"]
    assert run("eval", "--data", str(root), "--format", "culane", "--slots", "0,1").returncode == 2
