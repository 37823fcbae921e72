"""Topic names of the bags lane_sad writes, and what each carries.

Camera bags (``lane-sad bag from-dataset``):

* ``/camera/image_raw`` (sensor_msgs/Image, bgr8, ``frame_id`` ``camera``): the frames.
* ``/lanes_gt`` (lane_sad/LaneArray): the ground truth of each frame, same header as the
  image; lanes in source pixels with their slots, ``existence`` 1; ``model_name`` is
  ``gt:<category>`` (CULane's category names, ``unknown`` when the data set has none).
* ``/lanes_gt/info`` (std_msgs/String, JSON, logged at the frame's time): ``stamp_ns``,
  ``image`` (path relative to the data set root) and, for TuSimple, the label rows
  ``h_samples`` that its metric scores at.

Replay bags (``lane-sad replay``) add the node's answers and the replay's timing:

* ``/lanes`` (lane_sad/LaneArray) and ``/diagnostics`` (diagnostic_msgs/DiagnosticArray),
  as the node published them, logged at the simulated time they arrived.
* ``/replay/sent`` and ``/replay/received`` (sensor_msgs/TimeReference): header stamp =
  the frame's stamp, ``time_ref`` = wall-clock time the frame was published / its
  LaneArray arrived, both taken in the replay process.
"""

CAMERA = "/camera/image_raw"
CAMERA_FRAME_ID = "camera"
GT = "/lanes_gt"
GT_INFO = "/lanes_gt/info"
GT_MODEL_PREFIX = "gt:"
LANES = "/lanes"
DIAGNOSTICS = "/diagnostics"
CLOCK = "/clock"
SENT = "/replay/sent"
RECEIVED = "/replay/received"

IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
CAMERA_TYPES = (*IMAGE_TYPES, "sensor_msgs/msg/CameraInfo")
