"""What a deployed model file says about itself: the ModelMeta of its checkpoint as strings.

An ONNX file carries it in ``metadata_props`` and a TensorRT engine in a JSON file beside
it (``<engine>.json``; engines have no room for user data). With it, a deployed file is
enough to run the detector: the preprocessing the network was trained with, the class
names and the model's name travel with the weights, so a node never pairs an engine with
the wrong crop or normalisation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from lane_sad_core.data.preprocess import PreprocessConfig
from lane_sad_core.errors import CheckpointError, ConfigError
from lane_sad_core.models.checkpoint import ModelMeta
from lane_sad_core.plain import from_plain, to_plain

# Keys written to every deployed file; all values are strings (ONNX metadata_props are).
KEYS = ("model_name", "model_config", "classes", "preprocess", "outputs", "source_checkpoint")
OUTPUTS_DOC = (
    "prob: (B, C, H, W) float32 softmax over classes (channel 0 background); "
    "exist: (B, L) float32 sigmoid lane-existence probabilities"
)


def metadata_from_meta(meta: ModelMeta) -> dict[str, str]:
    """The string metadata recorded with a deployed model."""
    return {
        "model_name": meta.model_name,
        "model_config": json.dumps(meta.model_config, sort_keys=True),
        "classes": json.dumps(list(meta.classes)),
        "preprocess": json.dumps(to_plain(meta.preprocess), sort_keys=True),
        "outputs": OUTPUTS_DOC,
        "source_checkpoint": str(meta.path),
    }


def meta_from_metadata(props: Mapping[str, str], path: Path) -> ModelMeta:
    """Inverse of :func:`metadata_from_meta`; ``path`` is the deployed file.

    Raises:
        CheckpointError: a key is missing or its value is not what the exporter writes
            (the message names the file and the key).
    """
    missing = [key for key in ("model_name", "model_config", "classes", "preprocess") if key not in props]
    if missing:
        raise CheckpointError(f"{path} lacks lane_sad metadata {missing}; export it with `lane-sad export`")
    try:
        return ModelMeta(
            path=Path(path),
            model_name=str(props["model_name"]),
            model_config=dict(json.loads(props["model_config"])),
            classes=[str(c) for c in json.loads(props["classes"])],
            preprocess=from_plain(PreprocessConfig, json.loads(props["preprocess"]), "preprocess"),
        )
    except (ConfigError, ValueError, TypeError, KeyError) as exc:
        raise CheckpointError(f"{path}: unreadable lane_sad metadata: {type(exc).__name__}: {exc}") from None


def sidecar_path(engine: Path) -> Path:
    """Where the metadata of a TensorRT engine lives: ``model.engine`` -> ``model.engine.json``."""
    return engine.with_name(engine.name + ".json")


def write_sidecar(engine: Path, props: Mapping[str, str]) -> Path:
    """Write an engine's metadata file; returns its path."""
    path = sidecar_path(engine)
    path.write_text(json.dumps(dict(props), indent=2, sort_keys=True) + "\n")
    return path


def read_sidecar(engine: Path) -> ModelMeta:
    """The ModelMeta of a TensorRT engine, from the JSON file beside it.

    Raises:
        CheckpointError: the file is missing or unreadable.
    """
    path = sidecar_path(engine)
    try:
        props = json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(
            f"{engine} has no metadata file {path.name} beside it; build engines with "
            "`lane-sad export --format tensorrt`, which writes both"
        ) from None
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read {path}: {exc}") from None
    if not isinstance(props, dict):
        raise CheckpointError(f"{path} does not hold a JSON object")
    return meta_from_metadata(props, engine)
