"""LGAD, IntRA-KD and BAKE wired into training: configs, teachers, terms, gradients, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from trainutil import make_synth_root, rows, train, write_config

from lane_sad_core.data.preprocess import PreprocessConfig
from lane_sad_core.errors import CheckpointError, ConfigError
from lane_sad_core.infer.detector import LaneDetector
from lane_sad_core.models import build_model, count_parameters
from lane_sad_core.models.checkpoint import model_payload, save_checkpoint
from lane_sad_core.plain import from_plain, to_plain
from lane_sad_core.train.config import config_from_dict, load_config
from lane_sad_core.train.distillation import Distiller, DistillSection
from lane_sad_core.train.trainer import Trainer

PRE = PreprocessConfig(width=256, height=96)


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_synth_root(tmp_path_factory)


def save_model(path: Path, name: str, pre: PreprocessConfig = PRE, num_lanes: int = 4) -> Path:
    """A fresh (untrained) model's checkpoint: enough to test the wiring, not the method."""
    torch.manual_seed(0)
    model = build_model(name, num_lanes=num_lanes, input_height=pre.height, input_width=pre.width)
    return save_checkpoint(path, model_payload(model, pre))


@pytest.fixture(scope="module")
def teachers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("teachers")
    return {
        "labels": save_model(root / "lgad.pt", "label_autoencoder"),
        "image": save_model(root / "resnet18.pt", "resnet18"),
    }


def test_section_round_trips_and_rejects_unknown_keys() -> None:
    d = {
        "sad": {"start_iter": 7, "ramp_iters": 3},
        "lgad": {"teacher": "t.pt", "loss": "kl", "start_iter": 5},
        "intra_kd": {"teacher": "r.pt", "pairs": [["E4", "layer4"]], "kd_weight": 0.5},
        "bake": {"block": "E3", "omega": 0.3},
    }
    section = from_plain(DistillSection, d, "distill")
    assert section.lgad.teacher == "t.pt" and section.lgad.loss == "kl" and section.lgad.start_iter == 5
    assert section.intra_kd.kd_weight == 0.5 and section.bake.block == "E3" and section.bake.omega == 0.3
    assert (section.sad.start_iter, section.sad.ramp_iters, section.bake.start_iter) == (7, 3, 0)
    assert from_plain(DistillSection, to_plain(section)) == section
    assert not DistillSection().enabled and section.enabled
    assert list(section.methods) == ["sad", "lgad", "intra_kd", "bake"]
    with pytest.raises(ConfigError, match="distill.start_iter moved to distill.<method>.start_iter"):
        config_from_dict({"distill": {"start_iter": 0}})
    with pytest.raises(ConfigError, match=r"unknown key\(s\) distill.bake.omegaa"):
        config_from_dict({"distill": {"bake": {"omegaa": 0.1}}})


def test_gradients_reach_only_the_student(teachers: dict[str, Path]) -> None:
    section = from_plain(
        DistillSection,
        {
            "lgad": {"teacher": str(teachers["labels"])},
            "intra_kd": {
                "teacher": str(teachers["image"]),
                "pairs": [["E4", "layer4"]],
                "kd_weight": 1.0,
                "at_weight": 1.0,
            },
            "bake": {},
        },
    )
    torch.manual_seed(1)
    student = build_model("enet_sad", num_lanes=4, input_height=96, input_width=256).train()
    torch.nn.init.normal_(student.exist.fc2.weight, std=1.0)  # fresh heads say p = 0.5 everywhere: BAKE's KL is 0
    distiller = Distiller(section, student, PRE, torch.device("cpu"))
    assert distiller.student_blocks == ("E2", "E3", "E4")
    image = torch.randn(3, 3, 96, 256)
    seg = torch.zeros(3, 96, 256, dtype=torch.long)
    for lane in range(1, 5):  # four slanted stripes, so every region (class) is present
        for y in range(30, 96):
            x = 40 * lane + int(y * (lane - 2.5)) // 6
            seg[:, y, x : x + 4] = lane
    outputs, acts = student.forward_blocks(image, distiller.student_blocks)
    terms = distiller(image, seg, outputs, acts)
    assert {
        "lgad_E2_E2",
        "lgad_E3_E3",
        "lgad_E4_E4",
        "intra_E4_layer4",
        "intra_at_E4_layer4",
        "intra_kd",
        "bake",
    } == set(terms)
    assert all(torch.isfinite(t) and t > 0 for t in terms.values()), terms
    sum(terms.values()).backward()
    for teacher in (distiller.lgad_teacher, distiller.intra_teacher):
        assert not teacher.training
        assert all(p.grad is None and not p.requires_grad for p in teacher.parameters())
    grads = [p.grad for p in student.parameters() if p.grad is not None]
    assert grads and sum(float(g.abs().sum()) for g in grads) > 0


