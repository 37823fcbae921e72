"""Per-dataset generator settings: camera, road layout and the look of the place.

The numbers were fitted to the real labelled frames in ``shared/data/real`` (measured on
their labels and pixels, see ``docs``): horizon row (vanishing point of the labelled
lanes), lane spacing and marking width in pixels at the image bottom, where labels stop
below the horizon, lanes per frame. For a level pinhole camera all of these depend on
``(row - horizon) / mount_height`` only, so the focal length mostly sets the pitch that
puts the horizon where the real one is.

* CULane (Beijing, dash camera): horizon at 0.645 of the height, ego lane ~0.33 W wide at
  the bottom, markings ~8 px wide there (half-maximum width: the video is soft, so the
  paint reads narrower than its 10-15 cm), labels end 15-60 px below the horizon; JPEG
  quality 95 (read from the quantisation tables).
* TuSimple (US highways, roof camera): horizon at 0.335 H, lanes ~0.85 W apart at the
  bottom, markings ~24 px, labels end 6-30 px below the horizon, 4 lanes in most frames
  (3 in some, 5 in a few); JPEG quality 95.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lane_sad_core.data.synth.camera import Camera
from lane_sad_core.errors import ConfigError
from lane_sad_core.plain import from_plain, to_plain

Range = tuple[float, float]


@dataclass(frozen=True)
class SynthPreset:
    """Everything that differs between the synthetic CULane and TuSimple look-alikes.

    Attributes:
        name: ``culane`` or ``tusimple`` (also the output format).
        width, height: image size in pixels.
        focal: focal length in pixels.
        mount_height: camera height above the road, metres.
        horizon: image row of the horizon as a fraction of the height (sets the pitch).
        pitch_deg: camera pitch in degrees (positive looks down); overrides ``horizon``.
        pitch_jitter_deg, roll_jitter_deg: standard deviations of per-frame camera motion.
        height_jitter: relative standard deviation of the camera height.
        lane_width: range of lane widths, metres.
        lateral_offset_std: camera offset from the ego-lane centre, metres (std).
        marking_width: range of painted line widths, metres.
        dash_length, dash_gap: ranges of dash and gap lengths, metres.
        lane_counts: relative frequency of roads with 2, 3, 4, 5, 6 lanes.
        label_gap_px: range of the distance, in rows, between horizon and the last label row.
        environment: ``urban`` (trees, buildings, fences, overcast) or ``highway`` (hills,
            barriers, clear sky, concrete).
        jpeg_quality: range of JPEG qualities.
        dashcam_prob: probability of the dash-camera look (hood, dark lens corners, clock).
        slots: label slots centred on the ego lane: boundary ``j`` (``-1`` ego-left, ``0``
            ego-right) gets slot ``j + slots // 2`` when that is in ``0..slots-1``; the
            CULane writer writes this many existence flags (CULane: 4).
        max_labelled: the most lane boundaries one frame labels: ``slots``, or one more for
            TuSimple's occasional fifth lane.
        render_scale: the scene is drawn at this fraction of the output size, then
            enlarged before sensor noise and JPEG. The real frames are soft (CULane's
            dash-camera video more so than TuSimple's), so drawing CULane at half size and
            TuSimple at 3/4 loses no visible detail and saves most of the pixel work.
        rig_horizon: per-frame horizon row (fraction of the height) of the car's camera,
            drawn from this range; None keeps ``horizon`` (and ``pitch_deg``). CULane
            was filmed from several cars: the horizon of clips 0755/0756 is at 0.645 H,
            that of the ``culane_ego`` drive at 0.52 H.
        rig_height: per-frame camera height range, metres; None keeps ``mount_height``
            (ego-lane width at the bottom row says 1.35 m for clip 0755, 1.1 m for the
            ``culane_ego`` drive).
        hood_top: range of the row (fraction of the height) where a dash-camera frame's
            bonnet edge peaks, with varied shape, paint and gloss
            (:mod:`~lane_sad_core.data.synth.dashcam`); None draws the one small dark
            bonnet of clips 0755/0756.
        windscreen_prob: probability that a dash-camera frame shows mirror images, a
            sticker and the mirror mount in the windscreen.
        lens_prob: probability of radial lens distortion, ``k1`` drawn from ``lens_k1``
            (:mod:`~lane_sad_core.data.synth.lens`; labels are distorted alike).
        photo_textures: a folder of road photos to cut ground grain from
            (:mod:`~lane_sad_core.data.synth.photos`), read when a renderer starts; empty,
            missing or without usable road: the procedural grain.
        photo_texture_prob: probability that a frame's ground grain comes from the photos.
    """

    name: str
    width: int
    height: int
    focal: float
    mount_height: float
    horizon: float
    pitch_deg: float | None = None
    pitch_jitter_deg: float = 0.5
    roll_jitter_deg: float = 0.6
    height_jitter: float = 0.04
    lane_width: Range = (3.0, 3.7)
    lateral_offset_std: float = 0.4
    marking_width: Range = (0.08, 0.13)
    dash_length: Range = (2.0, 6.0)
    dash_gap: Range = (4.0, 9.0)
    lane_counts: tuple[float, ...] = (1.0, 2.0, 2.0, 1.0, 0.0)
    label_gap_px: Range = (15.0, 60.0)
    environment: str = "urban"
    jpeg_quality: Range = (88.0, 95.0)
    dashcam_prob: float = 0.0
    slots: int = 4
    max_labelled: int = 4
    render_scale: float = 1.0
    rig_horizon: Range | None = None
    rig_height: Range | None = None
    hood_top: Range | None = None
    windscreen_prob: float = 0.0
    lens_prob: float = 0.0
    lens_k1: Range = (-0.1, 0.03)
    photo_textures: str = ""
    photo_texture_prob: float = 0.0

    def camera(self, horizon: float | None = None, mount_height: float | None = None) -> Camera:
        """The unjittered camera, pitched by ``pitch_deg`` or so the horizon sits at ``horizon``.

        ``horizon`` and ``mount_height`` replace the preset's (one car of a rig range).
        """
        if self.pitch_deg is not None and horizon is None:
            pitch = math.radians(self.pitch_deg)
        else:
            row = self.horizon if horizon is None else horizon
            pitch = math.atan((self.height / 2.0 - row * self.height) / self.focal)
        height = self.mount_height if mount_height is None else mount_height
        return Camera.centred(self.width, self.height, self.focal, height, pitch)


PRESETS: dict[str, SynthPreset] = {
    "culane": SynthPreset(
        name="culane",
        width=1640,
        height=590,
        focal=1000.0,
        mount_height=1.35,
        horizon=0.645,
        lane_width=(3.0, 3.6),
        lateral_offset_std=0.4,
        marking_width=(0.045, 0.075),
        dash_length=(2.0, 6.0),
        dash_gap=(4.0, 9.0),
        lane_counts=(0.4, 1.5, 3.0, 1.5, 0.4),
        label_gap_px=(12.0, 45.0),
        environment="urban",
        dashcam_prob=0.85,
        max_labelled=4,
        jpeg_quality=(88.0, 95.0),
        render_scale=0.5,
    ),
    "tusimple": SynthPreset(
        name="tusimple",
        width=1280,
        height=720,
        focal=1000.0,
        mount_height=1.6,
        horizon=0.335,
        lane_width=(3.5, 3.8),
        lateral_offset_std=0.45,
        marking_width=(0.07, 0.105),
        dash_length=(2.8, 3.2),
        dash_gap=(8.5, 9.5),
        lane_counts=(0.1, 1.0, 2.0, 2.0, 1.0),
        label_gap_px=(6.0, 30.0),
        environment="highway",
        dashcam_prob=0.0,
        max_labelled=5,
        jpeg_quality=(90.0, 95.0),
        render_scale=0.75,
    ),
}


def preset(name: str, **overrides: object) -> SynthPreset:
    """A preset by name with fields overridden, e.g. ``preset("culane", focal=900.0)``."""
    if name not in PRESETS:
        raise ConfigError(f"unknown synthetic format '{name}' (known: {', '.join(PRESETS)})")
    return from_plain(SynthPreset, {**to_plain(PRESETS[name]), **overrides}, "preset")


def slot_overrides(name: str, slots: int) -> dict[str, object]:
    """Preset fields for ``slots`` label slots (``lane-sad synth --slots``).

    Roads get ``slots - 4`` more lanes than the preset draws (its ``lane_counts`` shifted),
    so the outer slots of a six-slot set are filled about as often as CULane's four are.
    """
    if slots < 2:
        raise ConfigError(f"--slots must be at least 2, got {slots}")
    base = PRESETS[name]
    return {"slots": slots, "lane_counts": (0.0,) * max(slots - base.slots, 0) + base.lane_counts}


# Preset fields of the camera and recorder features, per format: all off, and each
# feature on (tools/synth_ablation.py measures each against all-off on real frames).
FEATURES_OFF: dict[str, dict[str, object]] = {
    fmt: {
        "rig_horizon": None,
        "rig_height": None,
        "hood_top": None,
        "windscreen_prob": 0.0,
        "lens_prob": 0.0,
        "photo_texture_prob": 0.0,
    }
    for fmt in ("culane", "tusimple")
}
FEATURES_ON: dict[str, dict[str, dict[str, object]]] = {
    "rig": {"culane": {"rig_horizon": (0.5, 0.66), "rig_height": (1.1, 1.45)}},
    "hood": {"culane": {"hood_top": (0.72, 0.97)}},
    "windscreen": {"culane": {"windscreen_prob": 0.7}},
    "lens": {"culane": {"lens_prob": 0.7}, "tusimple": {"lens_prob": 0.7}},
    "photo": {"culane": {"photo_texture_prob": 0.5}, "tusimple": {"photo_texture_prob": 0.5}},
}


def feature_overrides(fmt: str, features: list[str]) -> dict[str, object]:
    """Preset fields that switch ``features`` (names of FEATURES_ON) on for format ``fmt``.

    A feature with no setting for ``fmt`` (the rig and the bonnet are dash-camera features of
    the CULane look) is refused rather than silently ignored.
    """
    out: dict[str, object] = {}
    for name in features:
        if name not in FEATURES_ON:
            raise ConfigError(f"unknown synthetic feature '{name}' (known: {', '.join(FEATURES_ON)})")
        if fmt not in FEATURES_ON[name]:
            raise ConfigError(f"synthetic feature '{name}' does not apply to the {fmt} look")
        out.update(FEATURES_ON[name][fmt])
    return out
