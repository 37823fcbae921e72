"""What a dash camera sees of its own car: the bonnet, and the windscreen between.

CULane was filmed by dash cameras in several cars. What the real frames show (group 4
and group 8 of ``shared/data/real``): a bonnet whose edge peaks anywhere from 0.75 to 0.95
of the height, spanning a third to nearly all of the width, glossy enough to mirror the
road and trees above it, with a black band under it; a faint mirror image of something on
the dashboard (a blue placard with white digits) in the windscreen; a sticker cut by the
top edge; the rear-view mirror's mount at the top centre. The labels run on under the
bonnet to the bottom row, so a model has to learn that a lane goes on behind it.

Everything here is drawn at render size in place, before the camera response, and
depends only on the sampled dataclasses (pure data), like the rest of the generator.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

Color = tuple[float, float, float]

# Bonnet paints (BGR) and their relative frequency: mostly dark, as on the real frames.
HOOD_COLORS: tuple[tuple[Color, float], ...] = (
    ((38, 36, 37), 3.0),  # black
    ((52, 58, 44), 1.5),  # dark green (group 8)
    ((70, 70, 72), 1.5),  # dark grey
    ((150, 150, 148), 1.0),  # silver
    ((205, 206, 208), 0.8),  # white
    ((60, 40, 30), 0.7),  # dark blue
    ((40, 40, 120), 0.5),  # red
)
PLACARD_COLORS: tuple[Color, ...] = ((170, 90, 30), (200, 200, 200), (40, 140, 200), (60, 60, 60))
STICKER_COLORS: tuple[Color, ...] = ((60, 60, 230), (230, 230, 230), (40, 170, 240), (200, 120, 40))


@dataclass(frozen=True)
class Hood:
    """The bonnet as seen from the dashboard (fractions of the image size).

    Attributes:
        top: row of the edge's highest point, fraction of the height.
        centre: column of that point, fraction of the width.
        half_width: half the width where the edge meets the bottom row, fraction of the width.
        power: shape of the edge: row = top + (bottom - top) * |t| ** power (t = -1..1
            across the bonnet); 2 is round, 4 or more nearly flat across the middle.
        color: paint (BGR).
        gloss: how much of the scene the paint mirrors, 0..1.
        stretch: rows of scene mirrored per row of bonnet (a curved bonnet squeezes them).
        lip: brightness of the highlight along the edge, 0..1.
        black: height of the black band under the bonnet at the bottom, fraction of the height.
    """

    top: float
    centre: float
    half_width: float
    power: float
    color: Color
    gloss: float
    stretch: float
    lip: float
    black: float


@dataclass(frozen=True)
class Windscreen:
    """Things on or mirrored in the windscreen.

    Attributes:
        placard: (x, y, w, h) of a dashboard placard's mirror image (fractions of the
            image size), or None.
        placard_color: its colour (BGR).
        digits: the text on it (drawn mirrored).
        strength: how bright the mirror images are, 0..1 (additive).
        glow: (row, height, strength) of a pale band mirrored from the dashboard
            (fractions of the height; strength 0..1), or None.
        sticker: (x, radius, color) of a sticker cut by the top edge (fraction of the
            width, fraction of the height), or None.
        mirror_mount: width of the rear-view mirror's mount at the top centre, fraction
            of the width (0: none).
    """

    placard: tuple[float, float, float, float] | None
    placard_color: Color
    digits: str
    strength: float
    glow: tuple[float, float, float] | None
    sticker: tuple[float, float, Color] | None
    mirror_mount: float


def _pick(rng: np.random.Generator, options: tuple[tuple[Color, float], ...]) -> Color:
    weights = np.array([w for _, w in options])
    return options[int(rng.choice(len(options), p=weights / weights.sum()))][0]


def sample_hood(rng: np.random.Generator, top: tuple[float, float]) -> Hood:
    """A bonnet whose edge peaks between ``top`` rows (fractions of the height)."""
    return Hood(
        top=float(rng.uniform(*top)),
        centre=float(rng.uniform(0.44, 0.56)),
        half_width=float(rng.uniform(0.25, 0.45)),
        power=float(rng.uniform(1.8, 5.0)),
        color=_pick(rng, HOOD_COLORS),
        gloss=float(rng.uniform(0.1, 0.45)),
        stretch=float(rng.uniform(1.5, 4.0)),
        lip=float(rng.uniform(0.0, 0.5)),
        black=float(rng.uniform(0.0, 0.05)),
    )


def sample_windscreen(rng: np.random.Generator) -> Windscreen:
    """Mirror images and stickers; each part present in some frames only."""
    placard = None
    if rng.random() < 0.6:
        w, h = rng.uniform(0.05, 0.11), rng.uniform(0.04, 0.08)
        placard = (float(rng.uniform(0.05, 0.95 - w)), float(rng.uniform(0.3, 0.6)), float(w), float(h))
    glow = None
    if rng.random() < 0.6:
        glow = (float(rng.uniform(0.35, 0.75)), float(rng.uniform(0.1, 0.3)), float(rng.uniform(0.04, 0.14)))
    sticker = None
    if rng.random() < 0.4:
        sticker = (float(rng.uniform(0.05, 0.35)), float(rng.uniform(0.03, 0.07)), STICKER_COLORS[rng.integers(4)])
    return Windscreen(
        placard=placard,
        placard_color=PLACARD_COLORS[int(rng.integers(len(PLACARD_COLORS)))],
        digits="".join(str(d) for d in rng.integers(0, 10, 8)),
        strength=float(rng.uniform(0.2, 0.5)),
        glow=glow,
        sticker=sticker,
        mirror_mount=float(rng.uniform(0.05, 0.09)) if rng.random() < 0.5 else 0.0,
    )


def hood_edge(hood: Hood, width: int, height: int) -> np.ndarray:
    """(W,) row of the bonnet's edge in every column (>= height where there is no bonnet)."""
    t = (np.arange(width) + 0.5 - hood.centre * width) / (hood.half_width * width)
    top = hood.top * height
    return np.where(np.abs(t) <= 1.0, top + (height - top) * np.abs(t) ** hood.power, float(height + 1))


