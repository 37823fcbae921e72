"""Training augmentations applied identically to an image and its lane target.

Everything happens at network resolution on the uint8 BGR image (after
:func:`~lane_sad_core.data.preprocess.resize_for_network`) and its slot map, so geometry
is warped once and the segmentation target stays aligned to the pixel.

The paper does not spell out ENet-SAD's augmentation; these defaults are the usual mild
set for lane segmentation (small shifts, scales and rotations, photometric jitter, noise,
blur). Horizontal flips are off by default: traffic sides differ between datasets and a
flip must also swap slots (see :func:`flip_target`).

Reproducibility: each sample's parameters come from a generator seeded with
``(seed, epoch, index)``, so a resumed run replays exactly the same augmentations no matter
how samples are spread over loader workers.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from lane_sad_core.errors import ConfigError
from lane_sad_core.plain import Fraction, NonNegFloat, NonNegInt, PositiveFloat

IGNORE_INDEX = 255


@dataclass
class AugmentConfig:
    """What to randomise and by how much (0 disables an augmentation).

    Attributes:
        hflip_prob: probability of a left-right mirror (slots are swapped with it).
        max_shift: largest translation, as a fraction of width (x) and height (y).
        scale_range: (min, max) zoom about the image centre.
        max_rotation_deg: largest rotation about the image centre, degrees.
        brightness: largest relative change of brightness (0.2 = x0.8 .. x1.2).
        contrast: largest relative change of contrast about the mean grey.
        saturation: largest relative change of saturation.
        color: largest relative per-channel gain change (white balance jitter).
        noise_prob: probability of additive Gaussian noise.
        noise_std: largest noise standard deviation, in 0..255 grey levels.
        blur_prob: probability of a Gaussian blur.
        blur_sigma: (min, max) blur sigma in pixels.
        seed: base seed; the generator of a sample is seeded with (seed, epoch, index).
    """

    hflip_prob: Fraction = 0.0
    max_shift: Fraction = 0.04
    scale_range: tuple[PositiveFloat, PositiveFloat] = (0.95, 1.05)
    max_rotation_deg: NonNegFloat = 2.0
    brightness: Fraction = 0.25
    contrast: Fraction = 0.25
    saturation: Fraction = 0.25
    color: Fraction = 0.05
    noise_prob: Fraction = 0.3
    noise_std: NonNegFloat = 6.0
    blur_prob: Fraction = 0.2
    blur_sigma: tuple[NonNegFloat, NonNegFloat] = (0.4, 1.2)
    seed: NonNegInt = 0

    def __post_init__(self) -> None:
        for name in ("scale_range", "blur_sigma"):
            low, high = getattr(self, name)
            if low > high:
                raise ConfigError(f"{name}: (min, max) expected, got ({low}, {high})")

    @classmethod
    def identity(cls, **changes: object) -> AugmentConfig:
        """No augmentation at all, then ``changes``: one effect at a time (tests, ablations)."""
        off = {
            "max_shift": 0.0,
            "scale_range": (1.0, 1.0),
            "max_rotation_deg": 0.0,
            "brightness": 0.0,
            "contrast": 0.0,
            "saturation": 0.0,
            "color": 0.0,
            "noise_prob": 0.0,
            "blur_prob": 0.0,
        }
        return cls(**{**off, **changes})  # type: ignore[arg-type]


def sample_generator(cfg: AugmentConfig, epoch: int, index: int) -> np.random.Generator:
    """The generator that decides sample ``index``'s augmentation in ``epoch``."""
    return np.random.default_rng([cfg.seed, epoch, index])


def flip_target(seg: np.ndarray, exist: np.ndarray, num_slots: int) -> tuple[np.ndarray, np.ndarray]:
    """Mirror a slot map and existence vector: slot k becomes num_slots - 1 - k.

    Mirroring puts the ego-left boundary on the right, so its label must become the
    ego-right slot; values 0 (background) and 255 (ignore) are unchanged.
    """
    lut = np.arange(256, dtype=np.uint8)
    lut[1 : num_slots + 1] = np.arange(num_slots, 0, -1, dtype=np.uint8)
    return np.ascontiguousarray(lut[seg[:, ::-1]]), exist[::-1].copy()


