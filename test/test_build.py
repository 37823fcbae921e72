"""The package builds like any ROS 2 package, installs where ROS tools look, and fails loudly."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rosutil import INSTALL, NODE_EXE, REPO

pytestmark = pytest.mark.ros

PACKAGE_FILES = ("package.xml", "CMakeLists.txt", "msg", "scripts", "launch", "config", "lane_sad_core", "lane_sad_ros")


def test_package_found_through_ament_index() -> None:
    from ament_index_python.packages import get_package_prefix, get_package_share_directory

    share = Path(get_package_share_directory("lane_sad"))
    assert share == INSTALL / "share" / "lane_sad"
    assert (share / "launch" / "lane_sad.launch.py").is_file()
    assert (share / "config" / "lane_sad.yaml").is_file()
    assert Path(get_package_prefix("lane_sad")) == INSTALL


def test_node_executable_where_ros2_run_looks() -> None:
    assert NODE_EXE.is_file()
    assert os.access(NODE_EXE, os.X_OK)


def test_generated_messages_import_with_their_fields() -> None:
    from lane_sad.msg import Lane, LaneArray, LaneAttention

    assert set(Lane.get_fields_and_field_types()) == {"slot", "existence", "points", "confidence", "ground_points"}
    fields = LaneArray.get_fields_and_field_types()
    assert fields["header"] == "std_msgs/Header"
    assert fields["lanes"] == "sequence<lane_sad/Lane>"
    assert LaneAttention.get_fields_and_field_types()["attention_maps"] == "sequence<sensor_msgs/Image>"


def test_cli_help_and_version_from_the_venv() -> None:
    exe = Path(sys.prefix) / "bin" / "lane-sad"
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60, env={})
    assert out.returncode == 0, out.stderr
    assert "usage: lane-sad" in out.stdout
    ver = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60, env={})
    assert ver.stdout.strip().startswith("lane-sad 0.")


def _broken_copy(tmp_path: Path, file: str, old: str, new: str) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    for name in PACKAGE_FILES:
        (shutil.copytree if (REPO / name).is_dir() else shutil.copy)(REPO / name, src / name)
    target = src / file
    text = target.read_text()
    assert old in text
    target.write_text(text.replace(old, new))
    return src


def _build(src: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(REPO / "tools" / "colcon_build.sh"), str(src), str(src.parent / "build"), str(src.parent / "install")],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "LANE_SAD_VENV": sys.prefix},
    )


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"),
    [
        ("package.xml", "<name>lane_sad</name>", "<name>lane_sad</nme>", "The manifest contains invalid XML"),
        ("msg/Lane.msg", "float32 existence", "float99 existence", "'float99' is an invalid message name"),
    ],
)
def test_broken_package_fails_the_build_with_the_tool_message(
    tmp_path: Path, file: str, old: str, new: str, expected: str
) -> None:
    result = _build(_broken_copy(tmp_path, file, old, new))
    assert result.returncode != 0
    assert expected in " ".join((result.stdout + result.stderr).split())  # CMake wraps lines
    assert not (tmp_path / "install" / "lane_sad" / "share" / "lane_sad" / "package.xml").exists()
