"""Logit distillation from a teacher's precomputed probability maps (e.g. the official SCNN's).

Some teachers exist only as their outputs: the official SCNN, trained on the whole of
CULane, ships as probability maps saved beside the frames (one PNG per slot), not as a
network this project can run. Such maps are soft targets for the student's per-pixel
class distribution: the term is

    KL(teacher || softmax(student logits))   per pixel,

summed over the classes and averaged over the pixels that count: pixels of frames that
have maps, and not brought in from outside the frame by augmentation (label 255). At
temperature 1 (the maps are the teacher's probabilities, not its logits) Hinton's T^2
factor is 1. The maps are read by the dataset (``soft``/``has_soft`` in the sample, see
:meth:`lane_sad_core.data.datasets.LaneDataset.soft_maps`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from lane_sad_core.distill.schedule import Schedule
from lane_sad_core.errors import ConfigError
from lane_sad_core.plain import NonNegFloat


@dataclass(frozen=True)
class TeacherMapsConfig(Schedule):
    """Distillation from a teacher's maps saved beside the training frames.

    Attributes:
        pattern: file name of a frame's map for one slot, beside the image: ``{stem}`` is
            the image's name without suffix, ``{slot}`` the 1-based slot (SCNN's files:
            ``{stem}_{slot}_avg.png``). Frames without all their maps get no term.
        weight: weight of the per-pixel KL (the segmentation loss has weight 1).
        start_iter, ramp_iters: when the term comes in (:class:`Schedule`).
    """

    pattern: str = "{stem}_{slot}_avg.png"
    weight: NonNegFloat = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        if "{stem}" not in self.pattern or "{slot}" not in self.pattern:
            raise ConfigError(f"teacher_maps.pattern must contain {{stem}} and {{slot}}, got {self.pattern!r}")


def teacher_map_loss(student_logits: Tensor, soft: Tensor, has_soft: Tensor, valid: Tensor) -> Tensor:
    """Mean per-pixel KL(teacher || student) over the frames with maps and their valid pixels.

    Args:
        student_logits: (B, C, H, W) segmentation logits.
        soft: (B, C, H, W) teacher probabilities (zeros for frames without maps).
        has_soft: (B,) 1 for frames with maps, 0 otherwise.
        valid: (B, H, W) bool, False where the frame's content is unknown.

    Returns:
        A scalar; 0 (with a gradient of 0) when no frame of the batch has maps.
    """
    if soft.shape != student_logits.shape:
        raise ConfigError(
            f"teacher maps {tuple(soft.shape)} do not match the student's logits {tuple(student_logits.shape)}"
        )
    log_p = F.log_softmax(student_logits.float(), dim=1)
    kl = (torch.xlogy(soft, soft) - soft * log_p).sum(dim=1)  # (B, H, W)
    weight = valid.float() * has_soft.float().view(-1, 1, 1)
    return (kl * weight).sum() / weight.sum().clamp_min(1.0)