def affine_matrix(cfg: AugmentConfig, rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A random 2x3 shift/scale/rotation about the image centre."""
    angle = rng.uniform(-cfg.max_rotation_deg, cfg.max_rotation_deg)
    scale = rng.uniform(*cfg.scale_range)
    matrix = cv2.getRotationMatrix2D((width / 2.0, height / 2.0), angle, scale)
    matrix[0, 2] += rng.uniform(-cfg.max_shift, cfg.max_shift) * width
    matrix[1, 2] += rng.uniform(-cfg.max_shift, cfg.max_shift) * height
    return matrix


def photometric(image: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """Brightness, contrast, saturation, colour gains, noise and blur on a uint8 BGR image."""
    img = image.astype(np.float32)
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)[..., None]
    img = grey + (img - grey) * rng.uniform(1 - cfg.saturation, 1 + cfg.saturation)
    mean = float(grey.mean())
    img = mean + (img - mean) * rng.uniform(1 - cfg.contrast, 1 + cfg.contrast)
    gains = rng.uniform(1 - cfg.color, 1 + cfg.color, size=3).astype(np.float32)
    img *= gains * rng.uniform(1 - cfg.brightness, 1 + cfg.brightness)
    if rng.random() < cfg.noise_prob:
        img += rng.normal(0.0, rng.uniform(0, cfg.noise_std), size=img.shape).astype(np.float32)
    if rng.random() < cfg.blur_prob:
        img = np.asarray(cv2.GaussianBlur(img, (0, 0), rng.uniform(*cfg.blur_sigma)), np.float32)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def augment_sample(
    image: np.ndarray,
    seg: np.ndarray,
    exist: np.ndarray,
    cfg: AugmentConfig,
    rng: np.random.Generator,
    num_slots: int,
    fill: tuple[float, float, float] = (0.0, 0.0, 0.0),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Augment one network-size sample; returns (image, seg, exist).

    Pixels warped in from outside the image get ``fill`` (BGR) in the image and
    :data:`IGNORE_INDEX` in the target: their content is unknown, so they must not count
    as background. The parameters are always drawn in the same order, so a given
    generator state yields the same result whatever the config's switches.
    """
    image, seg, exist, _ = augment_with_soft(image, seg, exist, None, cfg, rng, num_slots, fill)
    return image, seg, exist


def augment_with_soft(
    image: np.ndarray,
    seg: np.ndarray,
    exist: np.ndarray,
    soft: np.ndarray | None,
    cfg: AugmentConfig,
    rng: np.random.Generator,
    num_slots: int,
    fill: tuple[float, float, float] = (0.0, 0.0, 0.0),
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """:func:`augment_sample` that also carries a teacher's (C, H, W) class probabilities.

    The soft maps follow the geometry exactly (a flip also swaps their slot channels);
    where the warp brings in pixels from outside the frame they are 0, and ``seg``'s
    :data:`IGNORE_INDEX` there tells the loss to skip them.
    """
    height, width = seg.shape
    flip = rng.random() < cfg.hflip_prob
    matrix = affine_matrix(cfg, rng, width, height)
    if flip:
        image = np.ascontiguousarray(image[:, ::-1])
        seg, exist = flip_target(seg, exist, num_slots)
        if soft is not None:
            order = [0, *range(num_slots, 0, -1)]
            soft = np.ascontiguousarray(soft[order, :, ::-1])
    image = cv2.warpAffine(
        image,
        matrix,
        (width, height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=fill,
    )
    seg = cv2.warpAffine(
        seg,
        matrix,
        (width, height),
        flags=cv2.INTER_NEAREST,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=IGNORE_INDEX,
    )
    if soft is not None:
        soft = np.stack([cv2.warpAffine(c, matrix, (width, height), flags=cv2.INTER_LINEAR) for c in soft])
    return photometric(image, cfg, rng), seg, exist, soft
