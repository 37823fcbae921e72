"""Training configs: YAML in, typed sections out, overrides, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from lane_sad_core.errors import ConfigError
from lane_sad_core.plain import to_plain
from lane_sad_core.train.config import apply_overrides, config_from_dict, load_config


def test_defaults_follow_the_paper() -> None:
    cfg = config_from_dict({})
    assert (cfg.optim.batch_size, cfg.optim.lr, cfg.optim.momentum) == (12, 0.01, 0.9)
    assert cfg.optim.weight_decay == 1e-4 and cfg.optim.poly_power == 0.9
    assert cfg.loss.background_weight == 0.4 and cfg.loss.exist_weight == 0.1
    assert (cfg.data.preprocess.width, cfg.data.preprocess.height) == (800, 288)


def test_yaml_sections_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "name: t\nmodel: {name: resnet18}\ndata: {root: data, preprocess: {width: 640, height: 368}}\n"
        "optim: {iterations: 100}\ndistill: {sad: {pairs: [[layer2, layer3]], start_iter: 5, map_size: [18, 50]}}\n"
    )
    cfg = load_config(path, ["optim.lr=0.02", "data.preprocess.crop_top=0.3", "distill.sad.ramp_iters=10"])
    assert cfg.model.name == "resnet18" and cfg.optim.iterations == 100 and cfg.optim.lr == 0.02
    assert cfg.data.preprocess.crop_top == 0.3 and cfg.data.preprocess.width == 640
    assert cfg.data.root == str((tmp_path / "data").resolve())  # relative to the config file
    sad = cfg.distill.sad
    assert sad.pairs == (("layer2", "layer3"),) and sad.map_size == (18, 50)
    assert (sad.start_iter, sad.ramp_iters) == (5, 10)
    assert load_config(path, ["distill.sad=null"]).distill.sad is None  # null switches a method off
    again = config_from_dict(to_plain(cfg))  # checkpoints store the plain form; it must load back
    assert again == cfg and to_plain(again) == to_plain(cfg)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"optim": {"itterations": 5}}, "unknown key(s) optim.itterations"),
        ({"optim": {"batch_size": "12"}}, "optim.batch_size: expected int, got '12'"),
        ({"optim": {"lr": True}}, "optim.lr: expected float, got True"),
        ({"data": []}, "data: expected a mapping"),
        ({"distill": {"sad": {"pairs": []}}}, "distill.sad: SAD needs at least one"),
        ({"distill": {"sad": {"weight": "x"}}}, "distill.sad.weight: expected float or list of float, got 'x'"),
        ({"distill": {"bake": {"start_iter": -1}}}, "distill.bake: start_iter and ramp_iters must be >= 0"),
        # the layout before one distill section: one line naming the new key
        ({"loss": {"sad": {"start_iter": 5}}}, "loss.sad moved to distill.sad"),
        ({"sad_enabled": False}, "sad_enabled moved to distill.sad"),
        ({"distill": {"start_iter": 0, "bake": {}}}, "distill.start_iter moved to distill.<method>.start_iter"),
    ],
)
def test_bad_configs_name_the_key(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        config_from_dict(data)


def test_override_syntax_errors() -> None:
    with pytest.raises(ConfigError, match="--set expects key=value"):
        apply_overrides({}, ["optim.lr"])
    with pytest.raises(ConfigError, match="name is not a section"):
        apply_overrides({"name": "x"}, ["name.sub=1"])


def test_optimizer_choice() -> None:
    import torch

    from lane_sad_core.train.trainer import make_optimizer

    model = torch.nn.Linear(2, 2)
    assert isinstance(make_optimizer(model, config_from_dict({"optim": {"name": "adamw"}}).optim), torch.optim.AdamW)
    sgd = make_optimizer(model, config_from_dict({}).optim)
    assert isinstance(sgd, torch.optim.SGD) and sgd.defaults["momentum"] == 0.9
    with pytest.raises(ConfigError, match="optim.name must be one of"):
        make_optimizer(model, config_from_dict({"optim": {"name": "lbfgs"}}).optim)


def test_base_chain_merges_sections_and_resolves_roots_per_file(tmp_path: Path) -> None:
    (tmp_path / "family").mkdir()
    (tmp_path / "base.yaml").write_text(
        "name: base\nseed: 1\ndata: {root: shared_data, preprocess: {width: 256, height: 96, crop_top: 0.35}}\n"
        "optim: {name: adamw, lr: 0.002, iterations: 600}\ndistill: {sad: {start_iter: 0}}\n"
    )
    (tmp_path / "family" / "mid.yaml").write_text("base: ../base.yaml\ndistill: {sad: null}\noptim: {lr: 0.001}\n")
    (tmp_path / "family" / "run.yaml").write_text("base: mid.yaml\nname: run\ndata: {preprocess: {width: 320}}\n")
    cfg = load_config(tmp_path / "family" / "run.yaml", ["optim.iterations=7"])
    assert (cfg.name, cfg.seed, cfg.distill.sad) == ("run", 1, None)
    assert (cfg.optim.name, cfg.optim.lr, cfg.optim.iterations) == ("adamw", 0.001, 7)
    pre = cfg.data.preprocess
    assert (pre.width, pre.height, pre.crop_top) == (320, 96, 0.35)  # merged key by key
    assert cfg.data.root == str((tmp_path / "shared_data").resolve())  # against base.yaml's folder


def test_base_errors_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("base: b.yaml\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\n")
    with pytest.raises(ConfigError, match="base configs form a cycle"):
        load_config(tmp_path / "a.yaml")
    (tmp_path / "c.yaml").write_text("base: missing.yaml\n")
    with pytest.raises(ConfigError, match="cannot read config .*missing.yaml"):
        load_config(tmp_path / "c.yaml")
