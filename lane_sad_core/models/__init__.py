"""lane_sad_core.models."""
