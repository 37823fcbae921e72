"""tools/prepare_real_data.py (stage 3 of make train-default): the evaluation frames stay out."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import prepare_real_data  # a tool module
import realsets


@pytest.mark.parametrize("split", ["culane_0756", "culane_ego_eval", "tusimple_lstr"])
def test_an_evaluation_frame_is_refused_even_recompressed(real_data: Path, tmp_path: Path, split: str) -> None:
    """A copy of any evaluation split's frame (re-encoded, resized) is caught; a training frame is not."""
    held_out = realsets.images(realsets.SPLITS[split], real_data)[3]
    training = realsets.images(realsets.SPLITS["culane_0755"], real_data)[3]
    copy = tmp_path / "copy.jpg"
    image = cv2.imread(str(held_out))
    cv2.imwrite(
        str(copy), cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2)), [cv2.IMWRITE_JPEG_QUALITY, 60]
    )
    prepare_real_data.check_disjoint([training], real_data)
    with pytest.raises(SystemExit, match="looks like an evaluation frame"):
        prepare_real_data.check_disjoint([training, copy], real_data)


def test_converted_lines_are_rooted_in_the_output_tree(tmp_path: Path) -> None:
    root = tmp_path / "pseudo"
    (root / "list").mkdir(parents=True)
    (root / "list" / "all_gt.txt").write_text("/frames/0/1.jpg /laneseg_label_w16/frames/0/1.png ? 1 1 0\n\n")
    assert prepare_real_data.prefixed(root, tmp_path) == [
        "/pseudo/frames/0/1.jpg /pseudo/laneseg_label_w16/frames/0/1.png ? 1 1 0"
    ]


def test_the_models_own_lanes_win_where_it_kept_any() -> None:
    """Per frame: the model's pseudo-label where it kept a lane, else the line teacher's."""
    lines = [
        "/pseudo/frames/v/00000.jpg /pseudo/laneseg_label_w16/frames/v/00000.png ? 1 1 ?",
        "/pseudo/frames/v/00002.jpg /pseudo/laneseg_label_w16/frames/v/00002.png ? 1 0 ?",
    ]
    own = [
        "/pseudo_own/frames/v/00000.jpg /pseudo_own/laneseg_label_w16/frames/v/00000.png ? ? ? ?",
        "/pseudo_own/frames/v/00002.jpg /pseudo_own/laneseg_label_w16/frames/v/00002.png 1 1 1 ?",
    ]
    assert prepare_real_data.merged_pseudo(own, lines) == [lines[0], own[1]]


def test_a_six_slot_model_is_scored_on_its_own_ego_lines() -> None:
    """The ego labels name CULane's slots 1 and 2; a six-slot model's ego lines are 2 and 3."""
    ego = realsets.SPLITS["culane_ego_eval"]
    assert realsets.model_slots(ego, 4) == {1, 2}
    assert realsets.model_slots(ego, 6) == {2, 3}
    assert realsets.model_slots(realsets.SPLITS["culane_0756"], 6) is None
