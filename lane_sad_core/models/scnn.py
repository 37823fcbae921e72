"""SCNN: Spatial CNN (Pan et al., AAAI 2018), the strong baseline and teacher of the SAD paper.

Layout as released in XingangPan/SCNN (``vgg_SCNN_DULR_w9``; stride relative to the input,
channels after each block)::

    conv1  2 x (3x3 conv, BN, ReLU), then 2x2 max-pool          /1   64
    conv2  2 x (3x3 conv, BN, ReLU), then 2x2 max-pool          /2  128
    conv3  3 x (3x3 conv, BN, ReLU), then 2x2 max-pool          /4  256
    conv4  3 x (3x3 conv, BN, ReLU), pool4 removed               /8  512
    conv5  3 x (3x3 conv dilated 2, BN, ReLU), pool5 removed     /8  512
    fc6    3x3 conv dilated 4 to 1024, BN, ReLU                  /8 1024
    fc7    1x1 conv to 128, BN, ReLU                             /8  128
    scnn   message passing down, up, right, left (below)         /8  128
    head   spatial dropout 0.1, 1x1 conv to C logits, bilinear x8 to the input
    exist  the shared existence branch on the stride-8 logits

That is DeepLab-LargeFOV's VGG16 (Chen et al. 2015) with BatchNorm and without pool4/pool5,
so the lane maps keep 1/8 of the input resolution. The block names are the ones
:meth:`~lane_sad_core.models.base.LaneModel.forward_blocks` accepts; the output of each
convN block is taken after its last ReLU, before its pooling.

Message passing: the 128-channel map is cut into rows (for the vertical passes) or columns
(horizontal). Going down, row i becomes ``row_i + relu(conv(row_{i-1}))`` where row_{i-1}
has already been updated, so information crosses the whole map in one pass; then up, then
left to right, then right to left, each direction with its own 1 x k (rows) or k x 1
(columns) convolution, k = 9 as published, without bias. Each pass starts from the previous
pass's output. The message convolutions are initialised as in the official code,
N(0, 2 / (k C^2 5)), about 25 times below He's standard deviation at C = 128: a pass
chains up to a hundred messages, and with He initialisation a fresh network's features
explode (measured on a ReLU'd N(0, 1) 36x100 map: standard deviation 0.58 in, 2.5e9 out;
with the official one 0.58 out). Starting near the identity lets the trunk learn first.

This model is written for the lane heads of this project: the C-channel class map is the
shared :class:`~lane_sad_core.models.heads.ExistenceHead`'s input, as in SCNN. It does
not use :class:`~lane_sad_core.models.heads.ClassMapHead`: SCNN's fc6/fc7 already are that
head's dilated 3x3 conv, and a second one after the message passing would add 147,712
parameters SCNN does not have.

Parameters at 288x800 and 4 lanes: 20,737,993, of which 576,644 are the existence branch
(the paper: 20.72M). The convolutions before a BatchNorm have no bias. No ImageNet weights
are loaded (none can be fetched here); the official SCNN starts from ImageNet VGG16.
"""

from __future__ import annotations

import math
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lane_sad_core.errors import ConfigError
from lane_sad_core.models.base import BlockInfo, LaneModel, Outputs, init_weights, keep_block
from lane_sad_core.models.heads import ExistenceHead, exist_grid

# VGG16 stages: (name, output channels, 3x3 convs, dilation, 2x2 max-pool after the stage)
VGG16_STAGES: tuple[tuple[str, int, int, int, bool], ...] = (
    ("conv1", 64, 2, 1, True),
    ("conv2", 128, 2, 1, True),
    ("conv3", 256, 3, 1, True),
    ("conv4", 512, 3, 1, False),
    ("conv5", 512, 3, 2, False),
)
FC6_CHANNELS = 1024
FC6_DILATION = 4
SCNN_CHANNELS = 128
# Message-passing directions in the published order: (name, dim the slices are cut along, reverse)
DIRECTIONS: tuple[tuple[str, int, bool], ...] = (
    ("down", 2, False),
    ("up", 2, True),
    ("right", 3, False),
    ("left", 3, True),
)


