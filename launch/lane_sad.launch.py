"""ros2 launch lane_sad lane_sad.launch.py [image_topic:=/camera/image_raw] [params_file:=...]

Starts the lane_sad node. The node's command is built by lane_sad_ros.launch_spec, which
the tests start directly, so this file and the tested command cannot drift apart.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from lane_sad_ros.launch_spec import EXECUTABLE, NODE_NAME, PACKAGE, TRANSPORT_ENV, node_spec


def _node(context, *args, **kwargs):
    spec = node_spec(
        params_file=LaunchConfiguration("params_file").perform(context),
        image_topic=LaunchConfiguration("image_topic").perform(context),
    )
    return [
        Node(
            package=PACKAGE,
            executable=EXECUTABLE,
            name=NODE_NAME,
            parameters=[spec.params_file, spec.parameters],
            remappings=spec.remappings,
            output="screen",
        )
    ]


def generate_launch_description():
    default_params = os.path.join(get_package_share_directory(PACKAGE), "config", "lane_sad.yaml")
    return LaunchDescription(
        [
            DeclareLaunchArgument("image_topic", default_value="image",
                                  description="sensor_msgs/Image topic to detect lanes in"),
            DeclareLaunchArgument("params_file", default_value=default_params,
                                  description="node parameters (YAML)"),
            *[SetEnvironmentVariable(k, v) for k, v in TRANSPORT_ENV.items()],
            OpaqueFunction(function=_node),
        ]
    )
