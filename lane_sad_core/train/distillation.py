"""Every distillation term of a run, from the one ``distill`` section: SAD, LGAD, IntRA-KD, BAKE.

* SAD: the student's own blocks; each block's attention map mimics the next deeper one's.
* LGAD: a frozen label auto-encoder (``label_autoencoder`` checkpoint) reads the one-hot
  labels of the batch; its attention maps are the targets of the paired student blocks.
* IntRA-KD: a frozen image model (e.g. ``resnet101``, or SCNN) reads the same batch; the
  inter-region affinity graphs of paired layers are matched, optionally with attention
  transfer and logit KD on the class maps.
* BAKE: the batch itself is the teacher; the existence logits are pulled towards the
  ensemble of the other images' predictions, weighted by the similarity of the pooled
  features of one student block (the deepest by default).
* Teacher maps: a teacher that exists only as its outputs (the official SCNN's probability
  maps beside real CULane frames); the student's class maps are pulled towards them.

Each method has its own weight(s) and its own schedule (``start_iter``, ``ramp_iters``:
off before ``start_iter``, then its terms scaled from 0 to full over ``ramp_iters``
iterations; see :class:`~lane_sad_core.distill.schedule.Schedule`). Every mistake is found
when the run is built, before the first iteration: a missing teacher file, a teacher of the
wrong kind, another lane count or preprocessing, a block name that does not exist.
Teachers run in eval mode under ``torch.no_grad`` with gradients switched off, so only the
student learns and nothing of them reaches the deployed model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import ClassVar

import torch
from torch import Tensor

from lane_sad_core.data.preprocess import PreprocessConfig
from lane_sad_core.distill.bake import BAKEConfig, bake_loss, batch_affinity
from lane_sad_core.distill.intra_kd import IntraKDConfig, intra_kd_loss
from lane_sad_core.distill.lgad import LGADConfig, lgad_loss, one_hot_labels
from lane_sad_core.distill.sad import SADConfig, sad_loss
from lane_sad_core.distill.schedule import Schedule
from lane_sad_core.distill.teacher_maps import TeacherMapsConfig, teacher_map_loss
from lane_sad_core.errors import CheckpointError, ConfigError
from lane_sad_core.models import LaneModel
from lane_sad_core.models.checkpoint import load_model
from lane_sad_core.plain import NonNegFloat, to_plain

METHODS = ("sad", "lgad", "intra_kd", "bake", "teacher_maps")
Acts = Mapping[str, Tensor]


@dataclass(frozen=True)
class DistillSection:
    """The ``distill`` section of a training config; every method is off (absent or null) by default.

    YAML form (each method's keys are those of its config class, schedule included)::

        distill:
          sad: {pairs: [[E2, E3], [E3, E4]], weight: 0.1, start_iter: 40000, ramp_iters: 0}
          lgad: {teacher: runs/compare/lgad_teacher/model.pt, normalize: true}
          intra_kd: {teacher: runs/compare/resnet101/model.pt, pairs: [[E4, layer4]]}
          bake: {omega: 0.5, temperature: 4.0, weight: 0.1, start_iter: 100, ramp_iters: 50}
          teacher_maps: {pattern: "{stem}_{slot}_avg.png", weight: 0.5}

    Teacher paths are relative to the working directory, like ``out_dir``.

    Attributes:
        sad, lgad, intra_kd, bake, teacher_maps: the methods' settings, None when off.
        grad_warn_factor: warn once when a term's gradient on the shared encoder exceeds
            the task loss's by this factor (0: never; see
            :mod:`lane_sad_core.train.grad_monitor`).
    """

    MOVED: ClassVar[dict[str, str]] = {"start_iter": "distill.<method>.start_iter (each method has its own schedule)"}

    sad: SADConfig | None = None
    lgad: LGADConfig | None = None
    intra_kd: IntraKDConfig | None = None
    bake: BAKEConfig | None = None
    teacher_maps: TeacherMapsConfig | None = None
    grad_warn_factor: NonNegFloat = 10.0

    @property
    def methods(self) -> dict[str, Schedule]:
        """The enabled methods' settings by name, in :data:`METHODS` order."""
        return {m: cfg for m in METHODS if (cfg := getattr(self, m)) is not None}

    @property
    def enabled(self) -> bool:
        """Whether any method is on."""
        return bool(self.methods)


