"""Make a lane_sad virtual environment a ROS 2 environment for every Python process.

``make setup`` copies this file into the venv's site-packages as ``_lane_sad_env.py`` with
a ``_lane_sad_env.pth`` that imports it, and writes the repository path into
``_lane_sad_env.json`` beside it. Python runs ``.pth`` files in name order, so this runs
before ``ros_wheels_bootstrapper.pth``, whose re-exec then carries these variables into
the real process. Result: ``.venv/bin/lane-sad``, ``.venv/bin/python -m pytest`` and the
node find rclpy, the generated ``lane_sad`` messages and the ament index without any
``source``. The Python packages ``lane_sad_core`` and ``lane_sad_ros`` come from the source
tree (an editable install), not from ``install/``, whose per-file symlinks miss files added
since the last build; only the generated ``lane_sad`` package is taken from ``install/``
(``make setup`` links it into site-packages).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def _prepend(var: str, value: str) -> None:
    parts = [p for p in os.environ.get(var, "").split(os.pathsep) if p]
    if value not in parts:
        os.environ[var] = os.pathsep.join([value, *parts])


def _setup() -> None:
    conf = Path(__file__).with_suffix(".json")
    if not conf.is_file():
        return
    prefix = Path(json.loads(conf.read_text())["install_prefix"])
    # The venv itself is a ROS prefix (the wheels install share/<pkg> and lib/ into it).
    _prepend("AMENT_PREFIX_PATH", sys.prefix)
    _prepend("AMENT_PREFIX_PATH", str(prefix))
    _prepend("LD_LIBRARY_PATH", str(prefix / "lib"))


_setup()
