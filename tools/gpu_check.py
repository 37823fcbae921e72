"""The GPU check behind ``tools/gpu_check.sh``: the CUDA tests and the GPU benchmark, one results file.

Meant for a machine with a CUDA GPU and PyTorch and no network: it installs nothing, runs
with whatever this Python has, and says for every part it could not run why (no CUDA
device, a module missing). Steps, each with its own time budget so the whole stays within
ten minutes:

1. the machine: GPUs (``nvidia-smi -L``), torch and its CUDA, the optional runtimes;
2. ``pytest -m cuda``: every test marked ``cuda`` (training with AMP, DDP over NCCL on two
   GPUs, the detector and the node on CUDA, ONNX Runtime's CUDA provider, TensorRT);
3. ``bench/bench_gpu.py``: the backends on the GPU.

Then it writes one Markdown file (default ``bench/results/gpu.md``) and exits 1 if a test
failed or errored, else 0. ``--quick`` is the smoke mode the test suite runs on a CPU
machine: the same steps, the benchmark without ``torch.compile`` and with few calls.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUDGET_S = 600
TEST_BUDGET_S = {False: 420, True: 240}  # quick or not
BENCH_BUDGET_S = {False: 150, True: 90}
NEEDED = ("numpy", "cv2", "yaml", "scipy", "pytest")  # what the tests and the benchmark import besides torch
OPTIONAL = ("onnxruntime", "tensorrt", "openvino", "triton", "rclpy")


def run(command: list[str], budget: float, log: Path) -> tuple[int | None, float]:
    """Run ``command`` with its output in ``log``; (exit code or None when the budget ran out, seconds)."""
    t0 = time.monotonic()
    with log.open("w") as out:
        try:
            code: int | None = subprocess.run(
                command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, timeout=budget
            ).returncode
        except subprocess.TimeoutExpired:
            code = None
    return code, time.monotonic() - t0


def machine() -> tuple[list[str], bool]:
    """Lines describing the GPUs, torch and the optional runtimes; whether torch sees a CUDA device."""
    import torch

    lines = [
        f"- Python {platform.python_version()} ({sys.executable}), torch {torch.__version__}, "
        f"built for CUDA {torch.version.cuda or 'none'}"
    ]
    smi = shutil.which("nvidia-smi")
    if smi:
        listed = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=30).stdout.strip()
        lines += [f"- `nvidia-smi -L`: {line}" for line in listed.splitlines()] or ["- `nvidia-smi -L`: no GPU listed"]
    else:
        lines.append("- `nvidia-smi` not found")
    cuda = torch.cuda.is_available()
    for i in range(torch.cuda.device_count() if cuda else 0):
        p = torch.cuda.get_device_properties(i)
        lines.append(
            f"- torch device {i}: {p.name}, {p.total_memory / 2**30:.0f} GiB, compute capability {p.major}.{p.minor}, "
            f"bfloat16 {'yes' if torch.cuda.is_bf16_supported() else 'no'}"
        )
    if not cuda:
        lines.append("- **torch sees no CUDA device**: every CUDA part below is skipped for that reason")
    for name in OPTIONAL:
        lines.append(f"- {name}: {_module_version(name)}")
    return lines, cuda


def _module_version(name: str) -> str:
    if importlib.util.find_spec(name) is None:
        return "not installed (its parts are skipped)"
    try:
        module = __import__(name)
    except Exception as exc:  # a broken install: say so, do not stop the check
        return f"present but fails to import: {type(exc).__name__}: {exc}"
    version = getattr(module, "__version__", "present")
    if name == "onnxruntime":
        version += f", providers {', '.join(module.get_available_providers())}"
    return version


def test_rows(junit: Path) -> tuple[list[str], dict[str, int]]:
    """A Markdown row per test of a JUnit XML report, and the counts per outcome."""
    counts = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
    rows = ["| test | outcome | seconds | detail |", "|---|---|---:|---|"]
    for case in ET.parse(junit).getroot().iter("testcase"):
        outcome, detail = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed"}.get(child.tag, child.tag)
                message = (child.get("message") or child.text or "").strip()
                detail = message.splitlines()[0][:200] if message else ""
        counts[outcome] += 1
        name = f"{case.get('classname', '').removeprefix('test.')}::{case.get('name')}"
        rows.append(f"| `{name}` | {outcome} | {float(case.get('time', 0)):.1f} | {detail.replace('|', '/')} |")
    return rows, counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "gpu.md")
    parser.add_argument("--quick", action="store_true", help="smoke mode: benchmark without torch.compile, few calls")
    args = parser.parse_args(argv)
    started, t0 = datetime.datetime.now().astimezone(), time.monotonic()
    missing = [name for name in NEEDED if importlib.util.find_spec(name) is None]
    lines, cuda = machine()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        tests = tests_section(tmp, missing, args.quick)
        bench = bench_section(tmp, missing, cuda, args.quick)
    failed = tests[1]
    wall = time.monotonic() - t0
    text = "\n".join(
        [
            "# GPU check",
            "",
            f"Written by `tools/gpu_check.sh{' --quick' if args.quick else ''}` on {started:%Y-%m-%d %H:%M %Z}, "
            f"in {wall:.0f} s (budget {BUDGET_S} s); nothing was installed. "
            + ("" if cuda else "**No CUDA device here: this is the smoke run, not a GPU result.**"),
            "",
            "## Machine",
            "",
            *lines,
            *(
                [f"- missing modules the tests and the benchmark need: {', '.join(missing)} (those steps are skipped)"]
                if missing
                else []
            ),
            "",
            *tests[0],
            *bench,
        ]
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    print(text)
    return 1 if failed else 0


def tests_section(tmp: Path, missing: list[str], quick: bool) -> tuple[list[str], bool]:
    """The CUDA tests' section and whether any failed."""
    head = ["## CUDA tests (`pytest -m cuda`)", ""]
    if missing:
        return [*head, f"Not run: {', '.join(missing)} missing here.", ""], False
    junit, log = tmp / "junit.xml", tmp / "pytest.log"
    # Only the files that hold CUDA tests: an unrelated module that fails to import here (a
    # development-only dependency) must not stop the check.
    files = sorted(str(p) for p in (REPO / "test").glob("test_*.py") if "mark.cuda" in p.read_text())
    command = [sys.executable, "-m", "pytest", *files, "-m", "cuda", "-p", "no:cacheprovider", "-rs", "-q"]
    command += ["--junitxml", str(junit), "--timeout", "300"]
    code, seconds = run(command, TEST_BUDGET_S[quick], log)
    tail = log.read_text().strip().splitlines()[-1:] or ["(no output)"]
    if code is None or not junit.is_file():
        why = "ran out of its time budget" if code is None else f"exited {code} without a report: {tail[0]}"
        return [*head, f"pytest {why}.", "", "```", *log.read_text().splitlines()[-30:], "```", ""], True
    rows, counts = test_rows(junit)
    summary = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
    return [*head, f"{summary or 'no tests'} in {seconds:.0f} s (pytest: `{tail[0]}`).", "", *rows, ""], bool(
        counts["failed"] or counts["error"]
    )


def bench_section(tmp: Path, missing: list[str], cuda: bool, quick: bool) -> list[str]:
    head = ["## Backends on the GPU (`bench/bench_gpu.py`)", ""]
    if not cuda:
        return [*head, "Not run: no CUDA device visible to torch.", ""]
    if set(missing) - {"pytest"}:
        return [*head, f"Not run: {', '.join(sorted(set(missing) - {'pytest'}))} missing here.", ""]
    command = [sys.executable, str(REPO / "bench" / "bench_gpu.py"), "--out", str(tmp), *(["--quick"] if quick else [])]
    code, seconds = run(command, BENCH_BUDGET_S[quick], tmp / "bench.log")
    result = tmp / "gpu_bench.md"
    if code != 0 or not result.is_file():
        why = "ran out of its time budget" if code is None else f"exited {code}"
        return [
            *head,
            f"The benchmark {why}:",
            "",
            "```",
            *(tmp / "bench.log").read_text().splitlines()[-30:],
            "```",
            "",
        ]
    return [*head, result.read_text().strip(), "", f"({seconds:.0f} s)", ""]


if __name__ == "__main__":
    os.environ.setdefault("PYTHONPATH", str(REPO))
    sys.exit(main())
