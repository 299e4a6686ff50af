"""Feature-map baselines: FitNet (Romero et al., 2015) and attention transfer (AT,
Zagoruyko & Komodakis, 2017), applied to node embeddings."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import Data

from ..models import ModelOutput
from .base import LayerPairComponent, ProjectedPairComponent


class FitNet(ProjectedPairComponent):
    """Project both embeddings to a shared width (one ``Linear → BN → ReLU`` head per side),
    L2-normalise each node's vector, and take the squared distance between them, averaged
    over nodes. Widths need not match: the heads map both to ``proj_dim``."""

    name = "fitnet"

    def forward(self, student: ModelOutput, teacher: ModelOutput, batch: Data) -> Tensor:
        zs, zt = self.project(student, teacher, self.node_mask(batch))
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
