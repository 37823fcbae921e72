"""The fault table of the core CLI (docs/reliability.md): each bad input or fault, its exact one line.

Real files and real processes: images, videos, checkpoints and label files written in
tmp_path, the ``lane-sad`` command run as a user runs it, and a real filesystem that fills
up where this machine lets the test mount one.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from bagutil import lane_sad, lane_sad_here, small_checkpoint
from faultutil import flip_tensor_bytes, one_error
from trainutil import make_synth_root, train, write_config

from lane_sad_core.errors import LabelError
from lane_sad_core.models.checkpoint import DIGEST_KEY, load_checkpoint

SHIPPED = Path(__file__).resolve().parents[1] / "lane_sad_core" / "weights" / "enet_sad_default.pt"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_checkpoint(tmp_path_factory.mktemp("ckpt") / "small.pt")


def write_image(path: Path, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.random.default_rng(seed).integers(0, 255, (72, 128, 3), np.uint8))
    return path


# --- infer ---------------------------------------------------------------------------------
def test_infer_results_mirror_the_folder_tree(checkpoint: Path, tmp_path: Path) -> None:
    """Two clips whose frames share names: every frame gets its own result (was: half overwritten)."""
    frames = tmp_path / "frames"
    for clip in ("a.MP4", "b.MP4"):
        for name in ("00000.jpg", "00030.jpg"):
            write_image(frames / "drive" / clip / name, seed=len(clip + name))
    out = tmp_path / "o"
    assert lane_sad_here("infer", "--checkpoint", checkpoint, frames, "--out", out, "--device", "cpu") == 0
    results = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.json"))
    assert results == [f"drive/{c}/{n}.json" for c in ("a.MP4", "b.MP4") for n in ("00000", "00030")]
    record = json.loads((out / "drive" / "b.MP4" / "00030.json").read_text())
    assert record["image"] == str(frames / "drive" / "b.MP4" / "00030.jpg")


def test_infer_on_the_real_culane_clips_keeps_every_frame(checkpoint: Path, real_data: Path, tmp_path: Path) -> None:
    culane = real_data / "culane"
    images = [p for p in culane.rglob("*") if p.suffix.lower() in (".jpg", ".png")]
    assert len({p.name for p in images}) < len(images)  # frames of different clips share names
    out = tmp_path / "o"
    assert lane_sad_here("infer", "--checkpoint", checkpoint, culane, "--out", out, "--device", "cpu") == 0
    assert len(list(out.rglob("*.json"))) == len(images)


@pytest.mark.parametrize("names", [("x/f.jpg", "y/f.jpg"), ("f.jpg", "f.png")])
def test_infer_inputs_that_would_write_one_file_are_an_error(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture, names: tuple[str, str]
) -> None:
    a, b = (write_image(tmp_path / n) for n in names)
    out = tmp_path / "o"
    assert lane_sad_here("infer", "--checkpoint", checkpoint, a, b, "--out", out) == 2
    assert one_error(capsys) == (
        f"lane-sad infer: error: {a} and {b} would both write f.png; give them as separate runs or rename one"
    )
    assert not out.exists()  # refused before anything ran


def test_infer_out_is_a_file(checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    image = write_image(tmp_path / "f.jpg")
    assert lane_sad_here("infer", "--checkpoint", checkpoint, image, "--out", image) == 2
    assert one_error(capsys) == f"lane-sad infer: error: --out {image} is a file; give a folder for the results"


def test_infer_unknown_or_absent_device(checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    image = write_image(tmp_path / "f.jpg")
    run = ("infer", "--checkpoint", checkpoint, image, "--out", tmp_path / "o", "--device")
    assert lane_sad_here(*run, "gpu7") == 2
    assert one_error(capsys) == "lane-sad infer: error: unknown device 'gpu7'; use auto, cpu, cuda or cuda:N"
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    absent = f"cuda:{count}" if count else "cuda"
    assert lane_sad_here(*run, absent) == 2
    reason = (
        f"this machine has {count} CUDA device(s) (cuda:0..{count - 1})"
        if count
        else "CUDA is not available on this machine; use cpu or auto"
    )
    assert one_error(capsys) == f"lane-sad infer: error: device '{absent}': {reason}"


def test_infer_names_a_video_shorter_than_its_header(checkpoint: Path, tmp_path: Path) -> None:
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (128, 72))
    for i in range(20):
        writer.write(np.random.default_rng(i).integers(0, 255, (72, 128, 3), np.uint8))
    writer.release()
    video.write_bytes(video.read_bytes()[: int(video.stat().st_size * 0.55)])
    cap = cv2.VideoCapture(str(video))
    announced, readable = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), 0
    while cap.read()[0]:
        readable += 1
    assert announced == 20 and 0 < readable < 20
    out = lane_sad("infer", "--checkpoint", checkpoint, video, "--out", tmp_path / "o", "--device", "cpu")
    assert out.returncode == 0, out.stderr
    warning = (
        f"lane-sad infer: warning: {video}: read {readable} of the 20 frames its header announces "
        "(damaged or cut short)"
    )
    assert f"\n{warning}\n" in out.stderr.replace("\r", "\n")
    assert len((tmp_path / "o" / "clip.jsonl").read_text().splitlines()) == readable


# --- checkpoints ---------------------------------------------------------------------------
def test_flipped_tensor_bytes_are_a_corrupt_checkpoint(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    bad = tmp_path / "bad.pt"
    flip_tensor_bytes(checkpoint, bad)
    assert torch.load(bad, weights_only=True)  # torch itself reads it without a word
    corrupt = f"checkpoint is corrupt: {bad} (its tensors differ from the digest stored when it was saved)"
    assert lane_sad_here("export", "--checkpoint", bad, "--format", "onnx", "--out", tmp_path / "m.onnx") == 2
    assert one_error(capsys) == f"lane-sad export: error: {corrupt}"
    image = write_image(tmp_path / "f.jpg")
    assert lane_sad_here("infer", "--checkpoint", bad, image, "--out", tmp_path / "o") == 2
    assert one_error(capsys) == f"lane-sad infer: error: {corrupt}"


def test_checkpoints_without_a_digest_still_load(checkpoint: Path, tmp_path: Path) -> None:
    old = torch.load(checkpoint, weights_only=True)
    del old[DIGEST_KEY]
    torch.save(old, tmp_path / "old.pt")
    loaded = load_checkpoint(tmp_path / "old.pt")["state_dict"]
    assert all(torch.equal(loaded[k], v) for k, v in old["state_dict"].items())


def test_the_shipped_model_carries_its_digest() -> None:
    assert DIGEST_KEY in torch.load(SHIPPED, weights_only=True)
    load_checkpoint(SHIPPED)  # and it matches


def test_export_out_is_a_folder(checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert lane_sad_here("export", "--checkpoint", checkpoint, "--format", "onnx", "--out", tmp_path) == 2
    assert one_error(capsys) == (
        f"lane-sad export: error: --out {tmp_path} is a folder; give the file to write (e.g. {tmp_path / 'model.onnx'})"
    )


# --- train ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_synth_root(tmp_path_factory)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("optim.iterations=-5", "optim.iterations: must be >= 1, got -5"),
        ("optim.lr=-0.1", "optim.lr: must be > 0, got -0.1"),
        ("optim.batch_size=0", "optim.batch_size: must be >= 1, got 0"),
        ("optim.lr=.nan", "optim.lr: expected a finite number, got nan"),
        ("optim.momentum=1", "optim.momentum: must be in [0, 1), got 1"),
        ("schedule.ckpt_every=0", "schedule.ckpt_every: must be >= 1, got 0"),
        ("data.preprocess.crop_top=1.5", "data.preprocess.crop_top: must be in [0, 1), got 1.5"),
        ("data.augment.hflip_prob=2", "data.augment.hflip_prob: must be in [0, 1], got 2"),
        ("data.augment.scale_range=[1.1,0.9]", "data.augment: scale_range: (min, max) expected, got (1.1, 0.9)"),
        ("distill.sad.weight=-1", "distill.sad.weight: must be >= 0, got -1"),
        ("loss.exist_weight=-0.1", "loss.exist_weight: must be >= 0, got -0.1"),
        ("seed=-1", "seed: must be >= 0, got -1"),
    ],
)
def test_config_values_out_of_range_stop_before_training(
    synth_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture, setting: str, message: str
) -> None:
    """Was: optim.iterations=-5 printed "trained: runs/.../model.pt", exit 0, and no such file existed."""
    config = write_config(tmp_path, synth_root)
    assert lane_sad_here("train", "--config", config, "--no-progress", "--set", setting) == 2
    assert one_error(capsys) == f"lane-sad train: error: {message}"
    assert not (tmp_path / "runs").exists()


@contextmanager
def small_filesystem(path: Path, size: str) -> Iterator[bool]:
    """A tmpfs of ``size`` mounted at ``path``; yields False where this machine does not allow mounting."""
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    try:
        yield mounted.returncode == 0
    finally:
        if mounted.returncode == 0:
            subprocess.run(["umount", "-l", str(path)], check=True)


@pytest.mark.slow
def test_full_disk_while_writing_a_checkpoint(
    synth_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real 1 MiB filesystem that the first checkpoint does not fit on: torch raises
    ``RuntimeError: ... unexpected pos`` (not OSError), and the run stops with one line."""
    with small_filesystem(tmp_path / "disk", "1M") as mounted:
        runs = tmp_path / "disk" / "runs"
        config = write_config(tmp_path, synth_root, out_dir=str(runs), **{"optim.iterations": 4})
        if mounted:
            out = train(config)
            code, err = out.returncode, out.stderr
        else:
            warnings.warn(
                "cannot mount a small filesystem here (not root or no CAP_SYS_ADMIN): the full disk is "
                "simulated by torch.save raising the error it raises on a full disk",
                stacklevel=1,
            )
            code, err = _simulated_full_disk(config, capsys, monkeypatch)
        last = runs / "tiny" / "last.pt"
        assert code == 2
        assert re.fullmatch(
            rf"lane-sad train: error: cannot write checkpoint {re.escape(str(last))}: no space left on device "
            r"\(\d+ bytes free\)",
            err.strip(),
        ), err
        assert sorted(p.name for p in last.parent.iterdir()) == ["config.yaml", "log.csv"]  # no partial file


