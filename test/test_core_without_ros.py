"""The core stands alone: every lane_sad_core module imports with ROS absent, none pulls ROS in,
the ROS commands join ``lane-sad`` only where lane_sad_ros imports, and no import cycles."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import grimp

from lane_sad_core.cli import build_parser

# Top-level packages that count as ROS here: the ROS client library and messages, this
# project's ROS package and its generated messages, and the bag library the ROS side uses.
ROS = ("rclpy", "lane_sad_ros", "lane_sad", "rosbags", "sensor_msgs", "std_msgs", "ament_index_python")

WITHOUT_ROS = textwrap.dedent(
    """
    import importlib, importlib.abc, json, pkgutil, sys

    ROS = {ros!r}

    class NoRos(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ROS:
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None

    sys.meta_path.insert(0, NoRos())
    import lane_sad_core

    names = [m.name for m in pkgutil.walk_packages(lane_sad_core.__path__, "lane_sad_core.")]
    names = [n for n in names if n != "lane_sad_core.__main__"]  # it runs the command line
    for name in names:
        importlib.import_module(name)
    from lane_sad_core.cli import build_parser, main

    commands = sorted(build_parser()._subparsers._group_actions[0].choices)
    code = main(["bag", "info", "some.mcap"])
    pulled = sorted(m for m in sys.modules if m.split(".")[0] in ROS)
    print(json.dumps({{"modules": names, "commands": commands, "code": code, "pulled": pulled}}))
    """
)


def test_every_core_module_imports_without_ros_and_pulls_none_in(capfd):
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_ROS.format(ros=ROS)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(report["modules"]) > 80  # the walk really found the package
    assert report["pulled"] == []
    # the ROS commands are absent, and asking for one says why in one line, exit 2
    assert not {"bag", "replay", "bag-eval"} & set(report["commands"])
    assert {"synth", "train", "eval", "infer", "export", "score"} <= set(report["commands"])
    assert report["code"] == 2
    (hint,) = done.stderr.strip().splitlines()
    assert hint.startswith("lane-sad: unknown command 'bag'") and "lane_sad_ros" in hint


def test_the_ros_commands_join_lane_sad_where_lane_sad_ros_imports():
    commands = build_parser()._subparsers._group_actions[0].choices
    assert {"bag", "replay", "bag-eval"} <= set(commands)


def test_no_import_cycles_even_through_imports_inside_functions():
    graph = grimp.build_graph("lane_sad_core", "lane_sad_ros")
    ours = {m for m in graph.modules if m.split(".")[0] in ("lane_sad_core", "lane_sad_ros")}
    cycles = [
        (module, other)
        for module in sorted(ours)
        for other in sorted(graph.find_modules_directly_imported_by(module) & ours)
        if graph.chain_exists(importer=other, imported=module)
    ]
    assert cycles == []
