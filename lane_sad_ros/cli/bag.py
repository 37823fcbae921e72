"""``lane-sad bag``: camera bags from CULane/TuSimple trees, and what a bag holds.

Examples::

    lane-sad bag from-dataset --format culane data/culane --list list/test.txt --out bags/culane_test
    lane-sad bag from-dataset --format tusimple data/tusimple --labels test_label.json --out bags/ts \\
        --storage sqlite3 --rate 20 --max-frames 500
    lane-sad bag info bags/culane_test

Bags are rosbag2 (metadata.yaml + MCAP or sqlite3, CDR) as ``ros2 bag`` writes them; the
topics are described in :mod:`lane_sad_ros.bag.topics`. Needs ``rosbags`` (``pip install
lane_sad[ros]``), not a ROS installation.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``bag from-dataset`` and ``bag info``."""
    parser = subparsers.add_parser(
        "bag",
        help="write camera bags from data sets; show what a bag holds",
        description="rosbag2 bags without `ros2 bag`.",
    )
    sub = parser.add_subparsers(dest="bag_command", metavar="BAG_COMMAND", required=True)
    make = sub.add_parser(
        "from-dataset",
        help="a camera bag with ground truth from a CULane/TuSimple tree",
        description="Write /camera/image_raw (bgr8), the ground truth /lanes_gt (lane_sad/LaneArray, "
        "model_name gt:<category>) and /lanes_gt/info (image path, TuSimple rows), frames in path "
        "order at a fixed camera rate from t = 1 s.",
    )
    make.add_argument("data", type=Path, help="data set root")
    make.add_argument("--format", required=True, choices=["culane", "tusimple"])
    make.add_argument("--out", required=True, type=Path, help="bag folder to create")
    make.add_argument("--storage", default="mcap", choices=["mcap", "sqlite3"])
    make.add_argument("--rate", type=float, default=10.0, help="camera rate in Hz (default 10)")
    labels = make.add_mutually_exclusive_group()
    labels.add_argument("--list", help="CULane list file, relative to DATA (default list/test.txt)")
    labels.add_argument("--labels", nargs="+", help="TuSimple label files, relative to DATA (default test_label.json)")
    make.add_argument("--max-frames", type=int, help="only the first N frames in path order")
    make.set_defaults(func=run_from_dataset)
    info = sub.add_parser(
        "info",
        help="storage, duration and topics of a bag (like `ros2 bag info`); every record is read, exit 1 if damaged",
    )
    info.add_argument("bag", type=Path, help="bag folder, .mcap or .db3 file")
    info.set_defaults(func=run_info)


def dataset_from_args(data: Path, fmt: str, list_file: str | None, label_files: list[str] | None):
    """The CULane/TuSimple data set the options name (as ``lane-sad eval`` builds it)."""
    from lane_sad_core.cli.eval import build_eval_dataset
    from lane_sad_core.errors import ConfigError

    if fmt == "culane" and label_files:
        raise ConfigError("--labels is for TuSimple; CULane frames come from --list")
    if fmt == "tusimple" and list_file:
        raise ConfigError("--list is for CULane; TuSimple frames come from --labels")
    return build_eval_dataset(
        argparse.Namespace(
            data=data, format=fmt, list=list_file or "list/test.txt", labels=label_files or ["test_label.json"]
        )
    )


def run_from_dataset(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from lane_sad_core.errors import ConfigError
    from lane_sad_ros.bag import BagWriter
    from lane_sad_ros.bag.dataset_bag import write_dataset_bag

    if args.max_frames is not None and args.max_frames < 1:
        raise ConfigError(f"--max-frames must be >= 1, got {args.max_frames}")
    dataset = dataset_from_args(args.data, args.format, args.list, args.labels)
    if len(dataset) == 0:
        labels = ", ".join(args.labels or ["test_label.json"])
        source = (args.list or "list/test.txt") if args.format == "culane" else labels
        raise ConfigError(f"{args.data}: {source} names no frames; no bag written")
    with BagWriter(args.out, args.storage) as out:
        n = write_dataset_bag(
            dataset,
            out,
            args.rate,
            args.max_frames,
            progress=lambda it, total: tqdm(it, total=total, desc="bag", unit="frame"),
        )
    print(f"wrote {n} frames at {args.rate:g} Hz to {args.out} ({args.storage})")
    return 0


def run_info(args: argparse.Namespace) -> int:
    from lane_sad_ros.bag import BagError, BagReader

    with BagReader(args.bag) as bag:
        print(f"bag:      {args.bag} ({bag.storage})")
        if bag.start_ns is not None and bag.end_ns is not None:
            print(
                f"duration: {(bag.end_ns - bag.start_ns) / 1e9:.3f} s, "
                f"from {bag.start_ns / 1e9:.3f} s to {bag.end_ns / 1e9:.3f} s"
            )
        print(f"messages: {bag.message_count}")
        for t in sorted(bag.topics.values(), key=lambda t: t.name):
            print(f"  {t.name}  {t.msgtype}  {t.count} msgs  {t.type_hash or 'no type hash'}")
        damage = bag.damage
        read = 0
        try:  # every record, so a damaged chunk (CRC, framing) shows here, not halfway through a replay
            for _ in bag.messages(partial=True):
                read += 1
        except BagError as exc:
            damage = str(exc)
        print(f"read:     {read} of {bag.message_count} messages")
        if damage:
            print(f"damaged:  {damage}")
    return 1 if damage else 0
