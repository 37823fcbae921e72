"""Start the lane_sad node (and optionally rviz2).

    ros2 launch lane_sad lane_sad.launch.py image_topic:=/camera/image_raw \
        [params_file:=...] [model:=/path/ckpt.pt] [device:=cuda] [use_sim_time:=true] \
        [debug:=true] [rviz:=true]

The node's command (executable, parameters, remappings, environment) comes from
lane_sad_ros.launch_spec, which the tests start directly, so this file and the tested
command cannot drift apart. The environment applies the shipped Fast DDS profile for
camera-sized images (docs/transport.md); give your camera driver the same.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from lane_sad_ros.launch_spec import EXECUTABLE, NODE_NAME, PACKAGE, launch_parameters, node_spec
from launch import LaunchDescription

ARGUMENTS = {
    "image_topic": ("image", "sensor_msgs/Image topic (camera_info is taken beside it)"),
    "params_file": ("", "node parameters YAML (default: the package's config/lane_sad.yaml)"),
    "model": ("", "checkpoint file (default: the parameters file's, else the shipped model)"),
    "device": ("", "auto | cpu | cuda | cuda:N (default: the parameters file's)"),
    "use_sim_time": ("false", "use /clock (rosbag replay)"),
    "debug": ("false", "always publish the overlay and attention images"),
    "rviz": ("false", "start rviz2 with config/lane_sad.rviz"),
}


def _nodes(context):
    share = get_package_share_directory(PACKAGE)
    config_dir = os.path.join(share, "config")
    arg = {name: LaunchConfiguration(name).perform(context) for name in ARGUMENTS}
    spec = node_spec(
        params_file=arg["params_file"] or os.path.join(config_dir, "lane_sad.yaml"),
        config_dir=config_dir,
        image_topic=arg["image_topic"],
        parameters=launch_parameters(arg["model"], arg["device"], arg["use_sim_time"], arg["debug"]),
        current_env=dict(os.environ),
    )
    return [
        Node(
            package=PACKAGE,
            executable=EXECUTABLE,
            name=NODE_NAME,
            output="screen",
            parameters=[spec.params_file, spec.parameters],
            remappings=spec.remappings,
            additional_env=spec.env,
        ),
        Node(
            package="rviz2",
            executable="rviz2",
            name="rviz2",
            output="screen",
            arguments=["-d", os.path.join(config_dir, "lane_sad.rviz")],
            condition=IfCondition(LaunchConfiguration("rviz")),
        ),
    ]


def generate_launch_description():
    return LaunchDescription(
        [
            DeclareLaunchArgument(name, default_value=default, description=text)
            for name, (default, text) in ARGUMENTS.items()
        ]
        + [OpaqueFunction(function=_nodes)]
    )
