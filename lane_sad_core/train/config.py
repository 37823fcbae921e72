"""Training configuration: typed sections, read from YAML, overridable with ``--set``.

A run is fully described by one :class:`TrainConfig`; it is saved into the run directory
and every checkpoint (as plain data, :func:`~lane_sad_core.plain.to_plain`), so a run can be
resumed or audited from its files alone. Reading goes through
:func:`~lane_sad_core.plain.from_plain`: unknown keys and wrong types are errors that name
the key's full path, not silent no-ops, and keys of the older layout name their new place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar

import yaml

from lane_sad_core.data.augment import AugmentConfig
from lane_sad_core.data.preprocess import PreprocessConfig
from lane_sad_core.errors import ConfigError
from lane_sad_core.plain import NonNegFloat, NonNegInt, PositiveFloat, PositiveInt, Range, from_plain
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
    num_slots: PositiveInt = 4
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    augment: AugmentConfig | None = field(default_factory=AugmentConfig)
    num_workers: NonNegInt = 2


@dataclass
class OptimSection:
    """SGD with poly decay, as the SAD paper's official code (batch 12, lr 0.01).

    ``name: adamw`` (with ``lr`` about 1e-3) converges in far fewer iterations from scratch,
    which is what short CPU schedules need; ``momentum`` is then unused.
    """

    name: str = "sgd"
    batch_size: PositiveInt = 12
    lr: PositiveFloat = 0.01
    momentum: Annotated[float, Range(0, 1, high_open=True)] = 0.9
    weight_decay: NonNegFloat = 1e-4
    poly_power: NonNegFloat = 0.9
    iterations: PositiveInt = 60_000


@dataclass
class ScheduleSection:
    """How often to log, validate and checkpoint (in iterations)."""

    log_every: PositiveInt = 20
    val_every: PositiveInt = 2000
    ckpt_every: PositiveInt = 500
    val_max_frames: PositiveInt = 500


@dataclass
class TrainConfig:
    """One training run.

    Distillation, SAD included, is configured in the one ``distill`` section (see
    :class:`~lane_sad_core.train.distillation.DistillSection`).
    """

    MOVED: ClassVar[dict[str, str]] = {
        "sad_enabled": "distill.sad (a distill.sad section turns SAD on; absent or null, it is off)"
    }

    name: str = "run"
    seed: NonNegInt = 0
    out_dir: str = "runs"
    amp: bool = True  # mixed precision when on CUDA; ignored on CPU
    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    loss: LossConfig = field(default_factory=LossConfig)
    distill: DistillSection = field(default_factory=DistillSection)
    optim: OptimSection = field(default_factory=OptimSection)
    schedule: ScheduleSection = field(default_factory=ScheduleSection)

    def run_dir(self) -> Path:
        return Path(self.out_dir) / self.name


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
    """A validated :class:`TrainConfig` from plain data (the inverse of ``to_plain(cfg)``)."""
    return from_plain(TrainConfig, data)


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
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
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
