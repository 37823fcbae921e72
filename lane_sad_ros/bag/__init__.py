"""rosbag2 bags without ``ros2 bag``: writing, reading (also cut MCAP files), camera bags
from CULane/TuSimple trees. Pure Python (rosbags); rclpy is needed only by the replay."""

from lane_sad_ros.bag.errors import BagError, ReplayError
from lane_sad_ros.bag.reader import BagReader, TopicInfo
from lane_sad_ros.bag.types import typestore
from lane_sad_ros.bag.writer import BagWriter

__all__ = ["BagError", "BagReader", "BagWriter", "ReplayError", "TopicInfo", "typestore"]
