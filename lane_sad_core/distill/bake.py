"""Batch Knowledge Ensembling (BAKE; Ge et al., CVPR 2021, arXiv 2104.13298).

Self-distillation without a teacher: each image's soft target is an ensemble of the
predictions of the *other* images in the batch, weighted by how similar their features
are. With f the L2-normalised features of the B images,

    A = row-softmax(f f^T) with the diagonal set to -inf   (B x B, rows sum to 1,
                                                           zero diagonal)
    P = the softened predictions of the batch
    Q = (1 - w) * sum_{t>=0} (w A)^t P = (1 - w) (I - w A)^{-1} P

The series propagates knowledge over the affinity graph for ever-longer paths; its
closed form is solved as a linear system (no explicit inverse, as the official code
has, which is slower and less accurate). For 0 <= w < 1, I - wA is strictly diagonally
dominant, hence invertible, and since A's rows sum to 1 every row of Q is a
distribution whenever P's rows are. Q is computed without gradient; the loss is

    weight * T^2 * KL(Q || prediction(z / T))

with the paper's ImageNet values w = 0.5, T = 4, weight = 1 as defaults (also the
official code's defaults, yxgeee/BAKE ``small_scale/train.py``: ``--omega 0.5 --temp 4
--lamda 1``). The official code takes A's softmax over plain cosine similarities (no
temperature) and averages the KL over the batch.

An affinity that carries signal. The official code's batches hold several images of each
class (its sampler), so some pairs are much more alike than others. A batch of road
frames is not: pooled ENet features of 8 frames have cosine similarities of 0.85-0.99,
and the plain row-softmax is uniform to within 5 % (row maximum 0.148 against 1/7 =
0.143), which makes every target the batch mean. Centring the features on the batch mean
before the cosine (the frames differ in how they depart from a typical road) spreads the
similarities over -0.9..0.96, and an affinity temperature of 0.25 turns that into rows
whose maximum is 2-5x the uniform weight; both are settings (``centre``,
``affinity_temperature``; 1.0 and False give the official form). The affinity's row
maximum is logged during training (``bake_affinity_max``).

Weight. BAKE regularises the head it is applied to, and is weighted against that head's
loss: the paper's lambda = 1 sits beside a cross-entropy of weight 1; here the existence
BCE has weight 0.1, so BAKE's default weight is 0.1 too (at 1 its gradient on the existence
logits was 70x the BCE's).

Lanes. BAKE was made for K-way classification. The lane models' classification head is
the existence head: (B, L) logits of *independent* per-lane sigmoids, not a softmax over
lanes. :attr:`BAKEConfig.mode` makes the choice explicit:

* ``"binary"`` (default, for the existence head): lane l of image i is a two-class
  distribution [1 - p_il, p_il] with p = sigmoid(z / T). Each lane is ensembled on its
  own with the same image affinity A. Because A's rows sum to 1, the ensembled
  probability of "absent" is exactly 1 minus that of "present", so the whole (B, L)
  probability matrix is propagated in one solve (:func:`bake_binary_targets`), and the
  loss sums the per-lane Bernoulli KLs (:func:`lane_sad_core.distill.logit_kd.bernoulli_kd`).
* ``"softmax"``: the paper's K-way form, for any head whose logits are one softmax
  (:func:`bake_targets`).

Features are one vector per image, e.g. the global average pool of the deepest block;
the caller computes them, so this module never sees the model. Batches of one image have
nothing to ensemble over: their target is their own prediction (zero loss).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from lane_sad_core.distill.logit_kd import bernoulli_kd, softmax_kd
from lane_sad_core.distill.schedule import Schedule
from lane_sad_core.errors import ConfigError
from lane_sad_core.plain import NonNegFloat

MODES = ("binary", "softmax")


@dataclass(frozen=True)
class BAKEConfig(Schedule):
    """How BAKE builds its targets, how strongly it pulls, and from when.

    Attributes:
        block: student block whose pooled activation gives the image features the
            affinity compares (empty: the deepest block); read by the training loop.
        omega: w, the propagation weight in [0, 1); 0 turns the ensemble off (Q = P).
        temperature: T > 0, softening both the targets and the student's prediction.
        weight: lambda, the loss weight (the existence loss's weight: see the module docstring).
        affinity_temperature: divides the cosine similarities before the row-softmax.
        centre: subtract the batch's mean feature before the cosine.
        mode: ``"binary"`` for per-lane sigmoid logits (the existence head) or
            ``"softmax"`` for K-way class logits; see the module docstring.
        start_iter, ramp_iters: when the term comes in (:class:`Schedule`).
    """

    block: str = ""
    omega: float = 0.5
    temperature: float = 4.0
    weight: NonNegFloat = 0.1
    affinity_temperature: float = 0.25
    centre: bool = True
    mode: str = "binary"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 <= self.omega < 1.0:
            raise ConfigError(f"BAKE omega must be in [0, 1), got {self.omega}")
        if self.temperature <= 0 or self.affinity_temperature <= 0:
            raise ConfigError(f"BAKE temperatures must be > 0, got {self.temperature} and {self.affinity_temperature}")
        if self.mode not in MODES:
            raise ConfigError(f"BAKE mode {self.mode!r} unknown; choose from {list(MODES)}")


def batch_affinity(features: Tensor, temperature: float = 1.0, centre: bool = False) -> Tensor:
    """A: (B, B) row-softmax of the cosine similarities, each image excluded from its own row.

    Args:
        features: (B, D) one feature vector per image, B >= 2.
        temperature: divides the similarities before the softmax.
        centre: subtract the batch's mean feature first.
    """
    f = features.float()
    if centre:
        f = f - f.mean(dim=0, keepdim=True)
    f = F.normalize(f, dim=1)
    sim = f @ f.T / temperature
    eye = torch.eye(sim.shape[0], dtype=torch.bool, device=sim.device)
    return F.softmax(sim.masked_fill(eye, float("-inf")), dim=1)


def propagate(affinity: Tensor, probs: Tensor, omega: float) -> Tensor:
    """(1 - w) (I - w A)^{-1} P, solved as a linear system.

    Args:
        affinity: (B, B) A with rows summing to 1.
        probs: (B, K) P; any number of columns (classes, or lanes in binary mode).
        omega: w in [0, 1).
    """
    eye = torch.eye(affinity.shape[0], dtype=affinity.dtype, device=affinity.device)
    return (1.0 - omega) * torch.linalg.solve(eye - omega * affinity, probs.to(affinity.dtype))


@torch.no_grad()
def bake_targets(
    features: Tensor, logits: Tensor, omega: float = 0.5, temperature: float = 4.0, affinity: Tensor | None = None
) -> Tensor:
    """The paper's soft targets Q (B, K) for K-way logits; rows are distributions.

    Args:
        features: (B, D) per-image features.
        logits: (B, K) class logits.
        omega: w in [0, 1).
        temperature: T applied to the logits.
        affinity: A, when computed otherwise than :func:`batch_affinity`'s defaults.
    """
    probs = F.softmax(logits.float() / temperature, dim=1)
    return _ensemble(features, probs, omega, affinity).to(logits.dtype)


@torch.no_grad()
def bake_binary_targets(
    features: Tensor, logits: Tensor, omega: float = 0.5, temperature: float = 4.0, affinity: Tensor | None = None
) -> Tensor:
    """Per-lane ensembled probabilities q (B, L) for independent sigmoid logits.

    q_il is the probability that lane l of image i is present; its complement is the
    ensembled probability of "absent" (see the module docstring).

    Args:
        features: (B, D) per-image features.
        logits: (B, L) existence logits.
        omega: w in [0, 1).
        temperature: T applied to the logits.
        affinity: A, when computed otherwise than :func:`batch_affinity`'s defaults.
    """
    probs = torch.sigmoid(logits.float() / temperature)
    return _ensemble(features, probs, omega, affinity).to(logits.dtype)


def _ensemble(features: Tensor, probs: Tensor, omega: float, affinity: Tensor | None) -> Tensor:
    if features.dim() != 2 or probs.dim() != 2 or features.shape[0] != probs.shape[0]:
        raise ConfigError(
            f"BAKE needs (B, D) features and (B, K) logits, got {tuple(features.shape)} and {tuple(probs.shape)}"
        )
    if features.shape[0] < 2:
        return probs
    return propagate(batch_affinity(features) if affinity is None else affinity, probs, omega)


def bake_loss(features: Tensor, logits: Tensor, cfg: BAKEConfig) -> tuple[Tensor, dict[str, Tensor]]:
    """weight * T^2 * KL(Q || prediction(logits / T)), averaged over the batch.

    Args:
        features: (B, D) per-image features; used only without gradient.
        logits: (B, K) student logits (existence logits in ``binary`` mode).
        cfg: omega, temperature, weight and mode.

    Returns:
        ``(total, {"bake": total})``.
    """
    affinity = batch_affinity(features.detach(), cfg.affinity_temperature, cfg.centre) if len(features) > 1 else None
    if cfg.mode == "binary":
        q = bake_binary_targets(features, logits, cfg.omega, cfg.temperature, affinity)
        term = bernoulli_kd(logits, q, cfg.temperature)
    else:
        q = bake_targets(features, logits, cfg.omega, cfg.temperature, affinity)
        term = softmax_kd(logits, q, cfg.temperature, dim=1)
    total = cfg.weight * term
    return total, {"bake": total}
