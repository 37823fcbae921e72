"""TensorRT engines from the exported ONNX file, built on the device that will run them.

An engine is specific to its GPU type and TensorRT version, so it is built on the target
(the Jetson), from the ONNX file :mod:`lane_sad_core.export.onnx` wrote; the ONNX file is
the portable artefact. FP16 is the default: Jetson GPUs run it at about twice the FP32
rate and the lane probabilities barely move. INT8 uses TensorRT's entropy calibrator
(``IInt8EntropyCalibrator2``) on real frames prepared by the project's preprocessing (see
:mod:`lane_sad_core.export.calibration`); FP16 stays enabled so layers without a good INT8
kernel fall back to FP16, not FP32. I/O tensors stay float32, so the detector feeds every
engine the same arrays.

Beside ``model.engine`` the build writes ``model.engine.json`` (the ONNX file's metadata
plus precision and TensorRT version: the backend reads the preprocessing from it) and,
for INT8, ``model.engine.calib``, TensorRT's calibration cache, for inspection or reuse
with ``trtexec --calib``. Calibration always runs afresh: a stale cache from other weights
would silently mis-scale the network.

Needs TensorRT >= 8.5 and a CUDA build of torch (calibration batches live in torch CUDA
tensors); this module is not exercised by the tests here, which have neither.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from lane_sad_core.export.calibration import calibration_batches, calibration_images
from lane_sad_core.export.errors import ExportError
from lane_sad_core.export.metadata import meta_from_metadata, write_sidecar
from lane_sad_core.export.onnx import INPUT_NAME, read_onnx_props

DEFAULT_WORKSPACE_MIB = 1024
DEFAULT_CALIB_COUNT = 500


def import_tensorrt():
    """The ``tensorrt`` module, or ExportError saying to build on the target."""
    try:
        import tensorrt
    except ImportError:
        raise ExportError(
            "TensorRT is not installed here (no `tensorrt` Python module); run `lane-sad export "
            "--format tensorrt` on the target (e.g. the Jetson) with the .onnx file"
        ) from None
    return tensorrt


def build_engine(
    onnx_path: str | Path,
    engine_path: str | Path,
    *,
    fp16: bool = True,
    int8: bool = False,
    calib_images: str | Path | None = None,
    calib_count: int = DEFAULT_CALIB_COUNT,
    max_batch: int = 1,
    workspace_mib: int = DEFAULT_WORKSPACE_MIB,
) -> Path:
    """Build and write a TensorRT engine for an exported ONNX file.

    Args:
        onnx_path: ONNX file from :func:`lane_sad_core.export.onnx.export_onnx`.
        engine_path: the engine to write (its ``.json`` metadata goes beside it).
        fp16: allow FP16 kernels (default); False builds a pure FP32 engine unless ``int8``.
        int8: quantise to INT8, calibrated on ``calib_images``.
        calib_images: folder of camera frames for INT8 calibration (searched recursively).
        calib_count: at most this many calibration frames, spread over the folder.
        max_batch: largest batch of a dynamic-batch ONNX file (its optimisation profile is
            1..max_batch, tuned for max_batch); static files keep their batch.
        workspace_mib: TensorRT's scratch memory limit while building.

    Raises:
        ExportError: TensorRT is missing, INT8 without images, the ONNX file does not
            parse, or the build fails.
        CheckpointError: the ONNX file is missing or lacks lane_sad metadata.
    """
    trt = import_tensorrt()
    onnx_path, engine_path = Path(onnx_path), Path(engine_path)
    props = read_onnx_props(onnx_path)
    meta = meta_from_metadata(props, onnx_path)
    if int8 and calib_images is None:
        raise ExportError("INT8 needs calibration frames: pass --calib-images DIR")
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(_network_flags(trt))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(min(parser.num_errors, 3)))
        raise ExportError(f"TensorRT cannot parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_mib) << 20)
    if fp16 or int8:
        config.set_flag(trt.BuilderFlag.FP16)
    shape = tuple(network.get_input(0).shape)
    batch = shape[0] if shape[0] > 0 else int(max_batch)
    if shape[0] <= 0:
        profile = builder.create_optimization_profile()
        full = (batch, *shape[1:])
        profile.set_shape(INPUT_NAME, (1, *shape[1:]), full, full)
        config.add_optimization_profile(profile)
        if int8:
            config.set_calibration_profile(profile)
    if int8:
        config.set_flag(trt.BuilderFlag.INT8)
        images = calibration_images(calib_images, calib_count)  # type: ignore[arg-type]
        config.int8_calibrator = _entropy_calibrator(
            trt,
            calibration_batches(images, meta.preprocess, batch),
            batch,
            (batch, *shape[1:]),
            engine_path.with_name(engine_path.name + ".calib"),
        )
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ExportError(f"TensorRT could not build an engine from {onnx_path} (see its log above)")
    _write_atomic(engine_path, bytes(serialized))
    precision = "int8" if int8 else "fp16" if fp16 else "fp32"
    write_sidecar(
        engine_path,
        {
            **props,
            "precision": precision,
            "tensorrt_version": trt.__version__,
            "source_onnx": str(onnx_path),
            "max_batch": str(batch),
        },
    )
    return engine_path


def _network_flags(trt) -> int:
    """Explicit batch: a flag before TensorRT 10, the only mode (flag deprecated) since."""
    if int(trt.__version__.split(".")[0]) >= 10:
        return 0
    return 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)


def _entropy_calibrator(trt, batches: Iterator[np.ndarray], batch_size: int, shape: tuple[int, ...], cache: Path):
    """An ``IInt8EntropyCalibrator2`` feeding ``batches`` through one CUDA buffer.

    Defined here, not at module level, because its base class exists only where TensorRT
    is installed.
    """

    class EntropyCalibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self) -> None:
            trt.IInt8EntropyCalibrator2.__init__(self)
            self.device_batch = torch.empty(shape, dtype=torch.float32, device="cuda")

        def get_batch_size(self) -> int:
            return batch_size

        def get_batch(self, names: list[str]) -> list[int] | None:
            batch = next(batches, None)
            if batch is None:
                return None  # calibration done
            self.device_batch.copy_(torch.from_numpy(batch))  # synchronous: pageable source
            return [int(self.device_batch.data_ptr())]

        def read_calibration_cache(self) -> None:
            return None  # always calibrate these weights afresh (see the module docstring)

        def write_calibration_cache(self, data) -> None:
            cache.write_bytes(bytes(data))

    return EntropyCalibrator()


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None
