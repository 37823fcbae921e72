"""AT-GEN and the SAD loss against hand-worked values; SAD leaves the deployed model alone."""

from __future__ import annotations

import math

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from lane_sad_core.distill import SADConfig, attention_display, attention_energy, attention_map, sad_loss
from lane_sad_core.distill.sad import AttentionLoss, sad_pair_loss
from lane_sad_core.errors import ConfigError
from lane_sad_core.models import build_model, count_parameters
from lane_sad_core.plain import from_plain, to_plain
from lane_sad_core.train.losses import LossConfig, lane_loss


def _two_pixel_activation() -> torch.Tensor:
    # One image, 2 channels, a 1x2 map: channel 0 = [1, 2], channel 1 = [3, -1].
    return torch.tensor([[[[1.0, 2.0]], [[3.0, -1.0]]]])


def test_energy_is_channel_sum_of_powers():
    a = _two_pixel_activation()
    # p = 2: [1 + 9, 4 + 1] = [10, 5];  p = 1: [1 + 3, 2 + 1] = [4, 3]
    assert torch.equal(attention_energy(a, 2.0), torch.tensor([[[10.0, 5.0]]]))
    assert torch.equal(attention_energy(a, 1.0), torch.tensor([[[4.0, 3.0]]]))


def test_published_operator_is_the_softmax_of_the_energy():
    # softmax([10, 5]) = [1, e^-5] / (1 + e^-5)
    z = 1.0 + math.exp(-5.0)
    expected = torch.tensor([[[1.0 / z, math.exp(-5.0) / z]]])
    assert torch.allclose(attention_map(_two_pixel_activation(), logit_range=-1), expected, atol=1e-7)


def test_scaled_map_puts_the_logits_in_zero_to_k():
    # g = [10, 5], peak 10, k = ln(2 pixels): logits ln2 * [1, 0.5] -> [2, sqrt 2] / (2 + sqrt 2)
    z = 2.0 + math.sqrt(2.0)
    expected = torch.tensor([[[2.0 / z, math.sqrt(2.0) / z]]])
    assert torch.allclose(attention_map(_two_pixel_activation()), expected, atol=1e-7)
    # any scale of the activations gives the same map, and k caps the peak at e^k x the coldest
    assert torch.allclose(attention_map(1000 * _two_pixel_activation()), expected, atol=1e-6)
    m = attention_map(torch.randn(3, 16, 9, 9) * 100, logit_range=4.0)
    ratio = m.flatten(1).amax(1) / m.flatten(1).amin(1)
    assert (ratio <= math.exp(4.0) * (1 + 1e-4)).all()


def test_resize_happens_before_the_softmax():
    a = torch.rand(2, 3, 4, 5)
    m = attention_map(a, size=(8, 10))
    assert m.shape == (2, 8, 10)
    # still a distribution over the resized pixels
    assert torch.allclose(m.flatten(1).sum(1), torch.ones(2), atol=1e-6)
    # a constant energy stays constant through bilinear resizing: uniform 1/80
    assert torch.allclose(attention_map(torch.ones(1, 2, 4, 5), size=(8, 10)), torch.full((1, 8, 10), 1 / 80))


TWO_PIXELS = AttentionLoss(map_size=(1, 2))


def test_pair_loss_hand_values():
    # student g = [1, 0] -> logits ln2 * [1, 0] -> [2/3, 1/3]; target g = [0, 0] -> [1/2, 1/2].
    # L2 summed over pixels: 2 * (1/6)^2 = 1/18.  KL(target || student) = ln(9/8) / 2.
    student = torch.tensor([[[[1.0, 0.0]]]])
    target = torch.zeros(1, 1, 1, 2)
    assert sad_pair_loss(student, target, TWO_PIXELS).item() == pytest.approx(1 / 18, rel=1e-6)
    kl = AttentionLoss(map_size=(1, 2), loss="kl")
    assert sad_pair_loss(student, target, kl).item() == pytest.approx(0.5 * math.log(9 / 8), rel=1e-5)


def test_published_operator_saturates_where_the_scaled_one_does_not():
    # Energies spanning thousands, as on real activations: the softmax is one-hot in float32
    # and passes exactly no gradient; the scaled one still does.
    torch.manual_seed(0)
    target = torch.randn(1, 64, 6, 6) * 10
    grads = []
    for k in (-1.0, 0.0):  # -1: the published operator (attention_map only; configs refuse it)
        student = (torch.randn(1, 64, 6, 6) * 10).requires_grad_(True)
        (attention_map(student, logit_range=k) - attention_map(target, logit_range=k)).square().sum().backward()
        grads.append(student.grad.abs().max().item())
    assert grads[0] == 0.0
    assert grads[1] > 1e-6


def test_pair_loss_is_bounded_whatever_the_activations():
    torch.manual_seed(0)
    for scale in (1e-3, 1.0, 1e3):
        student, target = torch.randn(4, 8, 18, 50) * scale, torch.randn(4, 8, 18, 50).abs() * scale
        assert 0 <= sad_pair_loss(student, target).item() <= 2.0
    # both blocks are resized to the one map size, whatever their own sizes
    student, target = torch.rand(1, 4, 8, 10), torch.rand(1, 6, 4, 5)
    spec = AttentionLoss(map_size=(16, 20))
    expected = (attention_map(student, size=(16, 20)) - attention_map(target, size=(16, 20))).square().sum()
    assert torch.allclose(sad_pair_loss(student, target, spec), expected)


