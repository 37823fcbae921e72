"""Colour palettes of the two environments (BGR, before the per-frame camera response).

Base colours were matched to the real frames: CULane's Beijing asphalt averages about
(65, 59, 67) and its overcast sky (167, 166, 169); TuSimple's concrete/asphalt about
(101, 105, 101) and its clear sky (171, 136, 104).
"""

from __future__ import annotations

from dataclasses import dataclass

Color = tuple[float, float, float]
Material = tuple[Color, Color]  # base colour, per-channel spread of the noise


@dataclass(frozen=True)
class Look:
    """The palette of an environment."""

    surfaces: dict[str, Material]
    terrain: tuple[Material, ...]
    verge: tuple[Material, ...]
    foliage: Color
    foliage_spread: Color
    hill: Color
    hill_spread: Color
    sky_clear: tuple[Color, Color]  # zenith, horizon
    sky_overcast: tuple[Color, Color]
    overcast_prob: float
    vehicle_colors: tuple[tuple[Color, float], ...]
    building_colors: tuple[Color, ...]
    barrier: Color


_VEHICLE_COLORS = (
    ((225, 226, 228), 3.0),  # white
    ((160, 160, 158), 2.0),  # silver
    ((40, 40, 42), 2.5),  # black
    ((95, 95, 98), 1.5),  # grey
    ((40, 40, 170), 1.0),  # red
    ((130, 70, 30), 0.7),  # blue
    ((60, 110, 150), 0.3),  # bronze
    ((40, 160, 200), 0.2),  # yellow taxi
)

LOOKS: dict[str, Look] = {
    "urban": Look(
        surfaces={
            "asphalt": ((68, 61, 69), (9, 9, 9)),
            "asphalt_old": ((84, 79, 86), (11, 11, 11)),
        },
        terrain=(((52, 70, 66), (14, 18, 16)), ((60, 72, 78), (12, 14, 16))),
        verge=(((118, 118, 122), (10, 10, 10)), ((96, 100, 104), (12, 12, 12))),
        foliage=(34, 55, 42),
        foliage_spread=(13, 20, 14),
        hill=(70, 80, 78),
        hill_spread=(10, 12, 12),
        sky_clear=((200, 160, 120), (205, 195, 190)),
        sky_overcast=((198, 199, 202), (220, 221, 224)),
        overcast_prob=0.8,
        vehicle_colors=_VEHICLE_COLORS,
        building_colors=(
            (150, 150, 150),
            (120, 130, 140),
            (170, 175, 180),
            (110, 110, 120),
            (130, 150, 170),
            (90, 95, 100),
        ),
        barrier=(170, 172, 175),
    ),
    "highway": Look(
        surfaces={
            "concrete": ((138, 142, 138), (8, 8, 8)),
            "asphalt": ((100, 104, 100), (7, 7, 7)),
            "asphalt_dark": ((76, 78, 76), (6, 6, 6)),
        },
        terrain=(((88, 128, 150), (16, 22, 26)), ((70, 100, 105), (16, 22, 22))),
        verge=(((120, 132, 140), (14, 14, 14)), ((104, 116, 124), (12, 12, 12))),
        foliage=(45, 72, 62),
        foliage_spread=(14, 22, 18),
        hill=(50, 70, 80),
        hill_spread=(16, 20, 24),
        sky_clear=((240, 168, 108), (238, 214, 194)),
        sky_overcast=((190, 185, 182), (205, 202, 200)),
        overcast_prob=0.1,
        vehicle_colors=_VEHICLE_COLORS,
        building_colors=((160, 170, 180), (140, 145, 150)),
        barrier=(165, 170, 172),
    ),
}
