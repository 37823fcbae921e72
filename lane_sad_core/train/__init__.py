"""lane_sad_core.train."""
