"""lane_sad_ros: the ROS 2 glue around lane_sad_core (node, message conversion, launch).

No ML logic lives here: the node converts messages, calls lane_sad_core and publishes.
"""

__all__: list[str] = []
