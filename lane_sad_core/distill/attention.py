"""The attention generator of SAD (AT-GEN, Hou et al. 2019, Sec. 3.1), scaled so that it trains.

For an activation A of shape (B, C, H, W):

    g(A)   = sum_c |A_c|^p                       (p = 2 in the paper)
    Psi(A) = softmax over H*W of k * B(g(A)) / max B(g(A))

B is a bilinear resize to a stated map size (the same for every block and every input
resolution), and the softmax runs over the H*W pixels of that map.

Why the scaling ``k / max g``. g sums squares over all channels, so on trained activations
it spans hundreds to thousands (the shipped ENet-SAD on real CULane frames: E2's g 506 to
7,158, E4's 1,491 to 29,735), and the published softmax of g itself is one-hot: it marks a
single pixel and its gradient is exactly zero in float32. Dividing by the map's maximum
(a per-image constant, not differentiated) puts the softmax's logits in [0, k] whatever
the activations' scale, so the hottest pixel weighs at most e^k times the coldest: the map
can approach a peak but never becomes one-hot, and never passes a vanishing gradient by
saturation. ``k`` defaults to ln(N) for an N-pixel map (8.19 for 36x100), where the hottest
pixel may weigh at most N times the coldest; on real frames this gives maps whose
effective support (1 / sum of squared probabilities) is about 15 % of the pixels. Dividing
by the spatial mean instead (this project's earlier variant) leaves the logit range to the
activations: measured on the same frames, it is one-hot on some inputs and flat on others,
and its loss changed 4-5x between two input resolutions of the same frames (k / max:
1.4-1.7x). See docs/distillation.md for the measurements.

These are pure functions of activations: the model never holds an attention generator,
which is why SAD costs nothing at inference.
"""

from __future__ import annotations

import math

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
    activation: Tensor, p: float = 2.0, size: tuple[int, int] | None = None, logit_range: float = 0.0
) -> Tensor:
    """Psi(A): the (B, H', W') spatial-softmax attention map; each map sums to 1.

    Args:
        activation: (B, C, H, W) block output.
        p: exponent of the channel sum.
        size: (H', W') to resize g(A) to before the softmax; None keeps (H, W).
        logit_range: k, the softmax logits' range (g scaled to [0, k] per image); 0 takes
            ln(H' * W'). A negative value selects the published, unscaled operator (kept to
            show that it saturates; it is not for training).
    """
    g = _resize(attention_energy(activation, p), size)
    if logit_range >= 0:
        k = logit_range or math.log(g.shape[-2] * g.shape[-1])
        peak = g.detach().amax(dim=(-2, -1), keepdim=True).clamp_min(torch.finfo(g.dtype).tiny)
        g = k * g / peak
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
