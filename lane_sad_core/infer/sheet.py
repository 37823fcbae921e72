"""Contact sheets: many labelled frames in one picture, lanes and masks in slot colours.

A conversion is right when, in one look, every lane line lies on a painted marking, the
colours run in the same order left to right in every frame (slot 1 leftmost) and the mask
tint covers the lines. Frames with defects come first, framed in red, with the defect.
It lives beside :mod:`~lane_sad_core.infer.overlay`, whose lane drawing and slot colours it
shares, so that labels on the sheet look like the model's lanes on the node's overlay.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from lane_sad_core.data.check import FrameCheck
from lane_sad_core.infer.overlay import draw_lanes, slot_color

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_CAPTION = 18
_BACKGROUND = (40, 40, 40)
_RED = (40, 40, 230)
_KEY_WIDTH = 80  # pixels of one slot's colour key in the legend ("slot 1")


def pick_frames(frames: Sequence[FrameCheck], count: int) -> list[FrameCheck]:
    """Up to ``count`` frames: those with defects first (half, or more when clean ones run
    out), then clean ones evenly spread over the set."""
    bad = [f for f in frames if f.defects]
    good = [f for f in frames if not f.defects]
    n_bad = min(len(bad), max(count // 2, count - len(good)))
    room = count - n_bad
    if len(good) > room:
        good = [good[round(i)] for i in np.linspace(0, len(good) - 1, room)] if room > 0 else []
    return bad[:n_bad] + good


def _tint(image: np.ndarray, mask_path: Path | None) -> np.ndarray:
    """The image with mask slots blended in their colours (40%)."""
    if mask_path is None or not mask_path.is_file():
        return image
    mask = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
    if mask is None or mask.shape != image.shape[:2]:
        return image
    colour = np.zeros_like(image)
    for value in np.unique(mask[mask > 0]):
        colour[mask == value] = slot_color(int(value) - 1)
    on = mask > 0
    out = image.copy()
    out[on] = (0.6 * image[on] + 0.4 * colour[on]).astype(np.uint8)
    return out


def _tile(frame: FrameCheck, width: int, height: int) -> np.ndarray:
    tile = np.full((height + _CAPTION, width, 3), _BACKGROUND, np.uint8)
    image = cv2.imread(str(frame.image), cv2.IMREAD_COLOR)
    if image is not None:
        drawn = draw_lanes(_tint(image, frame.mask), frame.lanes)
        h = min(height, round(width * image.shape[0] / image.shape[1]))
        tile[:h] = cv2.resize(drawn, (width, h), interpolation=cv2.INTER_AREA)
    first = frame.defects[0] if frame.defects else None
    text = f"{first.kind}: {first.detail}" if first else f"{frame.key}: {len(frame.lanes)} lanes"
    colour = _RED if frame.defects or image is None else (230, 230, 230)
    cv2.putText(tile, _fit(text, width), (4, height + 13), _FONT, 0.4, colour, 1, cv2.LINE_AA)
    if frame.defects:
        cv2.rectangle(tile, (0, 0), (width - 1, height + _CAPTION - 1), _RED, 2)
    return tile


def _fit(text: str, width: int) -> str:
    """``text`` cut from the left until it fits ``width`` pixels."""
    while len(text) > 4 and cv2.getTextSize(text, _FONT, 0.4, 1)[0][0] > width - 8:
        text = "..." + text[4:]
    return text


def _legend(title: str, width: int, num_slots: int) -> np.ndarray:
    """The title, then a colour key per slot at the right; a narrow sheet (one tile, many
    slots) gets narrower keys numbered without the word, so every slot stays in the picture."""
    bar = np.full((28, width, 3), _BACKGROUND, np.uint8)
    step = min(_KEY_WIDTH, width // num_slots)
    cv2.putText(bar, _fit(title, width - step * num_slots), (6, 19), _FONT, 0.5, (230, 230, 230), 1, cv2.LINE_AA)
    for k in range(num_slots):
        x = width - step * (num_slots - k)
        cv2.rectangle(bar, (x, 8), (x + 14, 20), slot_color(k), -1)
        label = f"slot {k + 1}" if step == _KEY_WIDTH else str(k + 1)
        cv2.putText(bar, label, (x + 18, 19), _FONT, 0.45, (230, 230, 230), 1, cv2.LINE_AA)
    return bar


def contact_sheet(
    frames: Sequence[FrameCheck], title: str, num_slots: int, columns: int = 4, tile_width: int = 320
) -> np.ndarray:
    """The sheet as a BGR image: a legend bar, then the tiles row by row."""
    columns = max(1, min(columns, len(frames)))
    sizes = [cv2.imread(str(f.image), cv2.IMREAD_REDUCED_GRAYSCALE_8) for f in frames]
    aspect = max((s.shape[0] / s.shape[1] for s in sizes if s is not None), default=0.5)
    tile_height = round(tile_width * aspect)
    tiles = [_tile(f, tile_width, tile_height) for f in frames]
    tiles += [np.full_like(tiles[0], _BACKGROUND)] * (-len(tiles) % columns)
    rows = [np.hstack(tiles[i : i + columns]) for i in range(0, len(tiles), columns)]
    grid = np.vstack(rows)
    return np.vstack([_legend(title, grid.shape[1], num_slots), grid])


def write_sheet(path: Path, sheet: np.ndarray) -> None:
    """Write the sheet (PNG, or JPEG for a .jpg path), creating the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), sheet):
        raise OSError(f"cannot write the contact sheet {path}")
