"""The training loop: SGD/AdamW + poly decay, the distillation terms on their schedules, exact resume.

Run state lives in the run directory (``<out_dir>/<name>/``): ``config.yaml``,
``log.csv`` (one row per logged iteration), ``last.pt`` (written atomically every
``ckpt_every`` iterations), ``model.pt`` (weights and metadata only, for deployment),
and ``curves.png``. A killed run continues from ``last.pt`` with the same batches,
augmentations and learning rates it would have seen.

Multi-GPU / multi-node: start with ``torchrun``; each process trains on its shard of the
batch order, gradients are averaged by DistributedDataParallel (NCCL on CUDA, gloo on CPU).
"""

from __future__ import annotations

import csv
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
import yaml
from torch import Tensor, nn
from tqdm import tqdm

from lane_sad_core.distill.lgad import one_hot_labels
from lane_sad_core.errors import ConfigError
from lane_sad_core.infer.detector import LaneDetector
from lane_sad_core.infer.evaluate import evaluate_dataset
from lane_sad_core.models import LaneModel, build_model, default_classes
from lane_sad_core.models.checkpoint import (
    ModelMeta,
    capture_rng_state,
    load_checkpoint,
    model_payload,
    restore_rng_state,
    save_checkpoint,
)
from lane_sad_core.plain import to_plain
from lane_sad_core.train.config import TrainConfig
from lane_sad_core.train.data import EpochSampler, build_dataset, epoch_loader
from lane_sad_core.train.distillation import Distiller
from lane_sad_core.train.grad_monitor import GradientMonitor
from lane_sad_core.train.losses import LaneLoss


@dataclass
class Dist:
    """This process's place in a (possibly single-process) run."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed() -> Dist:
    """Join the process group ``torchrun`` describes, or run alone."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Dist()
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend)
    return Dist(dist.get_rank(), world, int(os.environ.get("LOCAL_RANK", "0")))


class _TrainForward(nn.Module):
    """Routes the forward pass (and the block activations asked for) through DDP's wrapper."""

    def __init__(self, model: LaneModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor, blocks: tuple[str, ...]) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        if blocks:
            return self.model.forward_blocks(x, blocks)
        return self.model(x), {}


def build_model_for(cfg: TrainConfig) -> LaneModel:
    """The model of the config, sized to the preprocessing's input."""
    pre = cfg.data.preprocess
    model_cfg = {
        "num_lanes": cfg.data.num_slots,
        "input_height": pre.height,
        "input_width": pre.width,
        **cfg.model.config,
    }
    return build_model(cfg.model.name, **model_cfg)


OPTIMIZERS = ("sgd", "adamw")


def make_optimizer(model: nn.Module, o) -> torch.optim.Optimizer:
    """The configured optimizer (SGD as the paper, or AdamW for short schedules)."""
    if o.name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay)
    if o.name == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=o.lr, weight_decay=o.weight_decay)
    raise ConfigError(f"optim.name must be one of {OPTIMIZERS}, got {o.name!r}")


