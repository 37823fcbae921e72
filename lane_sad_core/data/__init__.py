"""lane_sad_core.data."""
