"""pip install for workstations without ROS: the library, the node modules and the CLI.

colcon does not use this file: package.xml declares ``ament_cmake``, and CMakeLists.txt
generates the messages and installs the same two Python packages.

The version has one source, ``lane_sad_core/__init__.py``; ``test/test_packaging.py``
checks package.xml, requirements-runtime.txt and package.xml's dependencies against this file.
"""

import re
from pathlib import Path

from setuptools import find_packages, setup


def version() -> str:
    """``__version__`` of lane_sad_core, read without importing it."""
    text = (Path(__file__).parent / "lane_sad_core" / "__init__.py").read_text()
    return re.search(r'^__version__ = "([^"]+)"', text, re.MULTILINE).group(1)


setup(
    name="lane_sad",
    version=version(),
    description="Lane detection with self attention distillation, and its ROS 2 node",
    packages=find_packages(include=["lane_sad_core", "lane_sad_core.*", "lane_sad_ros", "lane_sad_ros.*"]),
    package_data={"lane_sad_core": ["weights/*.pt", "weights/*.md", "weights/*.csv"]},
    license="Apache-2.0",
    python_requires=">=3.10",
    install_requires=[
        "torch>=2.1",
        "numpy>=1.24",
        "scipy>=1.10",
        "opencv-python-headless>=4.8",
        "pyyaml>=6.0",
        "tqdm>=4.60",
        "matplotlib>=3.7",
    ],
    extras_require={
        "ros": ["rosbags>=0.10"],
        "onnx": ["onnx>=1.15", "onnxruntime>=1.17"],
        "openvino": ["openvino>=2024.0"],
    },
    entry_points={
        "console_scripts": [
            "lane-sad = lane_sad_core.cli:main",
            "lane_sad_node = lane_sad_ros.node:main",
        ]
    },
)