def draw_hood(img: np.ndarray, hood: Hood) -> None:
    """The bonnet over the bottom of ``img`` (in place): paint, the scene it mirrors, a
    highlight along its edge, darker and finally black towards the bottom."""
    height, width = img.shape[:2]
    full = hood_edge(hood, width, height).astype(np.float32)
    cols = np.flatnonzero(full < height)
    if not len(cols):
        return
    c0, c1 = int(cols[0]), int(cols[-1]) + 1
    edge = full[c0:c1]
    row0 = max(0, int(edge.min()) - 1)
    rows = np.arange(row0, height, dtype=np.float32)[:, None] + 0.5
    below = rows - edge[None, :]  # > 0 on the bonnet
    alpha = np.clip(below + 0.5, 0.0, 1.0)[..., None]
    # The mirror image: rows above the edge, flipped and squeezed, softened.
    map_y = np.clip(edge[None, :] - below * hood.stretch, 0, height - 1).astype(np.float32)
    map_x = np.broadcast_to(np.arange(c0, c1, dtype=np.float32), map_y.shape)
    mirror = cv2.blur(cv2.remap(img, map_x, map_y, cv2.INTER_LINEAR), (3, 3)).astype(np.float32)
    depth = np.clip(below / max(height - hood.top * height, 1.0), 0.0, 1.0)[..., None]
    paint = np.asarray(hood.color, np.float32) * (1.0 - 0.55 * depth)
    surface = paint * (1.0 - hood.gloss) + mirror * hood.gloss * (1.0 - 0.5 * depth)
    surface += 255.0 * hood.lip * np.exp(-((below - 1.5) ** 2) / 2.0)[..., None]
    black_row = height * (1.0 - hood.black)
    surface *= np.clip((black_row - rows) / 4.0, 0.05, 1.0)[..., None]
    region = img[row0:, c0:c1].astype(np.float32)
    img[row0:, c0:c1] = np.clip(region * (1.0 - alpha) + surface * alpha, 0, 255).astype(np.uint8)


def draw_windscreen(img: np.ndarray, screen: Windscreen) -> None:
    """Mirror images (added light), the sticker and the mirror mount, in place."""
    height, width = img.shape[:2]
    light = np.zeros_like(img)
    if screen.glow is not None:
        row, size, strength = screen.glow
        y = (np.arange(height, dtype=np.float32) / height - row) / size
        band = (255.0 * strength * np.exp(-(y**2))).astype(np.uint8)
        light += cv2.merge([band[:, None].repeat(width, 1)] * 3)
    if screen.placard is not None:
        _placard(light, screen)
    cv2.add(img, light, dst=img)
    if screen.sticker is not None:
        x, radius, color = screen.sticker
        r = max(2, round(radius * height))
        cv2.ellipse(img, (round(x * width), 0), (round(1.6 * r), r), 0, 0, 360, (255, 255, 255), -1, cv2.LINE_AA)
        cv2.ellipse(img, (round(x * width), 0), (round(1.6 * r) - 2, r - 2), 0, 0, 360, color, -1, cv2.LINE_AA)
    if screen.mirror_mount > 0:
        half = round(screen.mirror_mount * width / 2)
        cv2.ellipse(img, (width // 2, 0), (half, max(2, half // 4)), 0, 0, 180, (18, 18, 20), -1, cv2.LINE_AA)


def _placard(light: np.ndarray, screen: Windscreen) -> None:
    """The placard's mirror image (digits reversed) into the ``light`` layer."""
    assert screen.placard is not None  # the caller draws a placard only where there is one
    height, width = light.shape[:2]
    x, y, w, h = screen.placard
    pw, ph = max(8, round(w * width)), max(4, round(h * height))
    card = np.empty((ph, pw, 3), np.uint8)
    card[:] = screen.placard_color
    scale = ph / 40.0
    cv2.putText(card, screen.digits, (2, round(0.75 * ph)), cv2.FONT_HERSHEY_SIMPLEX, scale, (235, 235, 235), 1)
    card = cv2.flip(card, 1)
    card = (card.astype(np.float32) * screen.strength).astype(np.uint8)
    x0, y0 = round(x * width), round(y * height)
    light[y0 : y0 + ph, x0 : x0 + pw] = card[: height - y0, : width - x0]
