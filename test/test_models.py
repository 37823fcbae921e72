"""Every registered model: output contract, block record, registry errors, sizes."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lane_sad_core.errors import ConfigError
from lane_sad_core.models import build_model, count_parameters, default_classes, image_models
from lane_sad_core.models.heads import ExistenceHead

H, W = 64, 160  # small, but divisible by 16 so the existence grid is exact (4 x 10)


@pytest.fixture(scope="module", params=image_models())
def model_and_name(request):
    torch.manual_seed(0)
    return build_model(request.param, input_height=H, input_width=W).eval(), request.param


def test_outputs_have_the_contract_shapes(model_and_name):
    model, _ = model_and_name
    with torch.no_grad():
        out = model(torch.randn(2, 3, H, W))
    assert set(out) == {"seg", "exist"}
    assert out["seg"].shape == (2, 5, H, W)
    assert out["exist"].shape == (2, 4)


def test_feature_info_matches_real_block_shapes(model_and_name):
    model, _ = model_and_name
    with torch.no_grad():
        _, blocks = model.forward_blocks(torch.randn(1, 3, H, W), model.block_names)
    assert set(blocks) == set(model.block_names)
    for info in model.feature_info:
        assert blocks[info.name].shape == (1, info.channels, H // info.stride, W // info.stride), info


def test_forward_blocks_returns_the_plain_forward_outputs(model_and_name):
    model, _ = model_and_name
    x = torch.randn(1, 3, H, W)
    with torch.no_grad():
        plain = model(x)
        outputs, blocks = model.forward_blocks(x, model.block_names[-2:])
    assert set(blocks) == set(model.block_names[-2:])
    for key in plain:
        assert torch.equal(plain[key], outputs[key])


def test_config_rebuilds_the_same_architecture(model_and_name):
    model, _ = model_and_name
    twin = build_model(model.arch, **model.config)
    twin.load_state_dict(model.state_dict())  # strict: same names and shapes
    assert count_parameters(twin) == count_parameters(model)


def test_block_names_follow_the_design():
    assert build_model("enet_sad", input_height=H, input_width=W).block_names == ("E1", "E2", "E3", "E4")
    assert build_model("resnet18", input_height=H, input_width=W).block_names == (
        "layer1",
        "layer2",
        "layer3",
        "layer4",
    )


def test_enet_sad_parameter_count_at_paper_settings():
    with torch.device("meta"):
        model = build_model("enet_sad")  # 288x800, 4 lanes
    n = count_parameters(model)
    # Existence FC: softmax map pooled to (288/16) x (800/16) = 18 x 50 cells x 5 classes
    # = 4500 inputs -> 128: 4500 * 128 + 128 = 576,128 parameters.
    assert count_parameters(model.exist.fc1) == 4500 * 128 + 128
    assert n == 1_110_757
    assert abs(n - 0.98e6) / 0.98e6 < 0.15  # the paper's 0.98M, see enet_sad.py for the gap


def test_alias_enet_builds_enet_sad():
    assert build_model("enet", input_height=H, input_width=W).arch == "enet_sad"


def test_num_lanes_is_configurable():
    model = build_model("resnet18", num_lanes=6, input_height=H, input_width=W).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, H, W))
    assert out["seg"].shape[1] == 7 and out["exist"].shape[1] == 6
    assert default_classes(6) == ["background", "lane1", "lane2", "lane3", "lane4", "lane5", "lane6"]


def test_unknown_model_lists_known_names():
    with pytest.raises(ConfigError, match="known models: .*enet_sad.*resnet101"):
        build_model("enet_xl")


def test_unknown_model_key_is_a_config_error():
    with pytest.raises(ConfigError, match="bad configuration for model 'resnet18'.*depthh"):
        build_model("resnet18", depthh=3)


def test_unknown_block_is_a_config_error():
    model = build_model("enet_sad", input_height=H, input_width=W)
    with pytest.raises(ConfigError, match=r"no block\(s\) \['E5'\].*'E1', 'E2', 'E3', 'E4'"):
        model.forward_blocks(torch.randn(1, 3, H, W), ["E2", "E5"])


def test_input_not_divisible_by_8_is_refused():
    model = build_model("enet_sad", input_height=H, input_width=W)
    with pytest.raises(ConfigError, match="divisible by 8, got 60x160"):
        model(torch.randn(1, 3, 60, 160))


def test_other_input_sizes_still_run():
    """The existence pooling adapts to its build grid, so e.g. TuSimple-size inputs work."""
    model = build_model("enet_sad", input_height=H, input_width=W).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 96, 128))
    assert out["seg"].shape == (1, 5, 96, 128) and out["exist"].shape == (1, 4)


def test_existence_head_is_softmax_2x2_avgpool_fc_at_build_size():
    torch.manual_seed(1)
    head = ExistenceHead(num_classes=5, num_lanes=4, grid=(4, 10))
    logits = torch.randn(2, 5, 8, 20)  # stride-8 map of a 64x160 input
    pooled = F.avg_pool2d(F.softmax(logits, dim=1), 2).flatten(1)
    expected = head.fc2(F.relu(head.fc1(pooled)))
    assert torch.allclose(head(logits), expected, atol=1e-6)


def test_mask_unpooling_equals_max_unpool():
    torch.manual_seed(2)
    x = torch.randn(2, 16, 8, 10)  # continuous values: no ties inside a 2x2 window
    values = torch.randn(2, 16, 4, 5)
    pooled, indices = F.max_pool2d(x, 2, return_indices=True)
    expected = F.max_unpool2d(values, indices, 2)
    mask = (x == F.interpolate(pooled, scale_factor=2.0, mode="nearest")).float()
    assert torch.equal(F.interpolate(values, scale_factor=2.0, mode="nearest") * mask, expected)


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning", "ignore::DeprecationWarning", "ignore::UserWarning")
@pytest.mark.parametrize("name", ["enet_sad", "resnet18"])
def test_onnx_export_matches_pytorch(name, tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    model = build_model(name, input_height=H, input_width=W).train()
    with torch.no_grad():
        for _ in range(3):  # settle BatchNorm statistics so eval outputs are O(1)
            model(torch.randn(2, 3, H, W))
    model.eval()
    x = torch.randn(1, 3, H, W)
    torch.onnx.export(
        model,
        (x,),
        tmp_path / "m.onnx",
        input_names=["image"],
        output_names=["seg", "exist"],
        opset_version=17,
        dynamo=False,
    )
    seg, exist = onnxruntime.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"image": x.numpy()})
    with torch.no_grad():
        ref = model(x)
    assert torch.allclose(torch.from_numpy(seg), ref["seg"], atol=1e-4, rtol=1e-4)
    assert torch.allclose(torch.from_numpy(exist), ref["exist"], atol=1e-5)


def test_resnet_output_stride_16_halves_the_deep_blocks_and_keeps_the_contract() -> None:
    from lane_sad_core.models.cost import gflops

    model = build_model("resnet18", input_height=H, input_width=W, output_stride=16).eval()
    assert [b.stride for b in model.feature_info] == [4, 8, 16, 16]
    out, acts = model.forward_blocks(torch.randn(1, 3, H, W), ["layer3", "layer4"])
    assert out["seg"].shape == (1, 5, H, W) and out["exist"].shape == (1, 4)
    assert acts["layer4"].shape[-2:] == (H // 16, W // 16)
    assert build_model(model.arch, **model.config).config["output_stride"] == 16  # checkpoints rebuild it
    assert gflops("resnet101", 96, 256)[1] > 2.5 * gflops("resnet101", 96, 256, output_stride=16)[1]
    with pytest.raises(ConfigError, match="output_stride must be one of"):
        build_model("resnet18", output_stride=4)
