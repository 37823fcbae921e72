"""Write synthetic frames as official CULane or TuSimple trees.

The same loaders then read synthetic and real data. Frame ``i`` depends only on
``(seed, i)`` (its category, split, scene and pixels), so any number of workers can
write any subset of frames and the tree is byte-identical whichever way it was split.

CULane layout::

    driver_synth/<clip>.MP4/<frame>.jpg, .lines.txt
    laneseg_label_w16/driver_synth/<clip>.MP4/<frame>.png   (0 background, 1..N slots)
    list/train_gt.txt, val_gt.txt  (/img /mask e1 .. eN; N = preset.slots, CULane's 4), train.txt, val.txt, test.txt
    list/test_split/test0_normal.txt ... test8_night.txt

TuSimple layout::

    clips/synth/<frame>/20.jpg
    label_data_synth.json (train), val_label.json, test_label.json

Both write ``meta.json``: generator settings, seed, per-frame categories.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from lane_sad_core.data.formats import (
    TUSIMPLE_ABSENT,
    CulaneListEntry,
    TusimpleRecord,
    format_culane_lines,
    write_culane_list,
    write_tusimple,
)
from lane_sad_core.data.raster import rasterize_lanes
from lane_sad_core.data.synth.presets import SynthPreset, preset
from lane_sad_core.data.synth.render import SceneRenderer, scene_lanes
from lane_sad_core.data.synth.scene import CATEGORIES, canonical_category, sample_scene
from lane_sad_core.errors import ConfigError
from lane_sad_core.lanes import Lane
from lane_sad_core.plain import to_plain

GENERATOR_VERSION = 1
CULANE_MASK_WIDTH = 16  # laneseg_label_w16
CLIP_FRAMES = 100  # CULane-style: frames per clip folder
SPLITS = ("train", "val", "test")
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0
_PNG_FAST = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE]


@dataclass(frozen=True)
class SynthSettings:
    """What to generate.

    Attributes:
        format: ``culane`` or ``tusimple``.
        num: number of frames.
        seed: base seed; frame i uses the generator seeded with (seed, i).
        categories: (category, weight) pairs; a frame's category is drawn with these weights.
        splits: fractions of (train, val, test); frames are assigned by index with a
            low-discrepancy sequence, so every prefix of the set has these proportions.
        overrides: preset fields to change (e.g. ``{"focal": 900.0}``).
    """

    format: str
    num: int
    seed: int = 0
    categories: tuple[tuple[str, float], ...] = tuple((c, 1.0) for c in CATEGORIES)
    splits: tuple[float, float, float] = (0.8, 0.1, 0.1)
    overrides: dict = field(default_factory=dict)

    def preset(self) -> SynthPreset:
        """The resolved preset."""
        return preset(self.format, **self.overrides)


def parse_categories(spec: Sequence[str] | None) -> tuple[tuple[str, float], ...]:
    """``["night:2", "curve"]`` -> (("night", 2.0), ("curve", 1.0)); None means all nine."""
    if not spec:
        return tuple((c, 1.0) for c in CATEGORIES)
    out: dict[str, float] = {}
    for item in spec:
        name, _, weight = item.partition(":")
        try:
            value = float(weight) if weight else 1.0
        except ValueError:
            raise ConfigError(f"category weight '{weight}' of '{item}' is not a number") from None
        if value <= 0:
            raise ConfigError(f"category weight of '{item}' must be > 0")
        out[canonical_category(name)] = value
    return tuple(out.items())


def frame_split(index: int, splits: tuple[float, float, float]) -> str:
    """Split of frame ``index``: golden-ratio sequence against the cumulative fractions."""
    total = sum(splits)
    x = (index * _GOLDEN) % 1.0
    bounds = np.cumsum(splits) / total
    return SPLITS[int(np.searchsorted(bounds, x, side="right").clip(0, 2))]


def frame_category(rng: np.random.Generator, categories: tuple[tuple[str, float], ...]) -> str:
    """A category drawn with the configured weights."""
    names = [c for c, _ in categories]
    weights = np.array([w for _, w in categories], float)
    return names[int(rng.choice(len(names), p=weights / weights.sum()))]


@dataclass
class SynthFrame:
    """A rendered frame before it is written: image, labels in image pixels, its tags."""

    index: int
    image: np.ndarray
    lanes: list[Lane]
    category: str
    split: str
    jpeg_quality: int


@dataclass(frozen=True)
class FrameRecord:
    """What the list and label files need to know about a written frame."""

    index: int
    split: str
    category: str
    image: str
    mask: str | None
    exist: tuple[int, ...] | None
    tusimple_lanes: list[list[int]] | None


def culane_rows(lane: Lane, width: int, height: int, margin: float) -> Lane:
    """The lane sampled the way CULane labels are: x at y = height, height-10, ... upwards.

    Points further than ``margin`` pixels outside the image are dropped, as annotators
    stopped at the image border.
    """
    v, u = lane.points[::-1, 1], lane.points[::-1, 0]  # increasing v for np.interp
    ys = np.arange(height, np.ceil(v.min()) - 1, -10.0)
    ys = ys[(ys >= v.min()) & (ys <= v.max())]
    xs = np.interp(ys, v, u)
    keep = (xs > -margin) & (xs < width - 1 + margin)
    return Lane(np.stack([xs[keep], ys[keep]], 1), lane.slot)


def tusimple_row(lane: Lane, h_samples: np.ndarray, width: int) -> list[int]:
    """x of a lane at ``h_samples`` rows, -2 where it is absent or outside the image."""
    v, u = lane.points[::-1, 1], lane.points[::-1, 0]
    xs = np.interp(h_samples, v, u, left=np.nan, right=np.nan)
    valid = np.isfinite(xs) & (xs >= 0) & (xs <= width - 1)
    return [round(x) if ok else TUSIMPLE_ABSENT for x, ok in zip(xs, valid, strict=True)]


def tusimple_h_samples(height: int) -> np.ndarray:
    """TuSimple's rows: 160..710 step 10 at 720 px, scaled for other heights."""
    return np.arange(round(160 * height / 720), height - 9, 10)


