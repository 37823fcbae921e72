"""ONNX export of a lane model: probabilities out, metadata in, checked against PyTorch.

The graph. Input ``image``: (B, 3, H, W) float32, an image prepared by
:func:`lane_sad_core.data.preprocess.preprocess` (crop, resize, RGB, mean/std). Outputs
``prob`` = softmax(seg) over the classes and ``exist`` = sigmoid(exist): the two
arrays the post-processing reads. Putting both inside the graph means every runtime
(ONNX Runtime, TensorRT) fuses them with the last layers, and the detector does the same
thing whatever runs the network. Attention maps are not exported: they are a debugging
view of intermediate blocks, and extra outputs would cost a copy on every frame.

Opset 17 by default. Softmax needs opset >= 13 to mean "over one axis" (before, it
flattened everything from the axis on, and the exporter had to wrap it in transposes);
17 is the newest opset of ONNX 1.12, which the TensorRT 8.5 / 8.6 parsers of JetPack 5
were built against, and TensorRT's parser reads older opsets (back to 9) but not newer
ones than its ONNX release. No operator of ENet-SAD or the ResNets changed meaning after
13, so a newer opset would buy nothing and lose older Jetsons. ``--opset`` overrides it.

The exporter is PyTorch's TorchScript-based one (``dynamo=False``): the dynamo exporter
needs ``onnxscript``, which this project does not pin, and it gains nothing for a
convolutional network without data-dependent control flow.

Every export is verified before it gets its final name: ONNX Runtime runs a seeded input
(at a batch size other than the traced one when the batch is dynamic) and the probability
maps and existence probabilities must match PyTorch within ``tolerance`` (1e-4 absolute,
as probabilities are in [0, 1]); otherwise :class:`ExportError` names the largest
difference and no file is left behind.
"""

from __future__ import annotations

import contextlib
import copy
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from lane_sad_core.errors import CheckpointError
from lane_sad_core.export.errors import ExportError
from lane_sad_core.export.metadata import meta_from_metadata, metadata_from_meta
from lane_sad_core.models import LaneModel
from lane_sad_core.models.checkpoint import ModelMeta, load_model

DEFAULT_OPSET = 17
INPUT_NAME = "image"
OUTPUT_NAMES = ("prob", "exist")
TOLERANCE = 1e-4
_TRACE_BATCH = {False: 1, True: 2}  # traced batch size, static / dynamic batch
_VERIFY_BATCH = {False: 1, True: 3}  # a dynamic export must also run at another size


