"""lane_sad_core.infer."""
