"""The rosbags typestore with lane_sad's own messages, and the QoS bags record.

rosbags ships the standard ROS 2 message definitions; ``lane_sad/msg/*`` are parsed from
the package's ``.msg`` files, preferring the installed ones (``share/lane_sad/msg`` found
through the ament index, exactly what the node was built with) over the source tree.
Definitions and RIHS01 type hashes generated from this store are what ``ros2 bag``
writes for the same types (checked against rosidl's own hashes in test/test_bags.py).

A bag recorded with an older ``lane_sad`` message (a ``LaneArray`` from before the ``ego``
field) carries that message's definition and hash; :func:`typestore_for` decodes it with
that definition, so old bags keep reading.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime
from rosbags.typesys import Stores, get_types_from_msg
from rosbags.typesys.store import Typestore
from rosbags.typesys.stores import get_typestore

from lane_sad_ros.bag.errors import BagError

PACKAGE = "lane_sad"
SOURCE_MSG_DIR = Path(__file__).resolve().parents[2] / "msg"
# The ROS 2 release whose standard definitions (and so type hashes) bags are written with:
# the wheels this repository builds against are Kilted's.
STORE = Stores.ROS2_KILTED

_INFINITE = QosTime(2147483647, 4294967295)  # rmw's "unspecified" duration, as rosbag2 writes it
# What every topic of a bag written here offers: reliable, volatile, keep-last 10. A reliable
# publisher matches both reliable and best-effort subscribers when ``ros2 bag play`` uses it.
RECORDED_QOS = Qos(
    QosHistory.KEEP_LAST,
    10,
    QosReliability.RELIABLE,
    QosDurability.VOLATILE,
    _INFINITE,
    _INFINITE,
    QosLiveliness.AUTOMATIC,
    _INFINITE,
    False,
)


def message_dir() -> Path:
    """The folder holding ``Lane.msg`` etc.: installed share first, else the source tree."""
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
    except ImportError:
        share = None
    else:
        try:
            share = Path(get_package_share_directory(PACKAGE)) / "msg"
        except PackageNotFoundError:
            share = None
    for folder in (share, SOURCE_MSG_DIR):
        if folder is not None and (folder / "LaneArray.msg").is_file():
            return folder
    raise BagError(
        f"lane_sad message definitions not found (no share/{PACKAGE}/msg in the ament "
        f"index and no {SOURCE_MSG_DIR}); run `make setup`"
    )


@lru_cache(maxsize=1)
def typestore() -> Typestore:
    """The standard ROS 2 types plus ``lane_sad/msg/*`` (built once per process)."""
    store = get_typestore(STORE)
    types: dict = {}
    for path in sorted(message_dir().glob("*.msg")):
        types.update(get_types_from_msg(path.read_text(), f"{PACKAGE}/msg/{path.stem}"))
    store.register(types)
    return store


@lru_cache(maxsize=16)
def typestore_for(msgtype: str, msgdef: str, type_hash: str) -> Typestore:
    """The typestore that decodes a bag's ``msgtype`` as the bag defined it.

    This package's own types whose stored hash differs from today's are decoded with the
    bag's definition (``msgdef``, rosbag2's concatenated .msg text); everything else, and a
    bag that stored no definition or hash, with :func:`typestore`.
    """
    store = typestore()
    if not (msgtype.startswith(f"{PACKAGE}/") and msgdef and type_hash) or type_hash == store.hash_rihs01(msgtype):
        return store
    own = get_typestore(STORE)
    try:
        own.register(get_types_from_msg(msgdef, msgtype))
    except Exception as exc:  # rosbags raises assorted parse errors
        raise BagError(f"cannot read the bag's definition of {msgtype}: {type(exc).__name__}: {exc}") from None
    return own
