"""Node-classification datasets, splits and the LightningDataModule."""

from .datamodule import NodeDataModule, num_seeds, sampled, seed_mask, seed_nodes
from .datasets import DATASETS, DatasetInfo, dataset_info, default_root, load_graph
from .splits import per_class_split
from .synthetic import CSBMConfig, make_csbm

__all__ = [
    "DATASETS", "CSBMConfig", "DatasetInfo", "NodeDataModule", "dataset_info", "default_root",
    "load_graph", "make_csbm", "num_seeds", "per_class_split", "sampled", "seed_mask", "seed_nodes",
]