def _simulated_full_disk(
    config: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str]:
    import lane_sad_core.models.checkpoint as ckpt

    def full(obj, f) -> None:
        f.write(b"PK\x03\x04 part of a checkpoint")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 1048192 vs 1048080")

    monkeypatch.setattr(ckpt.torch, "save", full)
    monkeypatch.setattr(ckpt.shutil, "disk_usage", lambda _: shutil._ntuple_diskusage(1 << 20, 1 << 20, 0))
    code = lane_sad_here("train", "--config", config, "--no-progress")
    return code, capsys.readouterr().err


# --- score ---------------------------------------------------------------------------------
GT_LINE = {"lanes": [[100, 110, 120]], "h_samples": [600, 650, 700], "raw_file": "clips/a/20.jpg"}


@pytest.fixture
def tusimple_gt(tmp_path: Path) -> Path:
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(GT_LINE) + "\n")
    return path


@pytest.mark.parametrize(
    ("prediction", "message"),
    [
        ({**GT_LINE, "run_time": "fast"}, "'run_time' must be a number of milliseconds, got \"fast\""),
        ({**GT_LINE, "lanes": None}, "'lanes' must be a list of lanes, got null"),
        ({**GT_LINE, "lanes": [[100, float("nan"), 120]]}, "'lanes[0]' must hold finite numbers, got nan"),
        ({**GT_LINE, "raw_file": 7}, "'raw_file' must be a string, got 7"),
    ],
)
def test_score_tusimple_bad_predictions(
    tusimple_gt: Path, tmp_path: Path, capsys: pytest.CaptureFixture, prediction: dict, message: str
) -> None:
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps(prediction) + "\n")
    assert lane_sad_here("score", "--format", "tusimple", "--pred", pred, "--gt", tusimple_gt) == 2
    assert one_error(capsys) == f"lane-sad score: error: {pred}:1: {message}"


