"""What each loss term does to the shared encoder's gradient, measured during training.

A distillation term is a regulariser of the task loss: if its gradient on the encoder is
many times the task's, it is not regularising but replacing the task, and in this
project that has always been a bug (a factor that grew with resolution, an unbounded
attention loss, a weight meant for another loss). So every logged iteration, the norm of
each term's gradient on the encoder's parameters is measured on its own, next to the
task's (segmentation and existence together), and a term whose gradient exceeds the
task's by more than a configured factor is reported once, with the numbers.

The measurement costs one extra backward pass per term on logged iterations only.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence

import torch
from torch import Tensor, nn

_LOG = logging.getLogger(__name__)
TASK_TERMS = frozenset({"seg", "exist", "iou"})


def gradient_norm(loss: Tensor, params: Sequence[nn.Parameter]) -> float:
    """The L2 norm of d loss / d params (parameters the loss does not reach count 0)."""
    grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    return math.sqrt(sum(float(g.detach().float().square().sum()) for g in grads if g is not None))


class GradientMonitor:
    """Per-term gradient norms on a fixed parameter set, with a one-time warning per term.

    Args:
        params: the shared encoder's parameters.
        warn_factor: warn when a term's gradient norm exceeds the task's by this factor
            (0 turns warnings off).
    """

    def __init__(self, params: Iterable[nn.Parameter], warn_factor: float = 10.0) -> None:
        self.params = [p for p in params if p.requires_grad]
        self.warn_factor = warn_factor
        self.warned: set[str] = set()

    def measure(self, terms: Mapping[str, Tensor]) -> dict[str, float]:
        """``{"grad_task": ..., "grad_<term>": ...}`` for every term outside the task's.

        Args:
            terms: the weighted loss terms of one iteration, still attached to the graph.
        """
        task = [t for name, t in terms.items() if name in TASK_TERMS and t.requires_grad]
        others = [name for name, t in terms.items() if name not in TASK_TERMS and t.requires_grad]
        if not task or not others or not self.params:
            return {}
        out = {"grad_task": gradient_norm(sum(task), self.params)}  # type: ignore[arg-type]
        for name in others:
            norm = gradient_norm(terms[name], self.params)
            out[f"grad_{name}"] = norm
            self._check(name, norm, out["grad_task"])
        return out

    def _check(self, name: str, norm: float, task: float) -> None:
        if self.warn_factor <= 0 or name in self.warned or norm <= self.warn_factor * task:
            return
        self.warned.add(name)
        _LOG.warning(
            "loss term %s puts a gradient of %.3g on the encoder, %.1fx the task's %.3g (limit %gx): "
            "it dominates training; check its weight and scale",
            name,
            norm,
            norm / max(task, 1e-30),
            task,
            self.warn_factor,
        )
