"""Benchmarks: how fast the image paths and models run on this machine, and
what that means for each paper profile.

``python -m annokit.bench`` measures (1) the JPEG loader, (2) the cached loader, (3) a CNN training
step, (4) an MS-CNN branch training step, (5) inference and (6) the training step of every model on
cached vectors (``annokit.bench.vector_rates``), names the hardware and the settings, and projects
the hours of every paper profile's chain, notebook by notebook (``annokit.bench.chain``,
``annokit.bench.projection``).
"""
