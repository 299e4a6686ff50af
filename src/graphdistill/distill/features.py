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
    L2-normalise each node's vector, and take the mean squared error (over nodes and the
    ``proj_dim`` dimensions). Widths need not match: the heads map both to ``proj_dim``."""

    name = "fitnet"

    def forward(self, student: ModelOutput, teacher: ModelOutput, batch: Data) -> Tensor:
        zs, zt = self.project(student, teacher, self.node_mask(batch))
        return F.mse_loss(zs, zt)


class AttentionTransfer(LayerPairComponent):
    """Per-node energy ``e_i = Σ_c h_ic²`` in each model, each energy vector L2-normalised
    across the covered nodes, then the squared difference per node, averaged over nodes.
    Widths need not match (the energy is a scalar per node).

    A unit vector over ``N`` nodes has entries of size ``1/√N``, so the plain mean squared
    difference shrinks as ``1/N``; the vectors are scaled by ``√N`` (unit root-mean-square
    per node) so that the loss, and a weight, mean the same on any graph."""

    name = "at"

    def forward(self, student: ModelOutput, teacher: ModelOutput, batch: Data) -> Tensor:
        mask = self.node_mask(batch)
        hs, ht = self.pair(student, teacher)
        es = F.normalize(hs[mask].pow(2).sum(dim=-1), dim=0)
        et = F.normalize(ht[mask].pow(2).sum(dim=-1), dim=0)
        return F.mse_loss(es, et) * es.numel()
