"""Measure what each synthetic-data feature does on real frames: paired short fine-tunes.

For every arm (a set of generator features switched on, everything else off) and seed:
render CULane-look and TuSimple-look frames with that seed, lay them out with the real
training clip (``tools/prepare_default_data.py``), fine-tune the shipped model on them
(``config/train/enet_sad_default_mix.yaml`` from ``lane_sad_core/weights/enet_sad_default.pt``,
same iterations and training seed in every arm), and score it on real frames it never
trained on:

* CULane clip 06030822_0756 (20 frames; F1 by CULane's rule);
* the ego-lane evaluation split of the CULane drive in ``culane_ego`` (frames 02400..03570):
  F1 of the model's two middle slots against the two labelled ego markings (the outer lanes
  are not labelled there, so they are not scored);
* the TuSimple LSTR sample (14 frames; F1 and TuSimple accuracy).

Arms of one seed share the scene of every frame (features draw from their own random
streams), so the difference between an arm and ``base`` is the feature's effect. Results
go to ``WORK/<arm>_s<seed>/scores.json`` (a finished run is skipped when rerun) and the
table to ``--report``.

    nice -n 10 .venv/bin/python tools/synth_ablation.py --arms base hood --seeds 1 2 \
        [--culane-num 1000 --tusimple-num 500 --iterations 400] [--report bench/results/synth_ablation.md]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lane_sad_core.data.synth.presets import FEATURES_OFF, FEATURES_ON  # noqa: E402

sys.path.insert(0, str(ROOT / "tools"))
import realsets  # noqa: E402  (a sibling tool module)

SHIPPED = ROOT / "lane_sad_core" / "weights" / "enet_sad_default.pt"
CONFIG = ROOT / "config" / "train" / "enet_sad_default_mix.yaml"
EGO = "culane_ego/czming__RONELD-Lane-Detection/example"
EGO_EVAL = range(2400, 3571, 30)  # frames 00000..02370 are the drive's training frames
METRICS = ("culane_0756_f1", "culane_0756_iou", "ego_f1", "ego_iou", "tusimple_f1", "tusimple_acc")

# Arm name -> features switched on (names of FEATURES_ON); every other feature is off.
ARMS: dict[str, tuple[str, ...]] = {"base": ()}
ARMS.update({name: (name,) for name in FEATURES_ON})
ARMS["all"] = tuple(FEATURES_ON)


def overrides(arm: str, fmt: str, photos: Path) -> dict:
    """Preset fields of ``arm`` for format ``fmt``: all features off, then the arm's on
    (road photos for the photo grain from folder ``photos``)."""
    fields = dict(FEATURES_OFF[fmt], photo_textures=str(photos))
    for feature in ARMS[arm]:
        fields.update(FEATURES_ON[feature].get(fmt, {}))
    return fields


def render(out: Path, fmt: str, num: int, seed: int, fields: dict) -> None:
    """A synthetic tree with almost every frame in training (a few for the trainer's check)."""
    from lane_sad_core.data.synth.writer import SynthSettings, generate, write_lists

    if out.exists():
        shutil.rmtree(out)
    settings = SynthSettings(fmt, num, seed=seed, splits=(0.96, 0.04, 0.0), overrides=fields)
    write_lists(out, settings, list(generate(out, settings)))


def run(cmd: list[str], log: Path) -> None:
    """A command with its output in ``log``; a failure names the log.

    One math thread: on a small machine that other jobs keep busy, a second thread mostly
    spin-waits for a partner that is not scheduled (10x slower training steps here).
    """
    env = dict(os.environ, OMP_NUM_THREADS="1")
    with log.open("a") as handle:
        handle.write("$ OMP_NUM_THREADS=1 " + " ".join(cmd) + "\n")
        handle.flush()
        if subprocess.run(cmd, stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT, env=env).returncode:
            raise SystemExit(f"synth_ablation: {cmd[1]} failed, see {log}")


class EgoDetector:
    """A detector that reports only the lanes of the ego slots (for ego-lane labels)."""

    def __init__(self, detector) -> None:
        self.detector = detector

    def detect_batch(self, images: list) -> list:
        out = self.detector.detect_batch(images)
        ego = realsets.model_slots(realsets.SPLITS["culane_ego_eval"], self.detector.num_slots) or frozenset()
        for det in out:
            det.lanes = [lane for lane in det.lanes if lane.slot in ego]
        return out


def scored(detector, dataset) -> tuple[dict, float]:
    """``lane-sad eval``'s totals, and the mean over labelled lines of the best IoU any
    detection reaches (0 when none): a graded view of the same frames, which the F1's
    IoU > 0.5 cut turns into all or nothing (a lane that stops at the bonnet scores 0.3)."""
    from lane_sad_core.data.imagesize import image_size
    from lane_sad_core.infer.evaluate import evaluate_dataset
    from lane_sad_core.metrics.raster import iou_matrix

    found: dict[int, list] = {}
    report = evaluate_dataset(detector, dataset, on_frame=lambda i, lanes: found.__setitem__(i, lanes)).as_dict()
    best = []
    for i, lanes in found.items():
        gt = [lane.points for lane in dataset.lanes(i) if len(lane) >= 2]
        pred = [lane.points for lane in lanes if len(lane) >= 2]
        if gt:
            height, width = image_size(dataset.image_path(i))
            iou = iou_matrix(gt, pred, width, height) if pred else np.zeros((len(gt), 1))
            best += list(np.nan_to_num(iou).max(axis=1))
    return report, float(np.mean(best)) if best else 0.0


def score(checkpoint: Path, mix: Path, real: Path, work: Path) -> dict[str, float]:
    """The model's scores on the three real evaluation sets (``lane-sad eval``'s scorer)."""
    from lane_sad_core.data.datasets import CULaneDataset, TusimpleDataset
    from lane_sad_core.infer.detector import LaneDetector

    detector = LaneDetector(checkpoint, "cpu", threads=1)
    culane, culane_iou = scored(detector, CULaneDataset(mix, "list/real_test.txt"))
    tusimple, _ = scored(detector, TusimpleDataset(mix / "real_tusimple", ["test_label.json"]))
    ego_root = work / "ego"
    if not ego_root.exists():
        ego_root.mkdir(parents=True)
        (ego_root / "drive").symlink_to((real / EGO).resolve())
        (ego_root / "eval.txt").write_text("".join(f"/drive/{i:05d}.jpg\n" for i in EGO_EVAL))
    ego, ego_iou = scored(EgoDetector(detector), CULaneDataset(ego_root, "eval.txt"))
    return {
        "culane_0756_f1": culane["total"]["f1"] or 0.0,
        "culane_0756_iou": culane_iou,
        "ego_f1": ego["total"]["f1"] or 0.0,
        "ego_iou": ego_iou,
        "tusimple_f1": tusimple["total"]["f1"] or 0.0,
        "tusimple_acc": tusimple["total"]["tusimple_accuracy"],
    }


def one_run(arm: str, seed: int, args: argparse.Namespace) -> dict:
    """Render, lay out, fine-tune and score one (arm, seed); cached in ``scores.json``."""
    run_dir = args.work / f"{arm}_s{seed}"
    result = run_dir / "scores.json"
    if result.is_file():
        scores = json.loads(result.read_text())
        if any(metric not in scores for metric in METRICS):  # a metric added since: rescore the kept model
            scores.update(score(run_dir / "model" / "model.pt", args.work / "data" / "mix", args.real, args.work))
            result.write_text(json.dumps(scores, indent=1) + "\n")
        return scores
    run_dir.mkdir(parents=True, exist_ok=True)
    log = run_dir / "log.txt"
    data = args.work / "data"
    t0 = time.time()
    photos = args.real / "unlabelled"
    render(data / "culane", "culane", args.culane_num, seed, overrides(arm, "culane", photos))
    render(data / "tusimple", "tusimple", args.tusimple_num, seed + 1000, overrides(arm, "tusimple", photos))
    py = sys.executable
    mix = data / "mix"
    prep = [py, "tools/prepare_default_data.py", str(data / "culane"), str(args.real), str(mix)]
    run([*prep, "--real-repeat", str(args.real_repeat), "--synth-tusimple", str(data / "tusimple")], log)
    t1 = time.time()
    train = [py, "-m", "lane_sad_core", "train", "--config", str(CONFIG), "--no-progress"]
    sets = {
        "name": "model",
        "out_dir": str(run_dir),
        "seed": str(seed),
        "model.init": str(SHIPPED),
        "data.root": str(mix),
        "optim.iterations": str(args.iterations),
        "schedule.val_every": str(args.iterations),
        "schedule.val_max_frames": "16",
        "schedule.ckpt_every": str(args.iterations),
    }
    run([*train, *[a for k, v in sets.items() for a in ("--set", f"{k}={v}")]], log)
    t2 = time.time()
    scores = score(run_dir / "model" / "model.pt", mix, args.real, args.work)
    scores.update(arm=arm, seed=seed, features=list(ARMS[arm]), render_s=t1 - t0, train_s=t2 - t1)
    scores["overrides"] = {fmt: overrides(arm, fmt, photos) for fmt in ("culane", "tusimple")}
    result.write_text(json.dumps(scores, indent=1) + "\n")
    for name in ("last.pt",):
        (run_dir / "model" / name).unlink(missing_ok=True)
    return scores


def table(results: list[dict], shipped: dict[str, float] | None) -> str:
    """Markdown: per arm the mean score over seeds and the mean paired difference to ``base``."""
    by = {(r["arm"], r["seed"]): r for r in results}
    arms = list(dict.fromkeys(r["arm"] for r in results))
    head = "| arm | seeds | " + " | ".join(METRICS) + " |\n|---|---|" + "---:|" * len(METRICS)
    lines = [head]
    if shipped:
        lines.append("| shipped model (no fine-tune) | | " + " | ".join(f"{shipped[m]:.3f}" for m in METRICS) + " |")
    for arm in arms:
        seeds = sorted(s for a, s in by if a == arm)
        cells = []
        for metric in METRICS:
            mean = np.mean([by[arm, s][metric] for s in seeds])
            paired = [by[arm, s][metric] - by["base", s][metric] for s in seeds if ("base", s) in by]
            each = ", ".join(f"{d:+.3f}" for d in paired)
            diff = f" ({np.mean(paired):+.3f}: {each})" if arm != "base" and paired else ""
            cells.append(f"{mean:.3f}{diff}")
        lines.append(f"| {arm} | {','.join(map(str, seeds))} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--culane-num", type=int, default=1000)
    parser.add_argument("--tusimple-num", type=int, default=500)
    parser.add_argument("--iterations", type=int, default=400)
    parser.add_argument("--real-repeat", type=int, default=10)
    parser.add_argument("--real", type=Path, default=ROOT.parent / "shared" / "data" / "real")
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "synth_ablation")
    parser.add_argument("--report", type=Path, help="write the Markdown table here")
    args = parser.parse_args()
    args.work = args.work.resolve()
    results = [one_run(arm, seed, args) for seed in args.seeds for arm in args.arms]
    shipped_file = args.work / "shipped.json"
    if not shipped_file.is_file() or any(m not in json.loads(shipped_file.read_text()) for m in METRICS):
        shipped_file.write_text(json.dumps(score(SHIPPED, args.work / "data" / "mix", args.real, args.work)) + "\n")
    text = table(results, json.loads(shipped_file.read_text()))
    print(text)
    if args.report:
        args.report.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
