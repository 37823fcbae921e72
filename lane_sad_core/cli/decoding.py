"""Options of the lane decoding, shared by ``lane-sad infer`` and ``lane-sad eval``."""

from __future__ import annotations

import argparse


def add_decoding_args(parser: argparse.ArgumentParser, extend_default: str) -> None:
    """Add ``--fit``, ``--fit-tolerance`` and ``--extend-to-bottom``; ``extend_default`` says when it is on."""
    group = parser.add_argument_group("decoding (docs/postprocess.md)")
    group.add_argument(
        "--fit",
        default="robust",
        help="robust: a smooth curve through the rows that agree, outlier rows rejected (default); "
        "official: the SAD paper's per-row points, exactly",
    )
    group.add_argument(
        "--fit-tolerance",
        type=float,
        help="robust fit: rows further from the lane's curve than this fraction of the image width are "
        "outliers (default 0.02)",
    )
    group.add_argument(
        "--extend-to-bottom",
        action=argparse.BooleanOptionalAction,
        help=f"robust fit: continue lanes along their tangent to the bottom row (default: {extend_default})",
    )


def postprocess_from_args(args: argparse.Namespace, extend_default: bool = False):
    """The :class:`~lane_sad_core.infer.postprocess.PostprocessConfig` the options ask for."""
    from lane_sad_core.infer.postprocess import PostprocessConfig

    tolerance = {} if args.fit_tolerance is None else {"fit_tolerance": args.fit_tolerance}
    extend = extend_default if args.extend_to_bottom is None else args.extend_to_bottom
    return PostprocessConfig(fit=args.fit, extend_to_bottom=extend, **tolerance)
