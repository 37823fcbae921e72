"""What a model costs at inference: parameters, FLOPs and CPU time per frame.

One implementation for the model benchmark and the comparison table, so that their
figures are the same measurement.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

from lane_sad_core.models.base import LaneModel, count_parameters
from lane_sad_core.models.registry import build_model


def gflops(name: str, height: int = 288, width: int = 800, **config: object) -> tuple[int, float]:
    """(parameters, GFLOPs of one frame) of a registered model, counted on the meta device.

    FLOPs are those of convolutions and matrix products (``torch.utils.flop_counter``),
    one multiply-accumulate counting as two; nothing is allocated or run.
    """
    with torch.device("meta"):
        model = build_model(name, input_height=height, input_width=width, **config).eval()
        x = torch.empty(1, 3, height, width)
    with FlopCounterMode(display=False) as counter:
        model(x)
    return count_parameters(model), counter.get_total_flops() / 1e9


def timed_ms(fn: Callable[[], object], repeats: int, warmup: int = 2) -> list[float]:
    """Wall times of ``fn`` in milliseconds, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(1e3 * (time.perf_counter() - t0))
    return times


def settled(model: LaneModel, size: tuple[int, int], passes: int = 3) -> LaneModel:
    """Eval-mode model whose BatchNorm statistics come from a few train-mode passes.

    A fresh model in eval mode would use BatchNorm's initial statistics and produce
    exploding activations, which is not what a trained model computes.
    """
    model.train()
    with torch.no_grad():
        for _ in range(passes):
            model(torch.randn(2, 3, *size))
    return model.eval()


def forward_ms(name: str, height: int = 288, width: int = 800, repeats: int = 5, **config: object) -> float:
    """Median CPU milliseconds of one batch-1 forward pass of a registered model."""
    model = settled(build_model(name, input_height=height, input_width=width, **config), (height, width))
    x = torch.randn(1, 3, height, width)
    with torch.inference_mode():
        return statistics.median(timed_ms(lambda: model(x), repeats))
