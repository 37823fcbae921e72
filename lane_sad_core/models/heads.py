"""Heads shared by every lane model: a stride-8 class map and the lane-existence branch.

The existence branch follows SCNN and the official ENet-SAD code: softmax over the
C-channel map, 2x2 average pooling of the stride-8 map (so a 288x800 input gives an
18x50 grid), flatten, FC 128, ReLU, FC num_lanes. The flattened FC is what makes
ENet-SAD weigh ~1M parameters (4500 x 128 of them at 288x800), and it is why the grid is
fixed when the model is built. At the build size the pooling is plain 2x2 averaging; other
input sizes are pooled adaptively to the same grid, so they still run.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from lane_sad_core.errors import ConfigError

EXIST_HIDDEN = 128


class ClassMapHead(nn.Sequential):
    """3x3 dilated conv, BN, ReLU, spatial dropout, 1x1 conv to ``num_classes`` logits.

    The dilation widens the context of the last features cheaply (SCNN used a dilated conv
    at the same place).
    """

    def __init__(
        self, in_channels: int, mid_channels: int, num_classes: int, dilation: int = 4, dropout: float = 0.1
    ) -> None:
        super().__init__(
            nn.Conv2d(in_channels, mid_channels, 3, padding=dilation, dilation=dilation, bias=False),
            nn.BatchNorm2d(mid_channels),
            nn.ReLU(inplace=True),
            nn.Dropout2d(dropout),
            nn.Conv2d(mid_channels, num_classes, 1),
        )


class ExistenceHead(nn.Module):
    """Lane-existence logits from a stride-8 class-logit map.

    Args:
        num_classes: channels of the class map (background + lanes).
        num_lanes: lane slots, the length of the output.
        grid: (rows, cols) the softmax map is pooled to before the FC layers.
    """

    def __init__(self, num_classes: int, num_lanes: int, grid: tuple[int, int]) -> None:
        super().__init__()
        self.grid = (int(grid[0]), int(grid[1]))
        self.fc1 = nn.Linear(num_classes * self.grid[0] * self.grid[1], EXIST_HIDDEN)
        self.fc2 = nn.Linear(EXIST_HIDDEN, num_lanes)

    def forward(self, class_logits: Tensor) -> Tensor:
        """(B, C, h, w) logits to (B, num_lanes) existence logits (sigmoid left to the loss)."""
        p = F.softmax(class_logits, dim=1)
        rows, cols = self.grid
        if p.shape[-2] == 2 * rows and p.shape[-1] == 2 * cols:
            p = F.avg_pool2d(p, 2)  # the build size: plain 2x2 pooling, as published (and ONNX-friendly)
        else:
            p = F.adaptive_avg_pool2d(p, self.grid)
        return self.fc2(F.relu(self.fc1(p.flatten(1)), inplace=True))


def exist_grid(input_height: int, input_width: int) -> tuple[int, int]:
    """The existence grid for a build size: stride 8, then 2x2 pooling."""
    grid = (input_height // 16, input_width // 16)
    if min(grid) < 1:
        raise ConfigError(f"input size {input_height}x{input_width} is below the 16x16 minimum")
    return grid
