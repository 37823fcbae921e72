"""Lane segmentation models: ENet-SAD, dilated ResNets, SCNN; one registry, one output contract.

``model(x)`` returns ``{"seg": (B, C, H, W) logits, "exist": (B, num_lanes) logits}``;
``model.forward_blocks(x, names)`` also returns the named block activations that
distillation needs, and ``model.feature_info`` records each block's channels and stride.
"""

from lane_sad_core.models.base import BlockInfo, LaneModel, Outputs, count_parameters
from lane_sad_core.models.enet_sad import ENetSAD
from lane_sad_core.models.registry import MODELS, build_model, default_classes, image_models
from lane_sad_core.models.resnet import ResNetLane
from lane_sad_core.models.scnn import SCNN

__all__ = [
    "MODELS",
    "SCNN",
    "BlockInfo",
    "ENetSAD",
    "LaneModel",
    "Outputs",
    "ResNetLane",
    "build_model",
    "count_parameters",
    "default_classes",
    "image_models",
]
