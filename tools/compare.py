"""make compare: every distillation method against its baseline, paired, on one benchmark.

usage: tools/compare.py [--part teachers|methods|methods2|real|report ...] [--seeds 5] [--jobs 2]
                        [--out runs/compare] [--frames 5000] [--only ROW ...] [--set KEY=VALUE ...]

The design (what a 1-2 point effect needs):

* one shared phase 1 (``enet_warmup``: ENet without distillation, long enough to find most
  lanes) from which every ENet row continues with its own method for the same phase-2
  schedule; a seed fixes the batches and augmentations, so each row and its baseline start
  from the same weights and see the same data, and their difference is paired by seed;
* five seeds, and a synthetic test split of 2,000 frames (about 6,000 lanes: the standard
  error of an F1 near 0.8 is about half a point before pairing, and pairing removes most of
  what remains), scored per category, plus the fixed real evaluation splits of
  ``tools/realsets.py`` (never trained on);
* each method's paired difference from its baseline with a 95 % interval from a two-level
  bootstrap over seeds and frames (``lane_sad_core.metrics.paired``).

Parts (each fits two hours on two cores; ``make compare`` runs them all):

============ =========================================================================
teachers     phase 1, LGAD's label auto-encoder, IntRA-KD's ResNet-18
methods      ENet, ENet-SAD, ENet-LGAD, ENet-BAKE (x seeds)
methods2     ENet-IntRA-KD, ENet with all four, ENet-SAD + LGAD (x seeds)
real         ENet and ENet + the official SCNN's maps, both with the real drive's frames
report       costs measured side by side, ``bench/results/compare.md``, ``docs/compare.png``
============ =========================================================================

A part trains what it needs from the others first. Every run and its scores are files
under ``--out``: an interrupted comparison resumes where it stopped, and a finished run is
never trained again. ``--jobs`` runs that many trainings at once, one thread each.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
import realsets  # noqa: E402  (a sibling tool module)

CONFIGS = REPO / "config" / "train" / "compare"
PARTS = ("teachers", "methods", "methods2", "real", "report")


@dataclass(frozen=True)
class Row:
    """One line of the table: a config of ``config/train/compare/``.

    Attributes:
        key: the config's name.
        label: how the report names it.
        part: the part that trains it.
        seeded: trained once per seed (phase-2 rows), else once.
        init: the run whose weights it starts from.
        baseline: the row its paired effect is measured against.
    """

    key: str
    label: str
    part: str
    seeded: bool = True
    init: str | None = "enet_warmup"
    baseline: str | None = None


ROWS = (
    Row("enet_warmup", "ENet, phase 1 (the shared start)", "teachers", seeded=False, init=None),
    Row("lgad_teacher", "LGAD teacher (label auto-encoder)", "teachers", seeded=False, init=None),
    Row("resnet18_teacher", "ResNet-18 (IntRA-KD teacher)", "teachers", seeded=False, init=None),
    Row("enet", "ENet", "methods"),
    Row("enet_sad", "ENet-SAD", "methods", baseline="enet"),
    Row("enet_lgad", "ENet-LGAD", "methods", baseline="enet"),
    Row("enet_bake", "ENet-BAKE", "methods", baseline="enet"),
    Row("enet_intra_kd", "ENet-IntRA-KD", "methods2", baseline="enet"),
    Row("enet_combo", "ENet, all four", "methods2", baseline="enet"),
    Row("enet_sad_lgad", "ENet-SAD + LGAD", "methods2", baseline="enet"),
    Row("enet_ego", "ENet + real ego-labelled frames", "real"),
    Row("enet_ego_maps", "ENet + real frames + SCNN's maps", "real", baseline="enet_ego"),
)
BY_KEY = {r.key: r for r in ROWS}
TEACHERS = {"lgad": "lgad_teacher", "intra_kd": "resnet18_teacher"}


def run_name(row: Row, seed: int | None) -> str:
    return row.key if seed is None else f"{row.key}_s{seed}"


def main() -> int:
    args = parse_args()
    rows = selected_rows(args)
    data = prepare_data(args)
    jobs = [(row, seed) for row in rows for seed in (range(1, args.seeds + 1) if row.seeded else [None])]
    if jobs:
        run_jobs(jobs, data, args)
    if "report" in args.part:
        from compare_report import write_report

        write_report(args)
        print(args.report.read_text())
    return 0


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--part", nargs="+", choices=PARTS, default=list(PARTS), help="what to do (default: all)")
    p.add_argument("--only", nargs="+", metavar="ROW", help="train and score only these rows (and what they need)")
    p.add_argument("--out", type=Path, default=REPO / "runs" / "compare")
    p.add_argument("--seeds", type=int, default=5, help="seeds of the phase-2 rows (1..N)")
    p.add_argument("--frames", type=int, default=5000, help="synthetic frames: 58 %% train, 2 %% val, 40 %% test")
    p.add_argument("--jobs", type=int, default=2, help="trainings at once (each gets cores / jobs threads)")
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override for every run"
    )
    p.add_argument("--prob-threshold", type=float, default=0.3, help="point threshold of every row's decoding")
    p.add_argument("--cost-size", default="288x800", help="HxW at which parameters, GFLOPs and ms are measured")
    p.add_argument("--real", type=Path, default=realsets.default_real_root())
    p.add_argument("--report", type=Path, default=REPO / "bench" / "results" / "compare.md")
    p.add_argument("--plot", type=Path, default=REPO / "docs" / "compare.png")
    args = p.parse_args()
    args.out = args.out.resolve()
    return args


def selected_rows(args: argparse.Namespace) -> list[Row]:
    """The rows of the chosen parts (or ``--only``), with every row they depend on, in order."""
    if args.only:
        unknown = sorted(set(args.only) - set(BY_KEY))
        if unknown:
            sys.exit(f"compare: unknown row(s) {unknown}; rows: {list(BY_KEY)}")
        wanted = set(args.only)
    else:
        wanted = {r.key for r in ROWS if r.part in args.part}
    for key in list(wanted):
        wanted |= dependencies(BY_KEY[key], args)
    return [r for r in ROWS if r.key in wanted]


def dependencies(row: Row, args: argparse.Namespace) -> set[str]:
    """The rows a row's report needs: what it trains from (:func:`needs`) and its baseline."""
    deps = needs(row, args) | ({row.baseline} if row.baseline else set())
    for key in list(deps):
        deps |= dependencies(BY_KEY[key], args)
    return deps


