"""Score a checkpoint on the default model's held-out sets and write the Markdown report.

usage: default_report.py CHECKPOINT MIX_ROOT OUT_MD [--real REAL_ROOT]
Sets: the synthetic CULane-look and TuSimple-look test splits (per category), the real
CULane clip never trained on, the real TuSimple frames (never trained on), the real ones
also with the paper's per-row decoding, and the evaluation stretch of the real CULane drive
(``culane_ego_eval`` of ``tools/realsets.py``: ego lanes only, slots 1 and 2). Numbers
come from ``lane-sad eval``'s scorer and decoding (the robust fit; lanes extended to the
bottom row on CULane-format sets, whose labels run through the car's hood).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REAL_CULANE = ["--format", "culane", "--list", "list/real_test.txt"]
REAL_TUSIMPLE = ["--format", "tusimple", "--labels", "test_label.json"]
SETS = [
    ("synthetic CULane-look test (per category)", ["--format", "culane", "--list", "list/test.txt"], ""),
    (
        "synthetic TuSimple-look test (per category)",
        ["--format", "tusimple", "--labels", "test_label.json"],
        "synth_tusimple",
    ),
    ("real CULane, held-out clip 06030822_0756", REAL_CULANE, ""),
    ("real TuSimple (LSTR sample, 1280x720)", REAL_TUSIMPLE, "real_tusimple"),
    # the same real frames with the SAD paper's per-row decoding, for comparison with published figures
    ("real CULane, clip 06030822_0756, official per-row decoding", [*REAL_CULANE, "--fit", "official"], ""),
    ("real TuSimple, official per-row decoding", [*REAL_TUSIMPLE, "--fit", "official"], "real_tusimple"),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("mix", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--real", type=Path, default=Path("../shared/data/real"), help="the shared real frames")
    args = parser.parse_args()
    from lane_sad_core.infer.evaluate import markdown_table

    parts = [
        "# The shipped default model: enet_sad_default.pt\n",
        "Written by `tools/default_report.py` (part of `make train-default`). F1 by CULane's rule "
        "(30 px lanes, IoU > 0.5) on the source image; TuSimple-style accuracy/FP/FN at the labels' rows. "
        "Lanes decoded as `lane-sad eval` does by default: the robust fit, extended to the bottom row on the "
        "CULane-format sets (docs/postprocess.md).\n",
    ]
    for title, extra, sub in SETS:
        tmp = args.out.with_suffix(".tmp.json")
        cmd = [
            sys.executable,
            "-m",
            "lane_sad_core",
            "eval",
            "--checkpoint",
            str(args.checkpoint),
            "--data",
            str(args.mix / sub),
            *extra,
            "--json",
            str(tmp),
            "--device",
            "cpu",
        ]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        parts.append(f"## {title}\n\n{markdown_table(json.loads(tmp.read_text()))}\n")
        tmp.unlink()
    with tempfile.TemporaryDirectory() as work:
        parts.append(ego_section(args.checkpoint, args.real.resolve(), Path(work)))
    args.out.write_text("\n".join(parts))
    print(args.out.read_text())
    return 0


def ego_section(checkpoint: Path, real: Path, work: Path) -> str:
    """The real drive's evaluation stretch, scored on the two labelled ego lines."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import realsets  # a sibling tool module

    from lane_sad_core.infer.detector import LaneDetector
    from lane_sad_core.infer.evaluate import markdown_table

    split = realsets.SPLITS["culane_ego_eval"]
    if not (real / split.folder).is_dir():
        return f"## {TITLE_EGO}\n\nnot scored: {real / split.folder} is absent\n"
    report = realsets.score(LaneDetector(checkpoint, "cpu"), real, work, [split.name])[split.name]
    return f"## {TITLE_EGO}\n\n{markdown_table(report.as_dict())}\n"


TITLE_EGO = "real CULane drive (group 8), evaluation stretch: ego lanes (slots 1, 2)"


if __name__ == "__main__":
    raise SystemExit(main())
