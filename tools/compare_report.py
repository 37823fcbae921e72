"""The report of `make compare`: scores, paired effects with intervals, gradients, costs, times.

Reads what ``tools/compare.py`` left under ``--out`` (each run's ``scores.json``, ``log.csv``
and ``timing.json``), measures the networks' costs side by side, and writes the Markdown
report and the plot.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import statistics
from pathlib import Path

import numpy as np
from compare import BY_KEY, CONFIGS, PARTS, ROWS, Row, run_name

from lane_sad_core.metrics.paired import PairedEffect, f1_points, paired_effect

HARD = ("crowd", "night", "noline", "shadow", "arrow", "hlight", "curve")
REAL = ("culane_0756", "culane_ego_eval", "tusimple_lstr")
REAL_LABELS = {
    "culane_0756": "real CULane clip 0756",
    "culane_ego_eval": "real drive, ego lane (eval stretch)",
    "tusimple_lstr": "real TuSimple",
}
COST_MODELS = (("ENet-SAD", "enet_sad", {}), ("ResNet-18", "resnet18", {}), ("SCNN (VGG16)", "scnn", {}))


def write_report(args) -> None:
    runs = load_runs(args.out / "runs")
    costs = measure_costs(args)
    lines = header(args, runs) + score_table(args, runs) + effect_table(args, runs)
    lines += teacher_section(runs) + gradient_section(args, runs) + cost_section(costs) + time_section(args, runs)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text("\n".join(lines) + "\n")
    plot(args, runs)


def load_runs(folder: Path) -> dict[str, dict]:
    """name -> {"scores", "timing", "log"} for every run with scores."""
    out = {}
    for run in sorted(p for p in folder.glob("*") if (p / "scores.json").is_file()):
        log = []
        if (run / "log.csv").is_file():
            with (run / "log.csv").open() as f:
                log = list(csv.DictReader(f))
        timing = json.loads((run / "timing.json").read_text()) if (run / "timing.json").is_file() else {}
        out[run.name] = {"scores": json.loads((run / "scores.json").read_text()), "timing": timing, "log": log}
    return out


def seeds_of(row: Row, args, runs: dict) -> list[int | None]:
    seeds = range(1, args.seeds + 1) if row.seeded else [None]
    return [s for s in seeds if run_name(row, s) in runs]


def frame_counts(scores: dict, sets: tuple[str, ...], category: str | None = None) -> np.ndarray | None:
    """(frames, 3) TP/FP/FN of the named sets, concatenated, optionally of one category."""
    rows = []
    for name in sets:
        if name not in scores:
            return None
        rows += [f[1:] for f in scores[name]["frames"] if category is None or f[0] == category]
    return np.asarray(rows, dtype=np.int64).reshape(-1, 3)


def row_f1s(row: Row, args, runs: dict, sets: tuple[str, ...], category: str | None = None) -> list[float]:
    values = []
    for seed in seeds_of(row, args, runs):
        counts = frame_counts(runs[run_name(row, seed)]["scores"], sets, category)
        if counts is not None and len(counts):
            values.append(float(f1_points(counts)))
    return values


def mean_std(values: list[float], digits: int = 1) -> str:
    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.fmean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def effect_of(row: Row, args, runs: dict, sets: tuple[str, ...], category: str | None = None) -> PairedEffect | None:
    """The row's paired F1 difference from its baseline over the seeds both have."""
    assert row.baseline is not None
    base = BY_KEY[row.baseline]
    seeds = [s for s in seeds_of(row, args, runs) if run_name(base, s) in runs]
    if not seeds:
        return None
    arrays = []
    for r in (base, row):
        per_seed = [frame_counts(runs[run_name(r, s)]["scores"], sets, category) for s in seeds]
        if any(c is None or not len(c) for c in per_seed):
            return None
        arrays.append(np.stack(per_seed))
    return paired_effect(arrays[0], arrays[1])


