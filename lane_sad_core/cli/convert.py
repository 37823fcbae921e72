"""``lane-sad convert``: labels from another tool or data set to the CULane layout.

Example::

    lane-sad convert --from cvat export/annotations.xml --out data/mine
    lane-sad convert --from tusimple tusimple/label_data_0313.json --out data/ts --split 1,0,0
    lane-sad data check data/mine --sheet data/mine/sheet.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

_FORMATS_HELP = (
    "cvat (CVAT for images 1.1 XML, polylines), labelme (JSON line strips), tusimple (JSON lines), "
    "bdd100k (lane poly2d), openlane (2D lane JSON), lines (per-image 'x y x y' text, CULane/LSTR), "
    "masks (image + mask pairs, --labels), lanenet (image/ gt_instance_image/ gt_binary_image/), "
    "tvtlane (index files + truth masks)"
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``convert`` sub-command."""
    from lane_sad_core.data.convert import FORMATS

    parser = subparsers.add_parser(
        "convert",
        help="convert lane labels (CVAT, LabelMe, TuSimple, BDD100K, OpenLane, masks, ...) to the CULane layout",
        description="Convert labelled frames to a CULane tree (images, .lines.txt, laneseg_label_w16 masks, "
        "list/*_gt.txt with existence flags) that lane-sad train reads. Lanes without a slot from the source "
        "get one from where they meet the bottom of the frame; every lane or frame left out is reported, "
        "on the terminal and in convert_report.json. Formats: " + _FORMATS_HELP,
    )
    parser.add_argument("--from", dest="source_format", choices=FORMATS, required=True, help="source format")
    parser.add_argument("input", type=Path, metavar="INPUT", help="label file or folder (see the format)")
    parser.add_argument("--out", type=Path, required=True, help="output folder (dataset root)")
    parser.add_argument("--images", type=Path, help="folder the labels' image paths are relative to")
    parser.add_argument("--labels", type=Path, help="folder of the per-image label files or masks (lines, masks)")
    parser.add_argument("--lane-labels", nargs="+", default=(), metavar="NAME", help="only these labels are lanes")
    parser.add_argument("--keep-curbs", action="store_true", help="keep curbs (BDD100K, OpenLane) as lanes")
    parser.add_argument("--mask-kind", choices=("auto", "instance", "binary"), default="auto", help="masks: kind")
    parser.add_argument("--num-slots", type=int, default=4, help="lane slots (default 4, as CULane)")
    parser.add_argument("--row-step", type=int, default=10, help="label row spacing in px (default 10, as CULane)")
    parser.add_argument("--min-rows", type=int, default=3, help="rows a lane needs inside the frame (default 3)")
    parser.add_argument("--split", default="0.8,0.1,0.1", metavar="TRAIN,VAL,TEST", help="split fractions")
    parser.add_argument("--mask-width", type=int, default=0, help="mask line width in px (default: 16 at 1640 px)")
    parser.add_argument(
        "--unknown-slots",
        nargs="+",
        type=int,
        default=(),
        metavar="K",
        help="slots (1 = leftmost) the labels never state, e.g. 1 4 for ego-lane-only labels: flag '?' when empty",
    )
    parser.add_argument("--jpeg", action="store_true", help="re-encode every image to JPEG instead of copying")
    parser.add_argument("--overwrite", action="store_true", help="allow a non-empty --out folder")
    parser.add_argument("--print-max", type=int, default=100, help="issue lines printed (all go to the report)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Convert; prints the issues and a summary. Exit 0 (issues are reported, not errors)."""
    from lane_sad_core.cli.synth import parse_splits
    from lane_sad_core.data.convert import LaneRules, ReaderOptions, convert
    from lane_sad_core.data.convert.report import print_limited, write_report
    from lane_sad_core.data.convert.writer import WriteSettings
    from lane_sad_core.errors import ConfigError

    if args.out.exists() and any(args.out.iterdir()) and not args.overwrite:
        raise ConfigError(f"{args.out} is not empty (use --overwrite to write into it)")
    if args.num_slots < 1 or args.row_step < 1 or args.min_rows < 2:
        raise ConfigError("--num-slots and --row-step must be at least 1, --min-rows at least 2")
    if any(not 1 <= k <= args.num_slots for k in args.unknown_slots):
        raise ConfigError(f"--unknown-slots must be slots 1..{args.num_slots}, got {args.unknown_slots}")
    options = ReaderOptions(
        args.images, args.labels, tuple(args.lane_labels), args.keep_curbs, args.mask_kind, args.num_slots
    )
    rules = LaneRules(num_slots=args.num_slots, row_step=args.row_step, min_rows=args.min_rows)
    unknown = tuple(k - 1 for k in args.unknown_slots)
    settings = WriteSettings(rules, parse_splits(args.split), args.mask_width, args.jpeg, unknown)
    args.out.mkdir(parents=True, exist_ok=True)
    report = convert(args.source_format, args.input, args.out, options, settings, progress=True)
    path = write_report(args.out, report)
    for line in print_limited(report.lines(), args.print_max):
        print(line)
    print(f"{args.out}: {report.summary()}; report: {path}")
    if not report.written():
        raise ConfigError(f"no frame of {args.input} could be converted (see {path})")
    return 0
