"""lane_sad_core: lane-segmentation models trained with attention distillation.

This package never imports ROS, so it trains on any workstation with PyTorch.
"""

__version__ = "0.1.0"  # the one source: setup.py reads it, test/test_packaging.py checks package.xml

__all__ = ["__version__"]