class ProbabilityModel(nn.Module):
    """A lane model followed by what the detector applies to its outputs.

    ``forward(image)`` returns ``(prob, exist)``: the softmax of the segmentation logits
    over the class axis and the sigmoid of the existence logits.
    """

    def __init__(self, model: LaneModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: Tensor) -> tuple[Tensor, Tensor]:
        outputs = self.model(image)
        return torch.softmax(outputs["seg"], dim=1), torch.sigmoid(outputs["exist"])


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_onnx` wrote and how close it came to PyTorch.

    Attributes:
        path: the ONNX file.
        opset: its opset.
        dynamic_batch: whether the batch dimension is free.
        prob_max_diff, exist_max_diff: largest absolute difference from PyTorch on the
            verification input.
    """

    path: Path
    opset: int
    dynamic_batch: bool
    prob_max_diff: float
    exist_max_diff: float


def export_checkpoint(
    checkpoint: str | Path,
    out: str | Path,
    *,
    dynamic_batch: bool = False,
    opset: int = DEFAULT_OPSET,
    tolerance: float = TOLERANCE,
) -> ExportResult:
    """Load a checkpoint on the CPU and :func:`export_onnx` it.

    Raises:
        CheckpointError: the checkpoint is missing or invalid.
        ExportError: as :func:`export_onnx`.
    """
    model, meta = load_model(checkpoint, "cpu")
    return export_onnx(model, meta, out, dynamic_batch=dynamic_batch, opset=opset, tolerance=tolerance)


def export_onnx(
    model: LaneModel,
    meta: ModelMeta,
    out: str | Path,
    *,
    dynamic_batch: bool = False,
    opset: int = DEFAULT_OPSET,
    tolerance: float = TOLERANCE,
) -> ExportResult:
    """Write ``model`` as a verified, self-describing ONNX file.

    Args:
        model: the network (any device; it is exported from a CPU copy of its weights).
        meta: its checkpoint metadata (name, config, classes, preprocessing), stored in
            the file's ``metadata_props``.
        out: the ONNX file to write; replaced atomically, and only after verification.
        dynamic_batch: leave the batch dimension free (named ``batch``); otherwise it is 1.
        opset: ONNX opset (see the module docstring for the default).
        tolerance: largest absolute difference from PyTorch accepted in the verification.

    Raises:
        ExportError: the exporter failed, the folder is not writable, onnxruntime is
            missing, or the verification failed (the message names the difference).
    """
    out = Path(out)
    cpu_model = _cpu_eval_copy(model)
    height, width = meta.preprocess.height, meta.preprocess.width
    example = torch.zeros(_TRACE_BATCH[dynamic_batch], 3, height, width)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
        os.close(fd)
    except OSError as exc:
        raise ExportError(f"cannot write {out}: {exc.strerror or exc}") from None
    tmp = Path(tmp_name)
    try:
        _trace_to_onnx(cpu_model, example, tmp, dynamic_batch, opset)
        _add_metadata(tmp, metadata_from_meta(meta))
        prob_diff, exist_diff = verify_onnx(
            tmp, cpu_model, (height, width), batch=_VERIFY_BATCH[dynamic_batch], tolerance=tolerance
        )
        os.replace(tmp, out)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return ExportResult(out, opset, dynamic_batch, prob_diff, exist_diff)


def verify_onnx(
    path: str | Path,
    model: LaneModel,
    size: tuple[int, int],
    *,
    batch: int = 1,
    tolerance: float = TOLERANCE,
    seed: int = 0,
) -> tuple[float, float]:
    """Run the ONNX file and ``model`` on the same seeded input and compare.

    Args:
        path: an ONNX file with the ``image`` -> ``prob``, ``exist`` signature.
        model: the PyTorch model it should compute (softmax and sigmoid are applied here).
        size: (height, width) of the input.
        batch: batch size of the input.
        tolerance: largest accepted absolute difference, for both outputs.
        seed: seed of the N(0, 1) input (a normalised image has roughly that spread).

    Returns:
        The largest absolute differences of ``prob`` and ``exist``.

    Raises:
        ExportError: a difference exceeds ``tolerance`` or the file does not run.
    """
    ort = _onnxruntime()
    x = torch.randn(batch, 3, *size, generator=torch.Generator().manual_seed(seed))
    with torch.inference_mode():
        outputs = _cpu_eval_copy(model)(x)
        ref_prob = torch.softmax(outputs["seg"], dim=1).numpy()
        ref_exist = torch.sigmoid(outputs["exist"]).numpy()
        logit_max = float(outputs["seg"].abs().max())
    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        prob, exist = session.run(list(OUTPUT_NAMES), {INPUT_NAME: x.numpy()})
    except Exception as exc:  # onnxruntime raises its own exception types (Fail, InvalidArgument, ...)
        raise ExportError(f"onnxruntime cannot run {path}: {type(exc).__name__}: {exc}") from None
    prob_diff = _max_abs_diff(prob, ref_prob, "prob", path)
    exist_diff = _max_abs_diff(exist, ref_exist, "exist", path)
    for name, diff in (("prob", prob_diff), ("exist", exist_diff)):
        if not diff <= tolerance:  # also catches NaN
            raise ExportError(
                f"ONNX output '{name}' differs from PyTorch by {diff:.3g} (max abs) > {tolerance:g} on a "
                f"seeded batch of {batch} at {size[0]}x{size[1]} ({path}); PyTorch logits reach "
                f"|{logit_max:.3g}|, export refused"
            )
    return prob_diff, exist_diff


def read_onnx_meta(path: str | Path) -> ModelMeta:
    """The ModelMeta an exported ONNX file carries (no weights are loaded).

    Raises:
        CheckpointError: the file is missing, not ONNX, or lacks lane_sad metadata.
    """
    return meta_from_metadata(read_onnx_props(path), Path(path))


def read_onnx_props(path: str | Path) -> dict[str, str]:
    """The ``metadata_props`` of an ONNX file as a dict.

    Raises:
        CheckpointError: the file is missing or not ONNX.
    """
    import onnx

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"ONNX model not found: {path}")
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf DecodeError, ...
        raise CheckpointError(f"{path} is not an ONNX model: {type(exc).__name__}: {exc}") from None
    return {p.key: p.value for p in proto.metadata_props}


def _cpu_eval_copy(model: LaneModel) -> LaneModel:
    """``model`` itself when already on the CPU in eval mode, else an eval-mode CPU copy."""
    if next(model.parameters()).device.type == "cpu" and not model.training:
        return model
    return copy.deepcopy(model).cpu().eval()


def _trace_to_onnx(model: LaneModel, example: Tensor, path: Path, dynamic_batch: bool, opset: int) -> None:
    dynamic_axes = {name: {0: "batch"} for name in (INPUT_NAME, *OUTPUT_NAMES)} if dynamic_batch else None
    try:
        with warnings.catch_warnings():
            # The input-shape checks become constants in a traced graph, as intended; the
            # TorchScript exporter announces its deprecation; F.pad's channel padding leaves
            # a tiny unfoldable Slice. None is actionable here.
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.filterwarnings("ignore", "Constant folding - Only steps=1", UserWarning)
            torch.onnx.export(
                ProbabilityModel(model).eval(),
                (example,),
                str(path),
                input_names=[INPUT_NAME],
                output_names=list(OUTPUT_NAMES),
                dynamic_axes=dynamic_axes,
                opset_version=opset,
                do_constant_folding=True,
                dynamo=False,
            )
    except Exception as exc:  # the exporter raises many types for unsupported ops / opsets
        raise ExportError(
            f"torch.onnx.export of {model.arch} at opset {opset} failed: {type(exc).__name__}: {exc}"
        ) from None


def _add_metadata(path: Path, props: dict[str, str]) -> None:
    import onnx

    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    for key, value in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.producer_name = "lane_sad"
    proto.doc_string = f"{props['model_name']} lane segmentation; {props['outputs']}"
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))


def _max_abs_diff(got: np.ndarray, ref: np.ndarray, name: str, path: str | Path) -> float:
    if got.shape != ref.shape:
        raise ExportError(f"ONNX output '{name}' of {path} has shape {got.shape}, PyTorch {ref.shape}")
    return float(np.max(np.abs(got.astype(np.float64) - ref)))


def _onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise ExportError("onnxruntime is needed to verify an ONNX export: pip install onnxruntime") from None
    return onnxruntime