def header(args, runs: dict) -> list[str]:
    from lane_sad_core.train.config import load_config

    base = load_config(CONFIGS / "base.yaml", args.overrides)
    warm = load_config(CONFIGS / "enet_warmup.yaml", args.overrides)
    pre = base.data.preprocess
    test_frames = len(runs.get("enet_warmup", {}).get("scores", {}).get("synthetic", {}).get("frames", []))
    return [
        "# The distillation family, paired (`make compare`)\n",
        f"Written by `tools/compare.py` on {platform.machine()} with {os.cpu_count()} cores. "
        f"Phase 1 (shared by every ENet row): ENet from scratch for {warm.optim.iterations} iterations "
        f"(AdamW lr {warm.optim.lr}). Phase 2 (every row, per seed, from phase 1's weights): "
        f"{base.optim.iterations} iterations, AdamW lr {base.optim.lr}, batch {base.optim.batch_size}, "
        f"{pre.width}x{pre.height} input (top {pre.crop_top:.0%} cropped); each method ramps in over its first "
        f"100 iterations. Seeds 1..{args.seeds}: a seed fixes batches and augmentations, so a row and its "
        "baseline see the same data. Overrides: " + (", ".join(args.overrides) or "none") + ".\n",
        f"Training data: {args.frames} synthetic CULane-look frames generated at seed 7 (58 % train, 2 % val, "
        "40 % test), plus the real CULane clip 06030819_0755 (x10). The real-teacher rows add the training "
        "stretch of the real drive of group 8 (80 frames x 4; ego lines labelled, outer slots unknown). "
        f"Test: the synthetic test split ({test_frames} frames; at about 3 lanes a frame the standard error "
        "of an F1 near 0.8 is about half a point before pairing) and the real evaluation splits of "
        "`tools/realsets.py`, never trained on. F1 in points (0-100) by CULane's rule (30 px lanes, "
        f"IoU > 0.5); every row decoded alike: point threshold {args.prob_threshold}, the robust lane fit, lanes "
        "extended to the bottom row on the CULane-format sets (`lane-sad eval`'s decoding, docs/postprocess.md); "
        "the ego-lane split scores slots 2 and 3 only.\n",
    ]


def score_table(args, runs: dict) -> list[str]:
    lines = [
        "## Scores (mean ± std over seeds)\n",
        "| model | seeds | synthetic F1 | hard categories F1 | " + " | ".join(REAL_LABELS[s] for s in REAL) + " |",
        "|---|---:|---:|---:|" + "---:|" * len(REAL),
    ]
    for row in ROWS:
        if row.key == "lgad_teacher" or not seeds_of(row, args, runs):
            continue
        hard = [
            float(f1_points(np.concatenate([frame_counts(runs[run_name(row, s)]["scores"], ("synthetic",), c)
                                            for c in HARD])))
            for s in seeds_of(row, args, runs)
        ]  # fmt: skip
        cells = [mean_std(row_f1s(row, args, runs, ("synthetic",))), mean_std(hard)]
        cells += [mean_std(row_f1s(row, args, runs, (s,))) for s in REAL]
        lines.append(f"| {row.label} | {len(seeds_of(row, args, runs))} | " + " | ".join(cells) + " |")
    return lines


def effect_table(args, runs: dict) -> list[str]:
    columns = [("synthetic", ("synthetic",), None)] + [(c, ("synthetic",), c) for c in HARD]
    columns += [(REAL_LABELS[s], (s,), None) for s in REAL] + [("all real frames", REAL, None)]
    lines = [
        "\n## Paired effect of each method (F1 points, method minus baseline, 95 % interval)\n",
        "Mean over seeds of the per-seed difference; the interval resamples seeds and frames together "
        "(two-level bootstrap, 2,000 draws; `lane_sad_core.metrics.paired`). **Bold**: the interval "
        "excludes 0.\n",
        "| method | baseline | " + " | ".join(c[0] for c in columns) + " |",
        "|---|---|" + "---:|" * len(columns),
    ]
    for row in ROWS:
        if row.baseline is None:
            continue
        cells = []
        for _, sets, category in columns:
            e = effect_of(row, args, runs, sets, category)
            cells.append("—" if e is None else (f"**{e}**" if e.significant else str(e)))
        lines.append(f"| {row.label} | {BY_KEY[row.baseline].label} | " + " | ".join(cells) + " |")
    return lines


def teacher_section(runs: dict) -> list[str]:
    lines = ["\n## The shared start and the teachers\n"]
    if "enet_warmup" in runs:
        lines.append(f"- Phase 1 (ENet): {run_f1s(runs['enet_warmup']['scores'])}.")
    if "lgad_teacher" in runs:
        r = runs["lgad_teacher"]["scores"]["reconstruction"]
        lines.append(
            f"- LGAD's label auto-encoder reproduces the test labels with lane-pixel precision "
            f"{r['precision']:.3f}, recall {r['recall']:.3f}, F1 {r['f1']:.3f}."
        )
    if "resnet18_teacher" in runs:
        lines.append(f"- IntRA-KD's teacher (ResNet-18): {run_f1s(runs['resnet18_teacher']['scores'])}.")
    return lines


def run_f1s(scores: dict) -> str:
    """One run's F1 on every set, from its frames' counts as the tables count them."""
    sets = [("synthetic", "synthetic F1")] + [(k, REAL_LABELS[k]) for k in REAL]
    return ", ".join(
        f"{label} {f1_points(counts):.1f}"
        for name, label in sets
        if (counts := frame_counts(scores, (name,))) is not None and len(counts)
    )


