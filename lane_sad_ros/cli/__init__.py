"""The ROS sub-commands of ``lane-sad`` (``bag``, ``replay``, ``bag-eval``).

``lane_sad_core.cli`` lists this package among its plugins and calls :func:`register`
when it imports; on a machine without lane_sad_ros or rosbags it does not, and the core
command simply lacks these sub-commands. Like the core's, each module defines
``register(subparsers)`` and imports its heavy dependencies inside the command.
"""

from __future__ import annotations

import argparse
import importlib

import rosbags  # noqa: F401  every command here reads or writes bags: without rosbags, none is offered

COMMANDS: tuple[str, ...] = ("bag", "replay", "bag_eval")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add every sub-command of this package to the ``lane-sad`` parser."""
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
