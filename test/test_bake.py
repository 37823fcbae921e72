"""BAKE: affinity masking, the closed form against its series, hand-worked losses."""

from __future__ import annotations

import math

import pytest
import torch

from lane_sad_core.distill.bake import (
    BAKEConfig,
    bake_binary_targets,
    bake_loss,
    bake_targets,
    batch_affinity,
    propagate,
)
from lane_sad_core.errors import ConfigError
from lane_sad_core.plain import from_plain, to_plain


def _batch(b: int = 5, d: int = 7, k: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, d, generator=g), 3 * torch.randn(b, k, generator=g)


def test_affinity_rows_sum_to_one_with_zero_diagonal():
    feats, _ = _batch()
    a = batch_affinity(feats)
    assert torch.allclose(a.sum(dim=1), torch.ones(5), atol=1e-6)
    assert torch.equal(torch.diagonal(a), torch.zeros(5))
    assert (a[~torch.eye(5, dtype=torch.bool)] > 0).all()


def test_affinity_prefers_similar_images():
    # Image 0 and 1 point the same way, image 2 the opposite way: row 0 puts more weight on
    # image 1 (cosine 1) than on image 2 (cosine -1), in the ratio e^1 / e^-1 = e^2.
    feats = torch.tensor([[1.0, 0.0], [2.0, 0.0], [-1.0, 0.0]])
    a = batch_affinity(feats)
    assert a[0, 1] / a[0, 2] == pytest.approx(math.e**2, rel=1e-5)


def test_closed_form_equals_truncated_series():
    feats, logits = _batch(b=6, k=3)
    omega, temperature = 0.5, 4.0
    a = batch_affinity(feats).double()
    p = torch.softmax(logits.double() / temperature, dim=1)
    series, power = torch.zeros_like(p), p.clone()
    for _ in range(61):  # (1 - w) sum_{t=0}^{60} (wA)^t P; the tail is below w^61 ~ 4e-19
        series += power
        power = omega * a @ power
    series *= 1 - omega
    q = bake_targets(feats, logits, omega, temperature).double()
    assert torch.allclose(q, series, atol=1e-6)
    assert torch.allclose(propagate(a, p, omega), series, atol=1e-12)


def test_targets_are_distributions_without_gradient():
    feats, logits = _batch()
    feats.requires_grad_(True)
    logits.requires_grad_(True)
    q = bake_targets(feats, logits)
    assert not q.requires_grad
    assert (q >= 0).all()
    assert torch.allclose(q.sum(dim=1), torch.ones(5), atol=1e-6)


def test_omega_zero_gives_own_prediction():
    feats, logits = _batch()
    assert torch.allclose(
        bake_targets(feats, logits, omega=0.0, temperature=2.0), torch.softmax(logits / 2.0, dim=1), atol=1e-6
    )


def _two_images() -> tuple[torch.Tensor, torch.Tensor]:
    """With B = 2 the masked affinity is [[0, 1], [1, 0]] whatever the features, so

        (I - wA)^-1 = [[1, w], [w, 1]] / (1 - w^2),  Q = [[1, w], [w, 1]] P / (1 + w).

    With w = 1/2: Q_1 = 2/3 P_1 + 1/3 P_2 and Q_2 = 1/3 P_1 + 2/3 P_2.
    At T = 1, logits [0, 0] and [ln 3, 0] give P_1 = [1/2, 1/2], P_2 = [3/4, 1/4], so
    Q_1 = [7/12, 5/12] and Q_2 = [2/3, 1/3].
    """
    feats = torch.tensor([[1.0, 2.0], [-3.0, 0.5]])
    logits = torch.tensor([[0.0, 0.0], [math.log(3.0), 0.0]])
    return feats, logits


def _kl(q: list[float], p: list[float]) -> float:
    return sum(qi * math.log(qi / pi) for qi, pi in zip(q, p))


def test_softmax_targets_and_loss_hand_value():
    feats, logits = _two_images()
    q = bake_targets(feats, logits, omega=0.5, temperature=1.0)
    assert torch.allclose(q, torch.tensor([[7 / 12, 5 / 12], [2 / 3, 1 / 3]]), atol=1e-6)
    # mean over the two images of KL(Q_i || P_i): (0.013953 + 0.017372) / 2 = 0.015663
    expected = (_kl([7 / 12, 5 / 12], [0.5, 0.5]) + _kl([2 / 3, 1 / 3], [0.75, 0.25])) / 2
    cfg = BAKEConfig(omega=0.5, temperature=1.0, weight=1.0, mode="softmax")
    total, terms = bake_loss(feats, logits, cfg)
    assert total.item() == pytest.approx(expected, rel=1e-5)
    assert total.item() == pytest.approx(0.015663, abs=1e-6)
    assert terms["bake"] is total


