"""Datasets: readers of the real on-disk layouts (MS-COCO 2014, NUS-WIDE),
splits, manifests, the prepared index."""
