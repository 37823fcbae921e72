"""Inter-Region Affinity Knowledge Distillation (IntRA-KD; Hou et al., CVPR 2020).

A road scene is split into regions, one per class (background and each lane). Each
region becomes a graph node described by the statistics of a feature map inside it;
edges are the cosine similarities between nodes. The student learns the teacher's
*structure* (how its regions relate) rather than its raw features, so the two networks
may differ in channels and the graph is C x C whatever the layer.

Areas of interest (AOI). :func:`area_of_interest` turns the labels into one map per
class: the one-hot label map, smoothed with an 11x11 kernel so a region also covers the
context around thin lane markings, then resized to the feature map. The paper describes
the smoothing as averaging; the official repository (cardwing/Codes-for-IntRA-KD) never
released the training code, so nothing settles it further: ``blur="box"`` (default)
averages, ``blur="gaussian"`` uses OpenCV's default sigma for the size (2.0 for 11).
Both are normalised at the image border (they average over in-image pixels only), so
without ignored pixels the class maps still sum to 1 everywhere and background is the
complement of the lanes. Shrinking to the feature size averages (area interpolation),
which keeps every region's mass (up to the area ratio); plain bilinear sampling at
stride 8 reads 2x2 neighbourhoods and can step over a thin lane.

Moment pooling. With w = the AOI map of region j (the weights), m = sum w its mass,
and F_k channel k of the features, all sums over the pixels of the feature map:

    mean     mu_jk = sum(w F_k) / m
    variance v_jk  = sum(w (F_k - mu_jk)^2) / m
    skewness g_jk  = (sum(w (F_k - mu_jk)^3) / m) / (v_jk + 1e-6)^(3/2)

i.e. the weighted population moments, the skewness standardised by the variance (the
1e-6 keeps a constant region, whose third moment is rounding noise, at ~0 instead of
noise / 0). The central moments are computed from the centred features, not from raw
power sums, which lose all precision when a channel's mean dwarfs its spread. A region
whose mass is below 1e-6 (its class absent from the image) gets all-zero moments; it is
also left out of the loss, so absent lanes neither create nor hide similarity.

Graphs, one per moment. As the paper builds them, each moment gives its own graph: the
cosine similarity of the regions' mean vectors, of their variance vectors and of their
skewness vectors (:func:`moment_graphs`). One graph over the concatenated [mu, v, g]
vector, as this module first did, is ruled by the moment of largest magnitude.

Loss. For a (student layer, teacher layer) pair, the mean over the moments and over
present node pairs (i, j) of (C^S_ij - C^T_ij)^2, with the teacher's graphs computed
without gradient; with every class present this is the paper's (1/n^2) sum_ij per moment.
Which layers, and the loss weight, are open (the paper does not give them in a form that
carries over); the defaults pair the last backbone blocks of ENet-SAD (E4) and of the
ResNet-101 teacher (layer4), both at stride 8.

As in the paper's comparisons, IntRA-KD combines with logit KD (KL between the softened
class maps, teacher detached) and attention transfer (here SAD's scaled AT-GEN maps and L2 distance,
teacher detached) through their weights in :class:`IntraKDConfig`; 0 turns a part off.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from lane_sad_core.distill.lgad import one_hot_labels
from lane_sad_core.distill.logit_kd import softmax_kd
from lane_sad_core.distill.sad import AttentionLoss, sad_pair_loss
from lane_sad_core.distill.schedule import Schedule
from lane_sad_core.errors import ConfigError
from lane_sad_core.plain import NonNegFloat

MOMENTS = ("mean", "var", "skew")
BLURS = ("box", "gaussian")
EMPTY_MASS = 1e-6  # AOI mass below which a region counts as absent
VAR_EPS = 1e-6  # added to the variance in the skewness's denominator


def _kernel_1d(kind: str, size: int, device: torch.device) -> Tensor:
    if kind == "box":
        return torch.full((size,), 1.0 / size, device=device)
    sigma = 0.3 * ((size - 1) * 0.5 - 1) + 0.8  # cv2.getGaussianKernel's default for the size
    x = torch.arange(size, device=device, dtype=torch.float32) - (size - 1) / 2
    k = torch.exp(-(x**2) / (2 * sigma**2))
    return k / k.sum()


def _separable_blur(maps: Tensor, k: Tensor) -> Tensor:
    c, n = maps.shape[1], k.numel()
    y = F.conv2d(maps, k.view(1, 1, 1, n).expand(c, 1, 1, n), padding=(0, n // 2), groups=c)
    return F.conv2d(y, k.view(1, 1, n, 1).expand(c, 1, n, 1), padding=(n // 2, 0), groups=c)


def smooth_labels(
    seg_target: Tensor, num_classes: int, kernel: int = 11, ignore_index: int = 255, blur: str = "box"
) -> Tensor:
    """(B, C, H, W) one-hot label maps smoothed by a ``kernel`` x ``kernel`` filter.

    The filter is normalised by its in-image weight at each pixel, so borders average
    only real pixels. ``kernel`` 1 leaves the one-hot map unchanged.

    Raises:
        ConfigError: ``kernel`` is not a positive odd number or ``blur`` is unknown.
    """
    if kernel < 1 or kernel % 2 == 0:
        raise ConfigError(f"AOI kernel must be a positive odd size, got {kernel}")
    if blur not in BLURS:
        raise ConfigError(f"AOI blur {blur!r} unknown; choose from {list(BLURS)}")
    onehot = one_hot_labels(seg_target, num_classes, ignore_index)
    if kernel == 1:
        return onehot
    k = _kernel_1d(blur, kernel, onehot.device)
    coverage = _separable_blur(torch.ones_like(onehot[:1, :1]), k)
    return _separable_blur(onehot, k) / coverage


def resize_regions(maps: Tensor, size: tuple[int, int]) -> Tensor:
    """Resize AOI maps: area averaging when shrinking, bilinear when growing."""
    size = (int(size[0]), int(size[1]))
    if tuple(maps.shape[-2:]) == size:
        return maps
    if size[0] <= maps.shape[-2] and size[1] <= maps.shape[-1]:
        return F.interpolate(maps, size=size, mode="area")
    return F.interpolate(maps, size=size, mode="bilinear", align_corners=False)


def area_of_interest(
    seg_target: Tensor,
    num_classes: int,
    size: tuple[int, int],
    kernel: int = 11,
    ignore_index: int = 255,
    blur: str = "box",
) -> Tensor:
    """(B, C, h, w) AOI maps, one per class: smoothed labels resized to ``size`` = (h, w).

    Args:
        seg_target: (B, H, W) class ids (0 background, 1..L lanes, ``ignore_index``).
        num_classes: C.
        size: the feature map's (h, w).
        kernel: smoothing window (paper: 11).
        ignore_index: label of pixels that belong to no region.
        blur: ``"box"`` (averaging, default) or ``"gaussian"``.
    """
    return resize_regions(smooth_labels(seg_target, num_classes, kernel, ignore_index, blur), size)


def moment_pool(features: Tensor, aoi: Tensor, moments: Sequence[str] = MOMENTS) -> Tensor:
    """(B, C, len(moments) * K) node vectors: AOI-weighted moments of each channel per region.

    See the module docstring for the formulas. Computed in float32 at least.

    Args:
        features: (B, K, h, w) feature map.
        aoi: (B, C, h, w) region weights at the same size.
        moments: which of ``"mean"``, ``"var"``, ``"skew"``, concatenated in this order.

    Raises:
        ConfigError: shapes disagree or a moment name is unknown.
    """
    if (
        features.dim() != 4
        or aoi.dim() != 4
        or features.shape[0] != aoi.shape[0]
        or features.shape[-2:] != aoi.shape[-2:]
    ):
        raise ConfigError(
            f"moment pooling needs (B, K, h, w) features and (B, C, h, w) AOI maps of one size, "
            f"got {tuple(features.shape)} and {tuple(aoi.shape)}"
        )
    _check_moments(moments)
    dtype = torch.promote_types(features.dtype, torch.float32)
    f, w = features.to(dtype), aoi.to(dtype)
    mass = w.sum(dim=(-2, -1))
    present = (mass > EMPTY_MASS).to(dtype).unsqueeze(-1)  # (B, C, 1)
    mass = mass.clamp_min(EMPTY_MASS).unsqueeze(-1)
    mean = torch.einsum("bchw,bkhw->bck", w, f) / mass * present
    found = {"mean": mean}
    if "var" in moments or "skew" in moments:
        var, third = _central_moments(f, w, mean, mass)
        found["var"] = var * present
        found["skew"] = third * present / (var + VAR_EPS) ** 1.5
    return torch.cat([found[name] for name in moments], dim=-1)


def _central_moments(f: Tensor, w: Tensor, mean: Tensor, mass: Tensor) -> tuple[Tensor, Tensor]:
    """Weighted 2nd and 3rd central moments (B, C, K), one region at a time.

    Centring per region needs a (B, K, h, w) copy of the features; doing the C regions in
    turn keeps memory at one copy instead of C (a ResNet-101 layer4 has 2048 channels).
    """
    second, third = [], []
    for j in range(w.shape[1]):
        d = f - mean[:, j, :, None, None]
        wd2 = w[:, j : j + 1] * d * d
        second.append(wd2.sum(dim=(-2, -1)))
        third.append((wd2 * d).sum(dim=(-2, -1)))
    return torch.stack(second, dim=1) / mass, torch.stack(third, dim=1) / mass


def affinity_graph(nodes: Tensor) -> Tensor:
    """(..., C, C) cosine similarities between the (..., C, D) node vectors; zero vectors give 0."""
    unit = F.normalize(nodes, dim=-1)
    return unit @ unit.transpose(-2, -1)


def moment_graphs(nodes: Tensor, num_moments: int) -> Tensor:
    """(B, M, C, C): one affinity graph per moment, from (B, C, M * K) node vectors.

    The paper builds a graph for each moment and matches them separately; one graph over
    the concatenated [mean, var, skew] vector would be ruled by whichever moment has the
    largest magnitude (on trained ENet features the variances dwarf the means).
    """
    b, c, d = nodes.shape
    per_moment = nodes.view(b, c, num_moments, d // num_moments).transpose(1, 2)
    return affinity_graph(per_moment)


def graph_loss(student: Tensor, teacher: Tensor, present: Tensor) -> Tensor:
    """Mean of (student - teacher)^2 over node pairs whose regions are both present.

    Args:
        student, teacher: (B, C, C) affinity graphs, or (B, M, C, C) with one per moment
            (then also averaged over the moments).
        present: (B, C) bool, which regions exist in each image.
    """
    valid = (present.unsqueeze(2) & present.unsqueeze(1)).to(student.dtype)
    if student.dim() == 4:
        valid = valid.unsqueeze(1).expand_as(student)
    return ((student - teacher) ** 2 * valid).sum() / valid.sum().clamp_min(1.0)


@dataclass(frozen=True)
class IntraKDConfig(Schedule):
    """What IntRA-KD distils, from where, how strongly, and from when.

    Attributes:
        teacher: checkpoint of the trained image teacher (relative to the working
            directory); read by the training loop, not by :func:`intra_kd_loss`.
        pairs: (student layer, teacher layer) names whose graphs (and attention maps,
            when ``at_weight`` > 0) are matched.
        weight: weight of each pair's affinity-graph term; 0 turns it off.
        moments: moments in the node vectors (paper: all three).
        kernel: AOI smoothing window (paper: 11).
        blur: ``"box"`` or ``"gaussian"`` smoothing (see the module docstring).
        ignore_index: label of pixels that belong to no region.
        at_weight: weight of each pair's attention-transfer term; 0 = off.
        at_p: AT-GEN exponent of the attention term.
        kd_weight: weight of the logit KD term on the class maps; 0 = off.
        temperature: T of the logit KD term.
        start_iter, ramp_iters: when the terms come in (:class:`Schedule`).
    """

    MOVED: ClassVar[dict[str, str]] = {
        "at_normalize": "at_p (attention maps are always scaled now; docs/distillation.md)"
    }

    teacher: str = ""
    pairs: tuple[tuple[str, str], ...] = (("E4", "layer4"),)
    weight: NonNegFloat = 1.0
    moments: tuple[str, ...] = MOMENTS
    kernel: int = 11
    blur: str = "box"
    ignore_index: int = 255
    at_weight: NonNegFloat = 0.0
    at_p: float = 2.0
    kd_weight: NonNegFloat = 0.0
    temperature: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "pairs", tuple((str(s), str(t)) for s, t in self.pairs))
        object.__setattr__(self, "moments", tuple(str(m) for m in self.moments))
        _check_moments(self.moments)
        if self.kernel < 1 or self.kernel % 2 == 0:
            raise ConfigError(f"IntRA-KD kernel must be a positive odd size, got {self.kernel}")
        if self.blur not in BLURS:
            raise ConfigError(f"IntRA-KD blur {self.blur!r} unknown; choose from {list(BLURS)}")
        if self.temperature <= 0:
            raise ConfigError(f"IntRA-KD temperature must be > 0, got {self.temperature}")
        if (self.weight or self.at_weight) and not self.pairs:
            raise ConfigError("IntRA-KD graph or attention terms need at least one layer pair")
        if not (self.weight or self.at_weight or self.kd_weight):
            raise ConfigError("IntRA-KD has every weight at 0: nothing to distil")


def _check_moments(moments: Sequence[str]) -> None:
    unknown = [m for m in moments if m not in MOMENTS]
    if unknown or not moments or len(set(moments)) != len(moments):
        raise ConfigError(f"moments must be distinct names from {list(MOMENTS)}, got {list(moments)}")


def intra_kd_loss(
    student_feats: Mapping[str, Tensor],
    teacher_feats: Mapping[str, Tensor],
    seg_target: Tensor,
    cfg: IntraKDConfig,
    *,
    num_classes: int,
    student_seg: Tensor | None = None,
    teacher_seg: Tensor | None = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """The IntRA-KD terms (graph, and optionally attention and logit KD) and their sum.

    Args:
        student_feats: student layer name -> (B, K_s, h, w) features.
        teacher_feats: teacher layer name -> (B, K_t, h', w') features; detached here.
        seg_target: (B, H, W) class ids at input resolution; they define the regions.
        cfg: pairs, weights and AOI settings.
        num_classes: C, the number of regions (background + lanes).
        student_seg, teacher_seg: (B, C, H, W) class logits, needed when ``cfg.kd_weight``
            is not 0.

    Returns:
        ``(total, terms)`` with weighted terms ``intra_<s>_<t>`` (graph),
        ``intra_at_<s>_<t>`` (attention) and ``intra_kd`` (logits).

    Raises:
        ConfigError: a named layer is missing, or class maps are missing for logit KD.
    """
    terms: dict[str, Tensor] = {}
    if cfg.weight or cfg.at_weight:
        _check_layers(cfg, student_feats, teacher_feats)
    if cfg.weight:
        smoothed = smooth_labels(seg_target, num_classes, cfg.kernel, cfg.ignore_index, cfg.blur)
        present = smoothed.sum(dim=(-2, -1)) > EMPTY_MASS
        for s, t in cfg.pairs:
            graph_s = _region_graph(student_feats[s], smoothed, cfg.moments)
            with torch.no_grad():
                graph_t = _region_graph(teacher_feats[t], smoothed, cfg.moments)
            terms[f"intra_{s}_{t}"] = cfg.weight * graph_loss(graph_s, graph_t, present)
    if cfg.at_weight:
        for s, t in cfg.pairs:
            terms[f"intra_at_{s}_{t}"] = cfg.at_weight * sad_pair_loss(
                student_feats[s], teacher_feats[t], AttentionLoss(p=cfg.at_p)
            )
    if cfg.kd_weight:
        if student_seg is None or teacher_seg is None:
            raise ConfigError("IntRA-KD logit KD (kd_weight > 0) needs student_seg and teacher_seg")
        target = F.softmax(teacher_seg.detach().float() / cfg.temperature, dim=1)
        terms["intra_kd"] = cfg.kd_weight * softmax_kd(student_seg, target, cfg.temperature, dim=1)
    return sum(terms.values()), terms  # type: ignore[return-value]


def _region_graph(features: Tensor, smoothed: Tensor, moments: Sequence[str]) -> Tensor:
    """The (B, M, C, C) per-moment affinity graphs of one feature map (AOI from the smoothed labels)."""
    aoi = resize_regions(smoothed, (features.shape[-2], features.shape[-1]))
    return moment_graphs(moment_pool(features, aoi, moments), len(moments))


def _check_layers(cfg: IntraKDConfig, student_feats: Mapping[str, Tensor], teacher_feats: Mapping[str, Tensor]) -> None:
    for side, names, feats in (
        ("student", [s for s, _ in cfg.pairs], student_feats),
        ("teacher", [t for _, t in cfg.pairs], teacher_feats),
    ):
        missing = sorted({name for name in names if name not in feats})
        if missing:
            raise ConfigError(f"IntRA-KD needs {side} layer(s) {missing}; got {sorted(feats)}")
