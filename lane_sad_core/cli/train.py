"""``lane-sad train``: train a model from a YAML config (single process or torchrun)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a lane model (SAD and friends) from a YAML config",
        description="Train from a YAML config (see config/train/). Checkpoints go to "
        "<out_dir>/<name>/last.pt every schedule.ckpt_every iterations; a killed run continues "
        "exactly with --resume. Multi-GPU/multi-node: torchrun --nproc-per-node N "
        "$(which lane-sad) train --config ...",
    )
    p.add_argument("--config", required=True, type=Path, help="YAML training config")
    p.add_argument("--resume", type=Path, help="continue from this checkpoint (e.g. runs/x/last.pt)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set optim.iterations=1000 (repeatable)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lane_sad_core.errors import ConfigError
    from lane_sad_core.train.config import load_config
    from lane_sad_core.train.trainer import Trainer

    if not args.config.is_file():
        raise ConfigError(f"config file {args.config} not found")
    cfg = load_config(args.config, args.overrides)
    last = cfg.run_dir() / "last.pt"
    if args.resume is None and last.exists():
        raise ConfigError(
            f"{last} exists: pass --resume {last} to continue that run, or --set name=<new name> to start another"
        )
    model = Trainer(cfg, resume=args.resume, progress=not args.no_progress).run()
    print(f"trained: {model}")
    return 0
