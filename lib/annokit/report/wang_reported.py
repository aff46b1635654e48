"""The tables of Wang et al. 2016 (CNN-RNN) transcribed under ``results/reported/``, as entries of
``annokit.report.reported.REPORTED_TABLES``: file, paper, table number, caption, printed headers.

Each file holds the paper's CNN-RNN row and a ``source`` column saying where each value was read
(``results/reported/README.md``). Kept apart from ``reported.py`` so that module stays small; it
builds its ``ReportedTable`` entries from the plain tuples here.
"""

from __future__ import annotations

WANG = (
    "Wang, Yang, Mao, Huang, Huang, Xu 2016, CNN-RNN: A unified framework for multi-label image "
    "classification, CVPR"
)
SOURCE = {"source": "(added: where each value was read)"}
# C-P ... O-F1 at k = 3: the paper's names are the kit's keys
_AT_K = {
    "method": "Method",
    **SOURCE,
    **{k: k for k in ("C-P", "C-R", "C-F1", "O-P", "O-R", "O-F1")},
}
VOC_CLASSES = tuple(
    "aeroplane bicycle bird boat bottle bus car cat chair cow diningtable dog horse motorbike "
    "person pottedplant sheep sofa train tvmonitor".split()
)
_VOC = {"method": "Method", **SOURCE, **{name: name for name in VOC_CLASSES}, "mAP": "mAP"}

# name -> (csv, paper, table, caption, columns): the fields of ``ReportedTable``
WANG_TABLES: dict[str, tuple[str, str, str, str, dict[str, str]]] = {
    "wang2016_table1": (
        "wang2016_table1_nuswide.csv",
        WANG,
        "1",
        "NUS-WIDE, top k = 3 labels: the CNN-RNN row",
        _AT_K,
    ),
    "wang2016_table2": (
        "wang2016_table2_coco.csv",
        WANG,
        "2",
        "MS-COCO, top k = 3 labels: the CNN-RNN row",
        _AT_K,
    ),
    "wang2016_table3": (
        "wang2016_table3_voc2007.csv",
        WANG,
        "3",
        "PASCAL VOC 2007 test, AP in %: the CNN-RNN row",
        _VOC,
    ),
}
WANG_DATASETS: dict[str, str] = {
    "wang2016_table1": "NUS-WIDE",
    "wang2016_table2": "MS-COCO",
    "wang2016_table3": "PASCAL VOC 2007",
}
# The table of Wang et al. that a run's dataset is set beside (notebook 07); "csv" has none.
WANG_TABLE_OF = {
    "nuswide": "wang2016_table1",
    "coco2014": "wang2016_table2",
    "voc2007": "wang2016_table3",
}
