"""Camera bags from data sets, read back with rosbags itself; rosbag2 compatibility; damaged bags."""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from bagutil import cut, lane_sad_here, read_bag, real_culane_list, real_tusimple_root, synth_culane

from lane_sad_core.data.datasets import CULaneDataset, TusimpleDataset
from lane_sad_core.data.formats import read_tusimple
from lane_sad_core.lanes import Lane
from lane_sad_ros.bag import BagError, BagReader, typestore
from lane_sad_ros.bag import topics as T
from lane_sad_ros.bag.convert import lane_array_message, lanes_from_message
from lane_sad_ros.bag.mcap_scan import Channel, Schema, scan_mcap

STORAGES = {"mcap": ".mcap", "sqlite3": ".db3"}


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    return synth_culane(tmp_path_factory.mktemp("synth"))


@pytest.fixture(scope="module")
def synth_bags(synth: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The synthetic frames as a bag in each storage, at 20 Hz."""
    root, list_file = synth
    bags = {}
    for storage in STORAGES:
        bags[storage] = tmp_path_factory.mktemp("bags") / f"synth_{storage}"
        assert (
            lane_sad_here(
                "bag",
                "from-dataset",
                "--format",
                "culane",
                root,
                "--list",
                list_file,
                "--out",
                bags[storage],
                "--storage",
                storage,
                "--rate",
                20,
            )
            == 0
        )
    return bags


@pytest.fixture(params=list(STORAGES))
def synth_bag(request: pytest.FixtureRequest, synth_bags: dict[str, Path]) -> tuple[Path, str]:
    return synth_bags[request.param], request.param


def test_synthetic_bag_has_every_frame_with_its_ground_truth(
    synth: tuple[Path, str], synth_bag: tuple[Path, str]
) -> None:
    bag, _storage = synth_bag
    dataset = CULaneDataset(*synth)
    order = sorted(range(len(dataset)), key=lambda i: str(dataset.image_path(i)))
    topics, msgs = read_bag(bag)
    assert {name: (t, n) for name, (t, n, _) in topics.items()} == {
        T.CAMERA: ("sensor_msgs/msg/Image", 8),
        T.GT: ("lane_sad/msg/LaneArray", 8),
        T.GT_INFO: ("std_msgs/msg/String", 8),
    }
    stamps = [1_000_000_000 + k * 50_000_000 for k in range(8)]  # from t = 1 s at 20 Hz
    for k, i in enumerate(order):
        (t_img, img), (t_gt, gt), (t_info, info) = msgs[T.CAMERA][k], msgs[T.GT][k], msgs[T.GT_INFO][k]
        assert t_img == t_gt == t_info == stamps[k]
        assert (img.header.stamp.sec, img.header.stamp.nanosec) == divmod(stamps[k], 1_000_000_000)
        assert img.header == gt.header and img.header.frame_id == "camera"
        expected = cv2.imread(str(dataset.image_path(i)))
        assert (img.encoding, img.height, img.width, img.step) == ("bgr8", *expected.shape[:2], expected.shape[1] * 3)
        assert np.array_equal(img.data.reshape(expected.shape), expected)
        assert gt.model_name == f"gt:{dataset.category(i)}"
        assert (gt.image_height, gt.image_width) == expected.shape[:2]
        want = dataset.lanes(i)
        got = lanes_from_message(gt)
        assert [lane.slot for lane in got] == [lane.slot for lane in want]
        for g, w in zip(got, want):
            assert np.array_equal(g.points, w.points.astype(np.float32))
        assert json.loads(info.data) == {
            "stamp_ns": stamps[k],
            "image": str(dataset.image_path(i).relative_to(synth[0])),
        }
    assert len({gt.model_name for _, gt in msgs[T.GT]}) > 1  # the synthetic categories vary


def test_reader_returns_only_the_topics_asked_for(synth_bag: tuple[Path, str]) -> None:
    bag, _ = synth_bag
    with BagReader(bag) as reader:
        assert reader.storage == synth_bag[1] and reader.damage is None
        assert [t.name for t, _, _ in reader.messages([T.GT])] == [T.GT] * 8
        assert list(reader.messages(["/not/in/the/bag"])) == []
        assert (reader.start_ns, reader.end_ns) == (1_000_000_000, 1_350_000_000)


def test_metadata_is_rosbag2s(synth_bag: tuple[Path, str]) -> None:
    bag, storage = synth_bag
    meta = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert meta["version"] == 9 and meta["storage_identifier"] == storage
    assert meta["relative_file_paths"] == [f"{bag.name}{STORAGES[storage]}"]
    assert meta["message_count"] == 24
    assert meta["starting_time"]["nanoseconds_since_epoch"] == 1_000_000_000
    assert meta["duration"]["nanoseconds"] == 7 * 50_000_000
    store = typestore()
    for entry in meta["topics_with_message_count"]:
        topic = entry["topic_metadata"]
        assert entry["message_count"] == 8 and topic["serialization_format"] == "cdr"
        assert topic["type_description_hash"] == store.hash_rihs01(topic["type"])
        assert topic["offered_qos_profiles"][0]["reliability"] == "reliable"


def test_mcap_channels_carry_type_hash_and_definition(synth_bags: dict[str, Path]) -> None:
    bag = synth_bags["mcap"]
    records = list(scan_mcap(bag / f"{bag.name}.mcap"))
    schemas = {r.id: r for r in records if isinstance(r, Schema)}
    channels = [r for r in records if isinstance(r, Channel)]
    store = typestore()
    assert {c.topic for c in channels} == {T.CAMERA, T.GT, T.GT_INFO}
    for channel in channels:
        schema = schemas[channel.schema_id]
        assert channel.encoding == "cdr" and schema.encoding == "ros2msg"
        assert schema.data == store.generate_msgdef(schema.name, ros_version=2)[0]
        # rosbag2's MCAP plugin reads the hash from here into the topic metadata
        assert channel.metadata["topic_type_hash"] == store.hash_rihs01(schema.name)
        assert "reliability: reliable" in channel.metadata["offered_qos_profiles"]


@pytest.mark.ros
def test_type_hashes_and_definitions_are_rosidls() -> None:
    """What rosbag2 would write for these types: rosidl's own hashes of the built package."""
    from ament_index_python.packages import get_package_share_directory

    store = typestore()
    for msgtype in (
        "lane_sad/msg/Lane",
        "lane_sad/msg/LaneArray",
        "lane_sad/msg/LaneAttention",
        "lane_sad/msg/EgoLane",
        "sensor_msgs/msg/Image",
        "sensor_msgs/msg/TimeReference",
        "std_msgs/msg/String",
        "diagnostic_msgs/msg/DiagnosticArray",
        "rosgraph_msgs/msg/Clock",
    ):
        pkg, _, name = msgtype.split("/")
        described = json.loads((Path(get_package_share_directory(pkg)) / "msg" / f"{name}.json").read_text())
        assert store.hash_rihs01(msgtype) == described["type_hashes"][0]["hash_string"], msgtype


# LaneArray as it was before the ego field: bags recorded then carry this definition.
LANE_ARRAY_BEFORE_EGO = """std_msgs/Header header
uint32 image_width
uint32 image_height
Lane[] lanes
string ground_frame_id
string model_name
float32 inference_ms
float32 processing_ms
"""


@pytest.mark.parametrize("storage", list(STORAGES))
def test_bag_of_an_older_lane_array_still_reads(tmp_path: Path, storage: str) -> None:
    """A bag whose LaneArray has no ``ego`` field decodes with its own definition: the lanes come back."""
    from rosbags.typesys import get_types_from_msg
    from rosbags.typesys.stores import get_typestore

    from lane_sad_ros.bag.types import STORE
    from lane_sad_ros.bag.writer import BagWriter

    old = get_typestore(STORE)
    old.register(
        get_types_from_msg(typestore().generate_msgdef("lane_sad/msg/Lane", ros_version=2)[0], "lane_sad/msg/Lane")
    )
    old.register(get_types_from_msg(LANE_ARRAY_BEFORE_EGO, "lane_sad/msg/LaneArray"))
    ours = lane_array_message([Lane(np.array([[10.5, 580.0], [300.0, 330.0]]), slot=2)], (590, 1640), 7, "cam", "m")
    fields = {name: getattr(ours, name) for name in old.types["lane_sad/msg/LaneArray"].__dataclass_fields__}
    Lane_ = old.types["lane_sad/msg/Lane"]
    fields["lanes"] = [Lane_(**{k: getattr(lane, k) for k in Lane_.__dataclass_fields__}) for lane in ours.lanes]
    before = old.types["lane_sad/msg/LaneArray"](**fields)
    msgtype = "lane_sad/msg/LaneArray"
    assert old.hash_rihs01(msgtype) != typestore().hash_rihs01(msgtype)
    with BagWriter(tmp_path / "old", storage) as out:
        out.add_topic(
            T.LANES, msgtype, msgdef=old.generate_msgdef(msgtype, ros_version=2)[0], type_hash=old.hash_rihs01(msgtype)
        )
        out.write_raw(T.LANES, 7, old.serialize_cdr(before, msgtype))
    with BagReader(tmp_path / "old") as reader:
        [(topic, _t, raw)] = list(reader.messages())
        msg = reader.decode(topic, raw)
    assert not hasattr(msg, "ego") and msg.model_name == "m"
    [lane] = lanes_from_message(msg)
    assert lane.slot == 2 and np.array_equal(lane.points, [[10.5, 580.0], [300.0, 330.0]])


@pytest.mark.ros
def test_cdr_is_what_rclpy_reads_and_writes() -> None:
    from lane_sad.msg import LaneArray
    from rclpy.serialization import deserialize_message, serialize_message

    lanes = [
        Lane(np.array([[100.5, 589.0], [320.25, 300.0]]), slot=1, existence=0.75, confidence=np.array([0.5, 0.25])),
        Lane(np.array([[900.0, 580.0]]), slot=3),
    ]
    ours = lane_array_message(lanes, (590, 1640), 3_000_000_007, "camera", "gt:night")
    raw = bytes(typestore().serialize_cdr(ours, ours.__msgtype__))
    theirs = deserialize_message(raw, LaneArray)
    assert (theirs.header.stamp.sec, theirs.header.stamp.nanosec, theirs.header.frame_id) == (3, 7, "camera")
    assert (theirs.image_width, theirs.image_height, theirs.model_name) == (1640, 590, "gt:night")
    assert [(p.x, p.y) for p in theirs.lanes[0].points] == [(100.5, 589.0), (320.25, 300.0)]
    assert list(theirs.lanes[0].confidence) == [0.5, 0.25] and theirs.lanes[1].slot == 3
    back = typestore().deserialize_cdr(serialize_message(theirs), "lane_sad/msg/LaneArray")
    assert bytes(typestore().serialize_cdr(back, back.__msgtype__)) == raw  # same values, same layout


def test_real_culane_sequence_in_recording_order(real_data: Path, tmp_path: Path) -> None:
    root, list_file = real_culane_list(real_data, tmp_path)
    bag = tmp_path / "real"
    assert (
        lane_sad_here(
            "bag", "from-dataset", "--format", "culane", root, "--list", list_file, "--out", bag, "--max-frames", 4
        )
        == 0
    )
    dataset = CULaneDataset(root, list_file)
    _, msgs = read_bag(bag)
    infos = [json.loads(m.data)["image"] for _, m in msgs[T.GT_INFO]]
    # sorted paths = frame order within the first clip (00270 is an empty label file)
    assert infos == [f"driver_161_90frame/06030819_0755.MP4/{n}.jpg" for n in ("00000", "00180", "00270", "00360")]
    by_key = {str(dataset.image_path(i).relative_to(root)): i for i in range(len(dataset))}
    for (_, gt), key in zip(msgs[T.GT], infos):
        want = dataset.lanes(by_key[key])
        assert len(gt.lanes) == len(want) and (gt.image_width, gt.image_height) == (1640, 590)
        for g, w in zip(lanes_from_message(gt), want):
            assert g.slot == w.slot and np.array_equal(g.points, w.points.astype(np.float32))
    assert len(msgs[T.GT][2][1].lanes) == 0 and gt.model_name == "gt:unknown"


def test_real_tusimple_bag_keeps_label_rows(real_data: Path, tmp_path: Path) -> None:
    root, labels = real_tusimple_root(real_data, tmp_path / "tusimple")
    bag = tmp_path / "ts"
    assert (
        lane_sad_here(
            "bag",
            "from-dataset",
            "--format",
            "tusimple",
            root,
            "--labels",
            labels,
            "--out",
            bag,
            "--storage",
            "sqlite3",
        )
        == 0
    )
    records = {r.raw_file: r for r in read_tusimple(root / labels)}
    dataset = TusimpleDataset(root, labels)
    _, msgs = read_bag(bag)
    infos = [json.loads(m.data) for _, m in msgs[T.GT_INFO]]
    assert [i["image"] for i in infos] == sorted(records) and len(infos) == 7
    for info, (_, gt), (_, img) in zip(infos, msgs[T.GT], msgs[T.CAMERA]):
        assert info["h_samples"] == records[info["image"]].h_samples
        assert (img.width, img.height) == (1280, 720)
        i = next(k for k in range(len(dataset)) if dataset.records[k].raw_file == info["image"])
        assert [lane.slot for lane in lanes_from_message(gt)] == [lane.slot for lane in dataset.lanes(i)]


def test_cut_mcap_is_read_up_to_the_cut(
    synth_bags: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    bag = synth_bags["mcap"]
    with BagReader(bag) as intact:
        full = [(t.name, ts, raw) for t, ts, raw in intact.messages()]
    damaged = tmp_path / "cut"
    damaged.mkdir()
    (damaged / "metadata.yaml").write_text((bag / "metadata.yaml").read_text())
    (damaged / f"{bag.name}.mcap").write_bytes((bag / f"{bag.name}.mcap").read_bytes())
    cut(damaged / f"{bag.name}.mcap", 0.6)
    with BagReader(damaged) as reader:
        assert reader.damage and "file ends inside the record at byte" in reader.damage
        got = []
        with pytest.raises(BagError, match="cut short"):
            for t, ts, raw in reader.messages():
                got.append((t.name, ts, raw))
                reader.decode(t, raw)
    assert 0 < len(got) < len(full)
    assert sorted(got) == sorted(full[: len(got)])  # a prefix of the bag, every byte intact
    assert reader.topics[T.GT].count == reader.topics[T.CAMERA].count  # labels travel with their frame
    assert lane_sad_here("bag", "info", damaged) == 1
    assert "damaged:" in capsys.readouterr().out


def test_damaged_sqlite3_names_the_file(synth_bags: dict[str, Path], tmp_path: Path) -> None:
    bag = synth_bags["sqlite3"]
    damaged = tmp_path / "cut"
    damaged.mkdir()
    db = damaged / f"{bag.name}.db3"
    db.write_bytes((bag / f"{bag.name}.db3").read_bytes())
    (damaged / "metadata.yaml").write_text((bag / "metadata.yaml").read_text())
    cut(db, 0.5)
    with pytest.raises(BagError, match=re.escape(f"{damaged}: cannot read bag: ") + ".*malformed"):
        BagReader(damaged).open()


def test_cli_errors_are_one_line(
    synth: tuple[Path, str], synth_bags: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    root, list_file = synth
    cases = {
        "exists already": (
            "bag",
            "from-dataset",
            "--format",
            "culane",
            root,
            "--list",
            list_file,
            "--out",
            synth_bags["mcap"],
        ),
        "--labels is for TuSimple": (
            "bag",
            "from-dataset",
            "--format",
            "culane",
            root,
            "--labels",
            "x.json",
            "--out",
            tmp_path / "b",
        ),
        "bag not found": ("bag", "info", tmp_path / "nope"),
    }
    for reason, args in cases.items():
        assert lane_sad_here(*args) == 2
        err = capsys.readouterr().err
        assert reason in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "b").exists()
