"""The backends that can run the network, by name: one plain registry, no torch needed to read it.

Which file each backend runs:

================== ================================ ==============================================
backend            model file                       made by
================== ================================ ==============================================
torch              ``.pt`` checkpoint               ``lane-sad train``
torch-compile      ``.pt`` checkpoint               compiled at load (``torch.compile``, cached)
torch-compile-bf16 ``.pt`` checkpoint               the same, network in bfloat16
onnxruntime        ``.onnx``                        ``lane-sad export --format onnx``
openvino           ``.onnx``                        the same; bfloat16 where the CPU has it
openvino-f32       ``.onnx``                        the same, float32
tensorrt           ``.engine`` (+ ``.engine.json``)  ``lane-sad export --format tensorrt`` (on the target)
================== ================================ ==============================================

Given a file of another kind, :func:`make_backend` looks for the file of the same stem
with the backend's suffix beside it (``model.pt`` -> ``model.onnx``), so one checkpoint
path serves all three once the exports sit next to it.

Each entry names the module and callable that load it (``module:attribute``), imported
only when that backend is made: the command line offers the names without importing
torch, and a backend whose runtime is missing costs nothing until it is asked for. The
backend modules import :mod:`lane_sad_core.infer.base`, never this module.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast

from lane_sad_core.errors import ConfigError
from lane_sad_core.infer.errors import BackendError

if TYPE_CHECKING:
    import torch

    from lane_sad_core.infer.base import Backend


@dataclass(frozen=True)
class BackendKind:
    """One registered backend.

    Attributes:
        loader: ``module:callable`` taking ``(model_path, device, **options)`` and
            returning a :class:`~lane_sad_core.infer.base.Backend`.
        suffixes: model file suffixes it runs, the usual one first.
        hint: how to make its model file (``{pt}``: the checkpoint, ``{want}``: the file).
        runtime: the Python package it needs beyond torch, checked before any file.
        options: fixed keyword options of the loader (e.g. ``bf16``).
    """

    loader: str
    suffixes: tuple[str, ...]
    hint: str
    runtime: str | None = None
    options: Mapping[str, object] = field(default_factory=dict)

    def resolve(self) -> Callable[..., Backend]:
        """The loader callable (imports its module)."""
        module, _, attribute = self.loader.partition(":")
        target: object = importlib.import_module(module)
        for part in attribute.split("."):
            target = getattr(target, part)
        return cast("Callable[..., Backend]", target)


_TRAIN_HINT = "train one with `lane-sad train`"
_TORCH_LOAD = "lane_sad_core.infer.torch_backend:TorchBackend.load"
_COMPILED_LOAD = "lane_sad_core.infer.torch_backend:CompiledTorchBackend.load"

REGISTRY: dict[str, BackendKind] = {
    "torch": BackendKind(_TORCH_LOAD, (".pt", ".pth"), _TRAIN_HINT),
    "torch-compile": BackendKind(_COMPILED_LOAD, (".pt", ".pth"), _TRAIN_HINT, options={"bf16": False}),
    "torch-compile-bf16": BackendKind(_COMPILED_LOAD, (".pt", ".pth"), _TRAIN_HINT, options={"bf16": True}),
    "onnxruntime": BackendKind(
        "lane_sad_core.infer.onnxruntime_backend:OnnxRuntimeBackend",
        (".onnx",),
        "create it with `lane-sad export --checkpoint {pt} --format onnx --out {want}`",
        runtime="onnxruntime",
    ),
    "openvino": BackendKind(
        "lane_sad_core.infer.openvino_backend:OpenVINOBackend",
        (".onnx",),
        "create it with `lane-sad export --checkpoint {pt} --format onnx --out {want}`",
        runtime="openvino",
    ),
    "openvino-f32": BackendKind(
        "lane_sad_core.infer.openvino_backend:OpenVINOBackend",
        (".onnx",),
        "create it with `lane-sad export --checkpoint {pt} --format onnx --out {want}`",
        runtime="openvino",
        options={"precision": "f32"},
    ),
    "tensorrt": BackendKind(
        "lane_sad_core.infer.tensorrt_backend:TensorRTBackend",
        (".engine", ".plan"),
        "build it on the target with `lane-sad export --checkpoint {pt} --format tensorrt --out {want}`",
        runtime="tensorrt",
    ),
}
BACKENDS: tuple[str, ...] = tuple(REGISTRY)


def make_backend(name: str, model_path: str | Path, device: str | torch.device = "auto", **options: object) -> Backend:
    """Load ``model_path`` (or the file of the backend's kind beside it) into backend ``name``.

    Args:
        name: one of :data:`BACKENDS`.
        model_path: a ``.pt``, ``.onnx`` or ``.engine`` file; see the module docstring.
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N``.
        options: passed to the backend's loader (e.g. ``threads``, ``channels_last`` for torch).

    Raises:
        ConfigError: unknown backend name.
        BackendError: the backend cannot load here (the message says why).
        CheckpointError: the model file is missing or invalid.
    """
    kind = backend_kind(name)
    _require_runtime(name, kind)
    path = model_file_for(name, model_path)
    return kind.resolve()(path, device, **kind.options, **options)


def backend_kind(name: str) -> BackendKind:
    """The registry entry of ``name``.

    Raises:
        ConfigError: unknown name (the message lists the known ones).
    """
    if name not in REGISTRY:
        raise ConfigError(f"unknown backend {name!r}; known backends: {', '.join(BACKENDS)}")
    return REGISTRY[name]


def model_file_for(name: str, model_path: str | Path) -> Path:
    """The file backend ``name`` runs for ``model_path``: itself, or its sibling of the right kind.

    Raises:
        BackendError: neither ``model_path`` nor a sibling has the backend's suffix.
    """
    path = Path(model_path)
    kind = backend_kind(name)
    if path.suffix.lower() in kind.suffixes:
        return path
    for suffix in kind.suffixes:
        if path.with_suffix(suffix).is_file():
            return path.with_suffix(suffix)
    want = path.with_suffix(kind.suffixes[0])
    hint = kind.hint.format(pt=path.with_suffix(".pt"), want=want)
    raise BackendError(f"backend {name} runs a {'/'.join(kind.suffixes)} file and there is no {want}; {hint}")


def torch_fallback_for(model_path: str | Path) -> Path | None:
    """The ``.pt`` checkpoint to fall back to for ``model_path``, when one exists."""
    try:
        path = model_file_for("torch", model_path)
    except BackendError:
        return None
    return path if path.is_file() else None


def _require_runtime(name: str, kind: BackendKind) -> None:
    """BackendError when the Python package backend ``name`` runs on is not installed.

    Checked before looking for model files, so the first reason given is the one that no
    file can fix.
    """
    if kind.runtime and importlib.util.find_spec(kind.runtime) is None:
        where = (
            "; build and run engines on a CUDA machine with TensorRT (e.g. the Jetson)"
            if name == "tensorrt"
            else f" (pip install {kind.runtime})"
        )
        raise BackendError(f"{kind.runtime} is not installed here{where}")
