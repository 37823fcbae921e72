"""Checkpoints: round trip, atomic writes, and refusal of files that would run code."""

from __future__ import annotations

import os
import pickle
import random

import numpy as np
import pytest
import torch

from lane_sad_core.data.preprocess import PreprocessConfig
from lane_sad_core.errors import CheckpointError
from lane_sad_core.models import build_model
from lane_sad_core.models import checkpoint as ckpt_mod
from lane_sad_core.models.checkpoint import (
    capture_rng_state,
    load_checkpoint,
    load_model,
    model_payload,
    restore_rng_state,
    save_checkpoint,
)

SIZE = {"input_height": 32, "input_width": 64}


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model("enet_sad", num_lanes=3, **SIZE).eval()


def test_round_trip_rebuilds_model_and_metadata(model, tmp_path):
    pre = PreprocessConfig(width=64, height=32, crop_top=0.3)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    path = save_checkpoint(
        tmp_path / "run" / "last.pt",
        model_payload(
            model, pre, optimizer=opt.state_dict(), iteration=1234, config={"lr": 0.01, "data": {"root": "/x"}}
        ),
    )
    loaded, meta = load_model(path)
    x = torch.randn(1, 3, 32, 64)
    with torch.no_grad():
        a, b = model(x), loaded(x)
    assert torch.equal(a["seg"], b["seg"]) and torch.equal(a["exist"], b["exist"])
    assert not loaded.training
    assert (meta.model_name, meta.model_config) == ("enet_sad", {"num_lanes": 3, **SIZE})
    assert meta.classes == ["background", "lane1", "lane2", "lane3"]
    assert meta.preprocess == pre
    assert meta.iteration == 1234 and meta.config["data"]["root"] == "/x"
    raw = load_checkpoint(path)
    torch.optim.SGD(loaded.parameters(), lr=0.01, momentum=0.9).load_state_dict(raw["optimizer"])


def test_rng_state_survives_a_checkpoint(model, tmp_path):
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    save_checkpoint(tmp_path / "c.pt", model_payload(model, PreprocessConfig(), rng=capture_rng_state()))
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    restore_rng_state(load_checkpoint(tmp_path / "c.pt")["rng"])
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected


def test_failed_write_leaves_no_partial_file(model, tmp_path, monkeypatch):
    path = tmp_path / "model.pt"
    save_checkpoint(path, model_payload(model, PreprocessConfig(), iteration=1))

    def disk_full(obj, f):
        f.write(b"PK\x03\x04 half a checkpoint")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ckpt_mod.torch, "save", disk_full)
    with pytest.raises(CheckpointError, match="cannot write checkpoint .*model.pt: No space left"):
        save_checkpoint(path, model_payload(model, PreprocessConfig(), iteration=2))
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]  # no temp file left
    assert load_checkpoint(path)["iteration"] == 1  # the previous checkpoint is intact


def test_non_plain_values_are_refused_on_save(model, tmp_path):
    payload = model_payload(model, PreprocessConfig(), config={"mean": np.zeros(3)})
    with pytest.raises(CheckpointError, match=r"payload\['config'\]\['mean'\] is a numpy.ndarray"):
        save_checkpoint(tmp_path / "c.pt", payload)
    with pytest.raises(CheckpointError, match=r"lacks key\(s\) \['preprocess'\]"):
        save_checkpoint(tmp_path / "c.pt", {"model_name": "enet_sad", "model_config": {}, "state_dict": {}})
    assert not (tmp_path / "c.pt").exists()


class _RunsCode:
    """Unpickling this calls os.mkdir(marker): proof that code ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize(
    ("writer", "message"),
    [
        ("torch", r"refusing to load .*evil\.pt: it holds objects that would run code .*posix\.mkdir"),
        ("pickle-2", r"refusing to load .*evil\.pt: .*posix\.mkdir"),
        # newer pickle protocols are stopped earlier, at an opcode the safe loader does not take
        ("pickle-5", r"corrupt or unsupported checkpoint .*evil\.pt: Unsupported operand"),
    ],
)
def test_malicious_pickle_is_refused_not_executed(tmp_path, writer, message):
    marker = tmp_path / "code_ran"
    path = tmp_path / "evil.pt"
    evil = {"model_name": "enet_sad", "model_config": {}, "preprocess": {}, "state_dict": _RunsCode(str(marker))}
    if writer == "torch":
        torch.save(evil, path)
    else:
        path.write_bytes(pickle.dumps(evil, protocol=int(writer[-1])))
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match=message):
        load_model(path)
    assert not marker.exists()


def test_missing_and_corrupt_files(model, tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint not found: .*nothing.pt"):
        load_checkpoint(tmp_path / "nothing.pt")
    good = save_checkpoint(tmp_path / "good.pt", model_payload(model, PreprocessConfig()))
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="corrupt or unsupported checkpoint .*truncated.pt"):
        load_checkpoint(truncated)
    (tmp_path / "text.pt").write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt or unsupported checkpoint .*text.pt"):
        load_checkpoint(tmp_path / "text.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="not a lane_sad checkpoint .*list"):
        load_checkpoint(tmp_path / "list.pt")
    torch.save({"state_dict": {}}, tmp_path / "bare.pt")
    with pytest.raises(CheckpointError, match=r"missing key\(s\) \['model_name', 'model_config', 'preprocess'\]"):
        load_checkpoint(tmp_path / "bare.pt")


def test_weights_that_do_not_fit_are_reported(model, tmp_path):
    payload = model_payload(model, PreprocessConfig())
    payload["model_config"] = {**payload["model_config"], "num_lanes": 4}
    save_checkpoint(tmp_path / "c.pt", payload)
    with pytest.raises(CheckpointError, match="c.pt: weights do not fit enet_sad"):
        load_model(tmp_path / "c.pt")
    payload["model_name"] = "segformer"
    save_checkpoint(tmp_path / "d.pt", payload)
    with pytest.raises(CheckpointError, match="d.pt: cannot rebuild the model: unknown model 'segformer'"):
        load_model(tmp_path / "d.pt")
