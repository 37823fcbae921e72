"""Label-guided Attention Distillation (LGAD; Zhu & Liu, Neurocomputing 2021, arXiv 2304.01636).

A teacher that sees the *answer*: the label auto-encoder
(:class:`~lane_sad_core.models.label_autoencoder.LabelAutoEncoder`) takes the one-hot lane label
map and learns to reproduce it, so its blocks' attention falls on the lane structure
itself. The student (an RGB lane model) then mimics the teacher's attention maps block
by block. The teacher exists only in training; inference is the plain student.

Training takes two stages:

1. Train the teacher on ``one_hot_labels(seg_target, C)`` with the ordinary lane loss
   (:func:`lane_sad_core.train.losses.lane_loss`): it returns the same
   ``{"seg", "exist"}`` outputs as the student models, so nothing new is needed.
2. Train the student with ``lgad_loss(student_acts, teacher_acts, cfg)`` added, the
   teacher frozen in eval mode and run under ``torch.no_grad()``::

       _, s_acts = student.forward_blocks(images, cfg.student_blocks)
       with torch.no_grad():
           _, t_acts = teacher.forward_blocks(one_hot_labels(seg, C), cfg.teacher_blocks)
       total, terms = lgad_loss(s_acts, t_acts, cfg)

Pairing. The teacher's blocks sit at the strides of the student models' blocks: E1 at
1/4, E2..E4 at 1/8, exactly as ENet-SAD's E1..E4 and the dilated ResNets' layer1..layer4.
A student block is paired with the teacher block of its own depth rank and stride, so
no map is resized: ENet-SAD E2->E2, E3->E3, E4->E4; ResNet layer2->E2, layer3->E3,
layer4->E4. The shallowest block is left out, following SAD's finding that attention
distillation on low-level blocks hurts (the LGAD paper leaves the pairs open).
:meth:`LGADConfig.for_models` derives the pairs from two ``feature_info`` records.

Each pair's term is SAD's pair loss with the teacher's block as the target: the
attention maps of both (AT-GEN, :func:`lane_sad_core.distill.attention.attention_map`),
MSE, the teacher's side detached. When sizes differ, the smaller energy map is
bilinearly upsampled to the larger before the softmax (SAD's B); weight 0.1 per pair
as in SAD.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from lane_sad_core.distill.sad import AttentionLoss, sad_pair_loss
from lane_sad_core.errors import ConfigError
from lane_sad_core.models.base import BlockInfo
from lane_sad_core.plain import NonNegFloat


def one_hot_labels(seg_target: Tensor, num_classes: int, ignore_index: int = 255) -> Tensor:
    """(B, C, H, W) float one-hot map of (B, H, W) class ids; ignored pixels are all zero.

    Raises:
        ConfigError: the target is not (B, H, W), ``ignore_index`` is a class id, or the
            target holds a value that is neither a class id nor ``ignore_index``.
    """
    if seg_target.dim() != 3:
        raise ConfigError(f"labels must be (B, H, W) class ids, got shape {tuple(seg_target.shape)}")
    if 0 <= ignore_index < num_classes:
        raise ConfigError(f"ignore_index {ignore_index} is also a class id (0..{num_classes - 1})")
    bad = ((seg_target < 0) | (seg_target >= num_classes)) & (seg_target != ignore_index)
    if bad.any():
        raise ConfigError(
            f"label value {int(seg_target[bad][0])} is outside 0..{num_classes - 1} "
            f"and is not ignore_index {ignore_index}"
        )
    # comparing with the class ids skips F.one_hot's int64 (B, H, W, C) tensor and its
    # permuted copy, and leaves ignored pixels in no class by construction
    classes = torch.arange(num_classes, device=seg_target.device).view(1, -1, 1, 1)
    return (seg_target.unsqueeze(1) == classes).float()


@dataclass(frozen=True)
class LGADConfig(AttentionLoss):
    """Which student block mimics which teacher block, how strongly, and from when.

    Attributes:
        teacher: checkpoint of the trained label auto-encoder (relative to the working
            directory); read by the training loop, not by :func:`lgad_loss`.
        pairs: (student block, teacher block) names; defaults suit ENet-SAD and the
            default teacher (see the module docstring; :meth:`for_models` for others).
        weight: loss weight of each pair (SAD's 0.1).
        p, map_size, logit_range, loss: the attention maps and their distance, as SAD's
            (:class:`~lane_sad_core.distill.sad.AttentionLoss`).
        start_iter, ramp_iters: when the terms come in (:class:`Schedule`).
    """

    teacher: str = ""
    pairs: tuple[tuple[str, str], ...] = (("E2", "E2"), ("E3", "E3"), ("E4", "E4"))
    weight: NonNegFloat = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "pairs", tuple((str(s), str(t)) for s, t in self.pairs))
        if not self.pairs:
            raise ConfigError("LGAD needs at least one (student, teacher) block pair")

    @property
    def student_blocks(self) -> tuple[str, ...]:
        """The student blocks the pairs name, each once, in order."""
        return tuple(dict.fromkeys(s for s, _ in self.pairs))

    @property
    def teacher_blocks(self) -> tuple[str, ...]:
        """The teacher blocks the pairs name, each once, in order."""
        return tuple(dict.fromkeys(t for _, t in self.pairs))

    @classmethod
    def for_models(
        cls, student_info: Sequence[BlockInfo], teacher_info: Sequence[BlockInfo], **overrides: object
    ) -> LGADConfig:
        """Pairs by depth rank from the deep end, the student's shallowest block left out.

        Args:
            student_info, teacher_info: ``feature_info`` of the two models, shallow to deep.
            overrides: other :class:`LGADConfig` fields.

        Raises:
            ConfigError: the teacher has too few blocks, or a pair's strides differ.
        """
        students = list(student_info)[1:]
        if not students or len(teacher_info) < len(students):
            raise ConfigError(
                f"cannot pair student blocks {[b.name for b in student_info]} with teacher blocks "
                f"{[b.name for b in teacher_info]}"
            )
        teachers = list(teacher_info)[len(teacher_info) - len(students) :]
        for s, t in zip(students, teachers):
            if s.stride != t.stride:
                raise ConfigError(f"LGAD pair {s.name}->{t.name}: strides differ ({s.stride} vs {t.stride})")
        pairs = tuple((s.name, t.name) for s, t in zip(students, teachers))
        return cls(pairs=pairs, **overrides)  # type: ignore[arg-type]


def lgad_loss(
    student_acts: Mapping[str, Tensor], teacher_acts: Mapping[str, Tensor], cfg: LGADConfig
) -> tuple[Tensor, dict[str, Tensor]]:
    """The weighted attention-mimicking terms and their sum.

    Args:
        student_acts: student block name -> (B, C_s, H, W) activation.
        teacher_acts: teacher block name -> (B, C_t, H', W') activation; detached here.
        cfg: pairs, weight, AT-GEN exponent.

    Returns:
        ``(total, {"lgad_<student>_<teacher>": weighted term})``.

    Raises:
        ConfigError: a pair names a block missing from its mapping.
    """
    for side, names, acts in (
        ("student", cfg.student_blocks, student_acts),
        ("teacher", cfg.teacher_blocks, teacher_acts),
    ):
        missing = [name for name in names if name not in acts]
        if missing:
            raise ConfigError(f"LGAD needs {side} block(s) {missing}; got {sorted(acts)}")
    terms = {f"lgad_{s}_{t}": cfg.weight * sad_pair_loss(student_acts[s], teacher_acts[t], cfg) for s, t in cfg.pairs}
    return sum(terms.values()), terms  # type: ignore[return-value]
