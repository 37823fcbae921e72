"""lane_sad_core.metrics."""
