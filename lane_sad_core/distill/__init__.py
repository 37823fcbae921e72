"""Knowledge distillation losses; they take activations, never the model.

SAD (Self Attention Distillation) first: :func:`sad_loss` with a :class:`SADConfig`.
"""

from lane_sad_core.distill.attention import attention_display, attention_energy, attention_map
from lane_sad_core.distill.sad import SADConfig, sad_loss, sad_pair_loss
from lane_sad_core.distill.schedule import Schedule

__all__ = [
    "SADConfig",
    "Schedule",
    "attention_display",
    "attention_energy",
    "attention_map",
    "sad_loss",
    "sad_pair_loss",
]
