"""One reader and one writer for every config: typed from hints, full key paths in errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest

from lane_sad_core.data.augment import AugmentConfig
from lane_sad_core.data.preprocess import PreprocessConfig
from lane_sad_core.data.synth.presets import PRESETS, preset
from lane_sad_core.data.synth.writer import SynthSettings
from lane_sad_core.distill.bake import BAKEConfig
from lane_sad_core.distill.intra_kd import IntraKDConfig
from lane_sad_core.distill.lgad import LGADConfig
from lane_sad_core.distill.sad import SADConfig
from lane_sad_core.errors import ConfigError
from lane_sad_core.infer.detector import DEFAULT_CHECKPOINT
from lane_sad_core.infer.postprocess import PostprocessConfig
from lane_sad_core.infer.temporal import TemporalConfig
from lane_sad_core.models.checkpoint import load_model
from lane_sad_core.plain import from_plain, to_plain
from lane_sad_core.train.config import TrainConfig
from lane_sad_core.train.distillation import DistillSection
from lane_sad_core.train.losses import LossConfig


@dataclass(frozen=True)
class Inner:
    size: tuple[int, int] = (1, 2)
    scale: float | tuple[float, ...] = 1.0


@dataclass
class Outer:
    MOVED: ClassVar[dict[str, str]] = {"old": "inner.size"}

    name: str
    inner: Inner = field(default_factory=Inner)
    maybe: Inner | None = None
    tags: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    count: int = 0
    on: bool = False


def test_nested_optional_tuples_lists_unions_and_any_round_trip() -> None:
    data = {
        "name": "x",
        "inner": {"size": [3, 4], "scale": [0.5, 2]},
        "maybe": {"scale": 2},
        "tags": ["a", "b"],
        "extra": {"k": [1, {"deep": None}]},
        "count": 3,
        "on": True,
    }
    obj = from_plain(Outer, data)
    assert obj.inner == Inner((3, 4), (0.5, 2.0)) and obj.maybe == Inner(scale=2.0)
    assert isinstance(obj.maybe.scale, float) and obj.tags == ["a", "b"] and obj.extra == data["extra"]
    assert to_plain(obj) == {
        **data,
        "inner": {"size": [3, 4], "scale": [0.5, 2.0]},
        "maybe": {"size": [1, 2], "scale": 2.0},
    }
    assert from_plain(Outer, to_plain(obj)) == obj
    assert from_plain(Outer, {"name": "y", "maybe": None}).maybe is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "x", "inner": {"sise": [1, 2]}}, "unknown key(s) top.inner.sise (known: size, scale)"),
        ({"name": "x", "inner": {"scale": "x"}}, "top.inner.scale: expected float or list of float, got 'x'"),
        ({"name": "x", "inner": {"size": [1, 2, 3]}}, "top.inner.size: expected 2 values, got 3"),
        ({"name": "x", "inner": {"size": [1, "2"]}}, "top.inner.size[1]: expected int, got '2'"),
        ({"name": "x", "maybe": []}, "top.maybe: expected a mapping, got []"),
        ({"name": "x", "count": 1.5}, "top.count: expected int, got 1.5"),
        ({"name": "x", "count": True}, "top.count: expected int, got True"),
        ({"name": "x", "on": 1}, "top.on: expected bool, got 1"),
        ({"name": "x", "tags": "ab"}, "top.tags: expected list of str, got 'ab'"),
        ({"name": "x", "old": 1}, "top.old moved to inner.size"),
        ({}, "top: missing key(s) name"),
        ([], "top: expected a mapping, got []"),
    ],
)
def test_errors_name_the_full_key_path(data: object, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        from_plain(Outer, data, "top")
    assert str(info.value) == message or str(info.value).startswith(message)


@pytest.mark.parametrize(
    "config",
    [
        TrainConfig(),
        from_plain(
            TrainConfig,
            {
                "model": {"name": "resnet18", "config": {"output_stride": 16}},
                "data": {"augment": None, "preprocess": {"crop_top": 0.3}},
                "distill": {
                    "sad": {"pairs": [["layer2", "layer3"]], "weight": [0.2], "ramp_iters": 5},
                    "lgad": {"teacher": "t.pt"},
                    "intra_kd": {"teacher": "r.pt", "moments": ["mean"]},
                    "bake": {"block": "layer4", "start_iter": 3},
                },
            },
        ),
        PreprocessConfig(width=640, height=368, crop_top=0.1),
        AugmentConfig.identity(hflip_prob=0.5),
        LossConfig(iou_weight=0.1),
        DistillSection(sad=SADConfig(weight=(0.1, 0.2))),
        SADConfig(),
        LGADConfig(),
        IntraKDConfig(),
        BAKEConfig(mode="softmax"),
        PostprocessConfig(smooth_kernel=5, y_samples=(100, 200), fit="official", extend_to_bottom=True),
        TemporalConfig(alpha=0.3, hold=4),
        PRESETS["culane"],
        PRESETS["tusimple"],
        SynthSettings(format="culane", num=3, overrides={"focal": 900.0}),
    ],
    ids=lambda c: type(c).__name__,
)
def test_every_config_round_trips_through_plain_data(config: object) -> None:
    plain = to_plain(config)
    assert from_plain(type(config), plain) == config
    assert to_plain(from_plain(type(config), plain)) == plain


def test_preset_overrides_are_type_checked_by_name() -> None:
    assert preset("culane", focal=900).focal == 900.0
    with pytest.raises(ConfigError, match=r"unknown key\(s\) preset.focus"):
        preset("culane", focus=900.0)
    with pytest.raises(ConfigError, match="preset.width: expected int, got 'wide'"):
        preset("culane", width="wide")


def test_the_shipped_checkpoint_still_loads() -> None:
    model, meta = load_model(DEFAULT_CHECKPOINT)
    assert model.arch == "enet_sad"
    assert meta.preprocess == PreprocessConfig(width=400, height=144, crop_top=0.35)
    assert meta.config["name"] == "enet_sad_default_real"  # the run's config stays a plain dict


def test_exponent_floats_that_yaml_reads_as_strings_are_numbers() -> None:
    """PyYAML (YAML 1.1) reads ``lr: 1e-4`` as the string '1e-4'; the reader takes it as a float."""
    import yaml

    from lane_sad_core.train.config import config_from_dict

    assert config_from_dict({"optim": {"lr": "1e-4"}}).optim.lr == 1e-4
    assert config_from_dict(yaml.safe_load("optim: {lr: 5E-4}")).optim.lr == 5e-4
    with pytest.raises(ConfigError, match="optim.lr: expected float, got '1e'"):
        config_from_dict({"optim": {"lr": "1e"}})
