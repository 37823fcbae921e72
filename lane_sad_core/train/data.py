"""Datasets and a resumable, shardable sampling order for training.

The order of samples is a pure function of (seed, epoch, rank), and a sample's
augmentation a pure function of (seed, epoch, index), so the batch at iteration ``i``
is the same whether or not training was interrupted before it: exact resume needs only
the iteration number.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Sampler

from lane_sad_core.data.datasets import CULaneDataset, LaneDataset, TusimpleDataset
from lane_sad_core.errors import ConfigError
from lane_sad_core.train.config import DataSection

FORMATS = ("culane", "tusimple")


def build_dataset(data: DataSection, split: str, seed: int, soft_targets: str = "") -> LaneDataset:
    """The ``train`` (augmented) or ``val`` dataset the config describes.

    Args:
        soft_targets: file-name pattern of a teacher's maps beside the frames, read with
            each training sample (CULane format; see ``distill.teacher_maps``).
    """
    if data.format not in FORMATS:
        raise ConfigError(f"data.format must be one of {FORMATS}, got {data.format!r}")
    root = Path(data.root)
    if not root.is_dir():
        raise ConfigError(f"data.root {root} is not a folder")
    lists = data.train_list if split == "train" else data.val_list
    augment = None
    if split == "train" and data.augment is not None:
        augment = dataclasses.replace(data.augment, seed=seed)
    if data.format == "culane":
        return CULaneDataset(root, lists, data.preprocess, augment, data.num_slots, soft_targets=soft_targets)
    if soft_targets:
        raise ConfigError("distill.teacher_maps needs data.format culane (maps beside the frames)")
    return TusimpleDataset(root, lists, data.preprocess, augment, data.num_slots)


class EpochSampler(Sampler[int]):
    """A permutation per epoch, split across ranks, started at a batch offset.

    Args:
        size: dataset length.
        batch_size: per-rank batch size; the epoch drops the last partial batch.
        seed, epoch: the permutation is ``randperm(size)`` from ``seed * 100003 + epoch``.
        rank, world: this process's shard of the permutation.
        start_batch: batches of this epoch already consumed (resume).
    """

    def __init__(
        self, size: int, batch_size: int, seed: int, epoch: int, rank: int = 0, world: int = 1, start_batch: int = 0
    ) -> None:
        self.size, self.batch_size = size, batch_size
        self.seed, self.epoch, self.rank, self.world = seed, epoch, rank, world
        self.start_batch = start_batch

    @staticmethod
    def batches_per_epoch(size: int, batch_size: int, world: int) -> int:
        return size // (batch_size * world)

    def __iter__(self) -> Iterator[int]:
        gen = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(self.size, generator=gen).tolist()
        n = self.batches_per_epoch(self.size, self.batch_size, self.world) * self.batch_size
        mine = order[self.rank :: self.world][:n]
        return iter(mine[self.start_batch * self.batch_size :])

    def __len__(self) -> int:
        n = self.batches_per_epoch(self.size, self.batch_size, self.world) * self.batch_size
        return max(0, n - self.start_batch * self.batch_size)


def epoch_loader(
    dataset: LaneDataset,
    batch_size: int,
    seed: int,
    epoch: int,
    start_batch: int,
    num_workers: int,
    rank: int = 0,
    world: int = 1,
) -> DataLoader:
    """The loader of one epoch (from ``start_batch``); workers seeded from (seed, epoch)."""
    dataset.set_epoch(epoch)
    sampler = EpochSampler(len(dataset), batch_size, seed, epoch, rank, world, start_batch)
    gen = torch.Generator().manual_seed(seed * 7919 + epoch)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        drop_last=True,
        num_workers=num_workers,
        generator=gen,
        persistent_workers=False,
        pin_memory=torch.cuda.is_available(),
    )
