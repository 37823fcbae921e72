"""SCNN: layout, message passing semantics, block record, checkpoint and ONNX round trips."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lane_sad_core.data.preprocess import PreprocessConfig
from lane_sad_core.errors import ConfigError
from lane_sad_core.export.onnx import export_checkpoint
from lane_sad_core.models import SCNN, build_model, count_parameters
from lane_sad_core.models.checkpoint import load_model, model_payload, save_checkpoint
from lane_sad_core.models.scnn import DIRECTIONS, MessagePassing, propagate

H, W = 64, 160
C = 8  # message-passing channels in the unit tests of the passes


@pytest.fixture(scope="module")
def settled() -> SCNN:
    """A small SCNN (kernel 5) whose BatchNorm statistics come from a few train passes."""
    torch.manual_seed(0)
    model = build_model("scnn", input_height=H, input_width=W, kernel=5).train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(2, 3, H, W))
    return model.eval()


@pytest.fixture(scope="module")
def checkpoint(settled, tmp_path_factory):
    return save_checkpoint(
        tmp_path_factory.mktemp("ckpt") / "scnn.pt", model_payload(settled, PreprocessConfig(width=W, height=H))
    )


def identity_messages(kernel: int = 3) -> MessagePassing:
    """Message convs that pass each channel's own value straight through (centre tap 1)."""
    mp = MessagePassing(C, kernel)
    with torch.no_grad():
        for conv in mp.convs.values():
            conv.weight.zero_()
            conv.weight[:, :, conv.weight.shape[2] // 2, conv.weight.shape[3] // 2] = torch.eye(C)
    return mp


def test_blocks_follow_the_vgg_layout(settled):
    assert settled.block_names == ("conv1", "conv2", "conv3", "conv4", "conv5", "fc7", "scnn")
    strides = {info.name: info.stride for info in settled.feature_info}
    assert strides == {"conv1": 1, "conv2": 2, "conv3": 4, "conv4": 8, "conv5": 8, "fc7": 8, "scnn": 8}
    x = torch.randn(1, 3, H, W)
    with torch.no_grad():
        outputs, blocks = settled.forward_blocks(x, ["conv4", "scnn"])
        plain = settled(x)
    assert set(blocks) == {"conv4", "scnn"}
    assert blocks["conv4"].shape == (1, 512, H // 8, W // 8) and blocks["scnn"].shape == (1, 128, H // 8, W // 8)
    assert torch.equal(outputs["seg"], plain["seg"]) and torch.equal(outputs["exist"], plain["exist"])
    assert plain["seg"].shape == (1, 5, H, W) and plain["exist"].shape == (1, 4)


def test_unknown_block_is_a_config_error(settled):
    with pytest.raises(ConfigError, match=r"scnn has no block\(s\) \['E4'\].*'fc7', 'scnn'"):
        settled.forward_blocks(torch.randn(1, 3, H, W), ["scnn", "E4"])


@pytest.mark.parametrize("kernel", [0, 4])
def test_kernel_must_be_odd(kernel):
    with pytest.raises(ConfigError, match=f"positive odd number, got {kernel}"):
        build_model("scnn", input_height=H, input_width=W, kernel=kernel)


def test_message_convs_run_across_the_slices():
    mp = MessagePassing(C, kernel=7)
    shapes = {name: tuple(conv.weight.shape[2:]) for name, conv in mp.convs.items()}
    assert shapes == {"down": (1, 7), "up": (1, 7), "right": (7, 1), "left": (7, 1)}


def test_zero_messages_make_every_pass_the_identity():
    mp = MessagePassing(C)
    for conv in mp.convs.values():
        torch.nn.init.zeros_(conv.weight)
    x = torch.randn(2, C, 6, 11)
    assert torch.equal(mp(x), x)


@pytest.mark.parametrize(("name", "dim", "reverse"), DIRECTIONS)
def test_identity_messages_accumulate_in_pass_order(name, dim, reverse):
    """Non-negative x, message = the updated previous slice: each pass is a running sum.

    Row i becomes x_i + relu(row_{i-1}') = x_i + row_{i-1}' = sum of x_0..x_i going down;
    adding the *original* previous slice instead would give x_i + x_{i-1}.
    """
    x = torch.rand(2, C, 5, 7)
    expected = x.flip(dim).cumsum(dim).flip(dim) if reverse else x.cumsum(dim)
    got = propagate(x, identity_messages().convs[name], dim, reverse)
    assert torch.allclose(got, expected, atol=1e-5)


def test_top_row_reaches_the_bottom_only_through_the_downward_pass():
    torch.manual_seed(3)
    mp = MessagePassing(C, kernel=3)
    for conv in mp.convs.values():
        torch.nn.init.normal_(conv.weight, std=0.3)
    x = torch.rand(1, C, 6, 9)
    bumped = x.clone()
    bumped[:, :, 0, 4] += 5.0  # one pixel of the top row
    with torch.no_grad():
        down = propagate(x, mp.convs["down"], 2, False), propagate(bumped, mp.convs["down"], 2, False)
        up = propagate(x, mp.convs["up"], 2, True), propagate(bumped, mp.convs["up"], 2, True)
    changed_rows = (down[0] - down[1]).abs().amax(dim=(0, 1, 3)) > 0
    assert changed_rows.all()  # every row, down to the bottom one
    # a 3-wide message widens the reach by one column per row: row 1 sees columns 3..5 only
    changed_cols_row1 = (down[0] - down[1])[0, :, 1].abs().amax(dim=0) > 0
    assert changed_cols_row1.nonzero().flatten().tolist() == [3, 4, 5]
    # going up, nothing flows down: only the top row itself differs
    assert ((up[0] - up[1]).abs().amax(dim=(0, 1, 3)) > 0).tolist() == [True] + [False] * 5


def test_official_initialisation_starts_near_the_identity():
    """At SCNN's size a pass chains 100 messages; the official init keeps the features' scale."""
    torch.manual_seed(0)
    mp = MessagePassing(128)
    mp.reset_parameters()
    x = F.relu(torch.randn(1, 128, 36, 100))
    with torch.no_grad():
        y = mp(x)
    assert 0.9 < float(y.std() / x.std()) < 1.2
    assert not torch.equal(y, x)


def test_parameter_count_at_paper_settings():
    with torch.device("meta"):
        model = build_model("scnn")  # 288x800, 4 lanes, kernel 9
    vgg = [
        (3, 64),
        (64, 64),
        (64, 128),
        (128, 128),
        (128, 256),
        (256, 256),
        (256, 256),
        (256, 512),
        (512, 512),
        (512, 512),
        (512, 512),
        (512, 512),
        (512, 512),
    ]
    convs = sum(9 * a * b for a, b in vgg) + 9 * 512 * 1024 + 1024 * 128  # no bias before BN
    bn = 2 * (sum(b for _, b in vgg) + 1024 + 128)
    messages = 4 * 128 * 128 * 9
    classifier = 128 * 5 + 5
    exist = 5 * 18 * 50 * 128 + 128 + 128 * 4 + 4  # softmax map pooled to 18 x 50
    assert count_parameters(model) == convs + bn + messages + classifier + exist == 20_737_993
    assert abs(count_parameters(model) - 20.72e6) / 20.72e6 < 0.002  # the SAD paper's 20.72M


def test_checkpoint_round_trip_gives_identical_outputs(settled, checkpoint):
    loaded, meta = load_model(checkpoint)
    assert meta.model_name == "scnn" and meta.model_config["kernel"] == 5
    x = torch.randn(2, 3, H, W)
    with torch.no_grad():
        a, b = settled(x), loaded(x)
    assert torch.equal(a["seg"], b["seg"]) and torch.equal(a["exist"], b["exist"])


def test_onnx_export_through_the_project_exporter(checkpoint, tmp_path):
    pytest.importorskip("onnxruntime")
    result = export_checkpoint(checkpoint, tmp_path / "scnn.onnx")  # verified against PyTorch inside
    assert result.path.is_file()
    assert result.prob_max_diff <= 1e-4 and result.exist_max_diff <= 1e-4
