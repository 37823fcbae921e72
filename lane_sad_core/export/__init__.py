"""lane_sad_core.export."""
