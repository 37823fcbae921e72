"""Self Attention Distillation (SAD) loss: top-down, layer-wise, within one network.

Block m mimics block m+1: both activations go through AT-GEN (see
:mod:`lane_sad_core.distill.attention`) at one stated map size, the deeper map is the
target and is detached, and the term is the squared L2 distance between the two maps,
summed over the pixels and averaged over the batch (the official code's MSE criterion
with the author's "no need to divide by HW"). Two probability maps differ by at most 2 in
that distance, so every term is bounded by 2 x its weight, whatever the resolution; with
the map size fixed, nothing in it grows with the input. A KL variant (``loss: kl``) is
kept as an option. Which pairs, their weights and the iteration SAD starts at (and how
fast it ramps in) are configuration (:class:`SADConfig`).

Which pairs ENet-SAD used: the paper's ablation finds that mimicking the neighbouring
block beats skipping one (P23 + P34 > P24 + P34) and that SAD on the low-level block E1
hurts; the author confirms the paper's model trains E2 -> E3 and E3 -> E4
(cardwing/Codes-for-Lane-Detection issue #150). The released Torch code differs: it keeps
only E3 -> E4 and also regresses E4's map onto the label map, which is not SAD and is not
reproduced here. Defaults are therefore E2 -> E3 and E3 -> E4, weight 0.1 each, from
iteration 40K of 60K; :meth:`SADConfig.for_blocks` applies the same rule (consecutive
pairs, skipping the shallowest block) to any model.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from lane_sad_core.distill.attention import attention_map
from lane_sad_core.distill.schedule import Schedule
from lane_sad_core.errors import ConfigError
from lane_sad_core.plain import NonNegFloat

LOSSES = ("l2", "kl")


@dataclass(frozen=True)
class AttentionLoss(Schedule):
    """How two attention maps are made and compared; shared by SAD, LGAD and IntRA-KD's
    attention transfer.

    Attributes:
        p: exponent of AT-GEN's channel sum (paper: 2).
        map_size: (H, W) every map is resized to before its softmax: the stride-8 grid of
            the paper's 288x800 input by default, the same for every block and input size.
        logit_range: k, the range of the softmax logits (g scaled to [0, k]); 0 = ln(H*W).
            See :mod:`lane_sad_core.distill.attention`.
        loss: ``l2`` (squared distance summed over pixels, the paper's) or ``kl``
            (KL(target || student), summed over pixels).
    """

    MOVED: ClassVar[dict[str, str]] = {
        "normalize": "logit_range (maps are always scaled now; 0 = ln(pixels); docs/distillation.md)"
    }

    p: float = 2.0
    map_size: tuple[int, int] = (36, 100)
    logit_range: float = 0.0
    loss: str = "l2"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.loss not in LOSSES:
            raise ConfigError(f"attention loss {self.loss!r} unknown; choose from {list(LOSSES)}")
        if min(self.map_size) < 1 or self.logit_range < 0:
            raise ConfigError(
                f"attention map_size must be positive and logit_range >= 0, got {self.map_size}, {self.logit_range}"
            )


@dataclass(frozen=True)
class SADConfig(AttentionLoss):
    """What SAD distils, how strongly and from when (the schedule: :class:`Schedule`).

    Attributes:
        pairs: (student, target) block names; the target is the deeper block.
        weight: loss weight of every pair, or one weight per pair (paper: 0.1 each).
        start_iter: first training iteration with SAD on (paper: 40K of 60K); earlier,
            the deep blocks' attention maps are still poor targets. ``ramp_iters``: see
            :class:`Schedule`.
        p, map_size, logit_range, loss: see :class:`AttentionLoss`.
    """

    pairs: tuple[tuple[str, str], ...] = (("E2", "E3"), ("E3", "E4"))
    weight: NonNegFloat | tuple[NonNegFloat, ...] = 0.1
    start_iter: int = 40_000

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "pairs", tuple((str(s), str(t)) for s, t in self.pairs))
        if not self.pairs:
            raise ConfigError("SAD needs at least one (student, target) block pair")
        if not isinstance(self.weight, (int, float)):
            object.__setattr__(self, "weight", tuple(float(w) for w in self.weight))
            if len(self.weight) != len(self.pairs):
                raise ConfigError(f"SAD weight has {len(self.weight)} values for {len(self.pairs)} pairs {self.pairs}")

    @property
    def pair_weights(self) -> tuple[float, ...]:
        """The loss weight of each pair, in order."""
        if isinstance(self.weight, tuple):
            return self.weight
        return (float(self.weight),) * len(self.pairs)

    @property
    def blocks(self) -> tuple[str, ...]:
        """Every block the pairs name, each once, in first-use order."""
        return tuple(dict.fromkeys(name for pair in self.pairs for name in pair))

    @classmethod
    def for_blocks(cls, block_names: Sequence[str], **overrides: object) -> SADConfig:
        """Neighbouring pairs over all blocks but the shallowest (the paper's rule)."""
        names = list(block_names)[1:]
        return cls(pairs=tuple(itertools.pairwise(names)), **overrides)  # type: ignore[arg-type]


def sad_pair_loss(student: Tensor, target: Tensor, spec: AttentionLoss | None = None) -> Tensor:
    """The distance between the attention maps of ``student`` and of the detached ``target``.

    Both are made at ``spec.map_size`` (see :class:`AttentionLoss`); the distance is summed
    over the map's pixels and averaged over the batch.
    """
    spec = spec or AttentionLoss()
    m_student = attention_map(student, spec.p, spec.map_size, spec.logit_range)
    m_target = attention_map(target.detach(), spec.p, spec.map_size, spec.logit_range)
    if spec.loss == "kl":
        per_image = (torch.xlogy(m_target, m_target) - m_target * m_student.log()).sum(dim=(-2, -1))
    else:
        per_image = (m_student - m_target).square().sum(dim=(-2, -1))
    return per_image.mean()


def sad_loss(activations: Mapping[str, Tensor], cfg: SADConfig) -> tuple[Tensor, dict[str, Tensor]]:
    """The weighted SAD terms and their sum.

    Args:
        activations: block name -> activation, e.g. from ``model.forward_blocks(x, cfg.blocks)``.
        cfg: pairs, weights and exponent.

    Returns:
        ``(total, {"sad_<student>_<target>": weighted term})``; the terms sum to the total.

    Raises:
        ConfigError: a pair names a block missing from ``activations``.
    """
    missing = [name for name in cfg.blocks if name not in activations]
    if missing:
        raise ConfigError(f"SAD needs block(s) {missing}; activations hold {sorted(activations)}")
    terms = {
        f"sad_{s}_{t}": w * sad_pair_loss(activations[s], activations[t], cfg)
        for (s, t), w in zip(cfg.pairs, cfg.pair_weights)
    }
    return sum(terms.values()), terms  # type: ignore[return-value]