def test_each_method_comes_in_on_its_own_schedule() -> None:
    """SAD ramps from 0 at iteration 10 to full weight at 14; BAKE steps in at 12."""
    section = from_plain(
        DistillSection,
        {"sad": {"start_iter": 10, "ramp_iters": 4}, "bake": {"start_iter": 12}},
    )
    assert [section.sad.scale(i) for i in (0, 9, 10, 11, 12, 13, 14, 100)] == [0, 0, 0, 0.25, 0.5, 0.75, 1, 1]
    assert [section.bake.scale(i) for i in (11, 12, 13)] == [0, 1, 1]
    torch.manual_seed(2)
    student = build_model("enet_sad", num_lanes=4, input_height=96, input_width=256).eval()
    torch.nn.init.normal_(student.exist.fc2.weight, std=1.0)  # a fresh head's p = 0.5 makes BAKE's KL 0
    distiller = Distiller(section, student, PRE, torch.device("cpu"))
    assert (distiller.blocks_at(10), distiller.blocks_at(11), distiller.blocks_at(12)) == (
        (),
        ("E2", "E3", "E4"),
        ("E2", "E3", "E4"),
    )
    image, seg = torch.randn(3, 3, 96, 256), torch.zeros(3, 96, 256, dtype=torch.long)
    with torch.no_grad():
        outputs, acts = student.forward_blocks(image, distiller.student_blocks)
        full = distiller(image, seg, outputs, acts)
        at = {i: distiller(image, seg, outputs, acts, i) for i in (9, 10, 11, 12, 14, 50)}
    assert set(full) == {"sad_E2_E3", "sad_E3_E4", "bake"} and all(t > 0 for t in full.values())
    assert at[9] == {} and at[10] == {}  # before the start, and the ramp's zero
    assert set(at[11]) == {"sad_E2_E3", "sad_E3_E4"}  # BAKE not yet
    for name in ("sad_E2_E3", "sad_E3_E4"):
        assert torch.equal(at[11][name], 0.25 * full[name]) and torch.equal(at[12][name], 0.5 * full[name])
        assert torch.equal(at[14][name], full[name]) and torch.equal(at[50][name], full[name])
    assert torch.equal(at[12]["bake"], full["bake"])  # a step: full weight from its first iteration


@pytest.mark.parametrize(
    "change, message",
    [
        ({"lgad": {}}, "distill.lgad.teacher: the checkpoint of a trained teacher is required"),
        ({"lgad": {"teacher": "missing.pt"}}, "distill.lgad.teacher: checkpoint not found: missing.pt"),
        ({"lgad": {"teacher": "IMAGE"}}, "reads image, where a model reading labels is needed"),
        ({"intra_kd": {"teacher": "LABELS"}}, "reads labels, where a model reading image is needed"),
        ({"intra_kd": {"teacher": "IMAGE", "pairs": [["E4", "layer9"]]}}, r"resnet18 has no block\(s\) \['layer9'\]"),
        ({"bake": {"block": "E7"}}, r"distill.bake.block: enet_sad has no block\(s\) \['E7'\]"),
    ],
)
def test_bad_distillation_configs_fail_before_training(
    tmp_path: Path, synth_root: Path, teachers: dict[str, Path], change: dict, message: str
) -> None:
    for section in change.values():
        if section.get("teacher") in ("IMAGE", "LABELS"):
            section["teacher"] = str(teachers[section["teacher"].lower()])
    cfg = load_config(write_config(tmp_path, synth_root, distill=change))
    with pytest.raises(ConfigError, match=message):
        Trainer(cfg, progress=False)
    assert not (tmp_path / "runs" / "tiny").exists()  # nothing was trained or written


def test_teacher_of_other_input_or_lane_count_is_refused(tmp_path: Path, synth_root: Path) -> None:
    other_crop = save_model(tmp_path / "crop.pt", "resnet18", PreprocessConfig(width=256, height=96, crop_top=0.3))
    six_lanes = save_model(tmp_path / "six.pt", "resnet18", num_lanes=6)
    for path, message in ((other_crop, "train the teacher on the same input"), (six_lanes, "predicts 6 lanes")):
        cfg = load_config(write_config(tmp_path, synth_root, distill={"intra_kd": {"teacher": str(path)}}))
        with pytest.raises(ConfigError, match=message):
            Trainer(cfg, progress=False)


