"""The node's parameters: declared in one place, read once, validated on every change.

Parameters marked ``runtime`` may change while the node runs (``ros2 param set``); the
others choose the model, device and topics and need a restart. Every change goes through
:func:`validate`, which names the parameter and the rule it breaks.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Literal

from lane_sad_core.camera_pitch import PitchSettings
from lane_sad_core.ego_lane import EgoLaneConfig
from lane_sad_core.infer.backends import BACKENDS
from lane_sad_core.infer.postprocess import FITS
from lane_sad_core.plain import from_plain

if TYPE_CHECKING:
    from rclpy.qos import QoSProfile

DEVICES = ("auto", "cpu", "cuda")
RELIABILITY = ("best_effort", "reliable")


@dataclass
class NodeParams:
    """Parameter values with their defaults (``config/lane_sad.yaml`` documents them)."""

    checkpoint: str = ""  # empty: the model shipped with lane_sad_core
    device: str = "auto"  # auto: CUDA when available, else CPU; cpu, cuda, cuda:N
    # torch-compile(-bf16): compiled at start; onnxruntime / openvino(-f32) / tensorrt: the .onnx / .engine beside the
    # checkpoint; any of them falls back to torch
    backend: str = "torch"
    threads: int = 1  # CPU threads for the network; 0: one per core (docs/node.md: why 1)
    compressed_input: bool = False  # subscribe image/compressed (sensor_msgs/CompressedImage)
    qos_reliability: str = "best_effort"
    qos_depth: int = 1
    existence_threshold: float = 0.5
    point_threshold: float = 0.3
    fit: str = "robust"  # robust: a curve through the rows that agree; official: the paper's per-row points
    fit_tolerance: float = 0.02  # robust fit: rows further from the curve than this fraction of the width are outliers
    extend_to_bottom: bool = False  # continue lanes to the bottom row (CULane's convention)
    temporal_smoothing: bool = True  # smooth lanes over frames (lane_sad_core.infer.temporal)
    temporal_alpha: float = 0.4  # weight of the newest frame
    temporal_gate: float = 0.04  # a lane moved by more than this fraction of the width restarts its track
    temporal_hold: int = 2  # frames a lane that vanished is still reported
    publish_overlay: bool = False  # False: only while someone subscribes
    publish_attention: bool = False  # False: only while someone subscribes
    camera_height: float = 0.0  # metres; 0 disables ground projection
    camera_pitch: float | Literal["auto"] = 0.0  # radians, positive looking down; auto: from the lanes' vanishing point
    pitch_window: float = 3.0  # camera_pitch auto: seconds of frames whose median pitch is used
    pitch_min_frames: int = 15  # camera_pitch auto: frames within pitch_agreement of the median before it is used
    pitch_agreement: float = 0.0175  # camera_pitch auto: radians (1 degree)
    ego_lookahead: float = 10.0  # metres ahead where the ego lane's curvature is read
    ego_fit_distance: float = 40.0  # metres: ground points further ahead are not fitted
    vehicle_half_width: float = 0.9  # metres, wheel to wheel outside, halved
    departure_margin: float = 0.1  # metres: a wheel this close to an ego line raises lane departure
    ground_frame_id: str = "lane_sad_ground"  # frame of ground points: the road under the camera
    image_timeout: float = 2.0  # seconds without an image before /diagnostics WARNs
    failure_limit: int = 5  # consecutive processing failures before ERROR
    diagnostics_period: float = 1.0

    def input_qos(self) -> QoSProfile:
        """The camera subscription's QoS, from ``qos_reliability`` and ``qos_depth``."""
        from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy  # here, as in _descriptor: no ROS at import

        reliable = self.qos_reliability == "reliable"
        reliability = ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT
        return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=self.qos_depth, reliability=reliability)

    def ego_config(self) -> EgoLaneConfig:
        """How the ego lane is measured, from the ``ego_*``, ``vehicle_*`` and ``departure_*`` values."""
        return EgoLaneConfig(
            lookahead=self.ego_lookahead,
            half_width=self.vehicle_half_width,
            margin=self.departure_margin,
            fit_distance=self.ego_fit_distance,
        )

    def pitch_settings(self) -> PitchSettings:
        """When an ``auto`` pitch estimate is settled, from the ``pitch_*`` values."""
        return PitchSettings(window=self.pitch_window, min_frames=self.pitch_min_frames, agreement=self.pitch_agreement)


