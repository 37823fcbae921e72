"""Partial-label losses and logit distillation from precomputed teacher maps."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lane_sad_core.distill.teacher_maps import teacher_map_loss
from lane_sad_core.errors import ConfigError
from lane_sad_core.train.losses import existence_loss, segmentation_loss


def _batch(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, 5, 6, 8, generator=g, requires_grad=True)
    target = torch.randint(0, 5, (2, 6, 8), generator=g)
    target[0, 0, :3] = 255
    return logits, target


def test_partial_ce_reduces_to_plain_weighted_ce():
    logits, target = _batch()
    weight = torch.tensor([0.4, 1, 1, 1, 1.0])
    plain = F.cross_entropy(logits, target, weight=weight, ignore_index=255)
    assert float(segmentation_loss(logits, target, unknown=torch.zeros(2, 4, dtype=torch.bool))) == pytest.approx(
        float(plain), rel=1e-6
    )
    # an unknown slot the network gives no probability adds nothing to background's set
    target[target == 1] = 2
    silent = logits.detach().clone()
    silent[:, 1] = -1e4
    plain = F.cross_entropy(silent, target, weight=weight, ignore_index=255)
    unknown = torch.tensor([[True, False, False, False]] * 2)
    assert float(segmentation_loss(silent, target, unknown=unknown)) == pytest.approx(float(plain), rel=1e-6)


def test_unknown_slots_are_not_taught_as_background():
    logits, target = _batch()
    target[:] = 0  # all background, as an ego-only label leaves the outer lanes
    unknown = torch.tensor([[True, False, False, True]] * 2)
    loss = segmentation_loss(logits, target, unknown=unknown)
    (grad,) = torch.autograd.grad(loss, logits)
    # raising an unknown slot's logit must not be penalised more than raising background's
    assert (grad[:, 1] < grad[:, 2]).all() and (grad[:, 4] < grad[:, 3]).all()
    # a pixel sure of an unknown slot costs (almost) nothing; one sure of a known slot does
    sure = torch.full((1, 5, 1, 1), -20.0)
    sure[0, 1] = 20.0
    assert segmentation_loss(sure, torch.zeros(1, 1, 1, dtype=torch.long), unknown=unknown[:1]) < 1e-6
    sure[0, 1], sure[0, 2] = -20.0, 20.0
    assert segmentation_loss(sure, torch.zeros(1, 1, 1, dtype=torch.long), unknown=unknown[:1]) > 10


def test_existence_loss_leaves_unknown_slots_out():
    logits = torch.tensor([[3.0, -2.0, 5.0, 1.0]])
    full = existence_loss(logits[:, 1:3], torch.tensor([[0.0, 1.0]]))
    assert existence_loss(logits, torch.tensor([[-1.0, 0.0, 1.0, -1.0]])) == pytest.approx(float(full))


def test_teacher_map_loss_is_zero_at_the_teacher_and_skips_frames_and_pixels():
    logits, target = _batch(1)
    soft = F.softmax(logits.detach(), dim=1)
    valid = target != 255
    has = torch.tensor([1.0, 1.0])
    assert float(teacher_map_loss(logits, soft, has, valid)) == pytest.approx(0.0, abs=1e-6)
    other = F.softmax(torch.randn_like(logits), dim=1)
    assert teacher_map_loss(logits, other, has, valid) > 0.05
    # frame 1 without maps: only frame 0 counts, whatever frame 1's maps hold
    mixed = torch.stack([soft[0], other[1]])
    assert float(teacher_map_loss(logits, mixed, torch.tensor([1.0, 0.0]), valid)) == pytest.approx(0.0, abs=1e-6)
    assert teacher_map_loss(logits, other, torch.zeros(2), valid) == 0.0
    with pytest.raises(ConfigError, match="do not match"):
        teacher_map_loss(logits, soft[:, :4], has, valid)
