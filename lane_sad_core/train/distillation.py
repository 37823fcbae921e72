"""The distillation terms that need more than the student: LGAD, IntRA-KD and BAKE.

SAD needs only the student's own blocks and lives in :class:`~lane_sad_core.train.losses.LaneLoss`.
The methods here bring outside knowledge into the loss:

* LGAD: a frozen label auto-encoder (``label_autoencoder`` checkpoint) reads the one-hot
  labels of the batch; its attention maps are the targets of the paired student blocks.
* IntRA-KD: a frozen image model (e.g. ``resnet101``, or SCNN) reads the same batch; the
  inter-region affinity graphs of paired layers are matched, optionally with attention
  transfer and logit KD on the class maps.
* BAKE: the batch itself is the teacher; the existence logits are pulled towards the
  ensemble of the other images' predictions, weighted by the similarity of the pooled
  features of one student block (the deepest by default).

Every choice is configuration (the ``distill`` section of a training config), and every
mistake is found when the run is built, before the first iteration: a missing teacher
file, a teacher of the wrong kind, another lane count or preprocessing, a block name
that does not exist. Teachers run in eval mode under ``torch.no_grad`` with gradients
switched off, so only the student learns and nothing of them reaches the deployed model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from lane_sad_core.data.preprocess import PreprocessConfig
from lane_sad_core.distill.bake import BAKEConfig, bake_loss
from lane_sad_core.distill.intra_kd import IntraKDConfig, intra_kd_loss
from lane_sad_core.distill.lgad import LGADConfig, lgad_loss, one_hot_labels
from lane_sad_core.errors import CheckpointError, ConfigError
from lane_sad_core.models import LaneModel
from lane_sad_core.models.checkpoint import load_model

METHODS = ("lgad", "intra_kd", "bake")


@dataclass(frozen=True)
class DistillSection:
    """The ``distill`` section of a training config; every method is off (None) by default.

    YAML form (each method's keys are those of its config class, plus ``teacher`` for the
    methods that have one and ``block`` for BAKE)::

        distill:
          start_iter: 0
          lgad: {teacher: runs/compare/lgad_teacher/model.pt, normalize: true}
          intra_kd: {teacher: runs/compare/resnet101/model.pt, pairs: [[E4, layer4]]}
          bake: {omega: 0.5, temperature: 4.0, weight: 1.0}

    Teacher paths are relative to the working directory, like ``out_dir``.

    Attributes:
        lgad, intra_kd, bake: the methods' settings, None when off.
        lgad_teacher, intra_kd_teacher: checkpoints of the teachers.
        bake_block: student block whose pooled activation gives BAKE's image features
            (empty: the deepest block).
        start_iter: iteration from which these terms are added (SAD has its own).
    """

    lgad: LGADConfig | None = None
    lgad_teacher: str = ""
    intra_kd: IntraKDConfig | None = None
    intra_kd_teacher: str = ""
    bake: BAKEConfig | None = None
    bake_block: str = ""
    start_iter: int = 0

    @property
    def enabled(self) -> bool:
        """Whether any method is on."""
        return any(getattr(self, m) is not None for m in METHODS)

    def to_dict(self) -> dict:
        """The YAML form (see the class docstring)."""
        out: dict = {"start_iter": self.start_iter}
        if self.lgad is not None:
            out["lgad"] = {"teacher": self.lgad_teacher, **self.lgad.to_dict()}
        if self.intra_kd is not None:
            out["intra_kd"] = {"teacher": self.intra_kd_teacher, **self.intra_kd.to_dict()}
        if self.bake is not None:
            out["bake"] = {"block": self.bake_block, **self.bake.to_dict()}
        return out

    @classmethod
    def from_dict(cls, d: Mapping) -> DistillSection:
        """Inverse of :meth:`to_dict`; unknown keys raise ConfigError naming them."""
        unknown = sorted(set(d) - {"start_iter", *METHODS})
        if unknown:
            raise ConfigError(
                f"unknown key(s) {', '.join('distill.' + k for k in unknown)}; "
                f"methods: {list(METHODS)} (SAD is configured under loss.sad)"
            )
        kw: dict = {"start_iter": int(d.get("start_iter", 0))}
        for method, config_cls, extra in (
            ("lgad", LGADConfig, "teacher"),
            ("intra_kd", IntraKDConfig, "teacher"),
            ("bake", BAKEConfig, "block"),
        ):
            section = d.get(method)
            if section is None:
                continue
            if not isinstance(section, Mapping):
                raise ConfigError(f"distill.{method}: expected a mapping, got {section!r}")
            rest = {k: v for k, v in section.items() if k != extra}
            kw[method] = config_cls.from_dict(rest)
            kw[f"{method}_{extra}" if extra == "teacher" else "bake_block"] = str(section.get(extra) or "")
        return cls(**kw)


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
    if input_kind == "image" and meta.preprocess.to_dict() != preprocess.to_dict():
        raise ConfigError(
            f"{key}: {path} was trained on images prepared as {meta.preprocess.to_dict()}, "
            f"the student's are {preprocess.to_dict()}; train the teacher on the same input"
        )
    teacher.requires_grad_(False)
    return teacher.eval()


def _check_blocks(key: str, model: LaneModel, names: tuple[str, ...]) -> None:
    missing = [n for n in names if n not in model.block_names]
    if missing:
        raise ConfigError(f"{key}: {model.arch} has no block(s) {missing} (blocks: {list(model.block_names)})")


class Distiller:
    """The LGAD / IntRA-KD / BAKE terms of one run, teachers loaded and checked.

    Args:
        section: what to distil.
        student: the model being trained.
        preprocess: the student's input preparation (image teachers must share it).
        device: where the teachers run.
        ignore_index: label value of pixels that belong to no class.
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
        self.lgad_teacher = self.intra_teacher = None
        needed: list[str] = []
        if section.lgad is not None:
            self.lgad_teacher = load_teacher(
                section.lgad_teacher, "distill.lgad.teacher", "labels", student, preprocess, device
            )
            _check_blocks("distill.lgad.pairs", student, section.lgad.student_blocks)
            _check_blocks("distill.lgad.pairs", self.lgad_teacher, section.lgad.teacher_blocks)
            needed += section.lgad.student_blocks
        if section.intra_kd is not None:
            self.intra_teacher = load_teacher(
                section.intra_kd_teacher, "distill.intra_kd.teacher", "image", student, preprocess, device
            )
            pairs = section.intra_kd.pairs
            _check_blocks("distill.intra_kd.pairs", student, tuple(s for s, _ in pairs))
            _check_blocks("distill.intra_kd.pairs", self.intra_teacher, tuple(t for _, t in pairs))
            needed += [s for s, _ in pairs]
        self.bake_block = section.bake_block or student.block_names[-1]
        if section.bake is not None:
            _check_blocks("distill.bake.block", student, (self.bake_block,))
            needed.append(self.bake_block)
        self.student_blocks: tuple[str, ...] = tuple(dict.fromkeys(needed))

    def active(self, iteration: int) -> bool:
        """Whether the terms are added at ``iteration``."""
        return self.section.enabled and iteration >= self.section.start_iter

    def __call__(
        self, image: Tensor, seg_target: Tensor, outputs: Mapping[str, Tensor], acts: Mapping[str, Tensor]
    ) -> dict[str, Tensor]:
        """The weighted terms of every enabled method, named as their loss functions name them.

        Args:
            image: the batch the student saw (IntRA-KD's teacher sees it too).
            seg_target: (B, H, W) labels (LGAD's teacher input; IntRA-KD's regions).
            outputs: the student's ``seg`` and ``exist`` logits.
            acts: the student's activations of :attr:`student_blocks`.
        """
        s = self.section
        terms: dict[str, Tensor] = {}
        if s.lgad is not None:
            with torch.no_grad():
                labels = one_hot_labels(seg_target, self.num_classes, self.ignore_index)
                _, t_acts = self.lgad_teacher.forward_blocks(labels, s.lgad.teacher_blocks)
            terms.update(lgad_loss(acts, t_acts, s.lgad)[1])
        if s.intra_kd is not None:
            with torch.no_grad():
                t_out, t_acts = self.intra_teacher.forward_blocks(image, [t for _, t in s.intra_kd.pairs])
            terms.update(
                intra_kd_loss(
                    acts,
                    t_acts,
                    seg_target,
                    s.intra_kd,
                    num_classes=self.num_classes,
                    student_seg=outputs["seg"],
                    teacher_seg=t_out["seg"],
                )[1]
            )
        if s.bake is not None:
            features = acts[self.bake_block].detach().mean(dim=(-2, -1))
            terms.update(bake_loss(features, outputs["exist"], s.bake)[1])
        return terms
