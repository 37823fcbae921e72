"""IntRA-KD: AOI maps, moment pooling, affinity graphs and the combined loss, by hand."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from lane_sad_core.distill.intra_kd import (
    IntraKDConfig,
    affinity_graph,
    area_of_interest,
    graph_loss,
    intra_kd_loss,
    moment_pool,
    smooth_labels,
)
from lane_sad_core.errors import ConfigError
from lane_sad_core.plain import from_plain, to_plain

# ---------------------------------------------------------------- moment pooling


def _two_by_two() -> torch.Tensor:
    return torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 1, 2, 2)


def test_moments_of_a_region_by_hand():
    # Region 0 covers the pixels 1, 2 and 4 (weight 1), region 1 nothing.
    #   mass 3, mean 7/3; deviations -4/3, -1/3, 5/3
    #   variance (16 + 1 + 25) / 9 / 3 = 14/9
    #   third moment (-64 - 1 + 125) / 27 / 3 = 20/27; skewness (20/27) / (14/9)^1.5 = 0.38180
    aoi = torch.zeros(1, 2, 2, 2)
    aoi[0, 0] = torch.tensor([[1.0, 1.0], [0.0, 1.0]])
    nodes = moment_pool(_two_by_two(), aoi)
    assert nodes.shape == (1, 2, 3)
    mean, var, skew = nodes[0, 0].tolist()
    assert mean == pytest.approx(7 / 3, rel=1e-6)
    assert var == pytest.approx(14 / 9, rel=1e-6)
    assert skew == pytest.approx((20 / 27) / (14 / 9) ** 1.5, rel=1e-5)
    assert skew == pytest.approx(0.38180, abs=1e-5)
    # the empty region: zeros, not NaN
    assert torch.equal(nodes[0, 1], torch.zeros(3))
    # a region whose mass is below 1e-6 counts as empty too
    aoi[0, 1, 0, 0] = 5e-7
    assert torch.equal(moment_pool(_two_by_two(), aoi)[0, 1], torch.zeros(3))


def test_moments_match_the_formulas_in_float64():
    g = torch.Generator().manual_seed(4)
    feats = torch.randn(2, 3, 5, 7, generator=g) * 2 + 1
    aoi = torch.rand(2, 4, 5, 7, generator=g)
    nodes = moment_pool(feats, aoi)
    f, w = feats.double(), aoi.double()
    for b in range(2):
        for j in range(4):
            m = w[b, j].sum()
            mu = (w[b, j] * f[b]).sum(dim=(-2, -1)) / m
            d = f[b] - mu[:, None, None]
            var = (w[b, j] * d**2).sum(dim=(-2, -1)) / m
            skew = (w[b, j] * d**3).sum(dim=(-2, -1)) / m / (var + 1e-6) ** 1.5
            assert torch.allclose(nodes[b, j].double(), torch.cat((mu, var, skew)), atol=1e-5)


def test_moments_are_weighted_by_the_aoi():
    # Weights 1/2, 1/2 on the top row: mass 1, mean 1.5, variance 1/4, skewness 0. A plain
    # weighted sum (not divided by the mass) would give mean 1.5 only by accident of mass 1,
    # so also halve the weights again: the moments must not change.
    aoi = torch.tensor([[0.5, 0.5], [0.0, 0.0]]).view(1, 1, 2, 2)
    for scale in (1.0, 0.5):
        mean, var, skew = moment_pool(_two_by_two(), aoi * scale)[0, 0].tolist()
        assert (mean, var) == (pytest.approx(1.5), pytest.approx(0.25))
        assert skew == pytest.approx(0.0, abs=1e-6)


def test_moment_selection_and_order():
    aoi = torch.ones(1, 1, 2, 2)
    # mean 2.5, variance 1.25 over all four pixels
    assert moment_pool(_two_by_two(), aoi, ("var", "mean")).tolist() == [[[1.25, 2.5]]]
    with pytest.raises(ConfigError, match="moments"):
        moment_pool(_two_by_two(), aoi, ("mean", "kurtosis"))


def test_moments_stay_exact_under_a_large_offset():
    # 1000 + [0, 1, 2, 3]: variance 1.25. Raw power sums in float32 (x^2 ~ 1e6, spacing 0.06)
    # would lose it; centring keeps it.
    feats = 1000.0 + torch.tensor([[0.0, 1.0], [2.0, 3.0]]).view(1, 1, 2, 2)
    mean, var, skew = moment_pool(feats, torch.ones(1, 1, 2, 2))[0, 0].tolist()
    assert mean == pytest.approx(1001.5)
    assert var == pytest.approx(1.25, abs=1e-4)
    assert skew == pytest.approx(0.0, abs=1e-3)


def test_constant_region_has_zero_skewness_and_finite_gradients():
    feats = torch.full((1, 2, 2, 2), 3.7, requires_grad=True)
    aoi = torch.zeros(1, 2, 2, 2)
    aoi[0, 0] = torch.tensor([[0.3, 1.0], [0.0, 0.6]])  # region 1 stays empty
    nodes = moment_pool(feats, aoi)
    assert nodes[0, 0, 2:4].tolist() == [pytest.approx(0.0, abs=1e-6)] * 2  # variance
    assert nodes[0, 0, 4:].abs().max() < 1e-3  # skewness
    nodes.sum().backward()
    assert torch.isfinite(feats.grad).all()


def test_moment_pool_rejects_mismatched_sizes():
    with pytest.raises(ConfigError, match=r"\(1, 1, 2, 2\).*\(1, 1, 3, 3\)"):
        moment_pool(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 3, 3))


# ---------------------------------------------------------------- affinity graph


def test_affinity_graph_cosines():
    orthogonal = torch.tensor([[[1.0, 0.0], [0.0, 2.0]]])
    assert torch.allclose(affinity_graph(orthogonal), torch.eye(2).unsqueeze(0))
    same = torch.tensor([[[1.0, 2.0], [2.0, 4.0], [-1.0, -2.0]]])
    assert torch.allclose(
        affinity_graph(same), torch.tensor([[[1.0, 1.0, -1.0], [1.0, 1.0, -1.0], [-1.0, -1.0, 1.0]]]), atol=1e-6
    )
    with_empty = torch.tensor([[[3.0, 4.0], [0.0, 0.0]]])
    graph = affinity_graph(with_empty)
    assert torch.isfinite(graph).all()
    assert graph[0, 1].tolist() == [0.0, 0.0] and graph[0, 0, 0] == pytest.approx(1.0)


def test_graph_loss_counts_present_pairs_only():
    student = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    teacher = torch.tensor([[[1.0, 1.0], [1.0, 1.0]]])
    # both present: 2 of 4 pairs off by 1 -> 1/2; only region 0: its own pair, 0
    assert graph_loss(student, teacher, torch.tensor([[True, True]])).item() == pytest.approx(0.5)
    assert graph_loss(student, teacher, torch.tensor([[True, False]])).item() == 0.0


# ---------------------------------------------------------------- areas of interest


def _lane_labels() -> torch.Tensor:
    """40x48 labels: lane 1 in columns 21-22 of rows 10..29 (40 pixels).

    The smoothed lane reaches 5 px further, and an output pixel within 5 px of the border
    is renormalised by its smaller in-image window; 10 px of margin keep both apart, so
    smoothing neither loses nor gains lane mass.
    """
    labels = torch.zeros(1, 40, 48, dtype=torch.long)
    labels[0, 10:30, 21:23] = 1
    return labels


def test_box_smoothing_hand_value_and_complement():
    smoothed = smooth_labels(_lane_labels(), 3, kernel=11)
    # at (row 20, column 21) the 11x11 window holds 11 rows x 2 lane columns = 22 of 121 pixels
    assert smoothed[0, 1, 20, 21].item() == pytest.approx(22 / 121, rel=1e-6)
    # no ignored pixels: the class maps sum to 1 everywhere, background is the complement
    assert torch.allclose(smoothed.sum(dim=1), torch.ones(1, 40, 48), atol=1e-6)
    assert torch.allclose(smoothed[:, 0], 1 - smoothed[:, 1:].sum(dim=1), atol=1e-6)
    # the lane's mass (40 pixels) survives smoothing; the absent lane 2 stays exactly empty
    assert smoothed[0, 1].sum().item() == pytest.approx(40.0, rel=1e-5)
    assert smoothed[0, 2].abs().sum() == 0


def test_aoi_resize_keeps_mass_and_thin_lanes():
    labels = _lane_labels()
    aoi = area_of_interest(labels, 3, size=(5, 6), kernel=11)
    assert aoi.shape == (1, 3, 5, 6)
    # area averaging over 8x8 cells: each cell's value is the mean, so mass x 64 = 40 pixels
    assert aoi[0, 1].sum().item() * 64 == pytest.approx(40.0, rel=1e-5)
    assert torch.allclose(aoi.sum(dim=1), torch.ones(1, 5, 6), atol=1e-6)
    # Plain bilinear shrinking samples source columns 19.5 and 27.5 around the lane
    # (columns 21-22) and never sees it; the AOI holds it in every row of cell column 2.
    onehot = (labels == 1).float().unsqueeze(1)
    sampled = F.interpolate(onehot, size=(5, 6), mode="bilinear", align_corners=False)
    assert sampled.abs().sum() == 0
    assert (aoi[0, 1, :, 2] > 0).all()


def test_gaussian_smoothing_and_ignored_pixels():
    labels = _lane_labels()
    labels[0, 0, :] = 255
    smoothed = smooth_labels(labels, 3, kernel=11, blur="gaussian")
    # the Gaussian peaks on the lane, falls off away from it, and ends with the window
    # (column 28 is 6 px from the lane's last column 22)
    assert smoothed[0, 1, 20, 21] > smoothed[0, 1, 20, 24] > smoothed[0, 1, 20, 26] > 0
    assert smoothed[0, 1, 20, 28] == 0
    # ignored pixels belong to no class: the classes sum to 1 only far from them
    assert torch.allclose(smoothed[0, :, 6:].sum(dim=0), torch.ones(34, 48), atol=1e-6)
    assert (smoothed[0, :, 0].sum(dim=0) < 1).all()


def test_kernel_one_is_the_one_hot_map_and_bad_settings_fail():
    labels = _lane_labels()
    assert torch.equal(smooth_labels(labels, 3, kernel=1)[0, 1], (labels[0] == 1).float())
    with pytest.raises(ConfigError, match="odd"):
        smooth_labels(labels, 3, kernel=4)
    with pytest.raises(ConfigError, match="blur"):
        smooth_labels(labels, 3, blur="median")


# ---------------------------------------------------------------- the loss


def _regions() -> torch.Tensor:
    """4x6 labels: columns 0-1 class 0, 2-3 class 1, 4-5 class 2."""
    return torch.tensor([[0, 0, 1, 1, 2, 2]] * 4).unsqueeze(0)


def _constant_per_region(values: list[list[float]]) -> torch.Tensor:
    """(1, K, 4, 6) features equal to values[j] on region j."""
    labels = _regions()[0]
    per_class = torch.tensor(values)  # (C, K)
    return per_class[labels].permute(2, 0, 1).unsqueeze(0).contiguous()


MEANS_ONLY = IntraKDConfig(pairs=(("s", "t"),), moments=("mean",), kernel=1)


def test_graph_term_hand_value():
    # Student region means [1,0], [0,1], [1,1]: cosines c01 = 0, c02 = c12 = 1/sqrt 2.
    # Teacher [1,0], [1,0], [0,1]: c01 = 1, c02 = c12 = 0.
    # Squared differences over the 9 pairs: 2 x (1 + 1/2 + 1/2) = 4 -> 4/9.
    student = _constant_per_region([[1, 0], [0, 1], [1, 1]])
    teacher = _constant_per_region([[1, 0], [1, 0], [0, 1]])
    total, terms = intra_kd_loss({"s": student}, {"t": teacher}, _regions(), MEANS_ONLY, num_classes=3)
    assert total.item() == pytest.approx(4 / 9, rel=1e-6)
    assert set(terms) == {"intra_s_t"}


def test_absent_regions_leave_the_loss():
    # With class 2's pixels ignored, only the pairs of regions 0 and 1 count: 2 of 4 differ
    # by 1 -> 1/2 (were region 2's zero node kept, it would be 2/9).
    labels = _regions().clone()
    labels[labels == 2] = 255
    student = _constant_per_region([[1, 0], [0, 1], [1, 1]])
    teacher = _constant_per_region([[1, 0], [1, 0], [0, 1]])
    total, _ = intra_kd_loss({"s": student}, {"t": teacher}, labels, MEANS_ONLY, num_classes=3)
    assert total.item() == pytest.approx(0.5, rel=1e-6)


def test_teacher_with_other_channels_and_size_but_same_structure_costs_nothing():
    # Duplicated channels leave every node's direction, hence the graph, unchanged; and a
    # teacher at twice the resolution is pooled with its own AOI. Labels constant on 8x8
    # blocks and no smoothing make both AOIs exact region indicators, so a 2x nearest
    # upsampling of the student's features has the very same moments.
    g = torch.Generator().manual_seed(1)
    blocks = torch.randint(0, 3, (2, 4, 6), generator=g)
    labels = blocks.repeat_interleave(8, 1).repeat_interleave(8, 2)
    student = torch.randn(2, 5, 4, 6, generator=g)
    teacher = torch.cat((student, student), dim=1).repeat_interleave(2, 2).repeat_interleave(2, 3)
    cfg = IntraKDConfig(pairs=(("E4", "layer4"),), kernel=1)
    total, _ = intra_kd_loss({"E4": student}, {"layer4": teacher}, labels, cfg, num_classes=3)
    assert total.item() == pytest.approx(0.0, abs=1e-10)
    # the same teacher with its channels shuffled per pixel position is a different structure
    shuffled = teacher[:, torch.randperm(10, generator=g)].roll(1, dims=2)
    total, _ = intra_kd_loss({"E4": student}, {"layer4": shuffled}, labels, cfg, num_classes=3)
    assert total.item() > 0


def test_every_term_trains_the_student_only():
    g = torch.Generator().manual_seed(2)
    labels = torch.randint(0, 4, (2, 16, 16), generator=g)
    student = torch.randn(2, 6, 4, 4, generator=g, requires_grad=True)
    teacher = torch.randn(2, 9, 4, 4, generator=g, requires_grad=True)
    s_seg = torch.randn(2, 4, 16, 16, generator=g, requires_grad=True)
    t_seg = torch.randn(2, 4, 16, 16, generator=g, requires_grad=True)
    cfg = IntraKDConfig(pairs=(("a", "b"),), at_weight=0.1, kd_weight=0.5, temperature=2.0)
    total, terms = intra_kd_loss(
        {"a": student}, {"b": teacher}, labels, cfg, num_classes=4, student_seg=s_seg, teacher_seg=t_seg
    )
    assert set(terms) == {"intra_a_b", "intra_at_a_b", "intra_kd"}
    assert total.item() == pytest.approx(sum(t.item() for t in terms.values()), rel=1e-6)
    total.backward()
    assert student.grad.abs().sum() > 0 and torch.isfinite(student.grad).all()
    assert s_seg.grad.abs().sum() > 0
    assert teacher.grad is None and t_seg.grad is None


def test_logit_kd_hand_value_and_temperature():
    # Student logits [0, 0] -> [1/2, 1/2]; teacher [ln 3, 0] -> [3/4, 1/4] at T = 1.
    # KL = 3/4 ln(3/2) + 1/4 ln(1/2) = 0.130812, the same at both pixels (mean over pixels).
    # At T = 2 with teacher logits doubled, P and Q are unchanged and the term is 2^2 times.
    s_seg = torch.zeros(1, 2, 1, 2)
    t_seg = torch.tensor([math.log(3.0), 0.0]).view(1, 2, 1, 1).expand(1, 2, 1, 2)
    kl = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    cfg = IntraKDConfig(pairs=(), weight=0.0, kd_weight=1.0, temperature=1.0)
    labels = torch.zeros(1, 1, 2, dtype=torch.long)
    total, _ = intra_kd_loss({}, {}, labels, cfg, num_classes=2, student_seg=s_seg, teacher_seg=t_seg)
    assert total.item() == pytest.approx(kl, rel=1e-6)
    assert total.item() == pytest.approx(0.130812, abs=1e-6)
    hot = IntraKDConfig(pairs=(), weight=0.0, kd_weight=1.0, temperature=2.0)
    total2, _ = intra_kd_loss({}, {}, labels, hot, num_classes=2, student_seg=s_seg, teacher_seg=2 * t_seg)
    assert total2.item() == pytest.approx(4 * kl, rel=1e-6)


def test_attention_term_vanishes_for_matching_attention():
    # |A|^2 is sign-blind: a teacher of -student has the same attention map; another
    # teacher does not.
    g = torch.Generator().manual_seed(3)
    student = torch.randn(1, 3, 4, 4, generator=g)
    cfg = IntraKDConfig(pairs=(("a", "b"),), weight=0.0, at_weight=1.0)
    labels = torch.zeros(1, 8, 8, dtype=torch.long)
    total, terms = intra_kd_loss({"a": student}, {"b": -student}, labels, cfg, num_classes=2)
    assert set(terms) == {"intra_at_a_b"}
    assert total.item() == pytest.approx(0.0, abs=1e-12)
    other = torch.randn(1, 5, 4, 4, generator=g)
    assert intra_kd_loss({"a": student}, {"b": other}, labels, cfg, num_classes=2)[0].item() > 0


def test_missing_inputs_are_named():
    cfg = IntraKDConfig(pairs=(("E4", "layer4"),))
    labels = torch.zeros(1, 8, 8, dtype=torch.long)
    with pytest.raises(ConfigError, match=r"teacher layer\(s\) \['layer4'\]"):
        intra_kd_loss({"E4": torch.zeros(1, 2, 2, 2)}, {"layer3": torch.zeros(1, 2, 2, 2)}, labels, cfg, num_classes=2)
    with pytest.raises(ConfigError, match="student_seg and teacher_seg"):
        kd_only = IntraKDConfig(pairs=(), weight=0.0, kd_weight=1.0)
        intra_kd_loss({}, {}, labels, kd_only, num_classes=2)


def test_config_round_trip_and_validation():
    cfg = IntraKDConfig(
        pairs=(("layer2", "layer3"), ("E4", "layer4")),
        weight=0.5,
        moments=("mean", "var"),
        blur="gaussian",
        at_weight=0.1,
        kd_weight=0.2,
        temperature=3.0,
    )
    assert from_plain(IntraKDConfig, to_plain(cfg)) == cfg
    assert to_plain(cfg)["pairs"] == [["layer2", "layer3"], ["E4", "layer4"]]
    assert from_plain(IntraKDConfig, {"kernel": 5, "weight": 2}).weight == 2.0
    with pytest.raises(ConfigError, match=r"unknown key\(s\) distill.intra_kd.kernal"):
        from_plain(IntraKDConfig, {"kernal": 11}, "distill.intra_kd")
    with pytest.raises(ConfigError, match="moments"):
        IntraKDConfig(moments=("mean", "mean"))
    with pytest.raises(ConfigError, match="odd"):
        IntraKDConfig(kernel=10)
    with pytest.raises(ConfigError, match="nothing to distil"):
        IntraKDConfig(weight=0.0)
    with pytest.raises(ConfigError, match="layer pair"):
        IntraKDConfig(pairs=())