def _conv_bn_relu(cin: int, cout: int, kernel: int, dilation: int = 1) -> list[nn.Module]:
    pad = dilation * (kernel // 2)
    return [
        nn.Conv2d(cin, cout, kernel, padding=pad, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    ]


def _vgg_stage(cin: int, cout: int, convs: int, dilation: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(convs):
        layers += _conv_bn_relu(cin if i == 0 else cout, cout, 3, dilation)
    return nn.Sequential(*layers)


def propagate(x: Tensor, conv: nn.Module, dim: int, reverse: bool) -> Tensor:
    """One directional SCNN pass: each slice adds relu(conv(the already updated previous slice)).

    Args:
        x: (B, C, H, W) features.
        conv: maps one slice to a message of the same shape.
        dim: 2 to cut rows (vertical pass), 3 to cut columns (horizontal pass).
        reverse: go bottom-to-top / right-to-left instead.
    """
    slices = list(x.split(1, dim))
    if reverse:
        slices.reverse()
    out = [slices[0]]
    for s in slices[1:]:
        out.append(s + F.relu(conv(out[-1])))
    if reverse:
        out.reverse()
    return torch.cat(out, dim)


class MessagePassing(nn.Module):
    """SCNN's four sequential passes (down, up, right, left), one conv per direction.

    Args:
        channels: feature channels (messages keep them).
        kernel: width of the message conv across the slice (odd; 9 as published).
    """

    def __init__(self, channels: int, kernel: int = 9) -> None:
        super().__init__()
        if kernel < 1 or kernel % 2 == 0:
            raise ConfigError(f"SCNN message kernel must be a positive odd number, got {kernel}")
        self.convs = nn.ModuleDict()
        for name, dim, _ in DIRECTIONS:
            shape = (1, kernel) if dim == 2 else (kernel, 1)  # across a row, or down a column
            self.convs[name] = nn.Conv2d(channels, channels, shape, padding=(shape[0] // 2, shape[1] // 2), bias=False)

    def reset_parameters(self) -> None:
        """The official initialisation, near the identity (see the module docstring)."""
        for module in self.convs.values():
            conv = cast(nn.Conv2d, module)  # a ModuleDict's values are typed as Module
            kernel = max(conv.kernel_size)
            nn.init.normal_(conv.weight, std=math.sqrt(2.0 / (kernel * conv.in_channels * conv.out_channels * 5)))

    def forward(self, x: Tensor) -> Tensor:
        for name, dim, reverse in DIRECTIONS:
            x = propagate(x, self.convs[name], dim, reverse)
        return x


class SCNN(LaneModel):
    """SCNN on the DeepLab-LargeFOV VGG16 trunk (see the module docstring for the layout).

    Args:
        num_lanes: lane slots; the segmentation has num_lanes + 1 channels.
        input_height, input_width: the input size the existence FC is built for.
        kernel: message-passing kernel width (odd; 9 as published).
    """

    HEADS = ("classifier", "exist")  # modules after the shared encoder (see LaneModel.encoder_parameters)

    arch = "scnn"

    def __init__(self, num_lanes: int = 4, input_height: int = 288, input_width: int = 800, kernel: int = 9) -> None:
        super().__init__()
        self.config = {
            "num_lanes": int(num_lanes),
            "input_height": int(input_height),
            "input_width": int(input_width),
            "kernel": int(kernel),
        }
        cin, stride, infos, stages, pools = 3, 1, [], [], []
        for name, cout, convs, dilation, pool in VGG16_STAGES:
            stages.append(_vgg_stage(cin, cout, convs, dilation))
            infos.append(BlockInfo(name, cout, stride))
            pools.append(nn.MaxPool2d(2) if pool else nn.Identity())
            stride, cin = stride * (2 if pool else 1), cout
        self.stages = nn.ModuleList(stages)
        self.pools = nn.ModuleList(pools)
        self.fc6 = nn.Sequential(*_conv_bn_relu(cin, FC6_CHANNELS, 3, FC6_DILATION))
        self.fc7 = nn.Sequential(*_conv_bn_relu(FC6_CHANNELS, SCNN_CHANNELS, 1))
        self.message_passing = MessagePassing(SCNN_CHANNELS, kernel)
        self.feature_info = (*infos, BlockInfo("fc7", SCNN_CHANNELS, stride), BlockInfo("scnn", SCNN_CHANNELS, stride))
        classes = num_lanes + 1
        self.classifier = nn.Sequential(nn.Dropout2d(0.1), nn.Conv2d(SCNN_CHANNELS, classes, 1))
        self.exist = ExistenceHead(classes, num_lanes, exist_grid(input_height, input_width))
        init_weights(self)
        self.message_passing.reset_parameters()

    def _run(self, x: Tensor, keep: frozenset[str]) -> tuple[Outputs, dict[str, Tensor]]:
        self._check_input(x, 8)
        blocks: dict[str, Tensor] = {}
        y = x
        for (name, *_), stage, pool in zip(VGG16_STAGES, self.stages, self.pools):
            y = pool(keep_block(blocks, keep, name, stage(y)))
        y = keep_block(blocks, keep, "fc7", self.fc7(self.fc6(y)))
        y = keep_block(blocks, keep, "scnn", self.message_passing(y))
        logits8 = self.classifier(y)
        seg = F.interpolate(logits8, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return {"seg": seg, "exist": self.exist(logits8)}, blocks
