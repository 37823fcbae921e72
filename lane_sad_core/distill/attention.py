"""The attention generator of SAD (AT-GEN, Hou et al. 2019, Sec. 3.1).

For an activation A of shape (B, C, H, W):

    g(A)   = sum_c |A_c|^p                       (p = 2 in the paper)
    Psi(A) = softmax over H*W of B(g(A))         (B: bilinear resize, only when sizes differ)

The resize happens before the softmax, so a resized map still sums to 1 over its pixels.

Saturation. g sums squares over all channels, so on real activations it spans hundreds to
thousands (a fresh ENet-SAD at 288x800: E2's g spans about 600..3500) and the softmax is
one-hot: the map marks a single pixel and, in float32, its gradient is exactly zero
(bench/results/models.md). The published operator is the default and is kept exactly.
``normalize=True`` is an opt-in deviation that divides g by its per-image spatial mean
before the softmax, so the map stays graded (see :func:`lane_sad_core.distill.sad_loss`
for the matching loss scale).

These are pure functions of activations: the model never holds an attention generator,
which is why SAD costs nothing at inference.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def attention_energy(activation: Tensor, p: float = 2.0) -> Tensor:
    """g(A): the (B, H, W) sum over channels of |A|^p."""
    if p == 2.0:
        return activation.square().sum(dim=1)
    return activation.abs().pow(p).sum(dim=1)


def _resize(maps: Tensor, size: tuple[int, int] | None) -> Tensor:
    if size is None or tuple(maps.shape[-2:]) == tuple(size):
        return maps
    return F.interpolate(maps.unsqueeze(1), size=size, mode="bilinear", align_corners=False).squeeze(1)


def attention_map(
    activation: Tensor, p: float = 2.0, size: tuple[int, int] | None = None, normalize: bool = False
) -> Tensor:
    """Psi(A): the (B, H', W') spatial-softmax attention map; each map sums to 1.

    Args:
        activation: (B, C, H, W) block output.
        p: exponent of the channel sum.
        size: (H', W') to resize g(A) to before the softmax; None keeps (H, W).
        normalize: divide g by its spatial mean first (opt-in, not in the paper).
    """
    g = _resize(attention_energy(activation, p), size)
    if normalize:
        g = g / g.mean(dim=(-2, -1), keepdim=True).clamp_min(torch.finfo(g.dtype).tiny)
    return F.softmax(g.flatten(1), dim=1).view_as(g)


def attention_display(activation: Tensor, size: tuple[int, int], p: float = 2.0) -> Tensor:
    """A (B, H', W') picture of where a block attends, scaled to [0, 1] per image.

    The softmax map itself is too peaked to see (a few pixels hold most of the mass), so
    this shows g(A) min-max scaled instead. It orders the pixels exactly as the attention
    map does, since the softmax is monotone in g.
    """
    g = _resize(attention_energy(activation.float(), p), size)
    lo = g.flatten(1).amin(dim=1).view(-1, 1, 1)
    hi = g.flatten(1).amax(dim=1).view(-1, 1, 1)
    return (g - lo) / torch.clamp(hi - lo, min=torch.finfo(g.dtype).tiny)
