"""``lane-sad replay``: play a camera bag into the lane_sad node and record its answers.

Examples::

    lane-sad replay bags/culane_test                       # the bag's timing, shipped model
    lane-sad replay bags/culane_test --max-rate --checkpoint runs/enet/best.pt --out bags/run1
    lane-sad bag-eval bags/run1 --report reports/run1

The node runs as its own process, started as the launch file starts it, with simulated
time from the bag's ``/clock``. See :mod:`lane_sad_ros.replay` for what the output bag holds.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``replay`` sub-command."""
    p = subparsers.add_parser(
        "replay",
        help="play a camera bag into the lane_sad node and record its answers",
        description="Start the lane_sad node (its own process, use_sim_time), publish /clock and the "
        "bag's camera topics over ROS 2, and write the node's /lanes and /diagnostics, per-frame "
        "send/receive times and the bag's other topics (ground truth) into an MCAP bag.",
    )
    p.add_argument("bag", type=Path, help="input bag folder, .mcap or .db3 file")
    timing = p.add_mutually_exclusive_group()
    timing.add_argument("--rate", type=float, default=1.0, help="speed factor of the bag's timing (default 1)")
    timing.add_argument(
        "--max-rate",
        action="store_true",
        help="send each frame once the node answered the previous one (or --timeout passed)",
    )
    p.add_argument("--out", type=Path, help="output bag folder to create (default: BAG_replay beside BAG)")
    p.add_argument("--params", type=Path, help="node parameters YAML (default: the installed config/lane_sad.yaml)")
    p.add_argument("--checkpoint", type=Path, help="model checkpoint (default: the parameters file's)")
    p.add_argument("--image-topic", help="camera topic to feed the node (default: the bag's only image topic)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for an answer (default 10)")
    p.set_defaults(func=run)


def default_out(bag: Path) -> Path:
    """``<bag>_replay`` beside the input bag (a file bag's name without suffix)."""
    bag = bag.resolve()
    return bag.with_name(f"{bag.stem if bag.is_file() else bag.name}_replay")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from lane_sad_core.cli import warn
    from lane_sad_ros.replay import ReplayConfig, replay

    cfg = ReplayConfig(
        bag=args.bag,
        out=args.out or default_out(args.bag),
        rate=args.rate,
        max_rate=args.max_rate,
        timeout_s=args.timeout,
        params_file=args.params,
        checkpoint=args.checkpoint,
        image_topic=args.image_topic,
    )
    result = replay(cfg, progress=lambda it, total: tqdm(it, total=total, desc="replay", unit="msg"))
    for text in result.warnings:
        warn("replay", text)
    print(
        f"replayed {result.sent} frames, {result.answered} answered, {result.copied} messages copied, "
        f"in {result.wall_s:.1f} s -> {result.out} (node log {result.node_log})"
    )
    return 0
