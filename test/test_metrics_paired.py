import numpy as np
import pytest

from lane_sad_core.errors import ConfigError
from lane_sad_core.metrics.paired import f1_points, paired_effect


def _counts(rng, seeds, frames, p_hit):
    """Frames with 4 lanes each; a lane is found (TP) with probability p_hit, else FN + FP."""
    tp = rng.binomial(4, p_hit, size=(seeds, frames))
    miss = 4 - tp
    return np.stack([tp, miss, miss], axis=-1)


def test_f1_from_summed_counts_not_per_frame_mean():
    counts = np.array([[4, 0, 0], [0, 1, 1]])  # a perfect frame and a missed one
    assert f1_points(counts) == pytest.approx(200 * 4 / (8 + 1 + 1))
    assert f1_points(np.zeros((3, 3))) == 0.0


def test_identical_methods_have_a_zero_effect():
    base = _counts(np.random.default_rng(0), 5, 300, 0.7)
    effect = paired_effect(base, base.copy(), draws=300)
    assert effect.mean == effect.low == effect.high == 0.0
    assert not effect.significant


def test_a_two_point_gain_is_resolved_with_enough_frames():
    rng = np.random.default_rng(1)
    base = _counts(rng, 5, 2000, 0.70)
    better = _counts(rng, 5, 2000, 0.72)  # ~ +2 F1 points, independent noise per frame
    effect = paired_effect(base, better, draws=500)
    assert 0.5 < effect.mean < 3.5
    assert effect.significant and effect.low > 0
    assert effect.low < effect.mean < effect.high


def test_pairing_removes_shared_frame_difficulty():
    rng = np.random.default_rng(2)
    base = _counts(rng, 5, 400, 0.7)
    shifted = base.copy()
    shifted[:, :40, 0] += 1  # 40 frames gain one TP each, nothing else changes
    shifted[:, :40, 2] -= np.minimum(shifted[:, :40, 2], 1)
    effect = paired_effect(base, shifted, draws=500)
    assert effect.significant and effect.low > 0


def test_unpaired_shapes_are_rejected():
    with pytest.raises(ConfigError, match="must both be"):
        paired_effect(np.zeros((5, 10, 3)), np.zeros((4, 10, 3)))
