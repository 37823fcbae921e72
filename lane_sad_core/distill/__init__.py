"""lane_sad_core.distill."""
