"""The one registry of lane models: name -> builder, plus :func:`build_model`."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from lane_sad_core.errors import ConfigError
from lane_sad_core.models.base import LaneModel
from lane_sad_core.models.enet_sad import ENetSAD
from lane_sad_core.models.label_autoencoder import LabelAutoEncoder
from lane_sad_core.models.resnet import ResNetLane
from lane_sad_core.models.scnn import SCNN

MODELS: dict[str, Callable[..., LaneModel]] = {
    "enet_sad": ENetSAD,
    "enet": ENetSAD,
    "resnet18": partial(ResNetLane, 18),
    "resnet34": partial(ResNetLane, 34),
    "resnet101": partial(ResNetLane, 101),
    "label_autoencoder": LabelAutoEncoder,
    "scnn": SCNN,
}


def build_model(name: str, **config: object) -> LaneModel:
    """Build the model registered as ``name`` with keyword ``config``.

    Every model takes ``num_lanes``, ``input_height`` and ``input_width``; ``model.arch``
    and ``model.config`` rebuild the same model later (that is what checkpoints store).

    Raises:
        ConfigError: unknown name (the message lists the known ones) or unknown keys.
    """
    try:
        builder = MODELS[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; known models: {sorted(MODELS)}") from None
    try:
        return builder(**config)
    except TypeError as exc:
        raise ConfigError(f"bad configuration for model {name!r}: {exc}") from None


def image_models() -> list[str]:
    """Names of the models that read camera images: all but LGAD's label-input teacher."""
    return sorted(name for name, builder in MODELS.items() if getattr(builder, "input_kind", "image") == "image")


def default_classes(num_lanes: int = 4) -> list[str]:
    """Class names of the segmentation channels: background, lane1 .. laneN."""
    return ["background", *(f"lane{i}" for i in range(1, num_lanes + 1))]
