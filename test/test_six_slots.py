"""Six lane slots end to end on synthetic frames: ``lane-sad synth --slots 6``, training with
``data.num_slots=6``, the checkpoint and its ONNX export, the detector, eval per slot, overlays
and contact sheets, and one-line errors when four and six slots meet."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from trainutil import train, write_config

from lane_sad_core.cli import main
from lane_sad_core.data.check import check_dataset
from lane_sad_core.data.formats import read_culane_lines, read_culane_list
from lane_sad_core.ego_lane import ego_slots
from lane_sad_core.infer.detector import LaneDetector
from lane_sad_core.infer.overlay import draw_lanes, slot_color
from lane_sad_core.infer.postprocess import PostprocessConfig
from lane_sad_core.infer.sheet import contact_sheet
from lane_sad_core.lanes import Lane

SLOTS = 6
EVERY_SLOT = PostprocessConfig(exist_threshold=0.0, prob_threshold=0.0)  # decode all slots of an untrained net


@pytest.fixture(scope="module")
def six_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 small synthetic CULane frames labelled with six slots, written by the CLI."""
    root = tmp_path_factory.mktemp("synth6")
    argv = ["synth", "--format", "culane", "--num", "20", "--out", str(root), "--seed", "2", "--size", "820x295"]
    assert main([*argv, "--slots", str(SLOTS)]) == 0
    return root


@pytest.fixture(scope="module")
def six_model(six_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny ENet-SAD trained four iterations (validation included) by the real trainer."""
    tmp = tmp_path_factory.mktemp("train6")
    changes = {"data.num_slots": SLOTS, "optim.iterations": 4, "schedule.val_every": 4, "distill.sad.start_iter": 2}
    out = train(write_config(tmp, six_root, **changes))
    assert out.returncode == 0, out.stderr[-3000:]
    return tmp / "runs" / "tiny" / "model.pt"


def test_synth_writes_six_slot_culane_labels(six_root: Path) -> None:
    entries = read_culane_list(six_root / "list" / "train_gt.txt")
    flagged = np.array([entry.exist for entry in entries])
    assert flagged.shape == (len(entries), SLOTS)
    assert flagged.any(axis=0).all()  # every slot, the outer two included, is labelled somewhere
    for entry, flags in zip(entries, flagged):
        lanes = read_culane_lines((six_root / entry.image.lstrip("/")).with_suffix(".lines.txt"))
        assert len(lanes) == flags.sum()
        mask = cv2.imread(str(six_root / entry.mask.lstrip("/")), cv2.IMREAD_GRAYSCALE)
        assert set(np.unique(mask)) - {0} == {k + 1 for k in np.flatnonzero(flags)}  # values 1..6
    report = check_dataset(six_root, Path("list/train_gt.txt"))
    assert report.num_slots == SLOTS and report.slot_counts() == flagged.sum(axis=0).tolist()


def test_trained_model_reports_six_slots_and_decodes_them(six_model: Path, six_root: Path, tmp_path: Path) -> None:
    from lane_sad_core.export.onnx import export_checkpoint

    ckpt = torch.load(six_model, weights_only=True)
    assert ckpt["model_config"]["num_lanes"] == SLOTS and len(ckpt["classes"]) == SLOTS + 1
    assert ckpt["config"]["data"]["num_slots"] == SLOTS
    image = cv2.imread(str(next(six_root.glob("driver_synth/*/*.jpg"))))
    detector = LaneDetector(six_model, "cpu", EVERY_SLOT)
    det = detector.detect(image)
    assert detector.num_slots == SLOTS
    assert det.prob.shape[0] == SLOTS + 1 and det.exist.shape == (SLOTS,)
    assert {lane.slot for lane in det.lanes} == set(range(SLOTS))
    onnx = export_checkpoint(six_model, tmp_path / "six.onnx").path
    exported = LaneDetector(onnx, "cpu", EVERY_SLOT, backend="onnxruntime")
    assert exported.backend_name == "onnxruntime" and exported.num_slots == SLOTS
    assert exported.detect(image).prob.shape[0] == SLOTS + 1


def test_eval_scores_six_slots_and_their_ego_lane(six_model: Path, six_root: Path, tmp_path: Path, capsys) -> None:
    assert ego_slots(SLOTS) == (2, 3)  # 1-based 3,4: the ego lane's lines of a six-slot model
    base = ["eval", "--checkpoint", str(six_model), "--data", str(six_root), "--format", "culane"]
    base += ["--list", "list/val_gt.txt", "--device", "cpu"]
    scores = {}
    for name, extra in (("all", []), ("ego", ["--slots", "3,4"])):
        assert main([*base, *extra, "--json", str(tmp_path / f"{name}.json")]) == 0
        scores[name] = json.loads((tmp_path / f"{name}.json").read_text())["total"]
    frames = scores["all"]["frames"]
    assert frames > 0 and scores["ego"]["frames"] == frames
    predicted = {name: s["tp"] + s["fp"] for name, s in scores.items()}
    assert predicted["ego"] <= 2 * frames and predicted["ego"] <= predicted["all"]
    capsys.readouterr()
    assert main([*base, "--slots", "3,7"]) == 2
    assert "--slots 7 is beyond the model's 6 slots" in capsys.readouterr().err


def test_four_and_six_slots_do_not_mix_silently(six_model: Path, six_root: Path, tmp_path: Path) -> None:
    four = write_config(tmp_path, six_root, **{"optim.iterations": 2})
    lists = train(four, name="lists")
    assert lists.returncode == 2
    [line] = lists.stderr.strip().splitlines()
    assert "train_gt.txt" in line and "has 6 existence flags where num_slots=4" in line
    no_flags = ("--set", "data.train_list=[list/train.txt]", "--set", "data.val_list=[]")  # lists without flags
    init = train(four, "--set", f"model.init={six_model}", *no_flags, name="init")
    assert init.returncode == 2
    [line] = init.stderr.strip().splitlines()
    assert f"model.init {six_model} has 6 lane slots, the config data.num_slots=4" in line


def test_overlay_and_contact_sheet_show_six_distinct_slot_colours(six_root: Path) -> None:
    colours = [slot_color(k) for k in range(SLOTS)]
    assert len(set(colours)) == SLOTS
    lanes = [Lane(np.array([[40.0 + 60 * k, 150.0], [40.0 + 60 * k, 20.0]]), slot=k) for k in range(SLOTS)]
    drawn = draw_lanes(np.zeros((160, 400, 3), np.uint8), lanes)
    assert [tuple(drawn[150, 40 + 60 * k]) for k in range(SLOTS)] == colours  # dot centres: the exact colour
    report = check_dataset(six_root, Path("list/train_gt.txt"))
    legend = contact_sheet(report.frames[:1], "one tile", report.num_slots)[:28]  # one 320 px tile, six keys
    assert all(np.all(legend == colour, axis=-1).any() for colour in colours)
