import logging

import pytest
import torch
from torch import nn

from lane_sad_core.train.grad_monitor import GradientMonitor, gradient_norm


def _terms(scale: float):
    torch.manual_seed(0)
    encoder, head = nn.Linear(4, 4), nn.Linear(4, 1)
    x = torch.randn(8, 4)
    feat = encoder(x)
    terms = {
        "seg": head(feat).square().mean(),
        "sad_E2_E3": scale * feat.square().mean(),
        "bake": head.weight.square().sum(),  # does not reach the encoder
    }
    return encoder, terms


def test_norms_per_term_and_the_task_together():
    encoder, terms = _terms(1.0)
    params = list(encoder.parameters())
    grads = GradientMonitor(params).measure(terms)
    assert grads["grad_task"] == pytest.approx(gradient_norm(terms["seg"], params))
    assert grads["grad_sad_E2_E3"] == pytest.approx(gradient_norm(terms["sad_E2_E3"], params))
    assert grads["grad_bake"] == 0.0
    assert set(grads) == {"grad_task", "grad_sad_E2_E3", "grad_bake"}


def test_a_dominating_term_is_reported_once(caplog: pytest.LogCaptureFixture):
    monitor = GradientMonitor([], warn_factor=10.0)
    for _ in range(3):
        encoder, terms = _terms(1000.0)
        monitor.params = list(encoder.parameters())
        with caplog.at_level(logging.WARNING):
            monitor.measure(terms)
    warnings = [r for r in caplog.records if "sad_E2_E3" in r.getMessage()]
    assert len(warnings) == 1 and "dominates training" in warnings[0].getMessage()
    encoder, terms = _terms(1.0)
    caplog.clear()
    GradientMonitor(encoder.parameters(), warn_factor=10.0).measure(terms)
    assert not caplog.records