def test_temperature_squared_scaling():
    # Logits doubled at T = 2 give the same P and Q as at T = 1, so the loss is 2^2 = 4 times
    # the T = 1 value; the weight multiplies on top.
    feats, logits = _two_images()
    base, _ = bake_loss(feats, logits, BAKEConfig(temperature=1.0, weight=1.0, mode="softmax"))
    hot, _ = bake_loss(feats, 2 * logits, BAKEConfig(temperature=2.0, weight=0.5, mode="softmax"))
    assert hot.item() == pytest.approx(0.5 * 4 * base.item(), rel=1e-5)


def test_binary_targets_and_loss_hand_value():
    # One lane, two images. sigmoid(0) = 1/2 and sigmoid(ln 3) = 3/4 are the "present"
    # probabilities, so by the same algebra as the softmax case q = [7/12, 2/3]; the
    # per-lane KL of [1-q, q] against [1-p, p] is the same two numbers as there.
    feats, _ = _two_images()
    logits = torch.tensor([[0.0], [math.log(3.0)]])
    q = bake_binary_targets(feats, logits, omega=0.5, temperature=1.0)
    assert torch.allclose(q, torch.tensor([[7 / 12], [2 / 3]]), atol=1e-6)
    expected = (_kl([5 / 12, 7 / 12], [0.5, 0.5]) + _kl([1 / 3, 2 / 3], [0.25, 0.75])) / 2
    total, _ = bake_loss(feats, logits, BAKEConfig(omega=0.5, temperature=1.0, weight=1.0))
    assert total.item() == pytest.approx(expected, rel=1e-5)


def test_binary_lanes_sum_and_match_their_softmax_form():
    # Each lane alone equals the softmax form on logits [0, z] (sigmoid(z) = softmax([0, z])_1);
    # the binary loss is the sum of those per-lane losses.
    feats, logits = _batch(b=4, k=3)
    binary, _ = bake_loss(feats, logits, BAKEConfig(mode="binary"))
    per_lane = 0.0
    for lane in range(3):
        pair = torch.stack((torch.zeros(4), logits[:, lane]), dim=1)
        per_lane += bake_loss(feats, pair, BAKEConfig(mode="softmax"))[0].item()
    assert binary.item() == pytest.approx(per_lane, rel=1e-5)


def test_gradient_reaches_logits_not_features():
    feats, logits = _batch()
    feats.requires_grad_(True)
    logits.requires_grad_(True)
    for mode in ("binary", "softmax"):
        total, _ = bake_loss(feats, logits, BAKEConfig(mode=mode))
        total.backward()
        assert logits.grad is not None and logits.grad.abs().sum() > 0
        assert feats.grad is None
        logits.grad = None


def test_single_image_batch_has_zero_loss():
    feats, logits = _batch(b=1)
    # float32 rounding only: T^2 = 16 times a few 1e-7 per lane
    assert bake_loss(feats, logits, BAKEConfig())[0].item() == pytest.approx(0.0, abs=1e-5)
    assert torch.allclose(bake_targets(feats, logits), torch.softmax(logits / 4.0, dim=1))


def test_shape_errors_name_shapes():
    with pytest.raises(ConfigError, match=r"\(3, 2\)"):
        bake_targets(torch.zeros(3, 2), torch.zeros(4, 2))


def test_config_round_trip_and_validation():
    cfg = BAKEConfig(omega=0.3, temperature=2.0, weight=0.1, mode="softmax")
    assert from_plain(BAKEConfig, to_plain(cfg)) == cfg
    assert from_plain(BAKEConfig, {"omega": 0}) == BAKEConfig(omega=0.0)
    with pytest.raises(ConfigError, match=r"unknown key\(s\) distill.bake.omeg"):
        from_plain(BAKEConfig, {"omeg": 0.5}, "distill.bake")
    with pytest.raises(ConfigError, match="omega"):
        BAKEConfig(omega=1.0)
    with pytest.raises(ConfigError, match="temperature"):
        BAKEConfig(temperature=0.0)
    with pytest.raises(ConfigError, match="mode"):
        BAKEConfig(mode="seg")
