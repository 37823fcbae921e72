#!/usr/bin/env bash
# make setup: create .venv with the pinned environment and build the ROS package into install/.
# Idempotent: each step is skipped when its inputs have not changed since it last ran.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
VENV=$REPO/.venv
PY=$VENV/bin/python
PYVER=3.11

stamp_ok() {  # stamp_ok NAME FILES... : true when FILES hash to the stored stamp
  local name=$1; shift
  local want; want=$(cat "$@" | sha256sum | cut -d' ' -f1)
  [ -f "$VENV/.stamp-$name" ] && [ "$(cat "$VENV/.stamp-$name")" = "$want" ]
}
stamp_set() { local name=$1; shift; cat "$@" | sha256sum | cut -d' ' -f1 > "$VENV/.stamp-$name"; }

if [ ! -x "$PY" ]; then
  command -v python$PYVER >/dev/null || { echo "setup: python$PYVER not found (the ROS 2 wheels are built for CPython $PYVER)"; exit 1; }
  python$PYVER -m venv "$VENV"
  touch "$VENV/COLCON_IGNORE"
fi

if ! stamp_ok requirements requirements.txt setup.py lane_sad_core/__init__.py; then
  echo "setup: installing pinned requirements into .venv (about a minute)"
  "$PY" -m pip install --quiet -r requirements.txt 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
  "$PY" -m pip install --quiet --no-deps --no-build-isolation -e .
  "$PY" tools/fix_ros_cmake.py
  stamp_set requirements requirements.txt setup.py lane_sad_core/__init__.py
fi

SITE=$VENV/lib/python$PYVER/site-packages
if ! cmp -s tools/venv_env.py "$SITE/_lane_sad_env.py"; then
  cp tools/venv_env.py "$SITE/_lane_sad_env.py"
  echo "import _lane_sad_env" > "$SITE/_lane_sad_env.pth"
fi
printf '{"install_prefix": "%s"}\n' "$REPO/install/lane_sad" > "$SITE/_lane_sad_env.json"

# colcon build of the ROS package (messages, Python packages, executables, launch, config).
# The Python packages are installed as per-file symlinks: a new file needs a rebuild, so
# their file list (not contents) is an input too.
find lane_sad_core lane_sad_ros -type f -not -path "*/__pycache__/*" | sort > "$VENV/.python-files"
mapfile -t BUILD_INPUTS < <(find package.xml CMakeLists.txt msg scripts launch config -type f | sort)
BUILD_INPUTS+=("$VENV/.python-files")
if ! stamp_ok colcon "${BUILD_INPUTS[@]}" || [ ! -d install/lane_sad ]; then
  echo "setup: colcon build"
  tools/colcon_build.sh "$REPO" "$REPO/build" "$REPO/install"
  stamp_set colcon "${BUILD_INPUTS[@]}"
fi
ln -sfn "$REPO/install/lane_sad/lib/python$PYVER/site-packages/lane_sad" "$SITE/lane_sad"
echo "setup: ready (. ./env.sh for a shell; .venv/bin/lane-sad --help)"
