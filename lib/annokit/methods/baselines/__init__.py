"""The earlier methods of M3's Tables III/IV and the Multi-order RNN's Tables 2/3, reproduced on
the cached CNN outputs.

- ``annokit.models.baseline_losses``: CNN+logistic, CNN+softmax (Gong et al. 2013), CNN+WARP
  (Weston et al. 2011) and LSEP (Li et al. 2017).
- ``linear_heads``: those losses on a linear head over f_v, and LSEP's label-count estimator.
- ``neighbours``, ``tagprop``, ``two_pass``, ``tag_knn``: TagProp (Guillaumin et al. 2009), 2PKNN
  (Verma and Jawahar 2012) and a TagNeighbors-style multi-modal kNN (after Johnson et al. 2015).
- ``order_free``: the Order-free RNN's candidate-pool decoder (Chen et al. 2018).
- ``selection``: every epoch chosen on the validation split; ``inputs``: the fit / validation /
  test parts.
- ``registry``: names, files and jobs; ``trained_methods`` and ``neighbour_methods``: one method
  with one seed, start to prediction file; ``stages``: ``run_all``, which notebook 08 calls;
  ``summary``: the ``baselines_reproduced`` table.
"""

from annokit.methods.baselines.inputs import BaselineData, baseline_data
from annokit.methods.baselines.registry import METHODS, BaselineJob, baseline_seeds, file_name
from annokit.methods.baselines.stages import baseline_jobs, run_all, run_baseline
from annokit.methods.baselines.summary import summary_table

__all__ = [
    "METHODS",
    "BaselineData",
    "BaselineJob",
    "baseline_data",
    "baseline_jobs",
    "baseline_seeds",
    "file_name",
    "run_all",
    "run_baseline",
    "summary_table",
]