def test_sad_loss_weights_and_names():
    acts = {"E2": torch.tensor([[[[1.0, 0.0]]]]), "E3": torch.zeros(1, 1, 1, 2), "E4": torch.tensor([[[[0.0, 1.0]]]])}
    # E2 -> E3: 1/18 (as above).  E3 -> E4: [1/2, 1/2] against [1/3, 2/3], also 1/18.
    per_pair = 1 / 18
    total, terms = sad_loss(acts, SADConfig(weight=(0.1, 0.3), map_size=(1, 2)))
    assert set(terms) == {"sad_E2_E3", "sad_E3_E4"}
    assert terms["sad_E2_E3"].item() == pytest.approx(0.1 * per_pair, rel=1e-6)
    assert terms["sad_E3_E4"].item() == pytest.approx(0.3 * per_pair, rel=1e-6)
    assert total.item() == pytest.approx(0.4 * per_pair, rel=1e-6)


def test_no_gradient_reaches_the_target():
    student = torch.rand(2, 4, 6, 6, requires_grad=True)
    target = torch.rand(2, 4, 6, 6, requires_grad=True)
    sad_pair_loss(student, target).backward()
    assert target.grad is None
    assert student.grad is not None and student.grad.abs().sum() > 0


def test_middle_block_gets_gradient_only_as_a_student():
    # E3 is E2's target and E4's student: its gradient must equal that of E3 -> E4 alone.
    torch.manual_seed(0)
    e2, e3, e4 = (torch.rand(1, 3, 5, 5, requires_grad=True) for _ in range(3))
    sad_loss({"E2": e2, "E3": e3, "E4": e4}, SADConfig())[0].backward()
    e3_alone = e3.detach().clone().requires_grad_(True)
    (0.1 * sad_pair_loss(e3_alone, e4, SADConfig())).backward()
    assert torch.allclose(e3.grad, e3_alone.grad)
    assert e4.grad is None


def test_default_pairs_are_the_papers_and_the_rule_generalises():
    assert SADConfig().pairs == (("E2", "E3"), ("E3", "E4"))
    assert SADConfig.for_blocks(("E1", "E2", "E3", "E4")).pairs == SADConfig().pairs
    assert SADConfig.for_blocks(("layer1", "layer2", "layer3", "layer4")).blocks == ("layer2", "layer3", "layer4")


def test_config_rules():
    cfg = SADConfig()
    assert cfg.pair_weights == (0.1, 0.1) and not cfg.active(39_999) and cfg.active(40_000)
    custom = SADConfig(weight=(0.2, 0.1), start_iter=5, map_size=(18, 50), loss="kl")
    assert from_plain(SADConfig, to_plain(custom)) == custom
    assert to_plain(custom)["weight"] == [0.2, 0.1] and from_plain(SADConfig, {"weight": 1}).weight == 1.0
    with pytest.raises(ConfigError, match=r"normalize moved to logit_range"):
        from_plain(SADConfig, {"normalize": True})
    with pytest.raises(ConfigError, match="attention loss 'mse' unknown"):
        SADConfig(loss="mse")
    with pytest.raises(ConfigError, match="2 values for 1 pairs"):
        SADConfig(pairs=(("E3", "E4"),), weight=(0.1, 0.1))
    with pytest.raises(ConfigError, match=r"needs block\(s\) \['E4'\]"):
        sad_loss({"E2": torch.ones(1, 1, 2, 2), "E3": torch.ones(1, 1, 2, 2)}, SADConfig())


def test_display_maps_are_in_unit_range():
    disp = attention_display(torch.randn(2, 8, 4, 5), size=(16, 20))
    assert disp.shape == (2, 16, 20)
    assert torch.allclose(disp.flatten(1).amin(1), torch.zeros(2))
    assert torch.allclose(disp.flatten(1).amax(1), torch.ones(2))


def _flops(model, x) -> int:
    with FlopCounterMode(display=False) as counter:
        model(x)
    return counter.get_total_flops()


def test_training_with_sad_leaves_the_inference_model_unchanged():
    torch.manual_seed(0)
    size = {"input_height": 64, "input_width": 160}
    with_sad, without = build_model("enet_sad", **size), build_model("enet_sad", **size)
    without.load_state_dict(with_sad.state_dict())
    modules_before = [(n, type(m)) for n, m in with_sad.named_modules()]
    x = torch.randn(2, 3, 64, 160)
    seg = torch.randint(0, 5, (2, 64, 160))
    exist = torch.randint(0, 2, (2, 4)).float()
    sad = SADConfig()

    def step(model, use_sad: bool) -> None:
        torch.manual_seed(1)  # same dropout masks for both runs
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        if use_sad:
            outputs, acts = model.forward_blocks(x, sad.blocks)
        else:
            outputs, acts = model(x), None
        total = lane_loss(outputs, seg, exist, LossConfig())[0]
        (total + sad_loss(acts, sad)[0] if acts is not None else total).backward()
        opt.step()

    step(with_sad.train(), True)
    step(without.train(), False)
    # SAD trained the network differently ...
    assert not torch.equal(with_sad.e2[0].branch[0][0].weight, without.e2[0].branch[0][0].weight)
    # ... but added no modules or parameters, and costs the same at inference
    assert [(n, type(m)) for n, m in with_sad.named_modules()] == modules_before
    assert count_parameters(with_sad) == count_parameters(without)
    assert list(with_sad.state_dict()) == list(without.state_dict())
    with_sad.eval()
    without.eval()
    with torch.no_grad():
        assert _flops(with_sad, x[:1]) == _flops(without, x[:1])
        without.load_state_dict(with_sad.state_dict())
        a, b = with_sad(x), without(x)
    assert torch.equal(a["seg"], b["seg"]) and torch.equal(a["exist"], b["exist"])
