"""Score one trained run of `make compare`: every evaluation set, with each frame's counts kept.

usage: compare_score.py RUN_DIR DATA_ROOT OUT_JSON [--real DIR] [--prob-threshold P]

Lane models are scored on the synthetic test split (per category) and on the fixed real
evaluation splits of ``tools/realsets.py``; the per-frame CULane counts go into the file so
that the report can resample frames for its paired intervals. LGAD's label auto-encoder has
no lanes to score: its score is how well it reproduces the labels it reads (lane-pixel
precision, recall and F1 on the synthetic test labels, each pixel counted right only in its
own slot). Runs in its own process so that `make compare` can score while it trains.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import realsets


def report_dict(report) -> dict:
    """An EvalReport as JSON: the totals, per category, and [category, tp, fp, fn] per frame."""
    out = report.as_dict()
    out["frames"] = [[f.category, f.tp, f.fp, f.fn] for f in report.frames]
    return out


def score_lanes(model: Path, data: Path, real: Path, work: Path, prob_threshold: float) -> dict:
    from lane_sad_core.data.datasets import CULaneDataset
    from lane_sad_core.infer import LaneDetector
    from lane_sad_core.infer.evaluate import evaluate_dataset
    from lane_sad_core.infer.postprocess import PostprocessConfig

    detector = LaneDetector(model, "cpu", PostprocessConfig(prob_threshold=prob_threshold, extend_to_bottom=True))
    scores = {"synthetic": report_dict(evaluate_dataset(detector, CULaneDataset(data, "list/test.txt")))}
    if real.is_dir():
        scores.update({name: report_dict(r) for name, r in realsets.score(detector, real, work).items()})
    return scores


def score_reconstruction(model_path: Path, data: Path) -> dict:
    """Lane-pixel precision/recall/F1 of a label auto-encoder on the test labels."""
    import torch

    from lane_sad_core.data.datasets import CULaneDataset
    from lane_sad_core.distill.lgad import one_hot_labels
    from lane_sad_core.models.checkpoint import load_model

    model, meta = load_model(model_path, input_kind="labels")
    dataset = CULaneDataset(data, "list/test.txt", meta.preprocess)
    tp = fp = fn = 0
    with torch.inference_mode():
        for i in range(len(dataset)):
            seg = dataset[i]["seg"][None]
            pred = model(one_hot_labels(seg, model.num_lanes + 1))["seg"].argmax(1)
            lane, hit = seg > 0, pred == seg
            tp += int((lane & hit).sum())
            fp += int(((pred > 0) & ~hit).sum())
            fn += int((lane & ~hit).sum())
    precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    return {"reconstruction": {"precision": precision, "recall": recall, "f1": 2 * tp / max(2 * tp + fp + fn, 1)}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--real", type=Path, default=realsets.default_real_root())
    parser.add_argument("--prob-threshold", type=float, default=0.3)
    args = parser.parse_args()
    import torch

    model = args.run / "model.pt"
    kind = torch.load(model, map_location="cpu", weights_only=True)["model_name"]
    if kind == "label_autoencoder":
        scores = score_reconstruction(model, args.data)
    else:
        scores = score_lanes(model, args.data, args.real, args.run / "eval_work", args.prob_threshold)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(scores))
    tmp.replace(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
