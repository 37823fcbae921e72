"""Training configuration: typed sections, read from YAML, overridable with ``--set``.

A run is fully described by one :class:`TrainConfig`; it is saved into the run directory
and every checkpoint, so a run can be resumed or audited from its files alone. Unknown
keys are errors that name the key, not silent no-ops.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lane_sad_core.data.augment import AugmentConfig
from lane_sad_core.data.preprocess import PreprocessConfig
from lane_sad_core.errors import ConfigError
from lane_sad_core.train.distillation import DistillSection
from lane_sad_core.train.losses import LossConfig


@dataclass
class ModelSection:
    """Which registered model, and its keyword configuration."""

    name: str = "enet_sad"
    config: dict[str, Any] = field(default_factory=dict)
    init: str = ""  # start from this checkpoint's weights (fine-tuning); empty: random init


@dataclass
class DataSection:
    """Where the data is and how it is read.

    ``root`` is relative to the config file's folder unless absolute. CULane uses
    ``train_list``/``val_list`` (relative to root); TuSimple uses label files there.
    """

    format: str = "culane"
    root: str = ""
    train_list: list[str] = field(default_factory=lambda: ["list/train_gt.txt"])
    val_list: list[str] = field(default_factory=lambda: ["list/val.txt"])
    num_slots: int = 4
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    augment: AugmentConfig | None = field(default_factory=AugmentConfig)
    num_workers: int = 2


@dataclass
class OptimSection:
    """SGD with poly decay, as the SAD paper's official code (batch 12, lr 0.01).

    ``name: adamw`` (with ``lr`` about 1e-3) converges in far fewer iterations from scratch,
    which is what short CPU schedules need; ``momentum`` is then unused.
    """

    name: str = "sgd"
    batch_size: int = 12
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 1e-4
    poly_power: float = 0.9
    iterations: int = 60_000


@dataclass
class ScheduleSection:
    """How often to log, validate and checkpoint (in iterations)."""

    log_every: int = 20
    val_every: int = 2000
    ckpt_every: int = 500
    val_max_frames: int = 500


@dataclass
class TrainConfig:
    """One training run."""

    name: str = "run"
    seed: int = 0
    out_dir: str = "runs"
    amp: bool = True  # mixed precision when on CUDA; ignored on CPU
    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    loss: LossConfig = field(default_factory=LossConfig)
    sad_enabled: bool = True
    distill: DistillSection = field(default_factory=DistillSection)
    optim: OptimSection = field(default_factory=OptimSection)
    schedule: ScheduleSection = field(default_factory=ScheduleSection)

    def to_dict(self) -> dict:
        """Plain types only (YAML- and ``weights_only``-safe)."""
        return _plain(self)

    def run_dir(self) -> Path:
        return Path(self.out_dir) / self.name


def _plain(obj: Any) -> Any:
    if hasattr(obj, "to_dict") and not isinstance(obj, TrainConfig):
        return obj.to_dict()
    if dataclasses.is_dataclass(obj):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    return obj


def _build(cls: type, data: dict, where: str) -> Any:
    """A dataclass from a dict, recursing into dataclass fields; unknown keys are errors."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'config'}: expected a mapping, got {type(data).__name__}")
    if hasattr(cls, "from_dict") and cls is not TrainConfig:
        try:
            return cls.from_dict(data)
        except (TypeError, ValueError, KeyError) as exc:
            raise ConfigError(f"{where}: {exc}") from None
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(f'{where}.{k}'.lstrip('.') for k in unknown)}")
    kwargs = {}
    hints = {f.name: f.type for f in dataclasses.fields(cls)}
    for key, value in data.items():
        sub = _SECTION_TYPES.get((cls, key))
        path = f"{where}.{key}".lstrip(".")
        if sub is not None and value is not None:
            kwargs[key] = _build(sub, value, path)
        else:
            kwargs[key] = _coerce(value, hints[key], path)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where or 'config'}: {exc}") from None


_SCALARS: dict[str, type] = {"int": int, "float": float, "bool": bool, "str": str}


def _coerce(value: Any, hint: Any, path: str) -> Any:
    """Check a scalar field's type (ints are accepted for floats); others pass as given."""
    kind = _SCALARS.get(str(hint))
    if kind is None:
        return value
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{path}: expected {kind.__name__}, got {value!r}")
    return value


_SECTION_TYPES: dict[tuple[type, str], type] = {
    (TrainConfig, "model"): ModelSection,
    (TrainConfig, "data"): DataSection,
    (TrainConfig, "loss"): LossConfig,
    (TrainConfig, "distill"): DistillSection,
    (TrainConfig, "optim"): OptimSection,
    (TrainConfig, "schedule"): ScheduleSection,
    (DataSection, "preprocess"): PreprocessConfig,
    (DataSection, "augment"): AugmentConfig,
}


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply ``key.sub=value`` strings (values parsed as YAML) to a config dict."""
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {key}: {part} is not a section")
        node[parts[-1]] = yaml.safe_load(text)
    return data


def config_from_dict(data: dict) -> TrainConfig:
    """A validated :class:`TrainConfig` from plain data."""
    return _build(TrainConfig, data, "")


def load_config(path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """Read a YAML config (and its ``base`` chain), apply overrides, validate.

    A config may name another as ``base: FILE`` (relative to its own folder): the base is
    read first and this file's keys are merged into it, section by section, so a family of
    runs (``config/train/compare/``) shares one schedule and each file says only what
    differs. ``data.root`` is resolved against the folder of the file that sets it.
    """
    data = _read_chain(Path(path), ())
    return config_from_dict(apply_overrides(data, overrides or []))


def _read_chain(path: Path, seen: tuple[Path, ...]) -> dict:
    """One config file merged over its ``base`` chain; cycles are errors."""
    resolved = path.resolve()
    if resolved in seen:
        raise ConfigError(f"{path}: base configs form a cycle ({' -> '.join(str(p) for p in (*seen, resolved))})")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    root = (data.get("data") or {}).get("root") if isinstance(data.get("data"), dict) else None
    if root and not Path(root).is_absolute():
        data["data"]["root"] = str((path.parent / root).resolve())
    base = data.pop("base", None)
    if base is None:
        return data
    return _merge(_read_chain(path.parent / str(base), (*seen, resolved)), data)


def _merge(base: dict, top: dict) -> dict:
    """``top`` over ``base``: mappings merge key by key, anything else is replaced."""
    out = dict(base)
    for key, value in top.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out
