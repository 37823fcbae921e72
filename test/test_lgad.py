"""LGAD: the label encoding, the label auto-encoder teacher, and the attention loss."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lane_sad_core.distill.lgad import LGADConfig, lgad_loss, one_hot_labels
from lane_sad_core.errors import ConfigError
from lane_sad_core.models import ENetSAD
from lane_sad_core.models.base import BlockInfo
from lane_sad_core.models.label_autoencoder import LabelAutoEncoder
from lane_sad_core.plain import from_plain, to_plain


def test_one_hot_labels_hand_map():
    labels = torch.tensor([[[0, 1], [255, 2]]])
    onehot = one_hot_labels(labels, 3)
    assert onehot.shape == (1, 3, 2, 2) and onehot.dtype == torch.float32
    assert torch.equal(onehot[0, 0], torch.tensor([[1.0, 0.0], [0.0, 0.0]]))
    assert torch.equal(onehot[0, 1], torch.tensor([[0.0, 1.0], [0.0, 0.0]]))
    assert torch.equal(onehot[0, 2], torch.tensor([[0.0, 0.0], [0.0, 1.0]]))
    # the ignored pixel belongs to no class
    assert onehot[0, :, 1, 0].sum() == 0


def test_one_hot_labels_rejects_unknown_values_and_shapes():
    with pytest.raises(ConfigError, match="label value 7"):
        one_hot_labels(torch.tensor([[[0, 7]]]), 5)
    with pytest.raises(ConfigError, match=r"\(2, 2\)"):
        one_hot_labels(torch.zeros(2, 2, dtype=torch.long), 5)
    with pytest.raises(ConfigError, match="ignore_index 0 is also a class"):
        one_hot_labels(torch.zeros(1, 2, 2, dtype=torch.long), 5, ignore_index=0)


def _labels(b: int = 2, h: int = 32, w: int = 48, seed: int = 0) -> torch.Tensor:
    """Background with four slanted 2-px lanes, as a label map would have them."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.zeros(b, h, w, dtype=torch.long)
    for i in range(b):
        for lane in range(1, 5):
            x0 = int(torch.randint(0, w - 8, (1,), generator=g))
            for y in range(h // 4, h):
                x = x0 + (y * (lane - 2.5)) // 8
                labels[i, y, int(max(0, min(w - 2, x))) : int(max(0, min(w - 2, x))) + 2] = lane
    return labels


def test_auto_encoder_shapes_and_blocks():
    model = LabelAutoEncoder(num_lanes=4, width=16)
    assert model.block_names == ("E1", "E2", "E3", "E4")
    assert [(b.channels, b.stride) for b in model.feature_info] == [(16, 4), (32, 8), (32, 8), (32, 8)]
    x = one_hot_labels(_labels(), 5)
    outputs, acts = model.forward_blocks(x, ["E1", "E4"])
    assert outputs["seg"].shape == x.shape
    assert outputs["exist"].shape == (2, 4)
    assert set(acts) == {"E1", "E4"}
    assert acts["E1"].shape == (2, 16, 8, 12)
    assert acts["E4"].shape == (2, 32, 4, 6)
    assert model.num_lanes == 4
    assert LabelAutoEncoder(**model.config).config == model.config  # rebuilds from its config


def test_auto_encoder_rejects_bad_inputs_and_plans():
    model = LabelAutoEncoder(num_lanes=4, width=8)
    with pytest.raises(ConfigError, match=r"\(B, 5, H, W\)"):
        model(torch.zeros(1, 3, 32, 32))
    with pytest.raises(ConfigError, match="divisible by 8"):
        model(torch.zeros(1, 5, 36, 32))
    with pytest.raises(ConfigError, match="no block"):
        model.forward_blocks(torch.zeros(1, 5, 32, 32), ["layer4"])
    with pytest.raises(ConfigError, match="stride 4 must be"):
        LabelAutoEncoder(blocks=(("a", 8), ("b", 4)))
    with pytest.raises(ConfigError, match="stride 6"):
        LabelAutoEncoder(blocks=(("a", 6),))


@pytest.fixture
def one_thread():
    """Tiny convolutions run far faster on one thread, above all on a busy 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_auto_encoder_learns_to_reproduce_labels(one_thread):
    # 60 Adam steps on one fixed 16x32 label map must beat the class prior by far.
    # Predicting the prior (19 % lane pixels over 4 lanes) costs
    # CE = -0.81 ln 0.81 - 4 (0.047 ln 0.047) = 0.74 and gets no lane pixel right; an
    # encoder-decoder that could not carry the lanes through stride 8 would stall there.
    torch.manual_seed(0)
    labels = _labels(b=1, h=16, w=32)
    x = one_hot_labels(labels, 5)
    model = LabelAutoEncoder(num_lanes=4, width=16, depth=1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):
        seg = model(x)["seg"]
        loss = F.cross_entropy(seg, labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
    lanes = labels > 0
    lane_accuracy = (seg.argmax(1)[lanes] == labels[lanes]).float().mean().item()
    assert loss.item() < 0.3
    assert lane_accuracy > 0.5


def test_loss_is_zero_for_identical_maps():
    acts = {name: torch.randn(2, 8, 4, 6) for name in ("E2", "E3", "E4")}
    teacher = {k: v * -1.0 for k, v in acts.items()}  # |A|^2 is sign-blind: same attention
    total, terms = lgad_loss(acts, teacher, LGADConfig())
    assert total.item() == pytest.approx(0.0, abs=1e-12)
    assert set(terms) == {"lgad_E2_E2", "lgad_E3_E3", "lgad_E4_E4"}


def test_loss_hand_value():
    # One channel, two pixels, SAD's operator on a 1x2 map. Student [0, 1]: g = [0, 1],
    # logits ln2 * [0, 1], map [1/3, 2/3]. Teacher [0, 0]: map [1/2, 1/2]. The squared
    # distance summed over the pixels is 2 * (1/6)^2 = 1/18, weighted 0.1.
    student = {"E4": torch.tensor([0.0, 1.0]).view(1, 1, 1, 2)}
    teacher = {"T": torch.zeros(1, 3, 1, 2)}
    total, terms = lgad_loss(student, teacher, LGADConfig(pairs=(("E4", "T"),), map_size=(1, 2)))
    assert total.item() == pytest.approx(0.1 / 18, rel=1e-6)
    assert set(terms) == {"lgad_E4_T"}


def test_blocks_of_any_size_meet_at_the_map_size():
    # A 1x1 teacher block resizes to a constant 2x2 energy: a uniform map, which a constant
    # 2x2 student matches exactly; a non-uniform 2x2 student against it is not 0.
    teacher = {"T": torch.ones(1, 4, 1, 1)}
    flat = {"S": torch.ones(1, 2, 2, 2)}
    cfg = LGADConfig(pairs=(("S", "T"),), map_size=(2, 2))
    assert lgad_loss(flat, teacher, cfg)[0].item() == pytest.approx(0.0, abs=1e-12)
    peaked = {"S": torch.tensor([[1.0, 0.0], [0.0, 0.0]]).view(1, 1, 2, 2)}
    # logits ln4 * [1, 0, 0, 0]: map [4, 1, 1, 1] / 7 against 1/4 each
    p, q = 4 / 7, 1 / 7
    expected = 0.1 * ((p - 0.25) ** 2 + 3 * (q - 0.25) ** 2)
    assert lgad_loss(peaked, teacher, cfg)[0].item() == pytest.approx(expected, rel=1e-6)


def test_gradient_reaches_only_the_student():
    student = torch.randn(2, 6, 4, 4, requires_grad=True)
    teacher = torch.randn(2, 10, 4, 4, requires_grad=True)
    total, _ = lgad_loss({"E4": student}, {"E4": teacher}, LGADConfig(pairs=(("E4", "E4"),)))
    total.backward()
    assert student.grad is not None and student.grad.abs().sum() > 0
    assert teacher.grad is None


def test_teacher_network_gets_no_gradient():
    teacher = LabelAutoEncoder(num_lanes=4, width=8)
    x = one_hot_labels(_labels(), 5)
    _, t_acts = teacher.forward_blocks(x, ["E4"])
    student = torch.randn(2, 12, 4, 6, requires_grad=True)
    total, _ = lgad_loss({"E4": student}, t_acts, LGADConfig(pairs=(("E4", "E4"),)))
    total.backward()
    assert student.grad is not None
    assert all(p.grad is None for p in teacher.parameters())


def test_missing_blocks_are_named():
    with pytest.raises(ConfigError, match=r"teacher block\(s\) \['E3'\]"):
        lgad_loss(
            {name: torch.zeros(1, 1, 2, 2) for name in ("E2", "E3", "E4")},
            {name: torch.zeros(1, 1, 2, 2) for name in ("E2", "E4")},
            LGADConfig(),
        )


def test_pairs_for_enet_and_resnet_students():
    teacher = LabelAutoEncoder(num_lanes=4, width=8).feature_info
    assert LGADConfig.for_models(ENetSAD.feature_info, teacher).pairs == (("E2", "E2"), ("E3", "E3"), ("E4", "E4"))
    assert LGADConfig.for_models(ENetSAD.feature_info, teacher) == LGADConfig()
    resnet = [
        BlockInfo("layer1", 64, 4),
        BlockInfo("layer2", 128, 8),
        BlockInfo("layer3", 256, 8),
        BlockInfo("layer4", 512, 8),
    ]
    cfg = LGADConfig.for_models(resnet, teacher, weight=0.05)
    assert cfg.pairs == (("layer2", "E2"), ("layer3", "E3"), ("layer4", "E4"))
    assert cfg.weight == 0.05
    assert cfg.student_blocks == ("layer2", "layer3", "layer4")
    assert cfg.teacher_blocks == ("E2", "E3", "E4")
    shallow_teacher = LabelAutoEncoder(blocks=(("A", 4), ("B", 4), ("C", 8), ("D", 8))).feature_info
    with pytest.raises(ConfigError, match="strides differ"):
        LGADConfig.for_models(ENetSAD.feature_info, shallow_teacher)


def test_config_round_trip_and_unknown_keys():
    cfg = LGADConfig(pairs=(("layer3", "E3"),), weight=0.2, p=1.0, loss="kl")
    assert from_plain(LGADConfig, to_plain(cfg)) == cfg
    assert to_plain(cfg)["pairs"] == [["layer3", "E3"]]
    with pytest.raises(ConfigError, match=r"unknown key\(s\) distill.lgad.weights"):
        from_plain(LGADConfig, {"weights": 0.1}, "distill.lgad")
    with pytest.raises(ConfigError, match="at least one"):
        LGADConfig(pairs=())
