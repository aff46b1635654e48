"""annokit: reproduction kit for large-scale multi-label image annotation.

M3 (Niu et al. 2019), the Multi-order RNN (Dutta et al. 2020) and the baselines they
compare against, on MS-COCO 2014, NUS-WIDE and a synthetic demo dataset.
"""

__version__ = "0.1.0"
