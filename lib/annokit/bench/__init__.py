"""Benchmarks: how fast the image paths and models run on this machine, and
what that means for each paper profile.

``python -m annokit.bench`` measures (1) the JPEG loader, (2) the cached loader, (3) a CNN training
step, (4) an MS-CNN branch training step and (5) inference, names the hardware and the settings, and
projects the hours of every paper profile's image stages (``annokit.bench.projection``).
"""
