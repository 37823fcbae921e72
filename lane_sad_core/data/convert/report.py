"""What a conversion did, frame by frame: the command prints it and writes it to a file.

Every lane that is not in the output has a line here (why: too short, no slot left,
outside the image, a curb, ...), and so has every frame that was skipped.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPORT_FILE = "convert_report.json"


@dataclass
class FrameResult:
    """One source frame after conversion.

    Attributes:
        key: the frame's key (its image path below ``frames/``).
        exist: per-slot flags of the lanes written (1 lane, 0 none, -1 unknown); None when the
            frame was skipped.
        issues: lanes left out or changed, and what the reader left out, one line each.
        skipped: why the whole frame was not written, or None.
    """

    key: str
    exist: tuple[int, ...] | None = None
    issues: list[str] = field(default_factory=list)
    skipped: str | None = None


@dataclass
class ConvertReport:
    """The whole conversion: settings, counts and every frame's issues."""

    source_format: str
    source: str
    settings: dict
    frames: list[FrameResult]
    splits: dict[str, int]

    def written(self) -> list[FrameResult]:
        """Frames that are in the output."""
        return [f for f in self.frames if f.skipped is None]

    def slot_counts(self) -> list[int]:
        """Lanes written per slot (left to right)."""
        flags = [f.exist for f in self.written() if f.exist is not None]
        return [sum(e == 1 for e in col) for col in zip(*flags, strict=True)] if flags else []

    def summary(self) -> str:
        """One line: frames, lanes per slot, frames with issues, frames skipped."""
        written = self.written()
        slots = self.slot_counts()
        per_slot = " ".join(f"{k + 1}:{n}" for k, n in enumerate(slots))
        issues = sum(len(f.issues) for f in self.frames)
        return (
            f"{len(written)} frames written ({', '.join(f'{k} {n}' for k, n in self.splits.items())}), "
            f"{sum(slots)} lanes (per slot {per_slot or '-'}), {len(self.frames) - len(written)} frames skipped, "
            f"{issues} issues in {sum(bool(f.issues) for f in self.frames)} frames"
        )

    def lines(self) -> list[str]:
        """One line per skipped frame and per issue, frame by frame."""
        out: list[str] = []
        for frame in self.frames:
            if frame.skipped:
                out.append(f"{frame.key}: skipped: {frame.skipped}")
            out.extend(f"{frame.key}: {issue}" for issue in frame.issues)
        return out

    def to_json(self) -> str:
        """The report file's content."""
        data = {
            "source_format": self.source_format,
            "source": self.source,
            "settings": self.settings,
            "summary": self.summary(),
            "slot_counts": self.slot_counts(),
            "splits": self.splits,
            "frames": [asdict(f) for f in self.frames],
        }
        return json.dumps(data, indent=1) + "\n"


def write_report(out: Path, report: ConvertReport) -> Path:
    """Write ``convert_report.json`` into the dataset root; returns its path."""
    path = out / REPORT_FILE
    path.write_text(report.to_json())
    return path


def print_limited(lines: Sequence[str], limit: int) -> list[str]:
    """The first ``limit`` lines plus one saying how many more are in the report file."""
    if len(lines) <= limit:
        return list(lines)
    return [*lines[:limit], f"... and {len(lines) - limit} more lines in {REPORT_FILE}"]
