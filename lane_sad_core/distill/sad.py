"""Self Attention Distillation (SAD) loss: top-down, layer-wise, within one network.

Block m mimics block m+1: both activations go through AT-GEN (see
:mod:`lane_sad_core.distill.attention`), the deeper map is the target and is detached, and
the term is the mean squared error between the two maps. Which pairs, their weights and
the iteration SAD starts at (and how fast it ramps in) are configuration (:class:`SADConfig`).

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

import torch.nn.functional as F
from torch import Tensor

from lane_sad_core.distill.attention import attention_map
from lane_sad_core.distill.schedule import Schedule
from lane_sad_core.errors import ConfigError


@dataclass(frozen=True)
class SADConfig(Schedule):
    """What SAD distils, how strongly and from when (the schedule: :class:`Schedule`).

    Attributes:
        pairs: (student, target) block names; the target is the deeper block.
        weight: loss weight of every pair, or one weight per pair (paper: 0.1 each).
        p: exponent of AT-GEN's channel sum (paper: 2).
        start_iter: first training iteration with SAD on (paper: 40K of 60K); earlier,
            the deep blocks' attention maps are still poor targets. ``ramp_iters``: see
            :class:`Schedule`.
        normalize: False = the paper's operator, whose softmax saturates on real
            activations and then passes no gradient. True = opt-in scale-free variant:
            g divided by its spatial mean before the softmax, and the maps multiplied by
            their pixel count (mean 1) before the MSE, so the term is O(1e-3..1e-2)
            instead of O(1e-8). Not in the paper; measured in bench/results/models.md.
    """

    pairs: tuple[tuple[str, str], ...] = (("E2", "E3"), ("E3", "E4"))
    weight: float | tuple[float, ...] = 0.1
    p: float = 2.0
    start_iter: int = 40_000
    normalize: bool = False

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


def sad_pair_loss(student: Tensor, target: Tensor, p: float = 2.0, normalize: bool = False) -> Tensor:
    """MSE between the attention maps of ``student`` and of the detached ``target``.

    When the two blocks differ in size, the smaller g map is bilinearly upsampled to the
    larger before its softmax (the paper's B, an upsampling); for equal sizes, as in every
    default pair, no resize happens. ``normalize`` selects the scale-free variant (see
    :class:`SADConfig`).
    """
    size = max((student.shape[-2], student.shape[-1]), (target.shape[-2], target.shape[-1]), key=lambda s: s[0] * s[1])
    m_student = attention_map(student, p, size, normalize)
    m_target = attention_map(target.detach(), p, size, normalize)
    if normalize:
        pixels = size[0] * size[1]
        m_student, m_target = m_student * pixels, m_target * pixels
    return F.mse_loss(m_student, m_target)


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
        f"sad_{s}_{t}": w * sad_pair_loss(activations[s], activations[t], cfg.p, cfg.normalize)
        for (s, t), w in zip(cfg.pairs, cfg.pair_weights)
    }
    return sum(terms.values()), terms  # type: ignore[return-value]
