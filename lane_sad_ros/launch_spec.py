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

# Fast DDS's default UDP transport drops camera-sized best-effort samples (their many
# fragments rarely all arrive); shared memory for large data keeps them whole on one host.
TRANSPORT_ENV = {"FASTDDS_BUILTIN_TRANSPORTS": "LARGE_DATA"}


@dataclass
class NodeSpec:
    """The node's executable, parameters, remappings and environment."""

    params_file: str
    remappings: list[tuple[str, str]] = field(default_factory=list)
    parameters: dict[str, object] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=lambda: dict(TRANSPORT_ENV))

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
    image_topic: str = "image",
    parameters: dict[str, object] | None = None,
) -> NodeSpec:
    """The node as the launch file starts it (``image_topic`` remaps the input)."""
    remaps = [("image", image_topic)] if image_topic != "image" else []
    return NodeSpec(params_file=params_file, remappings=remaps, parameters=dict(parameters or {}))
