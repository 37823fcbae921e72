"""sensor_msgs/Image <-> NumPy, without cv_bridge (PyPI's is broken under NumPy 2)."""

from __future__ import annotations

import numpy as np
from sensor_msgs.msg import Image


def bgr_to_image_msg(image: np.ndarray, header=None) -> Image:
    """A uint8 (H, W, 3) BGR array as a ``bgr8`` Image message."""
    msg = Image()
    if header is not None:
        msg.header = header
    msg.height, msg.width = image.shape[:2]
    msg.encoding = "bgr8"
    msg.step = msg.width * 3
    msg.data = np.ascontiguousarray(image, dtype=np.uint8).tobytes()
    return msg
