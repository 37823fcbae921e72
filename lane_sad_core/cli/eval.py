"""``lane-sad eval``: run a checkpoint over a CULane or TuSimple tree and score it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lane_sad_core.cli.decoding import add_decoding_args, postprocess_from_args


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "eval",
        help="score a checkpoint on a CULane/TuSimple tree (F1 per category, accuracy/FP/FN)",
        description="Detect lanes in every listed frame and score them with the official rules: "
        "CULane F1 (IoU > 0.5 of 30 px lanes) and TuSimple accuracy/FP/FN, total and per category.",
    )
    p.add_argument("--checkpoint", type=Path, help="model checkpoint (default: the shipped model)")
    p.add_argument("--data", required=True, type=Path, help="dataset root")
    p.add_argument("--format", required=True, choices=["culane", "tusimple"])
    p.add_argument("--list", default="list/test.txt", help="CULane list file (relative to --data)")
    p.add_argument("--labels", nargs="+", default=["test_label.json"], help="TuSimple label files (relative to --data)")
    p.add_argument("--max-frames", type=int, help="score only the first N frames")
    p.add_argument(
        "--slots",
        type=_slot_list,
        help="score only detections of these slots, 1-based and comma-separated (e.g. 2,3 for the ego lane "
        "of a 4-slot model, 3,4 of a 6-slot one, when the labels mark only the ego lane's two lines)",
    )
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--device", default="auto")
    p.add_argument("--json", type=Path, help="also write the numbers as JSON")
    p.add_argument(
        "--pred-out",
        type=Path,
        help="write predictions in the official format (CULane .lines.txt tree / TuSimple json)",
    )
    add_decoding_args(p, "on with --format culane, whose labels run through the car's hood to the bottom row")
    p.set_defaults(func=run)


def _slot_list(text: str) -> frozenset[int]:
    """``"2,3"`` -> the 0-based slots {1, 2}."""
    try:
        slots = frozenset(int(s) - 1 for s in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated slot numbers, got {text!r}") from None
    if min(slots) < 0:
        raise argparse.ArgumentTypeError(f"slots are numbered from 1, got {text!r}")
    return slots


def build_eval_dataset(args: argparse.Namespace):
    """The dataset to score, with the checkpoint's preprocessing irrelevant (source images).

    A CULane list's slots are its own (as many as its existence flags): scoring matches lanes
    whatever their slots, so a 4-slot model can be scored on 6-slot labels and the reverse.
    """
    from lane_sad_core.data.datasets import CULaneDataset, TusimpleDataset

    if args.format == "culane":
        return CULaneDataset(args.data, args.list, num_slots=None)
    return TusimpleDataset(args.data, args.labels)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from lane_sad_core.data.formats import TusimpleRecord, lanes_to_tusimple_row, write_culane_lines
    from lane_sad_core.errors import ConfigError
    from lane_sad_core.infer.detector import LaneDetector
    from lane_sad_core.infer.evaluate import EXTEND_TO_BOTTOM, evaluate_dataset, markdown_table

    detector = LaneDetector(args.checkpoint, args.device, postprocess_from_args(args, EXTEND_TO_BOTTOM[args.format]))
    if args.slots and max(args.slots) >= detector.num_slots:
        raise ConfigError(f"--slots {max(args.slots) + 1} is beyond the model's {detector.num_slots} slots")
    dataset = build_eval_dataset(args)
    n = len(dataset) if args.max_frames is None else min(args.max_frames, len(dataset))
    records: list = []

    def save(i: int, lanes) -> None:
        rel = dataset.image_path(i).relative_to(dataset.root)
        if args.format == "culane":
            write_culane_lines(args.pred_out / rel.with_suffix(".lines.txt"), lanes)
        else:
            rows = dataset.h_samples(i)
            records.append(TusimpleRecord(str(rel), list(rows), lanes_to_tusimple_row(lanes, rows), run_time=0.0))

    report = evaluate_dataset(
        detector,
        dataset,
        range(n),
        args.batch_size,
        progress=lambda it, total: tqdm(it, total=total, desc="eval", unit="batch"),
        on_frame=save if args.pred_out else None,
        slots=args.slots,
    ).as_dict()
    if args.pred_out and records:
        from lane_sad_core.data.formats import write_tusimple

        write_tusimple(args.pred_out / "predictions.json", records)
    print(markdown_table(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0
