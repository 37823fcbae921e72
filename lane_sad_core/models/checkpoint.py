"""Checkpoints that rebuild their model from the file alone and never run code on load.

A checkpoint is a dict of plain Python values and tensors:

* ``model_name``, ``model_config``: rebuild the network with ``build_model``;
* ``state_dict``: its weights;
* ``preprocess``: the :class:`PreprocessConfig` as plain data
  (:func:`~lane_sad_core.plain.to_plain`), so inference crops, resizes and normalises
  exactly as training did;
* ``classes``: names of the segmentation channels (optional, default background, lane1..);
* training state for resuming, all optional: ``optimizer``, ``scheduler`` (their
  ``state_dict()``), ``iteration``, ``rng`` (:func:`capture_rng_state`), ``config``.

Only such values are accepted on save (anything else is named and refused), so every
checkpoint loads with ``torch.load(weights_only=True)``; a file that needs more, e.g. a
pickle whose ``__reduce__`` calls a function, is refused on load, not executed. Writes are
atomic: a temporary file in the same folder, fsync, then ``os.replace``, so a crash
mid-save never leaves a truncated checkpoint under the real name.

Every save also stores :data:`DIGEST_KEY`, a SHA-256 of every tensor in the checkpoint
(weights and training state, with their key paths, dtypes and shapes), and every load
checks it: torch does not verify the CRCs of its zip entries, so bytes flipped inside a
tensor would otherwise load and run as a different model. Checkpoints written before the
digest existed load unchecked.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import random
import shutil
import tempfile
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import numpy as np
import torch

from lane_sad_core.data.preprocess import PreprocessConfig
from lane_sad_core.errors import CheckpointError, ConfigError
from lane_sad_core.models import LaneModel, build_model, default_classes
from lane_sad_core.plain import from_plain, to_plain

REQUIRED_KEYS = ("model_name", "model_config", "preprocess", "state_dict")
DIGEST_KEY = "tensors_sha256"
_NEARLY_FULL = 1 << 20  # bytes free below which a failed write is taken for a full disk
_PLAIN_LEAVES = (type(None), bool, int, float, str, bytes, torch.dtype, torch.device, torch.Size)


@dataclass(frozen=True)
class ModelMeta:
    """What a checkpoint says about its model, besides the weights.

    Attributes:
        path: the checkpoint file.
        model_name, model_config: rebuild the model with ``build_model``.
        classes: names of the segmentation channels.
        preprocess: how images must be prepared for this model.
        iteration: training iteration the weights come from, when recorded.
        config: the training run's resolved config, when recorded.
    """

    path: Path
    model_name: str
    model_config: dict
    classes: list[str]
    preprocess: PreprocessConfig
    iteration: int | None = None
    config: dict = field(default_factory=dict)


def model_payload(
    model: LaneModel, preprocess: PreprocessConfig, classes: list[str] | None = None, **training_state: object
) -> dict:
    """The checkpoint dict for ``model``; ``training_state`` adds optimizer, iteration, ...."""
    return {
        "model_name": model.arch,
        "model_config": dict(model.config),
        "classes": list(classes) if classes is not None else default_classes(model.num_lanes),
        "preprocess": to_plain(preprocess),
        "state_dict": model.state_dict(),
        **training_state,
    }


def save_checkpoint(path: str | Path, payload: Mapping) -> Path:
    """Write ``payload`` to ``path`` atomically; returns the path.

    Raises:
        CheckpointError: a required key is missing, a value is not a tensor or plain type
            (the message names its key path), or the file cannot be written.
    """
    path = Path(path)
    missing = [k for k in REQUIRED_KEYS if k not in payload]
    if missing:
        raise CheckpointError(f"checkpoint payload for {path} lacks key(s) {missing}")
    _check_plain(payload, "payload")
    contents = {k: v for k, v in payload.items() if k != DIGEST_KEY}
    payload = {**contents, DIGEST_KEY: tensors_digest(contents)}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise CheckpointError(f"cannot write checkpoint {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(dict(payload), f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes the file private; checkpoints are shared
        os.replace(tmp, path)
    except BaseException as exc:
        reason = _write_failure(exc, path.parent)  # before the partial file is removed: the space it took
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if reason is not None:
            raise CheckpointError(f"cannot write checkpoint {path}: {reason}") from None
        raise
    _fsync_dir(path.parent)
    return path


def load_checkpoint(path: str | Path) -> dict:
    """Read a checkpoint onto the CPU with ``weights_only=True``.

    Raises:
        CheckpointError: the file is missing, unreadable, not a checkpoint, lacks a
            required key, or holds objects that would execute code when unpickled.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        unsafe = _unsafe_global(exc)
        if unsafe:
            raise CheckpointError(
                f"refusing to load {path}: it holds objects that would run code when unpickled "
                f"({unsafe}); only tensors and plain Python values are accepted"
            ) from None
        raise CheckpointError(f"corrupt or unsupported checkpoint {path}: {_first_reason(exc)}") from None
    except Exception as exc:  # torch raises RuntimeError, EOFError, KeyError, ... on bad bytes
        raise CheckpointError(f"corrupt or unsupported checkpoint {path}: {type(exc).__name__}: {exc}") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path} is not a lane_sad checkpoint (holds a {type(obj).__name__}, not a dict)")
    missing = [k for k in REQUIRED_KEYS if k not in obj]
    if missing:
        raise CheckpointError(f"{path} is not a lane_sad checkpoint: missing key(s) {missing}")
    stored = obj.pop(DIGEST_KEY, None)
    if stored is not None and stored != tensors_digest(obj):
        raise CheckpointError(
            f"checkpoint is corrupt: {path} (its tensors differ from the digest stored when it was saved)"
        )
    return obj


