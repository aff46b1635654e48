"""The papers' headline claims, one ``Claim`` each, in the order of the claims table: M3, the
Multi-order RNN, the CNN-RNN (Wang et al. 2016), the partial-label study (Durand et al. 2019)."""

from __future__ import annotations

from annokit.methods.partial_strategies import STRATEGY_KINDS, TITLES
from annokit.report.claim_types import Claim, TableMeasure

# (A − B) recall on small objects minus (A − B) on large ones
SMALL_GAIN = "recall gain small − large"
RULES_FOLLOWED = "sets following the rules"
# the paper's k = 3 comparison: each model's three highest scores, whatever its own decision rule
TOP3 = {metric: f"{metric} of the top 3 scores" for metric in ("C-F1", "O-F1")}
PARTIAL_PROPORTION = 0.1
# notebook 06's sweep: mAP of each loss at 10 % known labels, per seed
SWEEP = TableMeasure("partial_labels", "06", key="loss", at={"proportion": PARTIAL_PROPORTION})
# notebook 06's labelling strategies at one budget, its curriculum after one round, its heads
BUDGET = TableMeasure(
    "partial_labels_budget", "06", key="labelling", at={"proportion": PARTIAL_PROPORTION}
)
CURRICULUM = TableMeasure(
    "partial_labels_curriculum", "06", key="strategy", column="test mAP", at={"round": 1}
)
GNN = TableMeasure("partial_labels_gnn", "06", key="head", at={"proportion": PARTIAL_PROPORTION})

M3_TABLES = {"nuswide": "m3_table1", "coco2014": "m3_table2"}
LQP_TABLES = {"nuswide": "m3_table5", "coco2014": "m3_table6"}
# printed for MS-COCO only
ORDER_TABLES = {"nuswide": "multi_order_table1", "coco2014": "multi_order_table1"}
TOP1_TABLES = {"nuswide": "multi_order_table4", "coco2014": "multi_order_table4"}
FIXED_ORDERS = ("cnn_rnn_frequent_first", "cnn_rnn_rare_first", "cnn_rnn_lexicographic")
M3_OTHERS = ("cnn", "mscnn", "mscnn_tags", "mscnn_lqp")

CLAIMS: tuple[Claim, ...] = (
    *(Claim(f"MS-CNN beats CNN ({m})", m, "mscnn", ("cnn",), M3_TABLES) for m in ("C-F1", "O-F1")),
    *(
        Claim(f"tags help: MS-CNN+Tags beats MS-CNN ({m})", m, "mscnn_tags", ("mscnn",), M3_TABLES)
        for m in ("C-F1", "O-F1")
    ),
    *(
        Claim(f"LQP helps: MS-CNN+LQP beats MS-CNN ({m})", m, "mscnn_lqp", ("mscnn",), M3_TABLES)
        for m in ("C-F1", "O-F1")
    ),
    *(
        Claim(f"tags and LQP together are best ({m})", m, "mscnn_tags_lqp", M3_OTHERS, M3_TABLES)
        for m in ("C-F1", "O-F1")
    ),
    Claim(
        "tags make LQP's count more accurate",
        "LQP-accuracy",
        "mscnn_tags_lqp",
        ("mscnn_lqp",),
        LQP_TABLES,
    ),
    Claim(
        "MS-CNN's recall gain is larger on small objects than on large ones",
        SMALL_GAIN,
        "mscnn",
        ("cnn",),
        text="M3 Sec. II-A: the highest-level features miss the low-level ones with local "
        "information",
    ),
    *(
        Claim(
            f"Multi-order RNN beats every fixed order ({m})",
            m,
            "multi_order_rnn",
            FIXED_ORDERS,
            ORDER_TABLES,
        )
        for m in ("C-F1", "S-F1")
    ),
    Claim(
        "Multi-order RNN's top-1 beats rare-first",
        "top1",
        "multi_order_rnn",
        ("cnn_rnn_rare_first",),
        TOP1_TABLES,
    ),
    Claim(
        "Multi-order RNN's sets follow the label dependencies more often than the CNN's",
        RULES_FOLLOWED,
        "multi_order_rnn",
        ("cnn_threshold",),
        text="Multi-order RNN Sec. 1: an RNN after the CNN encodes inter-label dependencies",
    ),
    *(
        Claim(
            f"CNN-RNN beats the independent-classifier CNN ({metric}, top 3)",
            measure_name,
            "wang_cnn_rnn",
            ("cnn",),
            text="Wang et al. 2016, Sec. 1 and Tables 1–2: the CNN-RNN beats classifiers that "
            "treat labels independently (the tables' other rows are not transcribed)",
        )
        for metric, measure_name in TOP3.items()
    ),
    Claim(
        "partial-BCE beats BCE at 10 % known labels",
        "mAP at 10 %",
        "partial_bce",
        ("bce_negative", "bce_ignore"),
        text="Durand et al. 2019, Sec. 1 and Fig. 1: partial-BCE beats the BCE baselines "
        "(benchmark list: 80.7 mAP at 10 % on VOC 2007; no BCE figure transcribed)",
        measure=SWEEP,
    ),
    *(
        Claim(
            f"partial labels on every image beat {other}, same budget (mAP at 10 %)",
            "mAP at 10 %",
            "partial",
            (key,),
            text="Durand et al. 2019, Sec. 1 and Fig. 1: at one annotation budget, partial labels "
            "on all images beat complete labels on fewer images and noisy labels",
            measure=BUDGET,
        )
        for key, other in (
            ("complete", "complete labels on fewer images"),
            ("noisy", "noisy labels"),
        )
    ),
    *(
        Claim(
            f"curriculum by {TITLES[kind]} beats none (mAP after one round)",
            "mAP after one labelling round",
            kind,
            ("none",),
            text="Durand et al. 2019, Sec. 3: the model labels the unknown entries it is sure of, "
            "and training on them helps (strategies compared, numbers not transcribed)",
            measure=CURRICULUM,
        )
        for kind in STRATEGY_KINDS
        if kind != "none"
    ),
    Claim(
        "the label GNN beats a linear head (mAP at 10 %)",
        "mAP at 10 %",
        "gnn",
        ("linear",),
        text="Durand et al. 2019, Sec. 3: a graph neural network over the labels on the ConvNet "
        "(numbers not transcribed)",
        measure=GNN,
    ),
)
