"""The task loss of ENet-SAD (Hou et al. 2019, Eq. 3, and the official Torch code).

    L = seg_weight * CE_w(seg) + iou_weight * IoU(seg) + exist_weight * BCE(exist)

* CE_w: pixel cross-entropy with class weights (background 0.4, lanes 1) and label 255
  ignored (``cudnn.SpatialCrossEntropyCriterion(weights)`` in the official code; like it,
  the weighted mean divides by the summed weights of the counted pixels).
* IoU: the paper's 1 - N_o / (N_p + N_g - N_o) over all lane pixels, with soft counts
  from the softmax so it has a gradient. Weight 0.1 in the paper; the released code drops
  it, so it is off (0) by default.
* BCE on the existence logits, weight 0.1.

Eq. 3's SAD terms, like every distillation term, come from the ``distill`` section of the
training config (:class:`lane_sad_core.train.distillation.Distiller`), which the training
loop adds to this loss with each method's schedule.

Pure functions of outputs and targets plus a thin module holding the config; every
function returns ``(total, {name: weighted term})`` with the terms summing to the total.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lane_sad_core.errors import ConfigError
from lane_sad_core.plain import NonNegFloat


@dataclass(frozen=True)
class LossConfig:
    """Weights of the loss terms (defaults: the paper / official code).

    Attributes:
        background_weight: CE weight of class 0; lane classes weigh 1.
        ignore_index: label value excluded from CE and IoU.
        seg_weight: weight of the CE term.
        exist_weight: weight of the existence BCE term.
        iou_weight: weight of the IoU term (0 = off, as in the official code).
    """

    MOVED: ClassVar[dict[str, str]] = {"sad": "distill.sad"}

    background_weight: NonNegFloat = 0.4
    ignore_index: int = 255
    seg_weight: NonNegFloat = 1.0
    exist_weight: NonNegFloat = 0.1
    iou_weight: NonNegFloat = 0.0


def class_weights(num_classes: int, background_weight: float, device: torch.device | None = None) -> Tensor:
    """[background_weight, 1, ..., 1] for ``num_classes`` classes."""
    w = torch.ones(num_classes, device=device)
    w[0] = background_weight
    return w


def segmentation_loss(
    logits: Tensor,
    target: Tensor,
    background_weight: float = 0.4,
    ignore_index: int = 255,
    unknown: Tensor | None = None,
) -> Tensor:
    """Class-weighted pixel cross-entropy; ``target`` is (B, H, W) int64 class ids.

    Partial labels: ``unknown`` (B, L) marks slots a frame's labels say nothing about
    (an ego-lane-only label set, pseudo-labels). Their lanes may be anywhere in the
    pixels labelled background, so those pixels are not taught "background" but
    "background or one of the unknown slots": their loss is -log of the summed
    probability of that set. Without unknown slots this is exactly the plain weighted
    cross-entropy (the weighted mean divides by the summed weights of counted pixels).
    """
    _check_target(logits, target)
    weight = class_weights(logits.shape[1], background_weight, logits.device).to(logits.dtype)
    if unknown is None or not bool(unknown.any()):
        return F.cross_entropy(logits, target, weight=weight, ignore_index=ignore_index)
    log_p = F.log_softmax(logits.float(), dim=1)
    absorbed = torch.cat([torch.ones_like(unknown[:, :1]), unknown], dim=1).bool()  # (B, C): background's set
    background = torch.logsumexp(log_p.masked_fill(~absorbed[:, :, None, None], float("-inf")), dim=1)
    valid = target != ignore_index
    safe = torch.where(valid, target, 0)
    nll = -torch.where(safe == 0, background, log_p.gather(1, safe[:, None]).squeeze(1))
    pixel_weight = weight.float()[safe] * valid
    return (nll * pixel_weight).sum() / pixel_weight.sum().clamp_min(1e-12)


def iou_loss(logits: Tensor, target: Tensor, ignore_index: int = 255, eps: float = 1e-6) -> Tensor:
    """1 - soft IoU between predicted and labelled lane pixels (all lane classes together).

    N_o = sum p_c [y = c], N_p = sum p_c, N_g = sum [y = c] over lane classes c >= 1 and
    pixels whose label is not ``ignore_index``; loss = 1 - N_o / (N_p + N_g - N_o).
    """
    _check_target(logits, target)
    valid = (target != ignore_index).unsqueeze(1)
    prob = F.softmax(logits, dim=1)[:, 1:] * valid
    onehot = F.one_hot(torch.where(valid.squeeze(1), target, 0), logits.shape[1])
    onehot = onehot.permute(0, 3, 1, 2)[:, 1:].to(prob.dtype)
    overlap = (prob * onehot).sum()
    union = prob.sum() + onehot.sum() - overlap
    return 1.0 - overlap / (union + eps)


def existence_loss(logits: Tensor, target: Tensor) -> Tensor:
    """Binary cross-entropy between existence logits and 0/1 targets, both (B, num_lanes).

    Targets below 0 (slots whose existence the labels do not give) are left out of the
    mean; with every target known this is the plain mean over all entries.
    """
    if logits.shape != target.shape:
        raise ConfigError(f"existence logits {tuple(logits.shape)} vs targets {tuple(target.shape)}")
    known = target >= 0
    per_entry = F.binary_cross_entropy_with_logits(logits, target.clamp_min(0).to(logits.dtype), reduction="none")
    return (per_entry * known).sum() / known.sum().clamp_min(1)


def lane_loss(
    outputs: Mapping[str, Tensor],
    seg_target: Tensor,
    exist_target: Tensor | None,
    cfg: LossConfig,
) -> tuple[Tensor, dict[str, Tensor]]:
    """The task loss (distillation terms are added by the training loop).

    Args:
        outputs: the model's ``{"seg", "exist"}`` logits.
        seg_target: (B, H, W) int64 labels (0 background, 1..L lanes, ignore_index).
        exist_target: (B, L) existence labels (1 present, 0 absent, -1 unknown: partial
            labels, see :func:`segmentation_loss`), or None to skip that term.
        cfg: the weights.

    Returns:
        ``(total, terms)`` with weighted terms named ``seg``, ``exist``, ``iou``.

    Raises:
        ConfigError: mismatched shapes.
    """
    seg = outputs["seg"]
    unknown = None if exist_target is None else exist_target < 0
    terms = {
        "seg": cfg.seg_weight * segmentation_loss(seg, seg_target, cfg.background_weight, cfg.ignore_index, unknown)
    }
    if exist_target is not None:
        terms["exist"] = cfg.exist_weight * existence_loss(outputs["exist"], exist_target)
    if cfg.iou_weight:
        terms["iou"] = cfg.iou_weight * iou_loss(seg, seg_target, cfg.ignore_index)
    return sum(terms.values()), terms  # type: ignore[return-value]


class LaneLoss(nn.Module):
    """:func:`lane_loss` with its :class:`LossConfig` held, for training loops."""

    def __init__(self, cfg: LossConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg or LossConfig()

    def forward(
        self,
        outputs: Mapping[str, Tensor],
        seg_target: Tensor,
        exist_target: Tensor | None = None,
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """See :func:`lane_loss`."""
        return lane_loss(outputs, seg_target, exist_target, self.cfg)


def _check_target(logits: Tensor, target: Tensor) -> None:
    if target.shape != (logits.shape[0], *logits.shape[2:]):
        raise ConfigError(
            f"segmentation labels {tuple(target.shape)} do not match logits {tuple(logits.shape)}"
            " (expected (B, H, W) at the logits' resolution)"
        )
