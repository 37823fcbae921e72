"""make compare: every distillation method on one synthetic benchmark and schedule, one table.

usage: tools/compare.py [--out runs/compare] [--seeds 3] [--frames 2000] [--only CONFIG ...]
                        [--set KEY=VALUE ...] [--cost-size HxW] [--report FILE] [--plot FILE]

Steps, each skipped when its result is already there, so an interrupted run continues where
it stopped and a finished one only writes the report again:

1. data: ``lane-sad synth`` (the nine CULane categories, hard ones included) plus the real
   CULane training clip (``tools/prepare_default_data.py``; synthetic only without ../shared);
2. training with ``lane-sad train`` and the configs in ``config/train/compare/``, the ENet
   rows once per seed: phase 1 (600 iterations, no distillation) once per network and
   seed, then every method for 300 iterations from there (as SAD's paper switches SAD on
   after 2/3 of training); the teachers before their students;
3. scores: the synthetic test split per category, the held-out real CULane clip, the real
   TuSimple frames (``lane-sad eval``'s scorer);
4. cost per architecture at 288x800, measured side by side: parameters, GFLOPs, CPU ms;
5. ``bench/results/compare.md``, ``docs/compare.png`` and ``<out>/results.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "config" / "train" / "compare"
REAL = Path(os.environ.get("LANE_SAD_REAL_DATA", REPO.parent / "shared" / "data" / "real"))
CATEGORIES = ("normal", "crowd", "hlight", "shadow", "noline", "arrow", "curve", "night")


@dataclass(frozen=True)
class Row:
    """One line of the table: a config of ``config/train/compare/``."""

    label: str
    config: str
    seeded: bool  # trained once per seed (the ENet rows), else once with the base seed
    scored: bool = True  # LGAD's teacher reads labels: it has no lane scores
    init: str | None = None  # the phase-1 row whose model (same seed) this row starts from


# Training order: what the most rows depend on first, the costly single-seed networks last.
ROWS = (
    Row("LGAD teacher (label auto-encoder)", "lgad_teacher", False, scored=False),
    Row("ENet, phase 1 only", "enet_warmup", True),
    Row("ENet", "enet", True, init="enet_warmup"),
    Row("ENet-SAD", "enet_sad", True, init="enet_warmup"),
    Row("ENet-LGAD", "enet_lgad", True, init="enet_warmup"),
    Row("ENet-BAKE", "enet_bake", True, init="enet_warmup"),
    Row("ResNet-101 (IntRA-KD teacher)", "resnet101", False),
    Row("ENet-IntRA-KD", "enet_intra_kd", True, init="enet_warmup"),
    Row("ENet, all four (SAD+LGAD+IntRA-KD+BAKE)", "enet_combo", True, init="enet_warmup"),
    Row("ResNet-18, phase 1 only", "resnet18_warmup", False),
    Row("ResNet-18", "resnet18", False, init="resnet18_warmup"),
    Row("ResNet-18-SAD", "resnet18_sad", False, init="resnet18_warmup"),
    Row("SCNN (VGG16)", "scnn", False),
)
TEACHERS = {"lgad": "lgad_teacher", "intra_kd": "resnet101"}


def main() -> int:
    args = parse_args()
    rows = selected_rows(args.only)
    results = Results(args.out / "results.json")
    t_start = time.perf_counter()
    data = args.out / "data" if args.report_only else prepare_data(args, results)
    jobs = [(row, seed) for row in rows for seed in (range(1, args.seeds + 1) if row.seeded else [None])]
    bar = tqdm([] if args.report_only else jobs, desc="compare", unit="run", dynamic_ncols=True)
    for row, seed in bar:
        name = run_name(row, seed)
        bar.set_postfix_str(name)
        train(row, seed, name, data, args, results)
        if row.scored:
            score(name, data, args, results)
    measure_costs(rows, args, results)
    results.data["last_invocation_s"] = time.perf_counter() - t_start
    results.save()
    write_report(rows, args, results)
    print(args.report.read_text())
    return 0


def selected_rows(only: list[str] | None) -> list[Row]:
    """The rows named (all by default) plus the phase-1 runs and teachers they start from."""
    from lane_sad_core.train.config import load_config

    known = [r.config for r in ROWS]
    if not only:
        return list(ROWS)
    unknown = sorted(set(only) - set(known))
    if unknown:
        sys.exit(f"compare: unknown row(s) {unknown}; rows: {known}")
    names = set(only)
    for row in ROWS:
        if row.config in only:
            distill = load_config(CONFIGS / f"{row.config}.yaml").distill
            names.update(t for m, t in TEACHERS.items() if getattr(distill, m) is not None)
            names.update([row.init] if row.init else [])
    return [r for r in ROWS if r.config in names]


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=REPO / "runs" / "compare")
    p.add_argument("--seeds", type=int, default=3, help="seeds of the ENet rows (1..N)")
    p.add_argument("--frames", type=int, default=2000, help="synthetic frames (80/10/10 split)")
    p.add_argument("--only", nargs="+", metavar="CONFIG", help="train and report only these rows")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override for every training config (e.g. optim.iterations=60000)",
    )
    p.add_argument(
        "--prob-threshold",
        type=float,
        default=0.15,
        help="point threshold of the post-processing for every row (paper: 0.3; see the report)",
    )
    p.add_argument("--cost-size", default="288x800", help="HxW at which parameters, GFLOPs and ms are measured")
    p.add_argument(
        "--report-only",
        action="store_true",
        help="train and score nothing: the report of what results.json holds (cost measured anew)",
    )
    p.add_argument("--report", type=Path, default=REPO / "bench" / "results" / "compare.md")
    p.add_argument("--plot", type=Path, default=REPO / "docs" / "compare.png")
    args = p.parse_args()
    args.out = args.out.resolve()
    return args


class Results:
    """``results.json``: what every step produced and how long it took, saved after each step."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict = json.loads(path.read_text()) if path.is_file() else {}
        for key in ("seconds", "scores", "costs", "train_s_per_it"):
            self.data.setdefault(key, {})

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1))
        tmp.replace(self.path)

    def timed(self, key: str, seconds: float) -> None:
        self.data["seconds"][key] = seconds
        self.save()


