"""Datasets: readers of the real on-disk layouts, the demo generator, splits, manifests, index."""