def needs(row: Row, args: argparse.Namespace) -> set[str]:
    """The rows that must be trained before this one: its start and its teachers."""
    from lane_sad_core.train.config import load_config

    distill = load_config(CONFIGS / f"{row.key}.yaml", args.overrides).distill
    return {t for method, t in TEACHERS.items() if getattr(distill, method) is not None} | (
        {row.init} if row.init else set()
    )


def lane_sad(*argv: str, threads: int | None = None) -> None:
    """Run the CLI; its one-line reason ends the comparison when it fails."""
    env = {**os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {})}
    out = subprocess.run(
        [sys.executable, "-m", "lane_sad_core", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    if out.returncode:
        sys.exit(f"compare: lane-sad {argv[0]} failed: {out.stderr.strip().splitlines()[-1:]}")


def prepare_data(args: argparse.Namespace) -> Path:
    """Synthetic frames, the real CULane training clip and the real drive's training stretch."""
    synth, data = args.out / "synth", args.out / "data"
    if (data / "list" / "train_gt.txt").is_file():
        return data
    t0 = time.perf_counter()
    lane_sad(
        "synth", "--format", "culane", "--num", str(args.frames), "--seed", "7", "--split", "0.58,0.02,0.40",
        "--out", str(synth), "--overwrite",
    )  # fmt: skip
    subprocess.run(
        [sys.executable, str(REPO / "tools" / "prepare_default_data.py"), str(synth), str(args.real), str(data),
         "--real-repeat", "10"],
        check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    if args.real.is_dir():
        realsets.link_train_split(realsets.SPLITS["culane_ego_train"], args.real, data, repeat=4)
    (data / "prepared_s.txt").write_text(f"{time.perf_counter() - t0:.1f}\n")
    return data


def run_jobs(jobs: list[tuple[Row, int | None]], data: Path, args: argparse.Namespace) -> None:
    """Train and score every job, ``--jobs`` at a time, each after the runs it starts from.

    Jobs are submitted in dependency order to a FIFO pool, so a job only waits for jobs
    that are already running or done.
    """
    threads = max(1, (os.cpu_count() or 1) // max(1, args.jobs))
    futures: dict[str, Future] = {}
    bar = tqdm(total=len(jobs), desc="compare", unit="run", dynamic_ncols=True)
    lock = threading.Lock()

    def work(row: Row, seed: int | None) -> None:
        for dep in needs(row, args):  # all unseeded: phase 1 and the teachers
            if dep in futures:
                futures[dep].result()
        name = run_name(row, seed)
        train(row, seed, name, data, args, threads)
        score(name, data, args, threads)
        with lock:
            bar.update(1)
            bar.set_postfix_str(name)

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for row, seed in jobs:
            futures[run_name(row, seed)] = pool.submit(work, row, seed)
        for future in futures.values():
            future.result()
    bar.close()


def overrides_for(row: Row, seed: int | None, name: str, data: Path, args: argparse.Namespace) -> list[str]:
    """The --set list of one run: its name, seed, folders, start and teachers under ``--out``."""
    from lane_sad_core.train.config import load_config

    runs = args.out / "runs"
    sets = [f"name={name}", f"out_dir={runs}", f"data.root={data}", *args.overrides]
    if seed is not None:
        sets.append(f"seed={seed}")
    if row.init is not None:
        sets.append(f"model.init={runs / row.init / 'model.pt'}")
    distill = load_config(CONFIGS / f"{row.key}.yaml", sets).distill
    for method, teacher in TEACHERS.items():
        if getattr(distill, method) is not None:
            sets.append(f"distill.{method}.teacher={runs / teacher / 'model.pt'}")
    return sets


def train(row: Row, seed: int | None, name: str, data: Path, args: argparse.Namespace, threads: int) -> None:
    """Train one run unless its final model exists; resume a run that was interrupted."""
    import torch

    from lane_sad_core.train.config import load_config

    sets = overrides_for(row, seed, name, data, args)
    iterations = load_config(CONFIGS / f"{row.key}.yaml", sets).optim.iterations
    run = args.out / "runs" / name
    if (run / "model.pt").is_file() and torch.load(run / "model.pt", weights_only=True)["iteration"] == iterations:
        return
    resume = ["--resume", str(run / "last.pt")] if (run / "last.pt").is_file() else []
    t0 = time.perf_counter()
    config = str(CONFIGS / f"{row.key}.yaml")
    lane_sad("train", "--config", config, "--no-progress", *resume, *[x for s in sets for x in ("--set", s)],
             threads=threads)  # fmt: skip
    _record(run, "train_s", time.perf_counter() - t0)
    (run / "scores.json").unlink(missing_ok=True)  # a new model needs new scores


def score(name: str, data: Path, args: argparse.Namespace, threads: int) -> None:
    """Scores of one run (``scores.json`` beside its model), unless they are there."""
    run = args.out / "runs" / name
    if (run / "scores.json").is_file():
        return
    t0 = time.perf_counter()
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    cmd = [sys.executable, str(REPO / "tools" / "compare_score.py"), str(run), str(data), str(run / "scores.json"),
           "--real", str(args.real), "--prob-threshold", str(args.prob_threshold)]  # fmt: skip
    out = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    if out.returncode:
        sys.exit(f"compare: scoring {name} failed: {out.stderr.strip().splitlines()[-1:]}")
    _record(run, "score_s", time.perf_counter() - t0)


def _record(run: Path, key: str, seconds: float) -> None:
    """Add one step's wall time to the run's ``timing.json``."""
    path = run / "timing.json"
    timing = json.loads(path.read_text()) if path.is_file() else {}
    timing[key] = timing.get(key, 0.0) + seconds
    path.write_text(json.dumps(timing))


if __name__ == "__main__":
    raise SystemExit(main())
