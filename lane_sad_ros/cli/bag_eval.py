"""``lane-sad bag-eval``: score a replay bag against ground truth, with latency and drops.

Examples::

    lane-sad bag-eval bags/run1                                  # ground truth copied into the replay
    lane-sad bag-eval recorded --gt bags/culane_test              # answers recorded by other means
    lane-sad bag-eval bags/run1 --gt data/culane --format culane --list list/test.txt

Frames are matched by header stamp. The metrics are ``lane-sad eval``'s per-frame official
rules; see :mod:`lane_sad_core.infer.bag_report` for which frames count.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``bag-eval`` sub-command."""
    p = subparsers.add_parser(
        "bag-eval",
        help="official metrics, latency and drops of a replay bag (Markdown/HTML report)",
        description="Score the node's /lanes in a bag against the ground truth (CULane F1 and TuSimple "
        "accuracy, per category), with send->receive, processing and inference latency and the "
        "frames sent, answered and missing; writes report.md, report.html, report.json and plots.",
    )
    p.add_argument("bag", type=Path, help="the replay bag (or any bag with the node's /lanes)")
    p.add_argument(
        "--gt",
        type=Path,
        help="ground truth: a bag with /lanes_gt, or a data set root with "
        "--format (matched through the bag's /lanes_gt/info image paths); default: BAG itself",
    )
    p.add_argument("--format", choices=["culane", "tusimple"], help="format of a data set --gt")
    labels = p.add_mutually_exclusive_group()
    labels.add_argument("--list", help="CULane list file of a data set --gt (default list/test.txt)")
    labels.add_argument("--labels", nargs="+", help="TuSimple label files of a data set --gt")
    p.add_argument("--lanes-topic", default="/lanes", help="the node's LaneArray topic (default /lanes)")
    p.add_argument("--report", type=Path, help="report folder (default: BAG_report beside BAG)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lane_sad_core.cli import warn
    from lane_sad_core.errors import ConfigError
    from lane_sad_core.infer.bag_report import build_report, write_report
    from lane_sad_ros.bag.reader import is_bag
    from lane_sad_ros.bag.replay_frames import (
        add_answers,
        frame_infos,
        ground_truth_from_bag,
        ground_truth_from_dataset,
    )
    from lane_sad_ros.cli.bag import dataset_from_args

    if not is_bag(args.bag):
        what = "is not a bag (a folder with metadata.yaml, an .mcap or a .db3 file)"
        raise ConfigError(f"BAG {args.bag}: {what if args.bag.exists() else 'not found'}")
    bag = args.bag.resolve()
    out = args.report or bag.with_name(f"{bag.stem if bag.is_file() else bag.name}_report")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--report {out} is a file; give a folder for the report")
    notes: list[str] = []
    gt = args.gt or args.bag
    if is_bag(gt):
        frames = ground_truth_from_bag(gt, notes)
    elif args.format is None:
        raise ConfigError(f"--gt {gt} is not a bag; give --format to read it as a data set")
    else:
        frames = ground_truth_from_dataset(
            dataset_from_args(gt, args.format, args.list, args.labels), frame_infos(args.bag, notes)
        )
    add_answers(args.bag, frames, args.lanes_topic, notes)
    for note in dict.fromkeys(notes):  # the bag itself as --gt: one note
        warn("bag-eval", note)
    report = build_report(sorted(frames.values(), key=lambda f: f.stamp_ns))
    paths = write_report(report, out, f"lane_sad replay: {bag.name}")
    print("\n".join(line for line in paths["markdown"].read_text().splitlines() if not line.startswith("![")).strip())
    print(f"report: {paths['markdown']} and {paths['html'].name}, {paths['json'].name}, plots in {out}")
    return 0
