"""``lane-sad synth``: write a synthetic data set in the official CULane or TuSimple layout.

Example::

    lane-sad synth --format culane --num 20000 --out data/synth_culane --seed 1 --workers 2
    lane-sad synth --format tusimple --num 500 --out /tmp/ts --categories night:2 curve shadow
    lane-sad synth --format culane --num 2000 --out data/synth6 --slots 6
    lane-sad synth --format culane --num 4000 --out data/rigs --features rig
"""

from __future__ import annotations

import argparse
from pathlib import Path

_FORMATS = ("culane", "tusimple")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``synth`` sub-command."""
    parser = subparsers.add_parser(
        "synth",
        help="write a synthetic CULane/TuSimple-format data set",
        description="Render synthetic road scenes (the nine CULane categories) and write them "
        "with official labels, lists and masks. Frame i depends only on (seed, i).",
    )
    parser.add_argument("--format", choices=_FORMATS, required=True, help="output layout and look")
    parser.add_argument("--num", type=int, required=True, help="number of frames")
    parser.add_argument("--out", type=Path, required=True, help="output folder (dataset root)")
    parser.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    parser.add_argument(
        "--categories",
        nargs="+",
        metavar="NAME[:WEIGHT]",
        help="categories to draw from, with optional weights (default: all nine equally): "
        "normal crowd hlight shadow noline arrow curve cross night (aliases: crowded, dazzle)",
    )
    parser.add_argument("--workers", type=int, default=1, help="processes (output is identical)")
    parser.add_argument(
        "--split",
        default="0.8,0.1,0.1",
        metavar="TRAIN,VAL,TEST",
        help="split fractions (default 0.8,0.1,0.1)",
    )
    parser.add_argument(
        "--slots",
        type=int,
        help="lane slots to label around the ego lane (default 4, as CULane); roads get more lanes to fill them, "
        "and CULane lists carry this many existence flags (train with data.num_slots set to it)",
    )
    parser.add_argument("--size", metavar="WxH", help="image size (default: 1640x590 / 1280x720)")
    parser.add_argument("--focal", type=float, help="focal length in pixels")
    parser.add_argument("--camera-height", type=float, help="camera height above the road, metres")
    parser.add_argument(
        "--pitch",
        type=float,
        help="camera pitch in degrees, positive looks down (default: the dataset's horizon row)",
    )
    parser.add_argument(
        "--photo-textures",
        type=Path,
        metavar="DIR",
        help="folder of road photos (images, videos) to cut ground grain from; read, never copied "
        "(default: procedural grain only)",
    )
    parser.add_argument(
        "--features",
        nargs="+",
        metavar="NAME",
        help="camera and recorder features to switch on: rig (a different car's camera height and horizon "
        "per frame), hood, windscreen, lens, photo (needs --photo-textures); only rig helped on real "
        "frames (docs/model.md)",
    )
    parser.add_argument("--overwrite", action="store_true", help="allow a non-empty --out folder")
    parser.set_defaults(func=run)


def _overrides(args: argparse.Namespace) -> dict:
    from lane_sad_core.data.synth.presets import feature_overrides, slot_overrides
    from lane_sad_core.errors import ConfigError

    out: dict = {} if args.slots is None else slot_overrides(args.format, args.slots)
    out.update(feature_overrides(args.format, args.features or []))
    if "photo" in (args.features or []) and args.photo_textures is None:
        raise ConfigError("--features photo needs --photo-textures DIR (the road photos to cut grain from)")
    if args.size:
        try:
            width, height = (int(v) for v in args.size.lower().split("x"))
        except ValueError:
            raise ConfigError(f"--size must look like 1640x590, got '{args.size}'") from None
        out.update(width=width, height=height)
    if args.focal is not None:
        out["focal"] = args.focal
    if args.camera_height is not None:
        out["mount_height"] = args.camera_height
    if args.pitch is not None:
        out["pitch_deg"] = args.pitch
    if args.photo_textures is not None:
        if not args.photo_textures.is_dir():
            raise ConfigError(f"--photo-textures: {args.photo_textures} is not a folder")
        out["photo_textures"] = str(args.photo_textures.resolve())
    return out


def parse_splits(text: str) -> tuple[float, float, float]:
    """``--split`` text (``0.8,0.1,0.1``) as (train, val, test) fractions."""
    from lane_sad_core.errors import ConfigError

    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(f"--split must be three numbers like 0.8,0.1,0.1, got '{text}'") from None
    if len(values) != 3 or min(values) < 0 or sum(values) <= 0:
        raise ConfigError(f"--split must be three non-negative numbers with a positive sum, got '{text}'")
    return values[0], values[1], values[2]


def run(args: argparse.Namespace) -> int:
    """Generate the data set; prints where it went and what it holds."""
    from tqdm import tqdm

    from lane_sad_core.data.synth.writer import SynthSettings, parse_categories, write_dataset
    from lane_sad_core.errors import ConfigError

    if args.num < 1 or args.workers < 1:
        raise ConfigError("--num and --workers must be at least 1")
    if args.out.exists() and any(args.out.iterdir()) and not args.overwrite:
        raise ConfigError(f"{args.out} is not empty (use --overwrite to write into it)")
    settings = SynthSettings(
        format=args.format,
        num=args.num,
        seed=args.seed,
        categories=parse_categories(args.categories),
        splits=parse_splits(args.split),
        overrides=_overrides(args),
    )
    settings.preset()  # validate overrides before starting workers
    records = write_dataset(
        args.out,
        settings,
        args.workers,
        progress=lambda it, total: tqdm(it, total=total, unit="frame", desc=f"synth {args.format}"),
    )
    counts = {s: sum(r.split == s for r in records) for s in ("train", "val", "test")}
    print(
        f"wrote {len(records)} {args.format} frames to {args.out} "
        f"(train {counts['train']}, val {counts['val']}, test {counts['test']})"
    )
    return 0
