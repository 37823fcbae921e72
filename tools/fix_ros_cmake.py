"""Point the ROS wheels' exported CMake targets at this machine's Python and NumPy headers.

The PyPI ROS 2 wheels were built in a manylinux container and their
``share/*/cmake/*Export.cmake`` files name that container's include directories
(``/opt/python/cp311-cp311/...``). CMake refuses targets whose include directories do not
exist, so message generation fails until the paths are rewritten. Idempotent.
"""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

import numpy

BUILD_PY = "/opt/python/cp311-cp311"
BAD_PYTHON_INCLUDE = f"{BUILD_PY}/include/python3.11"
BAD_NUMPY_INCLUDE = f"{BUILD_PY}/lib/python3.11/site-packages/numpy/_core/include"


def main() -> int:
    """Rewrite every exported CMake file under ``<sys.prefix>/share`` that names the paths."""
    replacements = {
        BAD_NUMPY_INCLUDE: numpy.get_include(),
        BAD_PYTHON_INCLUDE: sysconfig.get_paths()["include"],
    }
    changed = 0
    for path in Path(sys.prefix, "share").glob("*/cmake/*.cmake"):
        text = path.read_text()
        if BUILD_PY not in text:
            continue
        for bad, good in replacements.items():
            text = text.replace(bad, good)
        path.write_text(text)
        changed += 1
    print(f"fix_ros_cmake: rewrote {changed} CMake export file(s) under {sys.prefix}/share")
    return 0


if __name__ == "__main__":
    sys.exit(main())
