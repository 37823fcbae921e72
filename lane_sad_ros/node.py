"""The lane detector node: camera images in; lanes, overlays, markers and diagnostics out.

Topics (relative, so remapping works):
  in:  ``image`` (sensor_msgs/Image) or ``image/compressed`` (CompressedImage, with
       ``compressed_input``), ``camera_info`` (CameraInfo, for ground projection)
  out: ``lanes`` (lane_sad/LaneArray, with the ego lane in metres when ground points are
       known), ``lanes/overlay`` (Image), ``lanes/attention`` (lane_sad/LaneAttention) and its
       overlay alone as ``lanes/attention/overlay`` (Image, for rviz2), ``lanes/markers``
       (MarkerArray: lanes, the ego lane's centre and a text of its measures), ``/diagnostics``
       (with ``camera_pitch: auto``, the pitch estimate and whether it has settled)

The image callback only stores the newest frame; the main thread runs the detector of
lane_sad_core on it while the executor spins in another thread, so a slow model skips
frames instead of queueing them. Debug outputs
are computed only when enabled or subscribed.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from pathlib import Path

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from lane_sad.msg import LaneArray, LaneAttention
from rcl_interfaces.msg import SetParametersResult
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from visualization_msgs.msg import MarkerArray

from lane_sad_core.camera_pitch import PitchEstimator, frame_pitch
from lane_sad_core.ego_lane import EgoLane, ego_lane, ego_slots
from lane_sad_core.geometry import intrinsics_problem, project_to_ground
from lane_sad_core.infer.detector import LaneDetector
from lane_sad_core.infer.overlay import blend_attention, draw_lanes
from lane_sad_core.infer.postprocess import PostprocessConfig
from lane_sad_core.infer.temporal import TemporalConfig
from lane_sad_ros import params as P
from lane_sad_ros.frame_slot import FrameSlot
from lane_sad_ros.health import TRANSPORT_DOC, Health
from lane_sad_ros.image_conv import (
    ImageConversionError,
    as_bgr,
    bgr_to_image_msg,
    compressed_msg_to_bgr,
    image_msg_view,
)
from lane_sad_ros.lane_msgs import attention_msg, lane_array, lane_markers, lane_to_msg


class LaneDetectorNode(Node):
    """See the module docstring; parameters are in :mod:`lane_sad_ros.params`."""

    def __init__(self) -> None:
        super().__init__("lane_sad")
        self.params = P.declare(self)
        p = self.params
        postprocess, temporal = self._decoding()
        self.detector = LaneDetector(
            p.checkpoint or None, p.device, postprocess, backend=p.backend, threads=p.threads, temporal=temporal
        )
        name = Path(p.checkpoint).name if p.checkpoint else "default"
        self.model_name = f"{self.detector.meta.model_name} ({name})"
        self.health = Health()
        self.slot = FrameSlot()
        self.camera_k: np.ndarray | None = None
        # Replaced (never changed in place) when the pitch settings change, so the processing
        # thread works on one estimator per frame; diagnostics read the snapshot it leaves.
        self.pitch_estimator = PitchEstimator(p.pitch_settings())
        self._pitch_report: dict[str, str] = {}
        self._last_logged: tuple[str, float] = ("", 0.0)

        self.lanes_pub = self.create_publisher(LaneArray, "lanes", 10)
        self.overlay_pub = self.create_publisher(Image, "lanes/overlay", 2)
        self.attention_pub = self.create_publisher(LaneAttention, "lanes/attention", 2)
        self.attention_image_pub = self.create_publisher(Image, "lanes/attention/overlay", 2)
        self.markers_pub = self.create_publisher(MarkerArray, "lanes/markers", 2)
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        qos = self.params.input_qos()
        # image_transport's convention: <image topic>/compressed, after remapping "image"
        self.image_topic = self.resolve_topic_name("image") + ("/compressed" if p.compressed_input else "")
        image_type = CompressedImage if p.compressed_input else Image
        self.create_subscription(image_type, self.image_topic, self._on_image, qos)
        self._lost_reported = False
        self.create_subscription(CameraInfo, "camera_info", self._on_camera_info, qos_profile_sensor_data)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.create_timer(p.diagnostics_period, self._publish_diagnostics)

        self._stop = threading.Event()
        self.get_logger().info(
            f"model {self.model_name} on {self.detector.device} ({self.detector.backend_name}); input "
            f"{'image/compressed' if p.compressed_input else 'image'} ({p.qos_reliability}, depth {p.qos_depth})"
        )

    # --- callbacks (executor thread): store and return ---------------------------------
    def _on_image(self, msg: Image | CompressedImage) -> None:
        self.health.on_arrival(replaced_unprocessed=self.slot.put(msg))

    def _on_camera_info(self, msg: CameraInfo) -> None:
        k = np.asarray(msg.k, dtype=np.float64).reshape(3, 3)
        problem = intrinsics_problem(k)
        if problem is None:
            self.camera_k = k
            return
        self.camera_k = None  # no ground points rather than NaN ones
        self.health.on_warning(f"camera_info ignored: {problem}")
        self._log_problem(self.get_logger().warning, f"camera_info ignored, no ground points: {problem}")

    def _on_set_parameters(self, changes) -> SetParametersResult:
        for change in changes:
            problem = P.check_change(change.name, change.value)
            if problem:
                return SetParametersResult(successful=False, reason=problem)
        for change in changes:
            if hasattr(self.params, change.name):
                setattr(self.params, change.name, change.value)
        if any(change.name in P.PITCH for change in changes):
            self.pitch_estimator = PitchEstimator(self.params.pitch_settings())  # start over: a new camera set-up
        self.detector.postprocess, temporal = self._decoding()
        self.detector.set_temporal(temporal)
        if any(change.name in P.DECODING for change in changes):
            self.detector.reset_tracking()
        return SetParametersResult(successful=True)

    def _decoding(self) -> tuple[PostprocessConfig, TemporalConfig | None]:
        """The detector's decoding and temporal smoothing (None: off) from the parameters."""
        p = self.params
        postprocess = PostprocessConfig(
            exist_threshold=p.existence_threshold,
            prob_threshold=p.point_threshold,
            fit=p.fit,
            fit_tolerance=p.fit_tolerance,
            extend_to_bottom=p.extend_to_bottom,
        )
        temporal = TemporalConfig(alpha=p.temporal_alpha, gate=p.temporal_gate, hold=p.temporal_hold)
        return postprocess, temporal if p.temporal_smoothing else None

    # --- processing loop (the main thread) ---------------------------------------------
    def process_frames(self) -> None:
        """Process the newest frame until :meth:`close` or ROS shuts down.

        Runs in the process's main thread while the executor spins in another: PyTorch's
        CPU kernels ran 2x slower from a secondary thread here (its OpenMP pool belongs to
        the main thread), and callbacks only store frames, so they need no main thread.
        """
        while not self._stop.is_set() and self.context.ok():
            item = self.slot.take(timeout=0.1)
            if item is not None:
                self._process(*item)

    def _process(self, msg: Image | CompressedImage, arrived: float) -> None:
        started = time.perf_counter()
        try:
            # Image: a view of the message buffer in the camera's own layout, read as it is
            image, layout = (
                (compressed_msg_to_bgr(msg), "bgr") if isinstance(msg, CompressedImage) else image_msg_view(msg)
            )
        except ImageConversionError as exc:
            self.health.on_bad_input(str(exc))
            self._log_problem(self.get_logger().warning, f"frame dropped: {exc}")
            return
        stages = {"wait": 1e3 * (started - arrived), "convert": 1e3 * (time.perf_counter() - started)}
        try:
            self._detect_and_publish(msg.header, image, layout, arrived, stages)
        except Exception as exc:  # keep running; /diagnostics turns ERROR when it repeats
            self.health.on_failure(f"{type(exc).__name__}: {exc}")
            self._log_problem(self.get_logger().error, f"processing failed: {type(exc).__name__}: {exc}")

    def _log_problem(self, log, text: str) -> None:
        """Log a problem when it differs from the last one or 2 s have passed (no log floods)."""
        now = time.monotonic()
        if text != self._last_logged[0] or now - self._last_logged[1] > 2.0:
            log(text)
            self._last_logged = (text, now)

    def _wants(self, enabled: bool, pub) -> bool:
        return enabled or pub.get_subscription_count() > 0

    def _detect_and_publish(
        self, header, image: np.ndarray, layout: str, arrived: float, stages: dict[str, float]
    ) -> None:
        """Detect, publish the LaneArray, then the visual outputs people asked for.

        ``image`` is in pixel ``layout`` (``bgr``, ``rgb``, ...). ``stages`` (wait, convert so
        far) gains the detector's and this method's stage times in ms; they go to
        /diagnostics as ``<stage>_p50_ms``.
        """
        p = self.params
        with_attention = (
            self._wants(p.publish_attention, self.attention_pub)
            or self.attention_image_pub.get_subscription_count() > 0
        )
        # The stamp orders the stream's frames for temporal smoothing; one earlier than the
        # last (a bag looping, a restarted camera) or a long gap restarts the lane tracks.
        stamp = header.stamp.sec + 1e-9 * header.stamp.nanosec
        det = self.detector.detect(image, with_attention=with_attention, channels=layout, stamp=stamp)
        stages.update(det.timings)
        t0 = time.perf_counter()
        k = self.camera_k  # read once: the executor thread may replace it meanwhile
        pitch = self._pitch(det.lanes, k, stamp)
        projected = k is not None and pitch is not None and p.camera_height > 0
        ground_frame = p.ground_frame_id if projected else ""
        grounds = self._grounds(det.lanes, k, pitch)
        lane_msgs = [lane_to_msg(lane, ground) for lane, ground in zip(det.lanes, grounds)]
        by_slot = {lane.slot: g for lane, g in zip(det.lanes, grounds) if g is not None}
        ego = ego_lane(by_slot, self.detector.num_slots, p.ego_config())
        h, w = image.shape[:2]
        out = lane_array(
            header,
            (w, h),
            lane_msgs,
            self.model_name,
            det.timings["inference"],
            1e3 * (time.perf_counter() - arrived),
            ground_frame,
            ego,
        )
        self.lanes_pub.publish(out)
        t1 = time.perf_counter()
        self._publish_visuals(header, image, layout, det, with_attention, lane_msgs, ground_frame, ego)
        stages.update(publish=1e3 * (t1 - t0), visuals=1e3 * (time.perf_counter() - t1))
        self.health.on_processed(out.processing_ms, stages)

    def _pitch(self, lanes: list, k: np.ndarray | None, stamp: float) -> float | None:
        """The pitch to project with: the parameter, or (``auto``) the settled estimate, None before it settles.

        With ``auto`` each frame's ego lines add their vanishing point's pitch to the estimator.
        """
        if self.params.camera_pitch != "auto":
            return float(self.params.camera_pitch)
        estimator = self.pitch_estimator
        points = {lane.slot: lane.points for lane in lanes}
        left, right = ego_slots(self.detector.num_slots)
        if k is None or left not in points or right not in points:
            estimator.add(stamp, None)
        else:
            estimator.add(stamp, frame_pitch(points[left], points[right], k))
        self._pitch_report = {
            "pitch_estimate_rad": f"{estimator.estimate:.4f}",
            "pitch_estimate_deg": f"{np.degrees(estimator.estimate):.2f}",
            "pitch_settled": str(estimator.settled).lower(),
            "pitch_frames": str(estimator.frames),
            "pitch_used_rad": "none" if estimator.value is None else f"{estimator.value:.4f}",
        }
        return estimator.value

    def _grounds(self, lanes: list, k: np.ndarray | None, pitch: float | None) -> list[np.ndarray | None]:
        """Each lane's flat-ground points; None without intrinsics, pitch or camera height."""
        height = self.params.camera_height
        if k is None or pitch is None or height <= 0:
            return [None] * len(lanes)
        return [project_to_ground(lane.points, k, height, pitch) for lane in lanes]

    def _publish_visuals(
        self,
        header,
        image: np.ndarray,
        layout: str,
        det,
        with_attention: bool,
        lane_msgs: list,
        ground_frame: str,
        ego: EgoLane,
    ) -> None:
        """Overlay and attention while enabled or subscribed (drawn on a BGR copy); markers with ground points."""
        drawn = self._wants(self.params.publish_overlay, self.overlay_pub) or (with_attention and det.attention)
        image = as_bgr(image, layout) if drawn else image
        if self._wants(self.params.publish_overlay, self.overlay_pub):
            self.health.on_debug_output("overlay")
            self.overlay_pub.publish(bgr_to_image_msg(draw_lanes(image, det.lanes), header))
        if with_attention and det.attention:
            self.health.on_debug_output("attention")
            blended = blend_attention(image, np.mean(list(det.attention.values()), axis=0), self.detector.preprocess)
            msg = attention_msg(header, blended, det.attention)
            self.attention_pub.publish(msg)
            self.attention_image_pub.publish(msg.overlay)
        if ground_frame:
            marker_header = type(header)(stamp=header.stamp, frame_id=ground_frame)
            self.markers_pub.publish(lane_markers(marker_header, lane_msgs, ego))

    # --- diagnostics -------------------------------------------------------------------
    def _publish_diagnostics(self) -> None:
        report = self.health.report(
            self.params.image_timeout, self.params.failure_limit, self.count_publishers(self.image_topic)
        )
        lost = TRANSPORT_DOC in report.message
        if lost and not self._lost_reported:  # once per spell: the message itself repeats on /diagnostics
            self.get_logger().warning(report.message)
        self._lost_reported = lost
        values = {**report.values, "device": str(self.detector.device), "model": self.model_name}
        if self.params.camera_pitch == "auto":
            values.update(self._pitch_report or {"pitch_settled": "false", "pitch_frames": "0"})
        status = DiagnosticStatus(
            level=bytes([report.level]),
            name="lane_sad: lane detector",
            message=report.message,
            hardware_id=str(self.detector.device),
            values=[KeyValue(key=k, value=v) for k, v in values.items()],
        )
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        self.diag_pub.publish(msg)

    def close(self) -> None:
        """End :meth:`process_frames` (after the frame in hand, if any)."""
        self._stop.set()
        self.slot.close()


def main(args: list[str] | None = None) -> int:
    """Console-script entry: spin until SIGINT/SIGTERM, then shut down cleanly.

    Returns 2 when the node cannot start (bad parameter, missing or unsafe checkpoint,
    unavailable device), after logging why.
    """
    rclpy.init(args=args)
    try:
        node = LaneDetectorNode()
    except Exception as exc:  # start-up errors end the process with their reason
        rclpy.logging.get_logger("lane_sad").fatal(f"cannot start: {exc}")
        rclpy.try_shutdown()
        return 2
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spinner = threading.Thread(target=_spin, args=(executor,), name="lane_sad_executor")
    spinner.start()
    try:
        node.process_frames()
    except KeyboardInterrupt:
        pass
    finally:
        node.close()
        executor.shutdown(timeout_sec=1.0)
        rclpy.try_shutdown()
        spinner.join(timeout=2.0)
        node.destroy_node()
    return 0


def _spin(executor: SingleThreadedExecutor) -> None:
    """The executor's thread: callbacks until shutdown (SIGINT/SIGTERM end it)."""
    with contextlib.suppress(KeyboardInterrupt, ExternalShutdownException):
        executor.spin()


if __name__ == "__main__":
    sys.exit(main())
