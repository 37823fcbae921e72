#!/usr/bin/env bash
# colcon_build.sh SRC_DIR BUILD_DIR INSTALL_DIR: build the lane_sad ROS package from SRC_DIR
# with the venv's ROS 2 (what make setup runs; tests run it on deliberately broken copies).
# Fails when the package is not found (a broken package.xml must not pass silently).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
VENV=${LANE_SAD_VENV:-$REPO/.venv}
PY=$VENV/bin/python
SRC=$1 BUILD=$2 INSTALL=$3

# rosidl exports the NumPy include directory of the interpreter it builds with, and CMake
# refuses an exported include path inside the source tree (where .venv lives). Give CMake
# a path outside the tree that leads to the same headers.
NUMPY_LINK=${XDG_CACHE_HOME:-$HOME/.cache}/lane_sad/numpy-include-$(echo "$VENV" | sha256sum | cut -c1-12)
mkdir -p "$(dirname "$NUMPY_LINK")"
ln -sfn "$("$PY" -c 'import numpy; print(numpy.get_include())')" "$NUMPY_LINK"

cd "$SRC"
PATH=$VENV/bin:$PATH CMAKE_PREFIX_PATH=$VENV AMENT_PREFIX_PATH=$VENV \
  "$VENV/bin/colcon" --log-base "$BUILD/../log" build --base-paths "$SRC" \
  --build-base "$BUILD" --install-base "$INSTALL" --symlink-install \
  --packages-select lane_sad \
  --cmake-args -DPython3_EXECUTABLE="$PY" -DPython3_NumPy_INCLUDE_DIR="$NUMPY_LINK" -DBUILD_TESTING=OFF