# Parameters that shape the lanes: a change restarts temporal smoothing, so that the next
# frame shows the new setting instead of lanes held or blended from before it.
DECODING = frozenset(
    {
        "existence_threshold",
        "point_threshold",
        "fit",
        "fit_tolerance",
        "extend_to_bottom",
        "temporal_smoothing",
        "temporal_alpha",
        "temporal_gate",
        "temporal_hold",
    }
)
# Parameters that set up the pitch estimator: a change starts it afresh.
PITCH = frozenset({"camera_pitch", "pitch_window", "pitch_min_frames", "pitch_agreement"})
DYNAMIC_TYPE = frozenset({"camera_pitch"})
RUNTIME = DECODING | {
    "publish_overlay",
    "publish_attention",
    "camera_height",
    "camera_pitch",
    "pitch_window",
    "pitch_min_frames",
    "pitch_agreement",
    "ego_lookahead",
    "ego_fit_distance",
    "vehicle_half_width",
    "departure_margin",
    "image_timeout",
    "failure_limit",
}


def _in(name: str, value: object, allowed: tuple[str, ...]) -> str | None:
    return None if value in allowed else f"{name} must be one of {', '.join(allowed)}"


def _check_pitch(value: object) -> str | None:
    if value == "auto" or (isinstance(value, (int, float)) and not isinstance(value, bool) and -1.5 < value < 1.5):
        return None
    return "camera_pitch must be auto or a number in (-1.5, 1.5) rad"


def validate(name: str, value: object) -> str | None:
    """Why ``value`` is not acceptable for ``name``, or None when it is."""
    checks = {
        "device": lambda v: None if str(v).startswith("cuda:") else _in(name, v, DEVICES),
        "backend": lambda v: _in(name, v, BACKENDS),
        "qos_reliability": lambda v: _in(name, v, RELIABILITY),
        "threads": lambda v: None if v >= 0 else "threads must be >= 0 (0: one per core)",
        "qos_depth": lambda v: None if v >= 1 else "qos_depth must be >= 1",
        "existence_threshold": lambda v: None if 0.0 <= v <= 1.0 else f"{name} must be in [0, 1]",
        "point_threshold": lambda v: None if 0.0 <= v <= 1.0 else f"{name} must be in [0, 1]",
        "fit": lambda v: _in(name, v, FITS),
        "fit_tolerance": lambda v: None if 0.0 < v < 1.0 else "fit_tolerance must be in (0, 1) (of the image width)",
        "temporal_alpha": lambda v: None if 0.0 < v <= 1.0 else "temporal_alpha must be in (0, 1]",
        "temporal_gate": lambda v: None if v > 0.0 else "temporal_gate must be > 0 (of the image width)",
        "temporal_hold": lambda v: None if v >= 0 else "temporal_hold must be >= 0 frames",
        "camera_height": lambda v: None if v >= 0.0 else "camera_height must be >= 0 (metres)",
        "camera_pitch": _check_pitch,
        "pitch_window": lambda v: None if v > 0.0 else "pitch_window must be > 0 s",
        "pitch_min_frames": lambda v: None if v >= 1 else "pitch_min_frames must be >= 1",
        "pitch_agreement": lambda v: None if v > 0.0 else "pitch_agreement must be > 0 rad",
        "ego_lookahead": lambda v: None if v >= 0.0 else "ego_lookahead must be >= 0 (metres)",
        "ego_fit_distance": lambda v: None if v > 0.0 else "ego_fit_distance must be > 0 (metres)",
        "vehicle_half_width": lambda v: None if v >= 0.0 else "vehicle_half_width must be >= 0 (metres)",
        "departure_margin": lambda v: None if v >= 0.0 else "departure_margin must be >= 0 (metres)",
        "image_timeout": lambda v: None if v > 0 else "image_timeout must be > 0 s",
        "failure_limit": lambda v: None if v >= 1 else "failure_limit must be >= 1",
        "diagnostics_period": lambda v: None if v > 0 else "diagnostics_period must be > 0 s",
    }
    check = checks.get(name)
    return check(value) if check else None


def _descriptor(name: str):
    """``camera_pitch`` takes a number or ``auto``: its type may change (dynamic typing, Humble on).

    Imported here so the validation rules above stay plain Python for tests without ROS.
    """
    from rcl_interfaces.msg import ParameterDescriptor

    return ParameterDescriptor(dynamic_typing=name in DYNAMIC_TYPE)


def declare(node) -> NodeParams:
    """Declare every parameter on ``node`` and return their values, type-checked and validated."""
    values = {f.name: node.declare_parameter(f.name, f.default, _descriptor(f.name)).value for f in fields(NodeParams)}
    params = from_plain(NodeParams, values, "parameter")
    for f in fields(NodeParams):
        problem = validate(f.name, getattr(params, f.name))
        if problem:
            raise ValueError(f"parameter {problem} (got {values[f.name]!r})")
    return params


def check_change(name: str, value: object) -> str | None:
    """Why a run-time change of ``name`` to ``value`` is refused, or None."""
    if name not in {f.name for f in fields(NodeParams)}:
        return None  # not ours (e.g. use_sim_time)
    if name not in RUNTIME:
        return f"{name} cannot change at run time; restart the node with the new value"
    return validate(name, value)