def lane_sad(*argv: str) -> None:
    """Run the CLI; its one-line reason ends the comparison when it fails."""
    out = subprocess.run(
        [sys.executable, "-m", "lane_sad_core", *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    if out.returncode:
        sys.exit(f"compare: lane-sad {argv[0]} failed: {out.stderr.strip().splitlines()[-1:]}")


def prepare_data(args: argparse.Namespace, results: Results) -> Path:
    """Synthetic frames plus the real CULane training clip, laid out once."""
    synth, data = args.out / "synth", args.out / "data"
    if (data / "list" / "train_gt.txt").is_file():
        return data
    t0 = time.perf_counter()
    lane_sad(
        "synth", "--format", "culane", "--num", str(args.frames), "--seed", "7", "--out", str(synth), "--overwrite"
    )
    subprocess.run(
        [
            sys.executable,
            str(REPO / "tools" / "prepare_default_data.py"),
            str(synth),
            str(REAL),
            str(data),
            "--real-repeat",
            "10",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    results.timed("data", time.perf_counter() - t0)
    return data


def run_name(row: Row, seed: int | None) -> str:
    return row.config if seed is None else f"{row.config}_s{seed}"


def overrides_for(row: Row, seed: int | None, name: str, data: Path, args: argparse.Namespace) -> list[str]:
    """The --set list of one run: its name, seed, folders and teachers under ``--out``."""
    from lane_sad_core.train.config import load_config

    sets = [f"name={name}", f"out_dir={args.out / 'runs'}", f"data.root={data}", *args.overrides]
    if seed is not None:
        sets.append(f"seed={seed}")
    if row.init is not None:
        sets.append(f"model.init={args.out / 'runs' / run_name(Row('', row.init, row.seeded), seed) / 'model.pt'}")
    cfg = load_config(CONFIGS / f"{row.config}.yaml", sets)
    for method, teacher in TEACHERS.items():
        if getattr(cfg.distill, method) is not None:
            sets.append(f"distill.{method}.teacher={args.out / 'runs' / teacher / 'model.pt'}")
    return sets


def train(row: Row, seed: int | None, name: str, data: Path, args: argparse.Namespace, results: Results) -> None:
    """Train one run unless its final model exists; resume a run that was interrupted."""
    import torch

    from lane_sad_core.train.config import load_config

    sets = overrides_for(row, seed, name, data, args)
    iterations = load_config(CONFIGS / f"{row.config}.yaml", sets).optim.iterations
    run = args.out / "runs" / name
    if (run / "model.pt").is_file() and torch.load(run / "model.pt", weights_only=True)["iteration"] == iterations:
        return
    resume = ["--resume", str(run / "last.pt")] if (run / "last.pt").is_file() else []
    t0 = time.perf_counter()
    lane_sad(
        "train",
        "--config",
        str(CONFIGS / f"{row.config}.yaml"),
        "--no-progress",
        *resume,
        *[item for s in sets for item in ("--set", s)],
    )
    results.timed(f"train/{name}", time.perf_counter() - t0)
    seconds = [float(r.split(",")[2]) for r in (run / "log.csv").read_text().splitlines()[1:]]
    results.data["train_s_per_it"][name] = statistics.median(seconds)
    results.data["scores"].pop(name, None)  # a new model needs new scores
    results.save()


def eval_sets(data: Path) -> dict:
    """The held-out sets present: name -> dataset."""
    from lane_sad_core.data.datasets import CULaneDataset, TusimpleDataset

    sets = {"synthetic": CULaneDataset(data, "list/test.txt")}
    if (data / "list" / "real_test.txt").is_file():
        sets["real_culane"] = CULaneDataset(data, "list/real_test.txt")
    if (data / "real_tusimple" / "test_label.json").is_file():
        sets["real_tusimple"] = TusimpleDataset(data / "real_tusimple", ["test_label.json"])
    return sets


def score(name: str, data: Path, args: argparse.Namespace, results: Results) -> None:
    """Scores of one trained model on every held-out set."""
    from lane_sad_core.data.datasets import TusimpleDataset
    from lane_sad_core.infer.detector import LaneDetector
    from lane_sad_core.infer.evaluate import EXTEND_TO_BOTTOM, evaluate_dataset
    from lane_sad_core.infer.postprocess import PostprocessConfig

    decoding = {"prob_threshold": args.prob_threshold, "fit": PostprocessConfig.fit, "extend": EXTEND_TO_BOTTOM}
    if results.data.get("decoding") != decoding:  # scores of another decoding
        results.data["scores"], results.data["decoding"] = {}, decoding
    if name in results.data["scores"]:
        return
    t0 = time.perf_counter()
    detector = LaneDetector(args.out / "runs" / name / "model.pt", device="cpu")
    scores = {}
    for key, ds in eval_sets(data).items():
        extend = EXTEND_TO_BOTTOM["tusimple" if isinstance(ds, TusimpleDataset) else "culane"]
        detector.postprocess = PostprocessConfig(prob_threshold=args.prob_threshold, extend_to_bottom=extend)
        scores[key] = evaluate_dataset(detector, ds).as_dict()
    results.data["scores"][name] = scores
    results.timed(f"score/{name}", time.perf_counter() - t0)


def arch_key(row: Row) -> str:
    """The network of a row: its model name, with its non-default settings."""
    from lane_sad_core.train.config import load_config

    model = load_config(CONFIGS / f"{row.config}.yaml").model
    return model.name + "".join(f" {k}={v}" for k, v in sorted(model.config.items()))


def measure_costs(rows: list[Row], args: argparse.Namespace, results: Results) -> None:
    """Parameters, GFLOPs and CPU ms per architecture, side by side in this invocation."""
    from lane_sad_core.models.cost import forward_ms, gflops
    from lane_sad_core.train.config import load_config

    height, width = (int(v) for v in args.cost_size.split("x"))
    models = {arch_key(r): load_config(CONFIGS / f"{r.config}.yaml").model for r in rows if r.scored}
    t0 = time.perf_counter()
    costs = {}
    for key, model in tqdm(sorted(models.items()), desc="cost", unit="model"):
        params, flops = gflops(model.name, height, width, **model.config)
        costs[key] = {
            "params": params,
            "gflops": flops,
            "ms": forward_ms(model.name, height, width, **model.config),
            "size": args.cost_size,
        }
    results.data["costs"] = costs
    results.timed("cost", time.perf_counter() - t0)


# --- report ---------------------------------------------------------------------------------
def seed_values(rows_scores: list[dict], path: tuple[str, ...]) -> list[float]:
    """One number per seed, following ``path`` into each score dict (undefined ones dropped)."""
    values = []
    for scores in rows_scores:
        parent, node = None, scores
        for key in path:
            parent, node = node, node.get(key) if isinstance(node, dict) else None
        if node is None and path[-1] == "f1" and parent and parent.get("recall") is not None:
            node = 0.0  # nothing predicted where lanes exist: precision is undefined, F1 is 0
        if node is not None:
            values.append(float(node))
    return values


def mean_std(values: list[float], scale: float = 100.0, digits: int = 1) -> str:
    """``mean ± std`` (sample std over seeds), ``mean`` for one value, ``—`` for none."""
    if not values:
        return "—"
    mean = scale * statistics.fmean(values)
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {scale * statistics.stdev(values):.{digits}f}"


def runs_of(row: Row, args: argparse.Namespace, results: Results) -> list[dict]:
    seeds = range(1, args.seeds + 1) if row.seeded else [None]
    names = [run_name(row, s) for s in seeds]
    return [results.data["scores"][n] for n in names if n in results.data["scores"]]


def write_report(rows: list[Row], args: argparse.Namespace, results: Results) -> None:
    from lane_sad_core.train.config import load_config

    base = load_config(CONFIGS / "base.yaml", args.overrides)
    sad = load_config(CONFIGS / "enet_sad.yaml", args.overrides).distill.sad
    scored = [r for r in rows if r.scored]
    total = sum(results.data["seconds"].values())
    planned = [run_name(r, s) for r in ROWS for s in (range(1, args.seeds + 1) if r.seeded else [None])]
    trained = [n for n in planned if f"train/{n}" in results.data["seconds"]]
    lines = [
        "# The distillation family on one benchmark (`make compare`)\n",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the "
        f"end. Written by `tools/compare.py` (`make compare`); the steps' wall times add up to "
        f"**{total / 60:.0f} min** (data, training, scoring, cost; this invocation: "
        f"{results.data['last_invocation_s'] / 60:.0f} min).\n",
        f"Schedule (`config/train/compare/base.yaml`): {base.data.preprocess.width}x{base.data.preprocess.height} "
        f"input (top {base.data.preprocess.crop_top:.0%} cropped), batch {base.optim.batch_size}, "
        f"{base.optim.name} lr {base.optim.lr}, {base.optim.iterations} iterations, SAD from iteration "
        f"{sad.start_iter if sad else '—'}; overrides: {args.overrides or 'none'}. "
        f"Data: {args.frames} synthetic CULane-format frames (seed 7, 80/10/10), the real CULane clip "
        "06030819_0755 added to training where ../shared is present. ENet rows: seeds 1.."
        f"{args.seeds}, mean ± sample std; other rows: one seed. F1 in % by CULane's rule (30 px lanes, "
        "IoU > 0.5) on the source images; `cross` frames have no lanes, so their column counts false positives. "
        f"Every row is decoded with point threshold {args.prob_threshold} (the paper's 0.3 suits fully trained "
        "models; after this short schedule lane probabilities peak at 0.2-0.4, and at 0.3 the phase-1 ENet "
        "found no lane at all), the robust lane fit, and lanes extended to the bottom row on the CULane-format "
        "sets (`lane-sad eval`'s decoding, docs/postprocess.md).\n",
        f"Runs trained so far: **{len(trained)} of the {len(planned)}** of the full table"
        + ("." if len(trained) == len(planned) else f"; missing: {', '.join(n for n in planned if n not in trained)}.")
        + "\n",
        "## Synthetic test split (per category)\n",
        "| model | runs | F1 total | " + " | ".join(CATEGORIES) + " | cross FP | TuSimple acc % | FP % | FN % |",
        "|---|---:|---:|" + "---:|" * (len(CATEGORIES) + 4),
    ]
    for row in scored:
        runs = runs_of(row, args, results)
        cells = [mean_std(seed_values(runs, ("synthetic", "total", "f1")))]
        cells += [mean_std(seed_values(runs, ("synthetic", "categories", c, "f1"))) for c in CATEGORIES]
        cells.append(mean_std(seed_values(runs, ("synthetic", "categories", "cross", "fp")), scale=1, digits=0))
        cells += [
            mean_std(seed_values(runs, ("synthetic", "total", k)))
            for k in ("tusimple_accuracy", "tusimple_fp", "tusimple_fn")
        ]
        lines.append(f"| {row.label} | {len(runs)} | " + " | ".join(cells) + " |")
    lines += real_section(scored, args, results) + cost_section(scored, results) + sad_section(args, results)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text("\n".join(lines) + "\n")
    plot(scored, args, results)


def real_section(rows: list[Row], args: argparse.Namespace, results: Results) -> list[str]:
    lines = [
        "\n## Real frames (never trained on)\n",
        "| model | real CULane clip 06030822_0756 F1 | real TuSimple F1 | real TuSimple acc |",
        "|---|---:|---:|---:|",
    ]
    for row in rows:
        runs = runs_of(row, args, results)
        lines.append(
            f"| {row.label} | {mean_std(seed_values(runs, ('real_culane', 'total', 'f1')))} | "
            f"{mean_std(seed_values(runs, ('real_tusimple', 'total', 'f1')))} | "
            f"{mean_std(seed_values(runs, ('real_tusimple', 'total', 'tusimple_accuracy')))} |"
        )
    return lines


def cost_section(rows: list[Row], results: Results) -> list[str]:
    costs, per_it = results.data["costs"], results.data["train_s_per_it"]
    size = next(iter(costs.values()))["size"] if costs else "288x800"
    lines = [
        f"\n## Cost at {size}, batch 1, this CPU (measured side by side)\n",
        "| model | network | parameters | GFLOPs | CPU ms/frame | training s/it (this schedule) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        arch = arch_key(row)
        c = costs.get(arch)
        its = [v for k, v in per_it.items() if k == row.config or k.startswith(row.config + "_s")]
        if c:
            lines.append(
                f"| {row.label} | {arch} | {c['params']:,} | {c['gflops']:.1f} | {c['ms']:.0f} | "
                f"{statistics.median(its) if its else float('nan'):.2f} |"
            )
    if "scnn" in costs and "enet_sad" in costs:
        s, e = costs["scnn"], costs["enet_sad"]
        lines.append(
            f"\nSCNN vs ENet-SAD, side by side: **{s['params'] / e['params']:.1f}x the parameters, "
            f"{s['ms'] / e['ms']:.1f}x the CPU time, {s['gflops'] / e['gflops']:.1f}x the GFLOPs** "
            "(the SAD paper: 20x the parameters, 10x slower)."
        )
    return lines


def sad_section(args: argparse.Namespace, results: Results) -> list[str]:
    """ENet-SAD minus ENet, paired by seed (same initial weights, same batches)."""
    scores = results.data["scores"]
    pairs = [(scores.get(f"enet_s{s}"), scores.get(f"enet_sad_s{s}")) for s in range(1, args.seeds + 1)]
    pairs = [(a, b) for a, b in pairs if a and b]
    if not pairs:
        return []
    lines = [
        "\n## The effect of SAD on ENet (ENet-SAD minus ENet, paired by seed, F1 points)\n",
        f"{len(pairs)} seed pair(s); each pair starts from the same weights and sees the same batches.\n",
        "| set | " + " | ".join(("total", *CATEGORIES)) + " |",
        "|---|" + "---:|" * (len(CATEGORIES) + 1),
    ]
    for key in ("synthetic", "real_culane", "real_tusimple"):
        cells = [mean_std(paired_diffs(pairs, (key, "total", "f1")))]
        cells += [mean_std(paired_diffs(pairs, (key, "categories", c, "f1"))) for c in CATEGORIES]
        if any(c != "—" for c in cells):
            lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return lines


def paired_diffs(pairs: list[tuple[dict, dict]], path: tuple[str, ...]) -> list[float]:
    """Second minus first of each pair where both have the number."""
    diffs = []
    for a, b in pairs:
        va, vb = seed_values([a], path), seed_values([b], path)
        if va and vb:
            diffs.append(vb[0] - va[0])
    return diffs


def plot(rows: list[Row], args: argparse.Namespace, results: Results) -> None:
    """F1 per row (synthetic and real, error bars over seeds) and the per-category heat map."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    labels = [r.label.split(" (")[0] for r in rows]
    fig, (ax, hm) = plt.subplots(1, 2, figsize=(15, 5.5), gridspec_kw={"width_ratios": [1.1, 1]})
    x = np.arange(len(rows))
    for offset, (key, name) in zip((-0.2, 0.2), (("synthetic", "synthetic test"), ("real_culane", "real CULane clip"))):
        vals = [seed_values(runs_of(r, args, results), (key, "total", "f1")) for r in rows]
        ax.bar(
            x + offset,
            [100 * np.mean(v) if v else 0 for v in vals],
            0.4,
            label=name,
            yerr=[100 * np.std(v, ddof=1) if len(v) > 1 else 0 for v in vals],
            capsize=3,
        )
    ax.set_xticks(x, labels, rotation=35, ha="right")
    ax.set_ylabel("F1 (%)")
    ax.set_title("Lane F1, mean and std over seeds")
    ax.legend()
    grid = np.array(
        [
            [
                100 * np.mean(v)
                if (v := seed_values(runs_of(r, args, results), ("synthetic", "categories", c, "f1")))
                else np.nan
                for c in CATEGORIES
            ]
            for r in rows
        ]
    )
    im = hm.imshow(grid, cmap="viridis", vmin=0, vmax=100, aspect="auto")
    hm.set_xticks(range(len(CATEGORIES)), CATEGORIES, rotation=35, ha="right")
    hm.set_yticks(range(len(rows)), labels)
    for (i, j), v in np.ndenumerate(grid):
        if not np.isnan(v):
            hm.text(j, i, f"{v:.0f}", ha="center", va="center", color="w" if v < 60 else "k", fontsize=8)
    hm.set_title("Synthetic test F1 (%) per category")
    fig.colorbar(im, ax=hm, fraction=0.03)
    fig.tight_layout()
    args.plot.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.plot, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