def test_score_tusimple_non_utf8_and_folders(tusimple_gt: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pred = tmp_path / "pred.json"
    pred.write_bytes(json.dumps(GT_LINE).encode() + b"\n" + b'{"raw_file": "\xff"}\n')
    score = ("score", "--format", "tusimple", "--gt", tusimple_gt, "--pred")
    assert lane_sad_here(*score, pred) == 2
    assert one_error(capsys) == f"lane-sad score: error: {pred}:2: not UTF-8 text (byte 0xff)"
    assert lane_sad_here(*score, tmp_path) == 2
    assert one_error(capsys) == f"lane-sad score: error: {tmp_path}: a folder, not a TuSimple JSON-lines file"
    pred.write_text(json.dumps(GT_LINE) + "\n")
    assert lane_sad_here(*score, pred, "--json", tmp_path) == 2
    assert one_error(capsys) == (
        f"lane-sad score: error: --json {tmp_path} is a folder; give the file to write the numbers to"
    )


def test_score_tusimple_predictions_without_h_samples(tusimple_gt: Path, tmp_path: Path) -> None:
    """The official lane.py needs raw_file, lanes and run_time only; the rows are the GT's."""
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps({"raw_file": "clips/a/20.jpg", "lanes": [[101, 111, 121]], "run_time": 10}) + "\n")
    scores = tmp_path / "s.json"
    assert lane_sad_here("score", "--format", "tusimple", "--pred", pred, "--gt", tusimple_gt, "--json", scores) == 0
    assert json.loads(scores.read_text())["accuracy"] == 1.0


def test_nan_coordinates_are_refused_everywhere(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """The CULane scorer refused NaN; TuSimple labels and CULane training labels read it as a point."""
    from lane_sad_core.data.formats import read_culane_lines, read_tusimple

    label = tmp_path / "a.lines.txt"
    label.write_text("10 590 20 580\n30 nan 40 560\n")
    with pytest.raises(LabelError, match=rf"^{re.escape(str(label))}:2: coordinates must be finite numbers$"):
        read_culane_lines(label)
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({**GT_LINE, "h_samples": [600, float("inf"), 700]}) + "\n")
    with pytest.raises(LabelError, match=rf"^{re.escape(str(gt))}:1: 'h_samples' must hold finite numbers, got inf$"):
        read_tusimple(gt)


def test_list_file_names_its_odd_first_line(synth_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Three existence flags on line 1: that line is named, not the good line 2 after it."""
    lines = (synth_root / "list" / "train_gt.txt").read_text().splitlines()[:3]
    lines[0] = " ".join(lines[0].split()[:-1])
    bad = tmp_path / "bad.txt"
    bad.write_text("\n".join(lines) + "\n")
    assert lane_sad_here("data", "check", synth_root, "--list", bad) == 2
    assert one_error(capsys) == (
        f"lane-sad data: error: {bad}:1: 5 fields (3 existence flags), where 2 of the 3 lines have 6"
    )
