# Source this file (". ./env.sh") for a shell with lane_sad's environment: the venv's
# Python and tools, rclpy, the generated lane_sad messages and the ament index.
_lane_sad_root=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")" && pwd)
if [ ! -x "$_lane_sad_root/.venv/bin/python" ]; then
  echo "env.sh: run 'make setup' first" >&2
else
  . "$_lane_sad_root/.venv/bin/activate"
  export AMENT_PREFIX_PATH="$_lane_sad_root/install/lane_sad:$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
  export LD_LIBRARY_PATH="$_lane_sad_root/install/lane_sad/lib:$VIRTUAL_ENV/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export PATH="$_lane_sad_root/install/lane_sad/lib/lane_sad:$PATH"
fi
unset _lane_sad_root
