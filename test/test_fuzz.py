"""Property-based fuzzing of every reader of user input: a result or the project's own error, nothing else.

Random and mutated label files (CULane lines and lists, TuSimple JSON lines), the inputs of
both scorers (also through ``lane-sad score``), image messages and compressed frames, and
training configs (as data and as YAML text). Whatever hypothesis makes of them, a reader
returns a value or raises a :class:`~lane_sad_core.errors.LaneSadError`: never a
``TypeError``, ``KeyError`` or ``UnicodeDecodeError`` that would reach a user as a
traceback. Each property runs a bounded number of examples (a few seconds), without a
deadline (the machine is shared) and without an example database in the tree.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lane_sad_core.errors import LaneSadError

FUZZ = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --- strategies ------------------------------------------------------------------------------
EDIT = st.tuples(
    st.sampled_from(["replace", "insert", "delete", "cut"]), st.integers(0, 10**6), st.binary(min_size=1, max_size=6)
)


def mutations(valid: bytes) -> st.SearchStrategy[bytes]:
    """``valid`` with a few bytes replaced, inserted or deleted, or cut short."""

    def apply(edits: list[tuple[str, int, bytes]]) -> bytes:
        data = bytearray(valid)
        for kind, at, chunk in edits:
            at %= len(data) + 1
            if kind == "replace":
                data[at : at + len(chunk)] = chunk
            elif kind == "insert":
                data[at:at] = chunk
            elif kind == "delete":
                del data[at : at + len(chunk)]
            else:
                del data[at:]
        return bytes(data)

    return st.lists(EDIT, min_size=1, max_size=5).map(apply)


JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=6)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=12,
)
NUMBERS = st.lists(st.integers(-3, 2000) | st.floats(allow_nan=True, allow_infinity=True), max_size=5)
TOKENS = st.sampled_from(["12", "-2.5", "590", "nan", "inf", "-inf", "1e999", "x", "0x1f", "1_0", "é", "\t", " "])


def tusimple_lines() -> st.SearchStrategy[bytes]:
    """JSON lines with the TuSimple keys holding values of any type, or mutations of a valid line."""
    record = st.fixed_dictionaries(
        {},
        optional={
            "lanes": st.lists(NUMBERS, max_size=4) | JSON_VALUES,
            "h_samples": NUMBERS | JSON_VALUES,
            "raw_file": st.text(max_size=8) | JSON_VALUES,
            "run_time": JSON_VALUES,
        },
    )
    structured = st.lists(record, min_size=1, max_size=3).map(
        lambda records: "".join(json.dumps(r) + "\n" for r in records).encode()
    )
    valid = json.dumps({"lanes": [[10, 20, -2]], "h_samples": [600, 650, 700], "raw_file": "a.jpg"}).encode() + b"\n"
    return structured | mutations(valid) | st.binary(max_size=200)


def culane_lines() -> st.SearchStrategy[bytes]:
    line = st.lists(TOKENS, max_size=8).map(" ".join)
    text = st.lists(line, max_size=5).map(lambda lines: "\n".join(lines).encode())
    return text | mutations(b"100.5 590 120.25 580 \n300 590 310 570 \n") | st.binary(max_size=100)


def culane_lists() -> st.SearchStrategy[bytes]:
    flag = st.sampled_from(["0", "1", "?", "2", "x"])
    line = st.tuples(st.sampled_from(["/a/1.jpg", "b.jpg", "1"]), st.lists(st.just("/m.png") | flag, max_size=6))
    text = st.lists(line.map(lambda t: " ".join([t[0], *t[1]])), max_size=5).map(lambda ls: "\n".join(ls).encode())
    return text | mutations(b"/d/a.MP4/00000.jpg /m/a.png 1 1 0 ?\n/d/a.MP4/00030.jpg /m/b.png 0 1 1 1\n")


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def result_or_own_error(read: Callable[[], Any]) -> Any:
    """``read()``'s value, or None when it raised the project's own error (anything else fails the test)."""
    try:
        return read()
    except LaneSadError:
        return None


# --- label parsers ----------------------------------------------------------------------------
@FUZZ
@given(data=culane_lines())
def test_culane_lines_reader(tmp_path: Path, data: bytes) -> None:
    from lane_sad_core.data.formats import read_culane_lines

    lanes = result_or_own_error(lambda: read_culane_lines(write(tmp_path / "a.lines.txt", data)))
    assert lanes is None or all(np.isfinite(lane.points).all() for lane in lanes)


@FUZZ
@given(data=culane_lists())
def test_culane_list_reader(tmp_path: Path, data: bytes) -> None:
    from lane_sad_core.data.formats import read_culane_list

    entries = result_or_own_error(lambda: read_culane_list(write(tmp_path / "train_gt.txt", data)))
    assert entries is None or len({(e.mask is None, len(e.exist or ())) for e in entries}) <= 1


@FUZZ
@given(data=tusimple_lines(), predictions=st.booleans())
def test_tusimple_reader(tmp_path: Path, data: bytes, predictions: bool) -> None:
    from lane_sad_core.data.formats import read_tusimple

    records = result_or_own_error(lambda: read_tusimple(write(tmp_path / "l.json", data), predictions))
    for record in records or []:
        assert all(np.isfinite(np.asarray(lane, dtype=np.float64)).all() for lane in record.lanes)


# --- scorers ----------------------------------------------------------------------------------
GT = {"lanes": [[100, 110, 120], [-2, 300, 310]], "h_samples": [600, 650, 700], "raw_file": "a.jpg"}


@FUZZ
@given(pred=tusimple_lines(), swap=st.booleans())
def test_tusimple_scorer(tmp_path: Path, pred: bytes, swap: bool) -> None:
    """Fuzzed predictions against a good GT file, and a good prediction against a fuzzed GT file."""
    from lane_sad_core.metrics import score_tusimple_files

    good = write(tmp_path / "good.json", json.dumps(GT).encode() + b"\n")
    fuzzed = write(tmp_path / "fuzzed.json", pred)
    files = (good, fuzzed) if swap else (fuzzed, good)
    score = result_or_own_error(lambda: score_tusimple_files(*files))
    assert score is None or all(np.isfinite([score.accuracy, score.fp, score.fn]))


@FUZZ
@given(pred=culane_lines(), gt=culane_lines(), listed=culane_lists())
def test_culane_scorer_readers(tmp_path: Path, pred: bytes, gt: bytes, listed: bytes) -> None:
    from lane_sad_core.metrics import CulaneSettings, score_culane
    from lane_sad_core.metrics.culane import read_lane_file, read_list_file

    write(tmp_path / "p.lines.txt", pred)
    result_or_own_error(lambda: read_lane_file(tmp_path / "p.lines.txt"))
    result_or_own_error(lambda: read_list_file(write(tmp_path / "list.txt", listed)))
    (tmp_path / "pred" / "d").mkdir(parents=True, exist_ok=True)
    (tmp_path / "gt" / "d").mkdir(parents=True, exist_ok=True)
    write(tmp_path / "pred" / "d" / "f.lines.txt", pred)
    write(tmp_path / "gt" / "d" / "f.lines.txt", gt)
    report = result_or_own_error(
        lambda: score_culane(tmp_path / "pred", tmp_path / "gt", settings=CulaneSettings(), workers=1)
    )
    assert report is None or report.total.frames == 1


@settings(FUZZ, max_examples=25)
@given(pred=tusimple_lines())
def test_lane_sad_score_answers_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture, pred: bytes) -> None:
    from lane_sad_core.cli import main

    good = write(tmp_path / "gt.json", json.dumps(GT).encode() + b"\n")
    code = main(["score", "--format", "tusimple", "--pred", str(write(tmp_path / "p.json", pred)), "--gt", str(good)])
    err = capsys.readouterr().err.strip().splitlines()
    assert (code, err) == (0, []) or (code == 2 and len(err) == 1 and err[0].startswith("lane-sad score: error: "))


# --- image messages -----------------------------------------------------------------------------
ENCODINGS = st.sampled_from(["bgr8", "rgb8", "bgra8", "rgba8", "mono8", "16UC1", "yuv422", "", "BGR8"])
SIDES = st.integers(0, 40) | st.sampled_from([16384, 16385, 2**31, 2**32 - 1])


@pytest.mark.ros
@FUZZ
@given(height=SIDES, width=SIDES, step=SIDES, encoding=ENCODINGS, data=st.binary(max_size=6000))
def test_image_message_converter(height: int, width: int, step: int, encoding: str, data: bytes) -> None:
    from sensor_msgs.msg import Image

    from lane_sad_ros.image_conv import image_msg_to_bgr

    msg = Image(height=height, width=width, step=step, encoding=encoding)
    msg.data = data
    image = result_or_own_error(lambda: image_msg_to_bgr(msg))
    assert image is None or image.shape == (height, width, 3)


def _encoded(ext: str) -> bytes:
    return cv2.imencode(ext, np.random.default_rng(1).integers(0, 255, (12, 20, 3), np.uint8))[1].tobytes()


@pytest.mark.ros
@FUZZ
@given(data=mutations(_encoded(".png")) | mutations(_encoded(".jpg")) | st.binary(max_size=300))
def test_compressed_image_converter(data: bytes) -> None:
    from sensor_msgs.msg import CompressedImage

    from lane_sad_ros.image_conv import MAX_SIDE, compressed_msg_to_bgr

    image = result_or_own_error(lambda: compressed_msg_to_bgr(CompressedImage(format="png", data=data)))
    assert image is None or (image.ndim == 3 and max(image.shape[:2]) <= MAX_SIDE)


# --- configs ----------------------------------------------------------------------------------
def _leaf_paths(obj: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if isinstance(obj, dict):
        return [p for k, v in obj.items() for p in _leaf_paths(v, (*prefix, k))] + ([prefix] if prefix else [])
    return [prefix]


def _default_config() -> dict:
    from lane_sad_core.plain import to_plain
    from lane_sad_core.train.config import TrainConfig, config_from_dict

    plain = to_plain(TrainConfig())
    plain["distill"] = to_plain(config_from_dict({"distill": {"sad": {}, "bake": {}}}).distill)
    return plain


DEFAULT = _default_config()
PATHS = st.sampled_from(_leaf_paths(DEFAULT)) | st.lists(st.text(max_size=6), min_size=1, max_size=3).map(tuple)


def _set(config: dict, path: tuple[str, ...], value: object) -> dict:
    node = config
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[path[-1]] = value
    return config


@FUZZ
@given(changes=st.lists(st.tuples(PATHS, JSON_VALUES), min_size=1, max_size=4))
def test_config_reader(changes: list[tuple[tuple[str, ...], object]]) -> None:
    from lane_sad_core.train.config import config_from_dict

    config = json.loads(json.dumps(DEFAULT))
    for path, value in changes:
        _set(config, path, value)
    result_or_own_error(lambda: config_from_dict(config))


@FUZZ
@given(
    text=mutations(yaml.safe_dump(DEFAULT).encode()) | st.binary(max_size=200),
    overrides=st.lists(st.text(max_size=20), max_size=3),
)
def test_config_file_loader(tmp_path: Path, text: bytes, overrides: list[str]) -> None:
    from lane_sad_core.train.config import load_config

    result_or_own_error(lambda: load_config(write(tmp_path / "c.yaml", text), overrides))
