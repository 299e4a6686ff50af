"""Node-classification networks with explicit per-layer outputs."""

from .base import InputCache, ModelOutput, NodeClassifier, build_model, count_parameters
from .gnn import GAT, GCN, GCNII, GIN, MLP, RGCN, GraphSAGE, PropagatedMLP, StackedNodeClassifier

__all__ = [
    "GAT", "GCN", "GCNII", "GIN", "MLP", "InputCache", "RGCN", "GraphSAGE", "ModelOutput", "NodeClassifier",
    "PropagatedMLP", "StackedNodeClassifier", "build_model", "count_parameters",
]