class FrameWriter:
    """Renders and writes frames of one dataset (one per worker process)."""

    def __init__(self, out: Path, settings: SynthSettings) -> None:
        self.out = Path(out)
        self.settings = settings
        self.preset = settings.preset()
        self.renderer = SceneRenderer(self.preset, settings.seed)
        self._folders: set[Path] = set()

    def _folder(self, path: Path) -> None:
        """Create ``path`` once (clip folders hold many frames; mkdir costs a syscall)."""
        if path not in self._folders:
            path.mkdir(parents=True, exist_ok=True)
            self._folders.add(path)

    def render(self, index: int) -> SynthFrame:
        """Frame ``index`` in memory, nothing written."""
        rng = np.random.default_rng([self.settings.seed, index])
        scene = sample_scene(rng, self.preset, frame_category(rng, self.settings.categories))
        return SynthFrame(
            index=index,
            image=self.renderer.render(scene),
            lanes=scene_lanes(scene),
            category=scene.category,
            split=frame_split(index, self.settings.splits),
            jpeg_quality=scene.fx.jpeg_quality,
        )

    def write(self, index: int) -> FrameRecord:
        """Render frame ``index`` and write its image and labels."""
        frame = self.render(index)
        if self.settings.format == "culane":
            return self._write_culane(frame)
        return self._write_tusimple(frame)

    def _jpeg(self, path: Path, frame: SynthFrame) -> None:
        self._folder(path.parent)
        quality = [cv2.IMWRITE_JPEG_QUALITY, frame.jpeg_quality]
        path.write_bytes(cv2.imencode(".jpg", frame.image, quality)[1].tobytes())

    def _write_culane(self, frame: SynthFrame) -> FrameRecord:
        h, w = frame.image.shape[:2]
        index = frame.index
        rel = f"driver_synth/{index // CLIP_FRAMES:05d}.MP4/{index % CLIP_FRAMES:05d}"
        rows = [culane_rows(lane, w, h, 0.05 * w) for lane in frame.lanes]
        rows = [lane for lane in rows if len(lane) >= 2]
        exist = tuple(int(any(lane.slot == k for lane in rows)) for k in range(self.preset.slots))
        self._jpeg(self.out / f"{rel}.jpg", frame)
        (self.out / f"{rel}.lines.txt").write_text(format_culane_lines(rows))
        mask_path = self.out / "laneseg_label_w16" / f"{rel}.png"
        self._folder(mask_path.parent)
        mask = rasterize_lanes(rows, (h, w), CULANE_MASK_WIDTH)
        mask_path.write_bytes(cv2.imencode(".png", mask, _PNG_FAST)[1].tobytes())
        mask_rel = f"laneseg_label_w16/{rel}.png"
        return FrameRecord(index, frame.split, frame.category, f"{rel}.jpg", mask_rel, exist, None)

    def _write_tusimple(self, frame: SynthFrame) -> FrameRecord:
        h, w = frame.image.shape[:2]
        rel = f"clips/synth/{frame.index:06d}/20.jpg"
        h_samples = tusimple_h_samples(h)
        rows = [tusimple_row(lane, h_samples, w) for lane in frame.lanes]
        rows = [row for row in rows if sum(x != TUSIMPLE_ABSENT for x in row) >= 2]
        self._jpeg(self.out / rel, frame)
        return FrameRecord(frame.index, frame.split, frame.category, rel, None, None, rows)