def test_lgad_two_stages_and_all_methods_through_the_cli(
    tmp_path: Path, synth_root: Path, teachers: dict[str, Path]
) -> None:
    # Stage 1: the label auto-encoder trains with the ordinary command on label maps.
    teacher_cfg = write_config(
        tmp_path,
        synth_root,
        distill={},
        **{"model.name": "label_autoencoder", "optim.iterations": 4, "optim.name": "adamw", "optim.lr": 0.01},
    )
    out = train(teacher_cfg, name="teacher")
    assert out.returncode == 0, out.stderr
    teacher_rows = rows(tmp_path / "runs" / "teacher")
    assert float(teacher_rows[-1]["seg"]) < float(teacher_rows[0]["seg"])  # it learns to reproduce labels
    assert not any(r.get("val_f1") for r in teacher_rows)  # no lane F1 for a label-input model
    teacher = tmp_path / "runs" / "teacher" / "model.pt"
    with pytest.raises(CheckpointError, match="reads labels"):
        LaneDetector(teacher, device="cpu")  # never deployable

    # Stage 2: the student with SAD + LGAD + IntRA-KD + BAKE, the teacher terms from iteration 2 on.
    student_cfg = write_config(
        tmp_path,
        synth_root,
        distill={
            "sad": {"start_iter": 3},
            "lgad": {"teacher": str(teacher), "start_iter": 2},
            "intra_kd": {"teacher": str(teachers["image"]), "pairs": [["E4", "layer4"]], "start_iter": 2},
            "bake": {"start_iter": 2},
        },
        **{"optim.iterations": 4, "schedule.log_every": 1},
    )
    out = train(student_cfg, name="student")
    assert out.returncode == 0, out.stderr
    log = {int(r["iteration"]): r for r in rows(tmp_path / "runs" / "student")}
    # Row i holds the terms of the step taken at iteration i - 1. BAKE's term is logged but ~0
    # this early: a fresh existence head says p = 0.5 for every image, so the ensemble agrees.
    for column in ["lgad_E2_E2", "lgad_E3_E3", "lgad_E4_E4", "intra_E4_layer4", "bake"]:
        assert not log[1][column] and not log[2][column]
        assert log[3][column] and log[4][column]
        assert column == "bake" or float(log[3][column]) > 0
    assert not log[3]["sad_E2_E3"] and float(log[4]["sad_E2_E3"]) > 0
    saved = yaml.safe_load((tmp_path / "runs" / "student" / "config.yaml").read_text())
    assert saved["distill"]["lgad"]["teacher"] == str(teacher)
    # Free at inference: the deployed student is a plain ENet-SAD.
    det = LaneDetector(tmp_path / "runs" / "student" / "model.pt", device="cpu")
    plain = build_model("enet_sad", num_lanes=4, input_height=96, input_width=256)
    assert det.model.state_dict().keys() == plain.state_dict().keys()
    assert count_parameters(det.model) == count_parameters(plain)


def test_cli_names_the_bad_teacher_in_one_line(tmp_path: Path, synth_root: Path) -> None:
    cfg = write_config(tmp_path, synth_root, distill={"lgad": {"teacher": str(tmp_path / "nope.pt")}})
    out = train(cfg)
    assert out.returncode == 2
    assert (
        out.stderr.strip()
        .splitlines()[-1]
        .endswith(f"distill.lgad.teacher: checkpoint not found: {tmp_path / 'nope.pt'}")
    )


def _with_teacher_maps(root: Path, tmp_path: Path) -> Path:
    """A copy-free view of the tiny set: SCNN-style maps beside every training frame (drawn
    from its own slot mask at 0.6 scale) and a second list of the same frames with the outer
    slots unknown, as an ego-lane label set marks them."""
    import cv2

    from lane_sad_core.data.formats import CulaneListEntry, read_culane_list, write_culane_list

    entries = read_culane_list(root / "list" / "train_gt.txt")
    for e in entries:
        mask = cv2.imread(str(root / e.mask), cv2.IMREAD_GRAYSCALE)
        small = cv2.resize(mask, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_NEAREST)
        stem = (root / e.image).with_suffix("")
        for slot in range(1, 5):
            cv2.imwrite(f"{stem}_{slot}_avg.png", np.where(small == slot, 230, 0).astype(np.uint8))
    partial = [CulaneListEntry(e.image, e.mask, (-1, *e.exist[1:3], -1)) for e in entries]
    write_culane_list(root / "list" / "partial_gt.txt", partial)
    return root


def test_teacher_maps_partial_labels_and_gradient_columns(tmp_path: Path, synth_root: Path) -> None:
    root = _with_teacher_maps(synth_root, tmp_path)
    config = write_config(
        tmp_path,
        root,
        **{
            "data.train_list": ["list/train_gt.txt", "list/partial_gt.txt"],
            "distill": {"sad": {"start_iter": 0}, "teacher_maps": {"weight": 0.5, "start_iter": 2}},
            "optim.iterations": 6,
        },
    )
    out = train(config)
    assert out.returncode == 0, out.stderr
    log = rows(tmp_path / "runs" / "tiny")
    late = [r for r in log if int(r["iteration"]) >= 4]
    assert late and all(float(r["teacher_maps"]) > 0 for r in late)
    for r in late:
        for column in ("grad_task", "grad_teacher_maps", "grad_sad_E2_E3", "grad_sad_E3_E4"):
            assert 0 < float(r[column]) < 10 * float(r["grad_task"]) or column == "grad_task"
    assert "dominates training" not in out.stderr


def test_a_dominating_term_is_reported_while_training(tmp_path: Path, synth_root: Path) -> None:
    config = write_config(
        tmp_path,
        synth_root,
        **{"distill": {"sad": {"start_iter": 0, "weight": 1.0e5}, "grad_warn_factor": 2.0}, "optim.iterations": 2},
    )
    out = train(config)
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("dominates training") == 2  # once per SAD pair, not once per iteration
