"""Dilated ResNet-18/34/101 lane models (DeepLab style, output stride 8 or 16), as in the SAD paper.

The backbone is the standard ResNet (He et al. 2016) with the strides of layer3 and layer4
replaced by dilations 2 and 4, so every block from layer2 on works at 1/8 of the input:
the thin lane markings keep their resolution and the SAD blocks layer2..layer4 share one
size. On top sit the shared heads: a dilated 3x3 conv to 128 channels, dropout, a 1x1
conv to C class logits at stride 8, bilinearly upsampled to the input; the existence
branch reads the same stride-8 logits (the SCNN layout). Written without torchvision so
the package has no model-zoo dependency; no ImageNet weights are loaded.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from lane_sad_core.errors import ConfigError
from lane_sad_core.models.base import BlockInfo, LaneModel, Outputs, init_weights, keep_block
from lane_sad_core.models.heads import ClassMapHead, ExistenceHead, exist_grid

HEAD_CHANNELS = 128


def _conv_bn(cin: int, cout: int, kernel: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    pad = dilation * (kernel // 2)
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride=stride, padding=pad, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
    )


class BasicBlock(nn.Module):
    """Two 3x3 convs with a residual (ResNet-18/34)."""

    expansion = 1

    def __init__(self, cin: int, width: int, stride: int, dilation: int, first_dilation: int) -> None:
        super().__init__()
        cout = width * self.expansion
        self.conv1 = _conv_bn(cin, width, 3, stride, first_dilation)
        self.conv2 = _conv_bn(width, cout, 3, 1, dilation)
        self.shortcut = _conv_bn(cin, cout, 1, stride) if stride != 1 or cin != cout else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv2(F.relu(self.conv1(x), inplace=True))
        return F.relu(y + self.shortcut(x), inplace=True)


class BottleneckBlock(nn.Module):
    """1x1 reduce, 3x3, 1x1 expand (x4) with a residual (ResNet-101)."""

    expansion = 4

    def __init__(self, cin: int, width: int, stride: int, dilation: int, first_dilation: int) -> None:
        super().__init__()
        cout = width * self.expansion
        self.conv1 = _conv_bn(cin, width, 1)
        self.conv2 = _conv_bn(width, width, 3, stride, first_dilation)
        self.conv3 = _conv_bn(width, cout, 1)
        self.shortcut = _conv_bn(cin, cout, 1, stride) if stride != 1 or cin != cout else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu(self.conv1(x), inplace=True)
        y = self.conv3(F.relu(self.conv2(y), inplace=True))
        return F.relu(y + self.shortcut(x), inplace=True)


# depth -> (block type, blocks per layer)
DEPTHS: dict[int, tuple[type[BasicBlock] | type[BottleneckBlock], tuple[int, int, int, int]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    101: (BottleneckBlock, (3, 4, 23, 3)),
}
# output stride -> (width, stride, dilation) of layer1..layer4. 8 is the paper's (DeepLab);
# 16 keeps layer3 undilated at 1/16, about a third of ResNet-101's FLOPs (a CPU-sized teacher).
LAYER_PLANS = {
    8: ((64, 1, 1), (128, 2, 1), (256, 1, 2), (512, 1, 4)),
    16: ((64, 1, 1), (128, 2, 1), (256, 2, 1), (512, 1, 2)),
}


class ResNetLane(LaneModel):
    """Dilated ResNet lane segmentation network.

    Args:
        depth: 18, 34 or 101 (fixed by the registry name).
        num_lanes: lane slots; the segmentation has num_lanes + 1 channels.
        input_height, input_width: the input size the existence FC is built for.
        output_stride: 8 (the paper's) or 16; the class map and the deep blocks are at
            1/output_stride of the input.
    """

    HEADS = ("head", "exist")  # modules after the shared encoder (see LaneModel.encoder_parameters)

    def __init__(
        self, depth: int, num_lanes: int = 4, input_height: int = 288, input_width: int = 800, output_stride: int = 8
    ) -> None:
        super().__init__()
        if depth not in DEPTHS:
            raise ConfigError(f"ResNet depth {depth} not supported; choose from {sorted(DEPTHS)}")
        if output_stride not in LAYER_PLANS:
            raise ConfigError(f"output_stride must be one of {sorted(LAYER_PLANS)}, got {output_stride}")
        block, counts = DEPTHS[depth]
        self.arch = f"resnet{depth}"
        self.config = {
            "num_lanes": int(num_lanes),
            "input_height": int(input_height),
            "input_width": int(input_width),
            "output_stride": int(output_stride),
        }
        self.stem = nn.Sequential(
            nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        cin, prev_dilation, layers, infos, stride = 64, 1, [], [], 4
        for i, ((width, layer_stride, dilation), count) in enumerate(zip(LAYER_PLANS[output_stride], counts), start=1):
            blocks = []
            for j in range(count):
                blocks.append(
                    block(cin, width, layer_stride if j == 0 else 1, dilation, prev_dilation if j == 0 else dilation)
                )
                cin = width * block.expansion
            layers.append(nn.Sequential(*blocks))
            stride *= layer_stride
            infos.append(BlockInfo(f"layer{i}", cin, stride))
            prev_dilation = dilation
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.feature_info = tuple(infos)
        classes = num_lanes + 1
        self.head = ClassMapHead(cin, HEAD_CHANNELS, classes)
        grid = (
            exist_grid(input_height, input_width)
            if output_stride == 8
            else (input_height // (2 * output_stride), input_width // (2 * output_stride))
        )
        self.exist = ExistenceHead(classes, num_lanes, grid)
        init_weights(self)

    def _run(self, x: Tensor, keep: frozenset[str]) -> tuple[Outputs, dict[str, Tensor]]:
        self._check_input(x, self.config["output_stride"])
        blocks: dict[str, Tensor] = {}
        y = self.stem(x)
        y = keep_block(blocks, keep, "layer1", self.layer1(y))
        y = keep_block(blocks, keep, "layer2", self.layer2(y))
        y = keep_block(blocks, keep, "layer3", self.layer3(y))
        y = keep_block(blocks, keep, "layer4", self.layer4(y))
        logits8 = self.head(y)
        seg = F.interpolate(logits8, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return {"seg": seg, "exist": self.exist(logits8)}, blocks
