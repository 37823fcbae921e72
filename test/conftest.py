"""Shared fixtures: where the real frames are, and a clear skip where they are not."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = Path(os.environ.get("LANE_SAD_REAL_DATA", REPO.parent / "shared" / "data" / "real"))


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The real labelled frames (../shared/data/real or $LANE_SAD_REAL_DATA)."""
    if not REAL_DATA.is_dir():
        pytest.skip(f"real frames not found at {REAL_DATA} (set LANE_SAD_REAL_DATA)")
    return REAL_DATA


def pytest_configure(config: pytest.Config) -> None:
    """Keep ROS traffic of a test run on this host and apart from other runs."""
    os.environ.setdefault("ROS_DOMAIN_ID", str(1 + os.getpid() % 200))
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    # The tests' own ROS processes send camera images too: same transport as the node.
    from lane_sad_ros.launch_spec import transport_env

    os.environ.update(transport_env(REPO / "config", dict(os.environ)))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip CUDA tests without a CUDA device, and ROS tests where rclpy or the built messages are
    missing, unless required.

    ``make test`` sets LANE_SAD_REQUIRE_ROS=1, so there a missing ROS environment fails
    the run instead of hiding the ROS features behind skips.
    """
    _skip_cuda_without_a_device(items)
    try:
        import rclpy  # noqa: F401
        from lane_sad.msg import LaneArray  # noqa: F401
    except ImportError as exc:
        if os.environ.get("LANE_SAD_REQUIRE_ROS") == "1":
            raise pytest.UsageError(f"ROS environment required but missing: {exc}") from exc
        skip = pytest.mark.skip(reason=f"ROS 2 environment not available ({exc}); run make test")
        for item in items:
            if "ros" in item.keywords:
                item.add_marker(skip)


def _skip_cuda_without_a_device(items: list[pytest.Item]) -> None:
    """Tests marked ``cuda`` skip, with the reason, where torch sees no CUDA device."""
    cuda_items = [item for item in items if item.get_closest_marker("cuda")]
    if not cuda_items:
        return
    import torch

    if torch.cuda.is_available():
        return
    reason = f"no CUDA device visible to torch {torch.__version__} (tools/gpu_check.sh runs these on a GPU machine)"
    for item in cuda_items:
        item.add_marker(pytest.mark.skip(reason=reason))
