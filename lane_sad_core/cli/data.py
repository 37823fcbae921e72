"""``lane-sad data``: look at a data set before training on it.

Example::

    lane-sad data check data/mine --sheet data/mine/sheet.png
    lane-sad data check /data/CULane --list list/train_gt.txt

``data check`` exits 0 when no defect was found, 1 when some were (each printed), and 2
when the input cannot be read at all (one line saying why).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``data`` sub-command and its ``check`` action."""
    parser = subparsers.add_parser(
        "data",
        help="check a CULane-layout data set: counts, label defects, a contact sheet",
        description="Inspect a data set in the CULane layout (converted, synthetic or official).",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = actions.add_parser(
        "check",
        help="counts per slot and category, label defects, a contact sheet PNG",
        description="Read every frame as training would and report lanes per slot, frames per category and "
        "label defects (lanes crossing, points outside the image, unordered rows, empty frames, masks and "
        "lines that disagree, ...). Exit 0: clean; 1: defects (printed); 2: unusable input.",
    )
    check.add_argument("root", type=Path, metavar="DIR", help="dataset root")
    check.add_argument(
        "--list",
        type=Path,
        help="list file (relative to DIR); default list/all_gt.txt, else list/*_gt.txt, "
        "else list/*.txt, else every *.lines.txt",
    )
    check.add_argument("--sheet", type=Path, help="write a contact sheet (PNG) of labelled frames here")
    check.add_argument("--sheet-frames", type=int, default=24, help="frames on the sheet (default 24)")
    check.add_argument("--sheet-columns", type=int, default=4, help="tiles per row (default 4)")
    check.add_argument("--num-slots", type=int, default=4, help="slots when the list has no flags (default 4)")
    check.add_argument(
        "--margin", type=float, default=0.05, help="points may lie this fraction of the width outside (0.05)"
    )
    check.add_argument("--print-max", type=int, default=100, help="defect lines printed (default 100)")
    check.set_defaults(func=run_check)


def run_check(args: argparse.Namespace) -> int:
    """Check, print the defects and counts, write the sheet; 1 when defects were found."""
    from lane_sad_core.data.check import check_dataset
    from lane_sad_core.infer.sheet import contact_sheet, pick_frames, write_sheet

    report = check_dataset(args.root, args.list, args.num_slots, args.margin)
    defects = report.defects()
    for defect in defects[: args.print_max]:
        print(defect)
    if len(defects) > args.print_max:
        print(f"... and {len(defects) - args.print_max} more defects")
    for line in report.summary_lines():
        print(line)
    if args.sheet:
        title = f"{args.root.name}: {len(report.frames)} frames, defects: {len(defects)}"
        sheet = contact_sheet(
            pick_frames(report.frames, args.sheet_frames), title, report.num_slots, args.sheet_columns
        )
        write_sheet(args.sheet, sheet)
        print(f"contact sheet: {args.sheet}")
    return 1 if defects else 0
