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