def load_teacher(
    path: str, key: str, input_kind: str, student: LaneModel, preprocess: PreprocessConfig, device: torch.device
) -> LaneModel:
    """A frozen teacher from its checkpoint, checked against the student.

    Raises:
        ConfigError: no path, an unreadable checkpoint, a teacher that reads the other kind
            of input, predicts another number of lanes, or (image teachers) was trained on
            differently prepared images. The message starts with the config key.
    """
    if not path:
        raise ConfigError(f"{key}: the checkpoint of a trained teacher is required")
    try:
        teacher, meta = load_model(Path(path), device, input_kind=input_kind)
    except CheckpointError as exc:
        raise ConfigError(f"{key}: {exc}") from None
    if teacher.num_lanes != student.num_lanes:
        raise ConfigError(f"{key}: {path} predicts {teacher.num_lanes} lanes, the student {student.num_lanes}")
    if input_kind == "image" and to_plain(meta.preprocess) != to_plain(preprocess):
        raise ConfigError(
            f"{key}: {path} was trained on images prepared as {to_plain(meta.preprocess)}, "
            f"the student's are {to_plain(preprocess)}; train the teacher on the same input"
        )
    teacher.requires_grad_(False)
    return teacher.eval()


def _check_blocks(key: str, model: LaneModel, names: tuple[str, ...]) -> None:
    missing = [n for n in names if n not in model.block_names]
    if missing:
        raise ConfigError(f"{key}: {model.arch} has no block(s) {missing} (blocks: {list(model.block_names)})")


