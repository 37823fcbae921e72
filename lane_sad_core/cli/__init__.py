"""The ``lane-sad`` command line: one sub-command per module in this package, plus plugins.

Each sub-command module defines ``register(subparsers)``, which adds its parser and sets
``func`` to a callable taking the parsed arguments and returning an exit code. Modules
import their heavy dependencies (torch, cv2) inside ``func`` so that ``--help`` is fast.

Packages built on this one add their sub-commands the same way: :data:`PLUGINS` lists
packages whose ``register(subparsers)`` is called when they import. The ROS commands
(``bag``, ``replay``, ``bag-eval``) come from ``lane_sad_ros.cli``, so one ``lane-sad``
command serves both, and this package never imports ROS: where the plugin cannot be
imported its commands are absent and asking for one prints why.
"""

from __future__ import annotations

import argparse
import importlib
import re
import signal
import sys
from collections.abc import Sequence

from lane_sad_core import __version__, interrupts
from lane_sad_core.errors import LaneSadError

# Sub-command modules, in the order ``--help`` lists them.
COMMANDS: tuple[str, ...] = ("synth", "convert", "data", "pseudo", "score", "train", "eval", "infer", "export")
# Packages that add sub-commands when importable, in the order ``--help`` lists them.
PLUGINS: tuple[str, ...] = ("lane_sad_ros.cli",)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every sub-command registered (the plugins' where they import)."""
    parser, _, _ = _build_parser()
    return parser


def _build_parser() -> tuple[argparse.ArgumentParser, set[str], dict[str, str]]:
    """The parser, its sub-command names, and why each plugin that could not be imported is missing."""
    parser = argparse.ArgumentParser(
        prog="lane-sad",
        description="Lane detection with attention distillation: data, training, evaluation, inference and deployment.",
    )
    parser.add_argument("--version", action="version", version=f"lane-sad {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"lane_sad_core.cli.{name}").register(subparsers)
    missing: dict[str, str] = {}
    for plugin in PLUGINS:
        try:
            module = importlib.import_module(plugin)
        except ImportError as exc:
            missing[plugin] = str(exc)
            continue
        module.register(subparsers)
    return parser, set(subparsers.choices), missing


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser, commands, missing = _build_parser()
    command = next((a for a in argv if not a.startswith("-")), None)
    if missing and command is not None and command not in commands:
        reasons = "; ".join(f"{plugin} cannot be imported: {reason}" for plugin, reason in missing.items())
        print(
            f"lane-sad: unknown command {command!r} ({reasons}); the ROS commands bag, replay and bag-eval "
            "need lane_sad_ros and rosbags (pip install lane_sad[ros])",
            file=sys.stderr,
        )
        return 2
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    interrupts.install()
    try:
        return int(args.func(args) or 0)
    except (LaneSadError, OSError) as exc:  # OSError: a missing file, a full disk, no permission, ...
        print(f"lane-sad {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        print(f"lane-sad {args.command}: interrupted ({signal.Signals(signum).name})", file=sys.stderr)
        return 128 + signum


def warn(command: str, text: str) -> None:
    """A warning on stderr, one line, in the error's form: the run goes on (progress bars are redrawn below it)."""
    from tqdm import tqdm

    tqdm.write(f"lane-sad {command}: warning: {text}", file=sys.stderr)


def _one_line(exc: Exception) -> str:
    """The error's reason in one line (a message of several lines is joined).

    An exception raised in a DataLoader worker reaches here rebuilt by torch from the
    worker's formatted traceback ("Caught ... Original Traceback ..."), without a
    ``filename``: its last line is the original error, after its type and errno.
    """
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.strerror}: {exc.filename}"
    text = str(exc).strip()
    if "\nOriginal Traceback" in text:
        return re.sub(r"^[\w.]+: (\[Errno \d+\] )?", "", text.splitlines()[-1])
    return " ".join(line.strip() for line in text.splitlines() if line.strip())  # e.g. a YAML parser's message


if __name__ == "__main__":
    sys.exit(main())
