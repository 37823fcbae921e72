"""Overlay drawing used with the detector: lanes by slot colour, attention blended below the crop."""

from __future__ import annotations

import cv2
import numpy as np

from lane_sad_core.data.preprocess import PreprocessConfig
from lane_sad_core.infer.overlay import SLOT_COLORS, blend_attention, draw_lanes, slot_color
from lane_sad_core.lanes import Lane


def test_lanes_are_drawn_in_their_slot_colour_on_a_copy():
    image = np.zeros((100, 200, 3), np.uint8)
    lanes = [Lane([[20, 90], [20, 10]], slot=0), Lane([[150, 90], [180, 10]], slot=2)]
    out = draw_lanes(image, lanes)
    assert image.max() == 0  # input untouched
    assert tuple(out[90, 20]) == SLOT_COLORS[0]  # dot centres carry the exact colour
    assert tuple(out[90, 150]) == SLOT_COLORS[2]
    assert out[50, 20, 1] > 100 and out[50, 20, 0] == 0  # the line between, anti-aliased
    assert tuple(out[50, 100]) == (0, 0, 0)
    assert slot_color(-1) != slot_color(0) and slot_color(len(SLOT_COLORS)) == slot_color(0)


def test_attention_covers_only_the_rows_the_network_saw():
    image = np.full((100, 200, 3), 128, np.uint8)
    pre = PreprocessConfig(width=20, height=10, crop_top=0.3)
    heat = np.zeros((10, 20), np.float32)
    heat[:, 10:] = 1.0  # right half hot
    out = blend_attention(image, heat, pre, alpha=1.0)
    assert np.array_equal(out[:30], image[:30])  # above the crop line: unchanged
    cold = cv2.applyColorMap(np.zeros((1, 1), np.uint8), cv2.COLORMAP_JET)[0, 0]
    hot = cv2.applyColorMap(np.full((1, 1), 255, np.uint8), cv2.COLORMAP_JET)[0, 0]
    assert np.array_equal(out[60, 5], cold) and np.array_equal(out[60, 195], hot)
    assert image[60, 5, 0] == 128  # input untouched
