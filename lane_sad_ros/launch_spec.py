"""What ``launch/lane_sad.launch.py`` starts, as plain data.

``ros2 launch`` is not installable everywhere (not from PyPI, for one), so the launch file
and the tests both build the node's command from :func:`node_spec`: the launch file hands
its fields to ``launch_ros.actions.Node``, and tests and the demo start
:meth:`NodeSpec.command` directly. The two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "lane_sad"
EXECUTABLE = "lane_sad_node"
NODE_NAME = "lane_sad"

# Fast DDS's default shared-memory segment (512 KiB) is smaller than one camera frame, so
# best-effort frames between processes are lost; config/fastdds_shm.xml adds a 32 MiB
# segment (docs/transport.md, bench/results/transport.md). The glibc tunables keep multi-MB
# receive buffers mapped instead of paying ~2000 page faults per frame.
PROFILE_FILE = "fastdds_shm.xml"
FAST_DDS_2_DISTROS = ("humble", "iron", "jazzy")
GLIBC_TUNABLES = "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=134217728"


def transport_env(config_dir: str | Path, current: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a process that sends or receives camera images on this host.

    Fast DDS 3 (Kilted and later) reads FASTDDS_DEFAULT_PROFILES_FILE; Fast DDS 2 (Humble,
    Jazzy, told apart by ROS_DISTRO) reads FASTRTPS_DEFAULT_PROFILES_FILE. Existing
    GLIBC_TUNABLES are kept, ours appended.
    """
    current = current or {}
    # Resolved: through colcon's symlink install Fast DDS would load the file twice and log
    # an XML parser error for the second copy.
    profile = str((Path(config_dir) / PROFILE_FILE).resolve())
    fast_dds_2 = current.get("ROS_DISTRO", "") in FAST_DDS_2_DISTROS
    tunables = current.get("GLIBC_TUNABLES", "")
    if GLIBC_TUNABLES not in tunables:
        tunables = f"{tunables}:{GLIBC_TUNABLES}" if tunables else GLIBC_TUNABLES
    return {
        "FASTRTPS_DEFAULT_PROFILES_FILE" if fast_dds_2 else "FASTDDS_DEFAULT_PROFILES_FILE": profile,
        "GLIBC_TUNABLES": tunables,
    }


@dataclass
class NodeSpec:
    """The node's executable, parameters, remappings and environment."""

    params_file: str
    remappings: list[tuple[str, str]] = field(default_factory=list)
    parameters: dict[str, object] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)

    def ros_args(self) -> list[str]:
        """The ``--ros-args`` part of the command line, as ``ros2 launch`` would pass it."""
        args = ["--ros-args", "-r", f"__node:={NODE_NAME}", "--params-file", self.params_file]
        for name, value in self.parameters.items():
            args += ["-p", f"{name}:={_param_text(value)}"]
        for src, dst in self.remappings:
            args += ["-r", f"{src}:={dst}"]
        return args

    def command(self, executable: str | Path) -> list[str]:
        """The full command line with the installed executable's path."""
        return [str(executable), *self.ros_args()]


def _param_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def node_spec(
    params_file: str,
    config_dir: str | Path,
    image_topic: str = "image",
    parameters: dict[str, object] | None = None,
    current_env: dict[str, str] | None = None,
) -> NodeSpec:
    """The node as the launch file starts it.

    Args:
        params_file: the parameters YAML.
        config_dir: the package's config folder (holds the Fast DDS profile).
        image_topic: remaps the node's ``image`` input (and ``camera_info`` beside it).
        parameters: ``-p`` overrides.
        current_env: the environment the node inherits (for GLIBC_TUNABLES).
    """
    remaps = []
    if image_topic != "image":
        base = image_topic.rsplit("/", 1)[0] if "/" in image_topic else ""
        remaps = [("image", image_topic), ("camera_info", f"{base}/camera_info" if base else "camera_info")]
    return NodeSpec(
        params_file=params_file,
        remappings=remaps,
        parameters=dict(parameters or {}),
        env=transport_env(config_dir, current_env),
    )


def launch_parameters(
    model: str = "", device: str = "", use_sim_time: str = "false", debug: str = "false"
) -> dict[str, object]:
    """Node parameters from the launch file's string arguments (empty = keep the YAML's)."""
    params: dict[str, object] = {"use_sim_time": use_sim_time.lower() == "true"}
    if model:
        params["checkpoint"] = model
    if device:
        params["device"] = device
    if debug.lower() == "true":
        params["publish_overlay"] = params["publish_attention"] = True
    return params


def installed_node_command(
    parameters: dict[str, object] | None = None, image_topic: str = "image", params_file: str | Path | None = None
) -> tuple[list[str], dict[str, str]]:
    """The installed node's command line and extra environment, found through the ament index.

    What the demo, ``lane-sad replay`` and the node benchmark start: the launch file's
    command with this interpreter (the venv's, where ``/usr/bin/env python3`` may not be).
    """
    import os
    import sys

    from ament_index_python.packages import get_package_prefix, get_package_share_directory

    config_dir = Path(get_package_share_directory(PACKAGE)) / "config"
    spec = node_spec(
        str(params_file or config_dir / "lane_sad.yaml"), config_dir, image_topic, parameters, dict(os.environ)
    )
    exe = Path(get_package_prefix(PACKAGE)) / "lib" / PACKAGE / EXECUTABLE
    return [sys.executable, *spec.command(exe)], spec.env