def gradient_section(args, runs: dict) -> list[str]:
    """Each term's gradient on the shared encoder over the task's, from the runs' logs."""
    lines = [
        "\n## What each term does to the gradient (from the runs' logs)\n",
        "Median over logged iterations and seeds of each term's gradient norm on the shared encoder over "
        "the task loss's (segmentation + existence), and its largest value; the trainer warns above 10.\n",
        "| method | term | median ratio | largest ratio |",
        "|---|---|---:|---:|",
    ]
    for row in ROWS:
        if row.baseline is None:
            continue
        ratios: dict[str, list[float]] = {}
        for seed in seeds_of(row, args, runs):
            for rec in runs[run_name(row, seed)]["log"]:
                task = float(rec.get("grad_task") or 0)
                for key, value in rec.items():
                    if key.startswith("grad_") and key != "grad_task" and value and task > 0:
                        ratios.setdefault(key[5:], []).append(float(value) / task)
        for term, values in sorted(ratios.items()):
            lines.append(f"| {row.label} | {term} | {statistics.median(values):.3f} | {max(values):.3f} |")
    affinity = [float(r["bake_affinity_max"]) for n, run in runs.items() if n.startswith("enet_bake")
                for r in run["log"] if r.get("bake_affinity_max")]  # fmt: skip
    if affinity:
        lines.append(
            f"\nBAKE's affinity: the mean row maximum is {statistics.median(affinity):.3f} (median over logged "
            f"iterations; uniform rows would give {1 / 7:.3f} for a batch of 8)."
        )
    return lines


def measure_costs(args) -> dict[str, dict]:
    """Parameters, GFLOPs and CPU ms per network, measured side by side now."""
    from lane_sad_core.models.cost import forward_ms, gflops

    height, width = (int(v) for v in args.cost_size.split("x"))
    costs = {}
    for label, name, config in COST_MODELS:
        params, flops = gflops(name, height, width, **config)
        costs[label] = {"params": params, "gflops": flops, "ms": forward_ms(name, height, width, **config)}
    costs["size"] = {"hw": args.cost_size}
    return costs


def cost_section(costs: dict) -> list[str]:
    lines = [
        f"\n## Cost at {costs['size']['hw']}, batch 1, this CPU (measured side by side)\n",
        "Every distilled ENet row deploys the same network as ENet-SAD: distillation costs nothing at inference.\n",
        "| network | parameters | GFLOPs | CPU ms/frame |",
        "|---|---:|---:|---:|",
    ]
    for label, c in costs.items():
        if label != "size":
            lines.append(f"| {label} | {c['params']:,} | {c['gflops']:.1f} | {c['ms']:.0f} |")
    s, e = costs["SCNN (VGG16)"], costs["ENet-SAD"]
    lines.append(
        f"\nSCNN against ENet-SAD: **{s['params'] / e['params']:.1f}x the parameters, {s['ms'] / e['ms']:.1f}x "
        f"the CPU time, {s['gflops'] / e['gflops']:.1f}x the GFLOPs** (the SAD paper: 20x, 10x slower)."
    )
    return lines


def time_section(args, runs: dict) -> list[str]:
    per_part = dict.fromkeys(PARTS[:-1], 0.0)
    for name, run in runs.items():
        key = name.rsplit("_s", 1)[0] if name.rsplit("_s", 1)[-1].isdigit() else name
        if key in BY_KEY:
            per_part[BY_KEY[key].part] += sum(run["timing"].values())
    total = sum(per_part.values())
    cells = ", ".join(f"{part} {seconds / 60:.0f} min" for part, seconds in per_part.items())
    return [
        "\n## Wall time\n",
        f"Training and scoring, summed over runs (with `--jobs {args.jobs}`, parts overlap): {cells}; "
        f"**{total / 60:.0f} min** of run time in all.",
    ]


def plot(args, runs: dict) -> None:
    """Each method's paired effect with its interval, on synthetic and on real frames."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in ROWS if r.baseline is not None]
    fig, axes = plt.subplots(1, 2, figsize=(12, 0.6 * len(rows) + 1.8), sharey=True)
    for ax, (title, sets) in zip(axes, (("synthetic test split", ("synthetic",)), ("all real frames", REAL))):
        for i, row in enumerate(rows):
            e = effect_of(row, args, runs, sets)
            if e is None:
                continue
            color = "tab:green" if e.low > 0 else ("tab:red" if e.high < 0 else "tab:gray")
            ax.errorbar(e.mean, i, xerr=[[e.mean - e.low], [e.high - e.mean]], fmt="o", color=color, capsize=4)
        ax.axvline(0, color="k", lw=0.8)
        ax.set_title(f"{title}: F1 points vs baseline, 95 % interval")
        ax.set_yticks(range(len(rows)), [r.label for r in rows])
        ax.invert_yaxis()
    fig.tight_layout()
    args.plot.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.plot, dpi=110)
    plt.close(fig)
