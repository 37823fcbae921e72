"""The ``lane-sad`` command line: one sub-command per module in this package.

Each sub-command module defines ``register(subparsers)``, which adds its parser and sets
``func`` to a callable taking the parsed arguments and returning an exit code. Modules
import their heavy dependencies (torch, cv2) inside ``func`` so that ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Sequence

from lane_sad_core import __version__
from lane_sad_core.errors import LaneSadError

# Sub-command modules, in the order ``--help`` lists them.
COMMANDS: tuple[str, ...] = (
    "synth",
    "convert",
    "data",
    "score",
    "train",
    "eval",
    "infer",
    "export",
    "bag",
    "replay",
    "bag_eval",
)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="lane-sad",
        description="Lane detection with attention distillation: data, training, evaluation, inference and deployment.",
    )
    parser.add_argument("--version", action="version", version=f"lane-sad {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"lane_sad_core.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except (LaneSadError, FileNotFoundError) as exc:
        print(f"lane-sad {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"lane-sad {args.command}: interrupted", file=sys.stderr)
        return 130


def _one_line(exc: Exception) -> str:
    """The error's reason in one line.

    An exception raised in a DataLoader worker reaches here rebuilt by torch from the
    worker's formatted traceback ("Caught ... Original Traceback ..."), without a
    ``filename``: its last line is the original error, after its type and errno.
    """
    if isinstance(exc, FileNotFoundError) and exc.filename:
        return f"{exc.strerror}: {exc.filename}"
    text = str(exc).strip()
    if "\nOriginal Traceback" in text:
        return re.sub(r"^[\w.]+: (\[Errno \d+\] )?", "", text.splitlines()[-1])
    return text


if __name__ == "__main__":
    sys.exit(main())