class Distiller:
    """The distillation terms of one run, teachers loaded and every block name checked.

    Args:
        section: what to distil.
        student: the model being trained.
        preprocess: the student's input preparation (image teachers must share it).
        device: where the teachers run.
        ignore_index: label value of pixels that belong to no class.

    Attributes:
        student_blocks: every student block any method reads, each once.
        lgad_teacher, intra_teacher: the frozen teachers (None when their method is off).
    """

    def __init__(
        self,
        section: DistillSection,
        student: LaneModel,
        preprocess: PreprocessConfig,
        device: torch.device,
        ignore_index: int = 255,
    ) -> None:
        self.section, self.ignore_index = section, ignore_index
        self.num_classes = student.num_lanes + 1
        self.lgad_teacher: LaneModel | None = None
        self.intra_teacher: LaneModel | None = None
        # method -> (the student blocks it reads, its terms at full weight from (image, seg, outputs, acts))
        self._methods: dict[str, tuple[tuple[str, ...], Callable[..., dict[str, Tensor]]]] = {}
        if section.sad is not None:
            _check_blocks("distill.sad.pairs", student, section.sad.blocks)
            self._methods["sad"] = (section.sad.blocks, partial(_sad_terms, section.sad))
        if section.lgad is not None:
            cfg = section.lgad
            self.lgad_teacher = load_teacher(cfg.teacher, "distill.lgad.teacher", "labels", student, preprocess, device)
            _check_blocks("distill.lgad.pairs", student, cfg.student_blocks)
            _check_blocks("distill.lgad.pairs", self.lgad_teacher, cfg.teacher_blocks)
            self._methods["lgad"] = (cfg.student_blocks, partial(self._lgad_terms, cfg, self.lgad_teacher))
        if section.intra_kd is not None:
            intra = section.intra_kd
            self.intra_teacher = load_teacher(
                intra.teacher, "distill.intra_kd.teacher", "image", student, preprocess, device
            )
            students = tuple(s for s, _ in intra.pairs)
            _check_blocks("distill.intra_kd.pairs", student, students)
            _check_blocks("distill.intra_kd.pairs", self.intra_teacher, tuple(t for _, t in intra.pairs))
            self._methods["intra_kd"] = (students, partial(self._intra_kd_terms, intra, self.intra_teacher))
        if section.bake is not None:
            block = section.bake.block or student.block_names[-1]
            _check_blocks("distill.bake.block", student, (block,))
            self._methods["bake"] = ((block,), partial(self._bake_terms, section.bake, block))
        if section.teacher_maps is not None:
            self._methods["teacher_maps"] = ((), partial(_teacher_map_terms, section.teacher_maps, ignore_index))
        self.student_blocks = _unique(b for blocks, _ in self._methods.values() for b in blocks)
        self.stats: dict[str, float] = {}

    def active(self, iteration: int) -> bool:
        """Whether any method adds a term at ``iteration``."""
        return any(cfg.active(iteration) for cfg in self.section.methods.values())

    def blocks_at(self, iteration: int) -> tuple[str, ...]:
        """The student blocks that the methods switched on at ``iteration`` read."""
        on = self.section.methods
        return _unique(b for m, (blocks, _) in self._methods.items() if on[m].active(iteration) for b in blocks)

    def __call__(
        self,
        image: Tensor,
        seg_target: Tensor,
        outputs: Mapping[str, Tensor],
        acts: Mapping[str, Tensor],
        iteration: int | None = None,
        batch: Mapping[str, Tensor] | None = None,
    ) -> dict[str, Tensor]:
        """The weighted terms of every method on at ``iteration``, named as their loss functions name them.

        Args:
            image: the batch the student saw (IntRA-KD's teacher sees it too).
            seg_target: (B, H, W) labels (LGAD's teacher input; IntRA-KD's regions).
            outputs: the student's ``seg`` and ``exist`` logits.
            acts: the student's activations of :meth:`blocks_at` (``iteration``).
            iteration: the training iteration, which sets each method's schedule; None puts
                every method at full weight.
            batch: the rest of the batch (``soft`` and ``has_soft`` for teacher maps).
        """
        terms: dict[str, Tensor] = {}
        for method, cfg in self.section.methods.items():
            scale = 1.0 if iteration is None else cfg.scale(iteration)
            if scale == 0.0:
                continue
            full = self._methods[method][1](image, seg_target, outputs, acts, batch or {})
            terms.update(full if scale == 1.0 else {name: scale * term for name, term in full.items()})
        return terms

    def _lgad_terms(
        self,
        cfg: LGADConfig,
        teacher: LaneModel,
        image: Tensor,
        seg_target: Tensor,
        outputs: object,
        acts: Acts,
        batch: object,
    ) -> dict[str, Tensor]:
        with torch.no_grad():
            labels = one_hot_labels(seg_target, self.num_classes, self.ignore_index)
            _, t_acts = teacher.forward_blocks(labels, cfg.teacher_blocks)
        return lgad_loss(acts, t_acts, cfg)[1]

    def _intra_kd_terms(
        self,
        cfg: IntraKDConfig,
        teacher: LaneModel,
        image: Tensor,
        seg_target: Tensor,
        outputs: Acts,
        acts: Acts,
        batch: object,
    ) -> dict[str, Tensor]:
        with torch.no_grad():
            t_out, t_acts = teacher.forward_blocks(image, [t for _, t in cfg.pairs])
        return intra_kd_loss(
            acts,
            t_acts,
            seg_target,
            cfg,
            num_classes=self.num_classes,
            student_seg=outputs["seg"],
            teacher_seg=t_out["seg"],
        )[1]

    def _bake_terms(
        self, cfg: BAKEConfig, block: str, image: Tensor, seg_target: Tensor, outputs: Acts, acts: Acts, batch: object
    ) -> dict[str, Tensor]:
        features = acts[block].detach().mean(dim=(-2, -1))
        if len(features) > 1:  # how much the affinity departs from uniform (1 / (B - 1))
            affinity = batch_affinity(features, cfg.affinity_temperature, cfg.centre)
            self.stats["bake_affinity_max"] = float(affinity.max(dim=1).values.mean())
        return bake_loss(features, outputs["exist"], cfg)[1]


def _sad_terms(
    cfg: SADConfig, image: Tensor, seg_target: Tensor, outputs: object, acts: Acts, batch: object
) -> dict[str, Tensor]:
    return sad_loss(acts, cfg)[1]


def _teacher_map_terms(
    cfg: TeacherMapsConfig, ignore_index: int, image: Tensor, seg_target: Tensor, outputs: Acts, acts: Acts, batch: Acts
) -> dict[str, Tensor]:
    if "soft" not in batch:
        raise ConfigError("distill.teacher_maps is on but the batch holds no teacher maps")
    valid = seg_target != ignore_index
    return {"teacher_maps": cfg.weight * teacher_map_loss(outputs["seg"], batch["soft"], batch["has_soft"], valid)}


def _unique(names: Iterable[str]) -> tuple[str, ...]:
    """``names`` in first-seen order, each once."""
    return tuple(dict.fromkeys(names))
