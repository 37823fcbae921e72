"""LGAD's teacher, the label auto-encoder: one-hot lane labels in, the same labels out.

It lives with the models (not in :mod:`lane_sad_core.distill.lgad`) because it is trained
like one: registered as ``label_autoencoder``, trained by ``lane-sad train`` from its own
config, saved and rebuilt from checkpoints. :mod:`lane_sad_core.distill.lgad` explains
how its attention maps teach a student.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lane_sad_core.errors import ConfigError
from lane_sad_core.models.base import BlockInfo, LaneModel, Outputs, init_weights, keep_block

# (name, stride) of the teacher's blocks: the strides of ENet-SAD's E1..E4.
DEFAULT_BLOCKS: tuple[tuple[str, int], ...] = (("E1", 4), ("E2", 8), ("E3", 8), ("E4", 8))


def _conv_bn_relu(cin: int, cout: int, kernel: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    pad = dilation * (kernel // 2)
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride=stride, padding=pad, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class _Residual(nn.Module):
    """Two dilated 3x3 convs with an identity shortcut."""

    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _conv_bn_relu(channels, channels, 3, dilation=dilation),
            nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation, bias=False),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x + self.body(x))


def _stage(cin: int, cout: int, factor: int, dilation: int, depth: int) -> nn.Sequential:
    """Downsample by ``factor`` (stride-2 convs; a 1x1 projection when 1), then residual units."""
    layers: list[nn.Module] = []
    for _ in range(int(math.log2(factor))):
        layers.append(_conv_bn_relu(cin, cout, 3, stride=2))
        cin = cout
    if cin != cout:
        layers.append(_conv_bn_relu(cin, cout, 1))
    layers.extend(_Residual(cout, dilation) for _ in range(depth))
    return nn.Sequential(*layers)


def _check_plan(blocks: Sequence[Sequence]) -> tuple[tuple[str, int], ...]:
    plan = tuple((str(name), int(stride)) for name, stride in blocks)
    if not plan:
        raise ConfigError("the label auto-encoder needs at least one block")
    previous = 1
    for name, stride in plan:
        if stride < previous or stride & (stride - 1):
            raise ConfigError(
                f"block {name}: stride {stride} must be a power of two, not below the previous {previous}"
            )
        previous = stride
    if len({name for name, _ in plan}) != len(plan):
        raise ConfigError(f"block names repeat in {[name for name, _ in plan]}")
    return plan


class LabelAutoEncoder(LaneModel):
    """LGAD's teacher: one-hot label map in, the same label map (and lane existence) out.

    Encoder: one stage per block of ``blocks``; a stage halves the resolution with
    stride-2 3x3 convs until it reaches its stride, then runs ``depth`` residual units.
    Stages at an unchanged stride use dilations 2, 4, ... so that, like ENet-SAD's
    dilated stages, the deep blocks see long stretches of a lane. Channels are
    ``width`` up to stride 4 and ``width * stride / 4`` beyond.
    Decoder: 2x2 transposed convs back to full resolution, then a 1x1 conv to C logits.
    Existence: global max pool of the deepest block (a lane is present if it is present
    anywhere) and a linear layer to the L = C - 1 lane logits.

    Registered as ``label_autoencoder``, so ``lane-sad train`` trains it with its own
    config (``input_kind == "labels"`` tells the trainer to feed the one-hot labels)
    and a checkpoint rebuilds it like any other model.

    Args:
        num_lanes: L lane slots; the label map has C = L + 1 channels.
        width: channel width of the shallow blocks.
        blocks: (name, stride) of each block, shallow to deep; strides are powers of two.
        depth: residual units per block.
        input_height, input_width: the training input size, recorded for the checkpoint
            only (the network is fully convolutional up to a global pool).
    """

    HEADS = ("decoder", "exist")  # modules after the shared encoder (see LaneModel.encoder_parameters)

    arch = "label_autoencoder"
    input_kind = "labels"

    def __init__(
        self,
        num_lanes: int = 4,
        width: int = 32,
        blocks: Sequence[Sequence] = DEFAULT_BLOCKS,
        depth: int = 2,
        input_height: int | None = None,
        input_width: int | None = None,
    ) -> None:
        super().__init__()
        if num_lanes < 1:
            raise ConfigError(f"num_lanes must be >= 1, got {num_lanes}")
        num_classes = int(num_lanes) + 1
        plan = _check_plan(blocks)
        self.config = {
            "num_lanes": int(num_lanes),
            "width": int(width),
            "blocks": [[name, stride] for name, stride in plan],
            "depth": int(depth),
            "input_height": input_height,
            "input_width": input_width,
        }
        self.stages = nn.ModuleDict()
        infos, cin, previous, same_stride = [], num_classes, 1, 0
        for name, stride in plan:
            same_stride = same_stride + 1 if stride == previous else 0
            cout = width * max(1, stride // 4)
            self.stages[name] = _stage(cin, cout, stride // previous, 2**same_stride, depth)
            infos.append(BlockInfo(name, cout, stride))
            cin, previous = cout, stride
        self.feature_info = tuple(infos)
        self.stride = previous
        self.decoder = self._decoder(cin, width, num_classes)
        self.exist = nn.Linear(cin, num_classes - 1)
        init_weights(self)

    def _decoder(self, cin: int, width: int, num_classes: int) -> nn.Sequential:
        layers: list[nn.Module] = []
        for _ in range(int(math.log2(self.stride))):
            cout = max(width // 2, cin // 2)
            layers += [
                nn.ConvTranspose2d(cin, cout, 2, stride=2, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
            ]
            cin = cout
        layers.append(nn.Conv2d(cin, num_classes, 1))
        return nn.Sequential(*layers)

    def _run(self, x: Tensor, keep: frozenset[str]) -> tuple[Outputs, dict[str, Tensor]]:
        classes = self.num_lanes + 1
        if x.dim() != 4 or x.shape[1] != classes:
            raise ConfigError(f"{self.arch} expects a (B, {classes}, H, W) one-hot map, got {tuple(x.shape)}")
        if x.shape[-2] % self.stride or x.shape[-1] % self.stride:
            raise ConfigError(f"{self.arch} needs H and W divisible by {self.stride}, got {x.shape[-2]}x{x.shape[-1]}")
        blocks: dict[str, Tensor] = {}
        y = x
        for name, stage in self.stages.items():
            y = keep_block(blocks, keep, name, stage(y))
        outputs = {"seg": self.decoder(y), "exist": self.exist(torch.amax(y, dim=(-2, -1)))}
        return outputs, blocks
