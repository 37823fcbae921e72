"""ENet-SAD: the ENet encoder-decoder as modified for lanes by Hou et al. (ICCV 2019).

Layout (stride relative to the input, channels after each block)::

    initial block            3x3/2 conv (13 ch) || 2x2 max-pool (3 ch)     /2   16
    E1  downsample + 4 bottlenecks                                     /4   64
    E2  downsample + 8 bottlenecks (regular, dilated 2, asym 5, dilated 4,
        regular, dilated 8, asym 5, dilated 16)                        /8  128
    E3  the same 8 bottlenecks without downsampling                    /8  128
    E4  the same 8 bottlenecks again, own weights                      /8  128
    D1  concat(E3, E4) -> upsampling bottleneck (max-unpool where E2's
        downsampling pooled) + 2 bottlenecks                           /4   64
    D2  upsampling bottleneck (unpool where E1's pooled) + 1 bottleneck /2   16
    full conv 2x2/2                                                    /1    C
    P1  existence: 1x1 conv on E4 -> C-ch map -> softmax -> pool -> FC 128 -> FC L

E1..E3 are ENet's encoder stages 1-3 (Paszke et al. 2016); E4 is the fourth encoder block
of the paper's ENet-SAD, a further stage-3-like stage whose output is concatenated with
E3's for the decoder (the exact official layout was never published as source). Encoder
bottlenecks use PReLU and spatial dropout 0.01 (stage 1) / 0.1 (later); the decoder uses
ReLU, as in ENet. The 1x1 expansion of a bottleneck has no activation before the residual
sum, as in the original ENet (some public PyTorch ports add one).

Parameters at the paper's 288x800 input and 4 lanes: 1,110,757, of which 576,128 are the
existence FC (4500 x 128 + 128), whose size follows the input (see
:mod:`lane_sad_core.models.heads`). The paper quotes 0.98M: its official Torch model was
only released as a binary file and sizes the existence FC for its own input (the
released CULane code flattens 3965 values, i.e. a 208x976 input, where this model has
1,042,277), so the exact count cannot be matched.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lane_sad_core.models.base import BlockInfo, LaneModel, Outputs, init_weights, keep_block
from lane_sad_core.models.heads import ExistenceHead, exist_grid

# (kind, size) of the eight bottlenecks of stages E2 (after its downsampling), E3 and E4:
# "regular" 3x3, "dilated" 3x3 with that dilation, "asym" a 5x1 then 1x5 pair.
STAGE_PLAN: tuple[tuple[str, int], ...] = (
    ("regular", 1),
    ("dilated", 2),
    ("asym", 5),
    ("dilated", 4),
    ("regular", 1),
    ("dilated", 8),
    ("asym", 5),
    ("dilated", 16),
)


def _act(prelu: bool, channels: int) -> nn.Module:
    return nn.PReLU(channels) if prelu else nn.ReLU(inplace=True)


def _conv_bn(cin: int, cout: int, kernel: int | tuple[int, int], prelu: bool | None, **conv_kw) -> nn.Sequential:
    """Conv (no bias) + BN, then PReLU / ReLU, or no activation when ``prelu`` is None."""
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel, bias=False, **conv_kw), nn.BatchNorm2d(cout)]
    if prelu is not None:
        layers.append(_act(prelu, cout))
    return nn.Sequential(*layers)


class InitialBlock(nn.Module):
    """3x3 stride-2 conv (out - 3 channels) beside a 2x2 max-pool of the RGB input."""

    def __init__(self, out_channels: int = 16) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, out_channels - 3, 3, stride=2, padding=1, bias=False)
        self.pool = nn.MaxPool2d(2)
        self.bn = nn.BatchNorm2d(out_channels)
        self.act = nn.PReLU(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.bn(torch.cat((self.conv(x), self.pool(x)), dim=1)))


class Bottleneck(nn.Module):
    """Residual bottleneck keeping size and channels: 1x1 down, middle conv, 1x1 up."""

    def __init__(
        self, channels: int, kind: str = "regular", size: int = 1, dropout: float = 0.1, prelu: bool = True
    ) -> None:
        super().__init__()
        mid = channels // 4
        if kind == "asym":
            middle = nn.Sequential(
                nn.Conv2d(mid, mid, (size, 1), padding=(size // 2, 0), bias=False),
                nn.Conv2d(mid, mid, (1, size), padding=(0, size // 2), bias=False),
                nn.BatchNorm2d(mid),
                _act(prelu, mid),
            )
        else:
            middle = _conv_bn(mid, mid, 3, prelu, padding=size, dilation=size)
        self.branch = nn.Sequential(
            _conv_bn(channels, mid, 1, prelu), middle, _conv_bn(mid, channels, 1, None), nn.Dropout2d(dropout)
        )
        self.act = _act(prelu, channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(x + self.branch(x))


class Downsample(nn.Module):
    """Halving bottleneck: 2x2 max-pool beside a 2x2/2 conv branch.

    Returns the output and the 0/1 mask of where each 2x2 window had its maximum, which
    the matching :class:`Upsample` uses to unpool.
    """

    def __init__(self, cin: int, cout: int, dropout: float) -> None:
        super().__init__()
        mid = cin // 4
        self.branch = nn.Sequential(
            _conv_bn(cin, mid, 2, True, stride=2),
            _conv_bn(mid, mid, 3, True, padding=1),
            _conv_bn(mid, cout, 1, None),
            nn.Dropout2d(dropout),
        )
        self.pad = cout - cin
        self.act = nn.PReLU(cout)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        pooled = F.max_pool2d(x, 2)
        argmax_mask = (x == F.interpolate(pooled, scale_factor=2.0, mode="nearest")).to(x.dtype)
        main = F.pad(pooled, (0, 0, 0, 0, 0, self.pad))  # zero channels up to cout
        return self.act(main + self.branch(x)), argmax_mask


class Upsample(nn.Module):
    """Doubling bottleneck: max-unpooled 1x1 projection beside a transposed-conv branch.

    Max-unpooling puts each value back where its window's maximum was. It is written as a
    nearest upsampling times the :class:`Downsample` mask, which equals ``MaxUnpool2d``
    except on exact ties inside a window (all tied positions get the value) and exports to
    plain ONNX / TensorRT ops, which ``MaxUnpool2d`` does not (PyTorch 2.13's tracer fails
    on it, TensorRT has no such layer).
    """

    def __init__(self, cin: int, cout: int, dropout: float) -> None:
        super().__init__()
        mid = cin // 4
        self.project = _conv_bn(cin, cout, 1, None)
        self.branch = nn.Sequential(
            _conv_bn(cin, mid, 1, False),
            nn.ConvTranspose2d(mid, mid, 2, stride=2, bias=False),
            nn.BatchNorm2d(mid),
            nn.ReLU(inplace=True),
            _conv_bn(mid, cout, 1, None),
            nn.Dropout2d(dropout),
        )
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: Tensor, argmax_mask: Tensor) -> Tensor:
        main = F.interpolate(self.project(x), scale_factor=2.0, mode="nearest") * argmax_mask
        return self.act(main + self.branch(x))


def _stage(channels: int = 128, dropout: float = 0.1) -> nn.Sequential:
    return nn.Sequential(*(Bottleneck(channels, kind, size, dropout) for kind, size in STAGE_PLAN))


class ENetSAD(LaneModel):
    """ENet-SAD lane segmentation network (see the module docstring for the layout).

    Args:
        num_lanes: lane slots; the segmentation has num_lanes + 1 channels.
        input_height, input_width: the input size the existence FC is built for.
    """

    HEADS = (
        "up1",
        "d1",
        "up2",
        "d2",
        "full_conv",
        "exist_map",
        "exist",
    )  # modules after the shared encoder (see LaneModel.encoder_parameters)

    arch = "enet_sad"
    feature_info = (
        BlockInfo("E1", 64, 4),
        BlockInfo("E2", 128, 8),
        BlockInfo("E3", 128, 8),
        BlockInfo("E4", 128, 8),
    )

    def __init__(self, num_lanes: int = 4, input_height: int = 288, input_width: int = 800) -> None:
        super().__init__()
        self.config = {"num_lanes": int(num_lanes), "input_height": int(input_height), "input_width": int(input_width)}
        classes = num_lanes + 1
        self.initial = InitialBlock(16)
        self.down1 = Downsample(16, 64, dropout=0.01)
        self.e1 = nn.Sequential(*(Bottleneck(64, dropout=0.01) for _ in range(4)))
        self.down2 = Downsample(64, 128, dropout=0.1)
        self.e2, self.e3, self.e4 = _stage(), _stage(), _stage()
        self.up1 = Upsample(256, 64, dropout=0.1)
        self.d1 = nn.Sequential(Bottleneck(64, prelu=False), Bottleneck(64, prelu=False))
        self.up2 = Upsample(64, 16, dropout=0.1)
        self.d2 = Bottleneck(16, prelu=False)
        self.full_conv = nn.ConvTranspose2d(16, classes, 2, stride=2)
        self.exist_map = nn.Sequential(nn.Dropout2d(0.1), nn.Conv2d(128, classes, 1))
        self.exist = ExistenceHead(classes, num_lanes, exist_grid(input_height, input_width))
        init_weights(self)

    def _run(self, x: Tensor, keep: frozenset[str]) -> tuple[Outputs, dict[str, Tensor]]:
        self._check_input(x, 8)
        blocks: dict[str, Tensor] = {}
        x0 = self.initial(x)
        y, mask1 = self.down1(x0)
        e1 = keep_block(blocks, keep, "E1", self.e1(y))
        y, mask2 = self.down2(e1)
        e2 = keep_block(blocks, keep, "E2", self.e2(y))
        e3 = keep_block(blocks, keep, "E3", self.e3(e2))
        e4 = keep_block(blocks, keep, "E4", self.e4(e3))
        y = self.d1(self.up1(torch.cat((e3, e4), dim=1), mask2))
        y = self.d2(self.up2(y, mask1))
        outputs = {"seg": self.full_conv(y), "exist": self.exist(self.exist_map(e4))}
        return outputs, blocks
