"""``lane-sad score``: the official TuSimple or CULane numbers of a set of predictions.

Examples::

    lane-sad score --format tusimple --pred pred.json --gt test_label.json
    lane-sad score --format culane --pred out/ --gt CULane/ --list CULane/list/test.txt \\
        --categories CULane/list/test_split --json scores.json
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lane_sad_core.errors import LaneSadError

if TYPE_CHECKING:
    from lane_sad_core.metrics import CulaneCounts, CulaneReport, TusimpleScore


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``score`` sub-command."""
    parser = subparsers.add_parser(
        "score",
        help="score lane predictions with the official TuSimple or CULane metric",
        description="Score lane predictions exactly as the official TuSimple "
        "(evaluate/lane.py) or CULane (SCNN lane_evaluation, -w 30 -t 0.5) tools do.",
    )
    parser.add_argument("--format", required=True, choices=("tusimple", "culane"))
    parser.add_argument(
        "--pred",
        required=True,
        type=Path,
        help="TuSimple: prediction JSON-lines file; CULane: folder of "
        ".lines.txt mirroring the image tree (missing file = no lanes)",
    )
    parser.add_argument(
        "--gt",
        required=True,
        type=Path,
        help="TuSimple: label JSON-lines file; CULane: dataset root with .lines.txt beside the images",
    )
    parser.add_argument(
        "--list",
        type=Path,
        default=None,
        help="CULane: list of image paths (like list/test.txt); default: every .lines.txt under --gt",
    )
    parser.add_argument(
        "--categories", type=Path, default=None, help="CULane: folder of category lists (like list/test_split)"
    )
    parser.add_argument(
        "--iou", type=float, default=0.5, help="CULane: IoU a match must exceed (official: 0.5; 0.3 also quoted)"
    )
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="CULane: processes (default: all cores)"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    parser.set_defaults(func=run)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}"


def _tusimple_table(score: TusimpleScore) -> str:
    return "\n".join(
        [
            f"TuSimple: {len(score.frames)} images",
            f"  accuracy  {_percent(score.accuracy):>9} %",
            f"  FP        {score.fp:>9.4f}",
            f"  FN        {score.fn:>9.4f}",
        ]
    )


def _culane_row(name: str, c: CulaneCounts) -> str:
    tp, fn = ("-", "-") if c.fp_only else (str(c.tp), str(c.fn))
    return (
        f"{name:<10} {c.frames:>7} {tp:>7} {c.fp:>7} {fn:>7} "
        f"{_percent(c.precision):>9} {_percent(c.recall):>7} {_percent(c.f1):>7}"
    )


def _culane_table(report: CulaneReport, iou: float) -> str:
    header = f"{'category':<10} {'frames':>7} {'TP':>7} {'FP':>7} {'FN':>7} {'precision':>9} {'recall':>7} {'F1':>7}"
    rows = [_culane_row("total", report.total)]
    rows += [_culane_row(name, c) for name, c in report.categories.items()]
    title = f"CULane (IoU > {iou:g}, 30 px lanes on 1640x590); ratios in %"
    return "\n".join([title, header, *rows])


def _tqdm_progress(items: Iterable, total: int) -> Iterable:
    from tqdm import tqdm

    return tqdm(items, total=total, unit="frame", desc="scoring", disable=None)


def _score(args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    """The numbers for the JSON and the table to print."""
    from lane_sad_core import metrics

    if args.format == "tusimple":
        if args.list is not None or args.categories is not None:
            raise LaneSadError("--list and --categories apply to --format culane only")
        score = metrics.score_tusimple_files(args.pred, args.gt)
        return score.as_dict(), _tusimple_table(score)
    if not args.pred.is_dir():
        what = "a file, not a folder of .lines.txt" if args.pred.exists() else "prediction folder not found"
        raise LaneSadError(f"{args.pred}: {what}")
    if args.workers < 1:
        raise LaneSadError(f"--workers must be >= 1, got {args.workers}")
    if not 0.0 <= args.iou < 1.0:
        raise LaneSadError(f"--iou must be in [0, 1), got {args.iou}")
    report = metrics.score_culane(
        args.pred,
        args.gt,
        args.list,
        args.categories,
        settings=metrics.CulaneSettings(iou_threshold=args.iou),
        workers=args.workers,
        progress=_tqdm_progress,
    )
    return report.as_dict(), _culane_table(report, args.iou)


def run(args: argparse.Namespace) -> int:
    """Score, print the table, optionally write the JSON; returns the exit code."""
    if args.json is not None and args.json.is_dir():
        raise LaneSadError(f"--json {args.json} is a folder; give the file to write the numbers to")
    numbers, table = _score(args)
    print(table)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(numbers, indent=2) + "\n")
    return 0
