"""Accuracy, latency and drops of a replayed camera bag, as numbers and as a report.

The ROS side (``lane_sad_ros.bag.replay_frames``) turns a replay bag into one
:class:`BagFrame` per camera frame; this module scores them with the same per-frame
official rules as ``lane-sad eval`` (:func:`~lane_sad_core.infer.evaluate.score_frame`),
so a node's answers and an offline run of the same checkpoint score identically.

Which frames count: when the replay recorded what it sent, the frames sent; otherwise
(a bag recorded by other means) the frames with ground truth. Of those, a frame the node
never answered is *missing*. The accuracy table scores the answered frames; a second line
scores every counted frame with the missing ones as frames without lanes, which is what a
consumer downstream of the node saw.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lane_sad_core.infer.evaluate import EvalReport, markdown_table, score_frame
from lane_sad_core.lanes import Lane

LATENCIES = {
    "send_to_receive": "send → receive (wall clock, replay process)",
    "processing": "node processing (arrival → publication)",
    "inference": "network inference",
}


@dataclass
class BagFrame:
    """One camera frame of a replay, identified by its header stamp.

    Attributes:
        stamp_ns: the image's header stamp.
        gt: ground-truth lanes (source pixels), None when the frame has no ground truth.
        size: source (height, width).
        category: scene category (``unknown`` when not recorded).
        h_samples: TuSimple label rows, None elsewhere.
        image: the frame's image path in its data set, when known.
        pred: the lanes the node published, None when it never answered.
        sent_ns, received_ns: wall-clock times of publication and of the answer's arrival.
        processing_ms, inference_ms: what the node reported in its LaneArray.
    """

    stamp_ns: int
    gt: list[Lane] | None = None
    size: tuple[int, int] | None = None
    category: str = "unknown"
    h_samples: list[float] | None = None
    image: str = ""
    pred: list[Lane] | None = None
    sent_ns: int | None = None
    received_ns: int | None = None
    processing_ms: float | None = None
    inference_ms: float | None = None


def latency_stats(values_ms: Sequence[float]) -> dict[str, float | int | None]:
    """Count, median, p95, mean and max of a latency sample (None when empty)."""
    if not len(values_ms):
        return {"count": 0, "median": None, "p95": None, "mean": None, "max": None}
    v = np.asarray(values_ms, dtype=np.float64)
    return {
        "count": len(v),
        "median": float(np.median(v)),
        "p95": float(np.percentile(v, 95)),
        "mean": float(v.mean()),
        "max": float(v.max()),
    }


@dataclass
class BagReport:
    """The numbers of a replay (see the module docstring for which frames count).

    Attributes:
        scores: ``EvalReport.as_dict()`` over the answered frames with ground truth.
        scores_with_missing: the same over every counted frame with ground truth, frames
            never answered scored as frames without lanes.
        frames: ``ground_truth``, ``sent`` (None when not recorded), ``counted``,
            ``answered``, ``missing``, ``not_sent`` and ``answers_without_gt``.
        latency_ms: :func:`latency_stats` per key of :data:`LATENCIES`.
        samples_ms: the latency samples themselves (for plots).
    """

    scores: dict
    scores_with_missing: dict
    frames: dict[str, int | None]
    latency_ms: dict[str, dict]
    samples_ms: dict[str, list[float]]

    def as_dict(self) -> dict:
        return {
            "frames": self.frames,
            "scores": self.scores,
            "scores_with_missing": self.scores_with_missing,
            "latency_ms": self.latency_ms,
        }


def build_report(frames: Sequence[BagFrame]) -> BagReport:
    """Score and time the frames of one replay."""
    timed = any(f.sent_ns is not None for f in frames)
    counted = [f for f in frames if (f.sent_ns is not None if timed else f.gt is not None)]
    answered, with_missing = EvalReport(), EvalReport()
    for f in counted:
        if f.gt is None or f.size is None:
            continue
        if f.pred is not None:
            score_frame(answered, f.category, f.pred, f.gt, f.size, f.h_samples)
        score_frame(with_missing, f.category, f.pred or [], f.gt, f.size, f.h_samples)
    samples = {
        "send_to_receive": [
            (f.received_ns - f.sent_ns) / 1e6 for f in counted if f.sent_ns is not None and f.received_ns is not None
        ],
        "processing": [f.processing_ms for f in frames if f.processing_ms is not None],
        "inference": [f.inference_ms for f in frames if f.inference_ms is not None],
    }
    n_answered = sum(f.pred is not None for f in counted)
    return BagReport(
        scores=answered.as_dict(),
        scores_with_missing=with_missing.as_dict(),
        frames={
            "ground_truth": sum(f.gt is not None for f in frames),
            "sent": len(counted) if timed else None,
            "counted": len(counted),
            "answered": n_answered,
            "missing": len(counted) - n_answered,
            "not_sent": sum(f.gt is not None and f.sent_ns is None for f in frames) if timed else 0,
            "answers_without_gt": sum(f.pred is not None and f.gt is None for f in frames),
        },
        latency_ms={k: latency_stats(v) for k, v in samples.items()},
        samples_ms=samples,
    )


# --- rendering ------------------------------------------------------------------------------
def _fmt(v: float | None, digits: int = 2) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def markdown(report: BagReport, title: str, plots: dict[str, str]) -> str:
    """The report as Markdown; ``plots`` maps a caption to an image file name beside it."""
    fr = report.frames
    lines = [
        f"# {title}",
        "",
        "## Frames",
        "",
        "| ground truth | sent | counted | answered | missing | not sent | answers without GT |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {fr['ground_truth']} | {'—' if fr['sent'] is None else fr['sent']} | {fr['counted']} | "
        f"{fr['answered']} | {fr['missing']} | {fr['not_sent']} | {fr['answers_without_gt']} |",
        "",
        "## Accuracy",
        "",
        f"Official metrics (CULane F1 at IoU > 0.5, TuSimple accuracy/FP/FN) on the "
        f"{report.scores['total']['frames']} answered frames with ground truth:",
        "",
        markdown_table(report.scores),
        "",
    ]
    total = report.scores_with_missing["total"]
    lines += [
        f"With the {fr['missing']} missing frames counted as frames without lanes: "
        f"F1 {_fmt(total['f1'], 4)}, precision {_fmt(total['precision'], 4)}, "
        f"recall {_fmt(total['recall'], 4)} over {total['frames']} frames.",
        "",
        "## Latency (ms)",
        "",
        "| | frames | median | p95 | mean | max |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for key, label in LATENCIES.items():
        s = report.latency_ms[key]
        lines.append(
            f"| {label} | {s['count']} | {_fmt(s['median'])} | {_fmt(s['p95'])} | "
            f"{_fmt(s['mean'])} | {_fmt(s['max'])} |"
        )
    lines.append("")
    for caption, name in plots.items():
        lines += [f"![{caption}]({name})", ""]
    return "\n".join(lines)


def _cells(row: str) -> list[str]:
    return [c.strip() for c in row.strip().strip("|").split("|")]


def markdown_to_html(text: str, title: str) -> str:
    """A standalone HTML page of the Markdown subset :func:`markdown` writes
    (headings, pipe tables, images, paragraphs)."""
    body: list[str] = []
    rows: list[str] = []

    def flush() -> None:
        if rows:
            head, *rest = [_cells(r) for r in rows if not set(r) <= set("|-: ")]
            body.append(
                "<table><tr>"
                + "".join(f"<th>{html.escape(c)}</th>" for c in head)
                + "</tr>"
                + "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rest)
                + "</table>"
            )
            rows.clear()

    for line in text.splitlines():
        if line.startswith("|"):
            rows.append(line)
            continue
        flush()
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{html.escape(line[level:].strip())}</h{level}>")
        elif line.startswith("![") and line.endswith(")"):
            alt, src = line[2:-1].split("](", 1)
            body.append(f'<p><img src="{html.escape(src)}" alt="{html.escape(alt)}"></p>')
        elif line.strip():
            body.append(f"<p>{html.escape(line)}</p>")
    flush()
    style = (
        "body{font-family:sans-serif;max-width:70em;margin:2em auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right}img{max-width:100%}"
    )
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def plot_latency(report: BagReport, out: Path) -> None:
    """Histograms of the latency samples, one per kind, medians marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    everything = [v for key in LATENCIES for v in report.samples_ms[key]]
    bins: int | list[float] = np.histogram_bin_edges(everything, bins=40).tolist() if everything else 10
    for index, (key, label) in enumerate(LATENCIES.items()):
        values = report.samples_ms[key]
        if values:
            color = f"C{index}"
            ax.hist(values, bins=bins, histtype="step", linewidth=1.5, label=label, color=color)
            ax.axvline(float(np.median(values)), color=color, linestyle="--", linewidth=1)
    ax.set_xlabel("ms (dashed: median)")
    ax.set_ylabel("frames")
    ax.grid(alpha=0.3)
    if ax.patches:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def plot_f1(report: BagReport, out: Path) -> None:
    """CULane F1 of the answered frames, total and per category (categories without one omitted)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [("total", report.scores["total"]), *report.scores["categories"].items()]
    rows = [(name, r["f1"]) for name, r in rows if r["f1"] is not None]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.8 * len(rows) + 2), 3.5))
    bars = ax.bar([n for n, _ in rows], [v for _, v in rows], color="tab:blue")
    ax.bar_label(bars, fmt="%.3f", fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("CULane F1")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def write_report(report: BagReport, out_dir: str | Path, title: str) -> dict[str, Path]:
    """Write ``report.md``, ``report.html``, ``report.json`` and the two PNG plots.

    Returns:
        File kind (``markdown``, ``html``, ``json``, ``latency_plot``, ``f1_plot``) -> path.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "latency_plot": out / "latency.png",
        "f1_plot": out / "f1_per_category.png",
        "markdown": out / "report.md",
        "html": out / "report.html",
        "json": out / "report.json",
    }
    plot_latency(report, paths["latency_plot"])
    plot_f1(report, paths["f1_plot"])
    text = markdown(
        report, title, {"latency histogram": paths["latency_plot"].name, "F1 per category": paths["f1_plot"].name}
    )
    paths["markdown"].write_text(text)
    paths["html"].write_text(markdown_to_html(text, title))
    paths["json"].write_text(json.dumps(report.as_dict(), indent=2))
    return paths