class Trainer:
    """One run; :meth:`run` trains to ``optim.iterations`` and returns ``model.pt``."""

    def __init__(self, cfg: TrainConfig, resume: str | Path | None = None, progress: bool = True) -> None:
        self.cfg, self.progress = cfg, progress
        self.dist = init_distributed()
        self.device = torch.device(f"cuda:{self.dist.local_rank}" if torch.cuda.is_available() else "cpu")
        torch.manual_seed(cfg.seed)
        self.model = build_model_for(cfg).to(self.device)
        self.loss = LaneLoss(cfg.loss)
        self.distiller = (
            Distiller(cfg.distill, self.model, cfg.data.preprocess, self.device, cfg.loss.ignore_index)
            if cfg.distill.enabled
            else None
        )
        maps = cfg.distill.teacher_maps
        self.train_set = build_dataset(cfg.data, "train", cfg.seed, maps.pattern if maps is not None else "")
        self.monitor = GradientMonitor(self.model.encoder_parameters(), cfg.distill.grad_warn_factor)
        # lane F1 needs a model that reads images; LGAD's label teacher is judged by its loss
        validate = cfg.data.val_list and self.model.input_kind == "image"
        self.val_set = build_dataset(cfg.data, "val", cfg.seed) if validate else None
        self.bpe = EpochSampler.batches_per_epoch(len(self.train_set), cfg.optim.batch_size, self.dist.world)
        if self.bpe == 0:
            raise ConfigError(
                f"{len(self.train_set)} training images cannot fill one batch of "
                f"{cfg.optim.batch_size} x {self.dist.world} process(es)"
            )
        if cfg.model.init and resume is None:
            self._init_weights(Path(cfg.model.init))
        o = cfg.optim
        self.optimizer = make_optimizer(self.model, o)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda it: max(0.0, 1.0 - it / o.iterations) ** o.poly_power
        )
        self.use_amp = cfg.amp and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        self.iteration = 0
        self.run_dir = cfg.run_dir()
        if resume is not None:
            self._restore(Path(resume))
        forward = _TrainForward(self.model)
        self.forward = nn.parallel.DistributedDataParallel(forward) if self.dist.world > 1 else forward

    # --- state ---------------------------------------------------------------------------
    def _init_weights(self, path: Path) -> None:
        """Start from another checkpoint's weights (same model name and shapes)."""
        ckpt = load_checkpoint(path)
        self._check_fits(ckpt, f"model.init {path}")
        try:
            self.model.load_state_dict(ckpt["state_dict"])
        except RuntimeError as exc:
            raise ConfigError(f"model.init {path} does not fit the configured model: {exc}") from None

    def _check_fits(self, ckpt: dict, where: str) -> None:
        """Refuse, in one line, a checkpoint of another model or slot count than the config's."""
        if ckpt.get("model_name") != self.model.arch:
            raise ConfigError(f"{where} holds a {ckpt.get('model_name')} model, the config a {self.model.arch}")
        slots = dict(ckpt.get("model_config") or {}).get("num_lanes")
        if slots is not None and int(slots) != self.model.num_lanes:
            raise ConfigError(
                f"{where} has {slots} lane slots, the config data.num_slots={self.model.num_lanes}: "
                "set data.num_slots to the checkpoint's or start from a checkpoint with as many slots"
            )

    def _restore(self, path: Path) -> None:
        ckpt = load_checkpoint(path)
        self._check_fits(ckpt, str(path))
        self.model.load_state_dict(ckpt["state_dict"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        self.scaler.load_state_dict(ckpt["scaler"])
        self.iteration = int(ckpt["iteration"])
        restore_rng_state(ckpt["rng"][min(self.dist.rank, len(ckpt["rng"]) - 1)])

    def _rng_states(self) -> list[dict]:
        state = capture_rng_state()
        if self.dist.world == 1:
            return [state]
        states: list = [None] * self.dist.world
        dist.all_gather_object(states, state)
        return states

    def _save(self) -> None:
        rng = self._rng_states()
        if not self.dist.main:
            return
        meta = model_payload(self.model, self.cfg.data.preprocess, iteration=self.iteration, config=to_plain(self.cfg))
        save_checkpoint(
            self.run_dir / "last.pt",
            {
                **meta,
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "scaler": self.scaler.state_dict(),
                "rng": rng,
            },
        )
        save_checkpoint(self.run_dir / "model.pt", meta)

    # --- loop ------------------------------------------------------------------------------
    def run(self) -> Path:
        """Train to the configured iteration count; returns the deployable ``model.pt``."""
        cfg, o = self.cfg, self.cfg.optim
        if self.dist.main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.run_dir / "config.yaml").write_text(yaml.safe_dump(to_plain(cfg), sort_keys=False))
        log = RunLog(self.run_dir / "log.csv", self.iteration) if self.dist.main else None
        bar = tqdm(
            total=o.iterations,
            initial=self.iteration,
            desc=cfg.name,
            unit="it",
            disable=not (self.progress and self.dist.main),
            dynamic_ncols=True,
        )
        self.model.train()
        batches = None
        while self.iteration < o.iterations:
            epoch, offset = divmod(self.iteration, self.bpe)
            if batches is None or offset == 0:
                batches = iter(
                    epoch_loader(
                        self.train_set,
                        o.batch_size,
                        cfg.seed,
                        epoch,
                        offset,
                        cfg.data.num_workers,
                        self.dist.rank,
                        self.dist.world,
                    )
                )
            t0 = time.perf_counter()
            logged = (self.iteration + 1) % cfg.schedule.log_every == 0
            terms = self._step(next(batches), measure_gradients=logged)
            seconds = time.perf_counter() - t0
            self.iteration += 1
            bar.update(1)
            last = self.iteration == o.iterations
            if self.iteration % cfg.schedule.val_every == 0 or last:
                terms.update(self._validate())
            if log and (self.iteration % cfg.schedule.log_every == 0 or last or "val_f1" in terms):
                log.write(self.iteration, float(self.scheduler.get_last_lr()[0]), terms, seconds)
                bar.set_postfix(loss=f"{terms['total']:.4f}")
            if self.iteration % cfg.schedule.ckpt_every == 0 or self.iteration == o.iterations:
                self._save()
            if self.iteration == o.iterations:
                batches = None
        bar.close()
        if log:
            log.plot(self.run_dir / "curves.png")
        if self.dist.world > 1:
            dist.barrier()
        return self.run_dir / "model.pt"

    def _validate(self) -> dict[str, float]:
        """CULane F1 and TuSimple-style accuracy on the validation frames (main process)."""
        if not self.dist.main or self.val_set is None:
            return {}
        meta = ModelMeta(
            path=self.run_dir / "model.pt",
            model_name=self.model.arch,
            model_config=dict(self.model.config),
            classes=default_classes(self.model.num_lanes),
            preprocess=self.cfg.data.preprocess,
            iteration=self.iteration,
        )
        self.model.eval()
        try:
            n = min(len(self.val_set), self.cfg.schedule.val_max_frames)
            total = evaluate_dataset(LaneDetector.from_model(self.model, meta), self.val_set, range(n)).as_dict()[
                "total"
            ]
        finally:
            self.model.train()
        return {
            "val_f1": total["f1"] or 0.0,
            "val_precision": total["precision"] or 0.0,
            "val_recall": total["recall"] or 0.0,
            "val_accuracy": total["tusimple_accuracy"],
        }

    def _step(self, batch: dict, measure_gradients: bool = False) -> dict[str, float]:
        """One optimiser step; with ``measure_gradients``, also each term's gradient norm on
        the shared encoder (:class:`~lane_sad_core.train.grad_monitor.GradientMonitor`)."""
        image = batch["image"].to(self.device, non_blocking=True)
        seg = batch["seg"].to(self.device, non_blocking=True)
        exist = batch["exist"].to(self.device, non_blocking=True)
        blocks = self.distiller.blocks_at(self.iteration) if self.distiller is not None else ()
        inputs = image
        if self.model.input_kind == "labels":  # LGAD's teacher learns to reproduce the labels
            inputs = one_hot_labels(seg, self.model.num_lanes + 1, self.cfg.loss.ignore_index)
        with torch.autocast(self.device.type, enabled=self.use_amp):
            outputs, acts = self.forward(inputs, blocks)
            total, terms = self.loss(outputs, seg, exist)
            if self.distiller is not None and self.distiller.active(self.iteration):
                extra = self.distiller(image, seg, outputs, acts, self.iteration, self._teacher_maps(batch))
                terms.update(extra)
                total = total + sum(extra.values())
        grads = self.monitor.measure(terms) if measure_gradients else {}
        stats = self.distiller.stats if self.distiller is not None else {}
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        return {"total": float(total.detach()), **{k: float(v.detach()) for k, v in terms.items()}, **grads, **stats}

    def _teacher_maps(self, batch: dict) -> dict[str, torch.Tensor]:
        """The batch's teacher maps on the device, when the dataset reads them."""
        if "soft" not in batch:
            return {}
        return {k: batch[k].to(self.device, non_blocking=True) for k in ("soft", "has_soft")}


class RunLog:
    """``log.csv`` of a run; on resume, rows past the checkpoint's iteration are dropped."""

    def __init__(self, path: Path, resume_iteration: int) -> None:
        self.path = path
        rows = []
        if path.is_file() and resume_iteration > 0:
            with path.open() as f:
                rows = [r for r in csv.DictReader(f) if int(r["iteration"]) <= resume_iteration]
        self.rows: list[dict] = rows
        self._flush()

    def write(self, iteration: int, lr: float, terms: dict[str, float], seconds: float) -> None:
        self.rows.append(
            {
                "iteration": iteration,
                "lr": f"{lr:.6g}",
                "seconds": f"{seconds:.4f}",
                **{k: f"{v:.6g}" for k, v in terms.items()},
            }
        )
        self._flush()

    def _flush(self) -> None:
        keys = list(dict.fromkeys(k for r in self.rows for k in r)) or ["iteration"]
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=keys, restval="")
            writer.writeheader()
            writer.writerows(self.rows)
        tmp.replace(self.path)

    def plot(self, out: Path) -> None:
        """Loss terms and learning rate against iteration, as a PNG."""
        from lane_sad_core.train.plots import plot_curves

        plot_curves(self.rows, out)
