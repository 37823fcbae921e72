"""Image messages to arrays: views of the message buffer in every encoding, the layout the detector
reads them in, the BGR copies overlays need, and clear reasons for what cannot be read."""

from __future__ import annotations

import array

import cv2
import numpy as np
import pytest

pytestmark = pytest.mark.ros

BGR = np.random.default_rng(7).integers(0, 256, (24, 40, 3), dtype=np.uint8)
FROM_BGR = {
    "bgr8": lambda im: im,
    "rgb8": lambda im: cv2.cvtColor(im, cv2.COLOR_BGR2RGB),
    "bgra8": lambda im: cv2.cvtColor(im, cv2.COLOR_BGR2BGRA),
    "rgba8": lambda im: cv2.cvtColor(im, cv2.COLOR_BGR2RGBA),
    "mono8": lambda im: cv2.cvtColor(im, cv2.COLOR_BGR2GRAY),
}


def message(encoding: str, pad: int = 0):
    """An Image message of BGR in ``encoding``, each row padded by ``pad`` bytes."""
    from sensor_msgs.msg import Image

    pixels = FROM_BGR[encoding](BGR)
    rows = pixels.reshape(pixels.shape[0], -1)
    padded = np.concatenate([rows, np.full((rows.shape[0], pad), 99, np.uint8)], axis=1)
    msg = Image(height=rows.shape[0], width=BGR.shape[1], encoding=encoding, step=padded.shape[1])
    msg.data = array.array("B", padded.tobytes())
    return msg


@pytest.mark.parametrize("encoding", list(FROM_BGR))
@pytest.mark.parametrize("pad", [0, 8])
def test_every_encoding_is_a_view_of_the_message(encoding: str, pad: int) -> None:
    from lane_sad_ros.image_conv import ENCODINGS, as_bgr, image_msg_view

    msg = message(encoding, pad)
    pixels, layout = image_msg_view(msg)
    assert layout == ENCODINGS[encoding][1]
    assert np.shares_memory(pixels, np.frombuffer(msg.data, np.uint8))  # not copied
    want = BGR if encoding != "mono8" else cv2.cvtColor(FROM_BGR["mono8"](BGR), cv2.COLOR_GRAY2BGR)
    assert np.array_equal(as_bgr(pixels, layout), want[..., :3])


def test_the_detector_reads_each_layout_as_its_bgr_copy(tmp_path) -> None:
    """RGB, BGRA, RGBA and grey views give the lanes and probabilities of their BGR conversion."""
    import torch

    from lane_sad_core.data.preprocess import PreprocessConfig
    from lane_sad_core.infer import LaneDetector
    from lane_sad_core.models import build_model
    from lane_sad_core.models.checkpoint import model_payload, save_checkpoint
    from lane_sad_ros.image_conv import as_bgr, image_msg_view

    torch.manual_seed(0)
    model = build_model("enet_sad", input_height=16, input_width=32).eval()
    path = save_checkpoint(tmp_path / "m.pt", model_payload(model, PreprocessConfig(width=32, height=16)))
    detector = LaneDetector(path, "cpu")
    for encoding in FROM_BGR:
        pixels, layout = image_msg_view(message(encoding, pad=4))
        got, want = detector.detect(pixels, channels=layout), detector.detect(as_bgr(pixels, layout).copy())
        assert np.array_equal(got.prob, want.prob) and np.array_equal(got.exist, want.exist)
    with pytest.raises(ValueError, match=r"expected an \(H, W, 4\) rgba image, got shape \(24, 40, 3\)"):
        detector.detect(BGR, channels="rgba")
    with pytest.raises(ValueError, match="unknown channel layout 'yuv'"):
        detector.detect(BGR, channels="yuv")


def test_unreadable_messages_say_why() -> None:
    from sensor_msgs.msg import Image

    from lane_sad_ros.image_conv import ImageConversionError, image_msg_view

    short = message("bgr8")
    short.step = 100
    with pytest.raises(ImageConversionError, match=r"step 100 is smaller than width\*channels = 120"):
        image_msg_view(short)
    with pytest.raises(ImageConversionError, match="unsupported encoding 'yuv422'"):
        image_msg_view(Image(height=2, width=2, encoding="yuv422", step=4))
    with pytest.raises(ImageConversionError, match="empty image"):
        image_msg_view(Image(encoding="bgr8"))