def write_lists(out: Path, settings: SynthSettings, records: Sequence[FrameRecord]) -> None:
    """Write the list / label files and ``meta.json`` for frames already written."""
    out = Path(out)
    records = sorted(records, key=lambda r: r.index)
    if settings.format == "culane":
        _culane_lists(out, records)
    else:
        _tusimple_labels(out, settings, records)
    meta = {
        "generator": "lane_sad_core.data.synth",
        "version": GENERATOR_VERSION,
        "settings": {**to_plain(settings), "categories": dict(settings.categories)},
        "preset": to_plain(settings.preset()),
        "counts": {s: sum(r.split == s for r in records) for s in SPLITS},
        "category_counts": {c: sum(r.category == c for r in records) for c in CATEGORIES},
        "categories": {r.image: r.category for r in records},
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")


def _culane_lists(out: Path, records: Sequence[FrameRecord]) -> None:
    for split in SPLITS:
        chosen = [r for r in records if r.split == split]
        write_culane_list(out / "list" / f"{split}.txt", [CulaneListEntry(r.image) for r in chosen])
        if split != "test":
            write_culane_list(
                out / "list" / f"{split}_gt.txt",
                [CulaneListEntry(r.image, r.mask, r.exist) for r in chosen],
            )
    test = [r for r in records if r.split == "test"]
    for k, category in enumerate(CATEGORIES):
        write_culane_list(
            out / "list" / "test_split" / f"test{k}_{category}.txt",
            [CulaneListEntry(r.image) for r in test if r.category == category],
        )


def _tusimple_labels(out: Path, settings: SynthSettings, records: Sequence[FrameRecord]) -> None:
    h_samples = [int(y) for y in tusimple_h_samples(settings.preset().height)]
    names = {"train": "label_data_synth.json", "val": "val_label.json", "test": "test_label.json"}
    for split, name in names.items():
        write_tusimple(
            out / name,
            [TusimpleRecord(r.image, h_samples, r.tusimple_lanes or []) for r in records if r.split == split],
        )


_WORKER: FrameWriter | None = None


def _init_worker(out: Path, settings: SynthSettings) -> None:
    global _WORKER
    cv2.setNumThreads(1)
    _WORKER = FrameWriter(out, settings)


def _write_in_worker(index: int) -> FrameRecord:
    assert _WORKER is not None  # set by _init_worker in every pool process
    return _WORKER.write(index)


def generate(out: str | Path, settings: SynthSettings, workers: int = 1) -> Iterator[FrameRecord]:
    """Write every frame, yielding records in index order (drive a progress bar with it).

    Call :func:`write_lists` with the records afterwards. With ``workers`` > 1 frames are
    rendered in that many processes; the output is byte-identical either way.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if workers <= 1:
        writer = FrameWriter(out, settings)
        for index in range(settings.num):
            yield writer.write(index)
        return
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, _init_worker, (out, settings)) as pool:
        yield from pool.imap(_write_in_worker, range(settings.num), chunksize=4)


def write_dataset(
    out: str | Path,
    settings: SynthSettings,
    workers: int = 1,
    progress: Callable[[Iterator[FrameRecord], int], Iterable[FrameRecord]] | None = None,
) -> list[FrameRecord]:
    """A whole data set: every frame (:func:`generate`), then the lists and ``meta.json``.

    Args:
        out: the data set root.
        settings: what to generate.
        workers: rendering processes (the output is the same for any number).
        progress: wraps the records as they come, given their total (a progress bar).

    Returns:
        The written frames' records, in index order.
    """
    frames = generate(out, settings, workers)
    records = list(progress(frames, settings.num) if progress else frames)
    write_lists(Path(out), settings, records)
    return records
