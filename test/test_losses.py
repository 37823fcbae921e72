"""The training loss against hand-worked values."""

from __future__ import annotations

import math

import pytest
import torch

from lane_sad_core.errors import ConfigError
from lane_sad_core.plain import from_plain, to_plain
from lane_sad_core.train.losses import (
    LaneLoss,
    LossConfig,
    existence_loss,
    iou_loss,
    lane_loss,
    segmentation_loss,
)


def _three_pixels() -> tuple[torch.Tensor, torch.Tensor]:
    """Two classes (background, lane) on a 1x3 image.

    pixel 0: logits [0, 0],     label 0 -> p(bg) = 1/2, loss ln 2
    pixel 1: logits [0, ln 3],  label 1 -> p(lane) = 3/4, loss ln(4/3)
    pixel 2: logits [5, -5],    label 255 (ignored)
    """
    logits = torch.tensor([[0.0, 0.0, 5.0], [0.0, math.log(3.0), -5.0]]).view(1, 2, 1, 3)
    target = torch.tensor([[[0, 1, 255]]])
    return logits, target


def test_weighted_cross_entropy_hand_value():
    logits, target = _three_pixels()
    # weighted mean: (0.4 ln 2 + 1 ln(4/3)) / (0.4 + 1)
    expected = (0.4 * math.log(2.0) + math.log(4.0 / 3.0)) / 1.4
    assert segmentation_loss(logits, target).item() == pytest.approx(expected, rel=1e-6)
    # with equal weights it is the plain mean
    plain = (math.log(2.0) + math.log(4.0 / 3.0)) / 2
    assert segmentation_loss(logits, target, background_weight=1.0).item() == pytest.approx(plain, rel=1e-6)


def test_ignored_pixels_do_not_count():
    logits, target = _three_pixels()
    changed = logits.clone()
    changed[0, :, 0, 2] = torch.tensor([-9.0, 9.0])  # any logits on the ignored pixel
    assert segmentation_loss(changed, target).item() == pytest.approx(segmentation_loss(logits, target).item())


def test_existence_bce_hand_value():
    # logit 0, label 1: -ln(1/2) = ln 2;  logit ln 3, label 0: -ln(1 - 3/4) = ln 4 = 2 ln 2
    logits = torch.tensor([[0.0, math.log(3.0)]])
    target = torch.tensor([[1.0, 0.0]])
    assert existence_loss(logits, target).item() == pytest.approx(1.5 * math.log(2.0), rel=1e-6)


def test_iou_loss_hand_value():
    # Near-hard predictions: lane on pixels {0, 1}; label lane on {1, 2}; pixel 3 ignored.
    # N_o = 1, N_p = 2, N_g = 2 -> IoU = 1 / 3 -> loss 2 / 3.
    lane = torch.tensor([30.0, 30.0, -30.0, 30.0])
    logits = torch.stack([-lane, lane]).view(1, 2, 1, 4)
    target = torch.tensor([[[0, 1, 1, 255]]])
    assert iou_loss(logits, target).item() == pytest.approx(2.0 / 3.0, abs=1e-5)


def test_total_is_the_sum_of_weighted_terms():
    logits, target = _three_pixels()
    outputs = {"seg": logits, "exist": torch.tensor([[0.0, math.log(3.0)]])}
    exist = torch.tensor([[1.0, 0.0]])
    cfg = LossConfig(iou_weight=0.1)
    total, terms = lane_loss(outputs, target, exist, cfg)
    assert set(terms) == {"seg", "exist", "iou"}
    assert terms["exist"].item() == pytest.approx(0.1 * 1.5 * math.log(2.0), rel=1e-6)
    assert terms["iou"].item() == pytest.approx(0.1 * iou_loss(logits, target).item(), rel=1e-6)
    assert total.item() == pytest.approx(sum(t.item() for t in terms.values()), rel=1e-6)


def test_defaults_follow_the_official_code():
    cfg = LossConfig()
    assert (cfg.background_weight, cfg.ignore_index, cfg.exist_weight, cfg.iou_weight) == (0.4, 255, 0.1, 0.0)
    logits, target = _three_pixels()
    _, terms = lane_loss({"seg": logits, "exist": torch.zeros(1, 2)}, target, torch.zeros(1, 2), cfg)
    assert set(terms) == {"seg", "exist"}  # no IoU, and no SAD without activations


def test_the_loss_module_sums_the_task_terms():
    logits, target = _three_pixels()
    outputs = {"seg": logits, "exist": torch.zeros(1, 2)}
    total, terms = LaneLoss(LossConfig(iou_weight=0.1))(outputs, target, torch.ones(1, 2))
    assert set(terms) == {"seg", "exist", "iou"}  # SAD and the other distillation terms live in distill
    assert total.item() == pytest.approx(sum(t.item() for t in terms.values()), rel=1e-6)


def test_shape_mismatch_names_both_shapes():
    logits, _ = _three_pixels()
    with pytest.raises(ConfigError, match=r"labels \(1, 1, 4\) do not match logits \(1, 2, 1, 3\)"):
        segmentation_loss(logits, torch.zeros(1, 1, 4, dtype=torch.long))


def test_config_round_trip():
    cfg = LossConfig(iou_weight=0.1, exist_weight=0.2)
    assert from_plain(LossConfig, to_plain(cfg)) == cfg
    with pytest.raises(ConfigError, match="bg_weight"):
        from_plain(LossConfig, {"bg_weight": 0.4})
    with pytest.raises(ConfigError, match="loss.sad moved to distill.sad"):
        from_plain(LossConfig, {"sad": {}}, "loss")