def tensors_digest(payload: Mapping) -> str:
    """SHA-256 of every tensor in ``payload``: key path, dtype, shape and bytes, in order."""
    digest = hashlib.sha256()
    for where, tensor in _tensors(payload, ""):
        flat = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{where}|{flat.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(flat.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _tensors(obj: object, where: str) -> Iterator[tuple[str, torch.Tensor]]:
    if isinstance(obj, torch.Tensor):
        yield where, obj
    elif isinstance(obj, Mapping):
        for key, value in obj.items():
            yield from _tensors(value, f"{where}/{key}")
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            yield from _tensors(value, f"{where}/{i}")


def load_model(
    path: str | Path, device: str | torch.device = "cpu", input_kind: str = "image"
) -> tuple[LaneModel, ModelMeta]:
    """Rebuild the model of a checkpoint, load its weights, move it to ``device``, eval mode.

    Args:
        path: the checkpoint.
        device: where the model goes.
        input_kind: what the model must read: ``"image"`` (every deployable model) or
            ``"labels"`` (LGAD's teacher), so that a teacher checkpoint handed to the
            detector or the exporter is refused by name instead of failing on shapes.

    Raises:
        CheckpointError: as :func:`load_checkpoint`, or when the stored name, config or
            weights do not make a model, or the model reads the other kind of input.
    """
    path = Path(path)
    ckpt = load_checkpoint(path)
    try:
        model = build_model(str(ckpt["model_name"]), **dict(ckpt["model_config"]))
        preprocess = from_plain(PreprocessConfig, ckpt["preprocess"], "preprocess")
    except (ConfigError, KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: cannot rebuild the model: {exc}") from None
    if model.input_kind != input_kind:
        raise CheckpointError(
            f"{path} holds a {model.arch}, which reads {model.input_kind}, where a model reading {input_kind} is needed"
        )
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not fit {model.arch}: {exc}") from None
    model.to(device).eval()
    meta = ModelMeta(
        path=path,
        model_name=model.arch,
        model_config=dict(model.config),
        classes=list(ckpt.get("classes") or default_classes(model.num_lanes)),
        preprocess=preprocess,
        iteration=ckpt.get("iteration"),
        config=dict(ckpt.get("config") or {}),
    )
    return model, meta


def capture_rng_state() -> dict:
    """Python, NumPy and torch (CPU and CUDA) random states as checkpoint-safe values."""
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = cast(
        "tuple[str, np.ndarray, int, int, float]", np.random.get_state(legacy=True)
    )
    state = {
        "python": [version, list(internal), gauss],
        "numpy": {
            "name": name,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Mapping) -> None:
    """Inverse of :func:`capture_rng_state` (CUDA states only where CUDA is present)."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    np.random.set_state(
        (n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _check_plain(obj: object, where: str) -> None:
    """Raise CheckpointError naming the first value ``weights_only`` loading would refuse."""
    if type(obj) in _PLAIN_LEAVES or type(obj) is torch.Tensor or type(obj) is torch.nn.Parameter:
        return
    if type(obj) in (dict, OrderedDict):
        for key, value in obj.items():  # type: ignore[attr-defined]
            if type(key) not in (str, int):
                raise CheckpointError(f"{where} has a key of type {type(key).__name__}; use str or int")
            _check_plain(value, f"{where}[{key!r}]")
        return
    if type(obj) in (list, tuple, set):
        for i, value in enumerate(obj):  # type: ignore[arg-type]
            _check_plain(value, f"{where}[{i}]")
        return
    raise CheckpointError(
        f"{where} is a {type(obj).__module__}.{type(obj).__qualname__}; checkpoints hold only tensors "
        "and plain Python values (convert arrays to tensors, dataclasses with lane_sad_core.plain.to_plain)"
    )


def _unsafe_global(exc: Exception) -> str | None:
    """The line of a weights-only refusal that names a forbidden global, if any.

    A forbidden global (a function or class to call) is what lets a pickle run code; other
    refusals (an unknown opcode, ...) mean the bytes are not a pickle of plain values.
    """
    for line in str(exc).splitlines():
        if "GLOBAL" in line:
            return line.strip()
    return None


def _first_reason(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in lines:
        if line.startswith("Unsupported"):
            return line
    return lines[0] if lines else type(exc).__name__


def _write_failure(exc: BaseException, folder: Path) -> str | None:
    """Why writing failed, for an OSError or torch's own error; None for anything else.

    torch's zip writer reports a failed write (a full disk) as ``RuntimeError: ... unexpected
    pos``, without the errno, so a filesystem with (almost) no space left is named as such.
    """
    if isinstance(exc, OSError):
        return str(exc.strerror or exc)
    if not isinstance(exc, RuntimeError):
        return None
    with contextlib.suppress(OSError):
        free = shutil.disk_usage(folder).free
        if free < _NEARLY_FULL:
            return f"no space left on device ({free} bytes free)"
    return f"torch.save failed: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
    """Persist the rename itself (POSIX); a no-op where directories cannot be opened."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
