"""Feature-map baselines: FitNet (Romero et al., 2015) and attention transfer (AT,
Zagoruyko & Komodakis, 2017), applied to node embeddings."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import Data

from ..models import ModelOutput
from .base import LayerPairComponent, NodeSet, projection_head


class FitNet(LayerPairComponent):
    """Project both embeddings to a shared width (one ``Linear → BN → ReLU`` head per side),
    L2-normalise each node's vector, and take the squared distance between them, averaged
    over nodes. Widths need not match: the heads map both to ``proj_dim``.

    Args:
        proj_dim: width of the shared space.
    """

    name = "fitnet"

    def __init__(self, weight: float = 1.0, nodes: NodeSet = "all", student_layer: int = -1,
                 teacher_layer: int = -1, proj_dim: int = 256) -> None:
        super().__init__(weight, nodes, student_layer, teacher_layer)
        self.proj_dim = proj_dim

    def bind(self, student_widths: list[int], teacher_widths: list[int], num_classes: int) -> None:
        super().bind(student_widths, teacher_widths, num_classes)
        self.student_head = projection_head(self.student_width, self.proj_dim)
        self.teacher_head = projection_head(self.teacher_width, self.proj_dim)

    def forward(self, student: ModelOutput, teacher: ModelOutput, batch: Data) -> Tensor:
        mask = self.node_mask(batch)
        hs, ht = self.pair(student, teacher)
        zs = F.normalize(self.student_head(hs[mask]), dim=-1)
        zt = F.normalize(self.teacher_head(ht[mask]), dim=-1)
        return (zs - zt).pow(2).sum(dim=-1).mean()


class AttentionTransfer(LayerPairComponent):
    """Per-node energy ``e_i = Σ_c h_ic²`` in each model, each energy vector L2-normalised
    across the covered nodes, then the mean squared difference over nodes. Widths need not
    match (the energy is a scalar per node)."""

    name = "at"

    def forward(self, student: ModelOutput, teacher: ModelOutput, batch: Data) -> Tensor:
        mask = self.node_mask(batch)
        hs, ht = self.pair(student, teacher)
        es = F.normalize(hs[mask].pow(2).sum(dim=-1), dim=0)
        et = F.normalize(ht[mask].pow(2).sum(dim=-1), dim=0)
        return F.mse_loss(es, et)
