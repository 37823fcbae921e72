"""Soft-target divergences shared by the logit-level distillation losses.

Hinton et al.'s KD compares a target distribution with the student's softened prediction,
``softmax(z / T)``, and scales the divergence by T^2: the gradient of the KL term with
respect to z shrinks as 1/T, and T^2 keeps its size comparable to the hard-label loss
when T changes. Two forms are needed:

* :func:`softmax_kd` for K-way class scores (BAKE's paper setting; IntRA-KD's logit KD
  on the per-pixel class maps);
* :func:`bernoulli_kd` for independent sigmoid outputs (the lane-existence head, whose
  logits are per-lane binary decisions, not one K-way choice).

Both take the target as probabilities, computed by the caller without gradient.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from lane_sad_core.errors import ConfigError


def softmax_kd(student_logits: Tensor, target: Tensor, temperature: float, dim: int = 1) -> Tensor:
    """T^2 * KL(target || softmax(student_logits / T)).

    The KL is summed over the class dimension ``dim`` and averaged over every other
    position (the batch, and pixels for class maps), so its scale does not depend on
    the batch or image size.

    Args:
        student_logits: class scores, any shape with classes along ``dim``.
        target: probabilities of the same shape (each slice along ``dim`` sums to 1).
        temperature: T > 0.
        dim: the class dimension.
    """
    _check_pair(student_logits, target)
    log_p = F.log_softmax(student_logits / temperature, dim=dim)
    kl = (torch.xlogy(target, target) - target * log_p).sum(dim=dim)
    return temperature**2 * kl.mean()


def bernoulli_kd(student_logits: Tensor, target: Tensor, temperature: float) -> Tensor:
    """T^2 * sum over the last dimension of KL(Bern(q) || Bern(sigmoid(z / T))).

    Each entry is its own two-class distribution [1 - p, p]. Summing the per-entry KLs
    over the last dimension (the lanes) gives the KL between the joint distributions of
    independent lanes, the exact analogue of the K-way KL; the result is averaged over
    the remaining dimensions (the batch).

    Args:
        student_logits: (..., L) logits of independent binary outputs.
        target: (..., L) probabilities q in [0, 1].
        temperature: T > 0.
    """
    _check_pair(student_logits, target)
    z = student_logits / temperature
    # KL = q log q + (1-q) log(1-q) - q log sigma(z) - (1-q) log sigma(-z)
    entropy_part = torch.xlogy(target, target) + torch.xlogy(1 - target, 1 - target)
    cross_part = target * F.logsigmoid(z) + (1 - target) * F.logsigmoid(-z)
    kl = (entropy_part - cross_part).sum(dim=-1)
    return temperature**2 * kl.mean()


def _check_pair(logits: Tensor, target: Tensor) -> None:
    if logits.shape != target.shape:
        raise ConfigError(f"KD target {tuple(target.shape)} does not match student logits {tuple(logits.shape)}")
