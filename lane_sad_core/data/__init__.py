"""Data: label formats, preprocessing, datasets, augmentation, synthetic scenes.

Modules are imported directly (``lane_sad_core.data.datasets`` needs torch, the rest
does not): ``formats`` (CULane / TuSimple IO), ``preprocess`` (network input),
``datasets`` (PyTorch datasets), ``augment``, ``slots``, ``raster``, ``imagesize`` and the
``synth`` package (synthetic CULane / TuSimple trees).
"""
