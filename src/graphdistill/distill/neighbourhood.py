"""Graph-MLP's neighbourhood contrastive loss: structure taught to a graph-free student."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.nn.conv.gcn_conv import gcn_norm

from ..errors import ConfigError
from ..models import InputCache, ModelOutput
from .base import DistillationComponent, NodeSet, layer_width, require_full_graph
from .structure import sample_nodes


class NeighbourhoodContrast(DistillationComponent):
    """The neighbourhood contrastive loss of Graph-MLP (Hu et al., 2021, arXiv 2106.04051),
    a structure term that needs no teacher: among ``max_nodes`` nodes sampled each step, the
    student's hidden representations of nodes close in the graph are pulled together and
    the rest pushed apart. For node ``i`` of the sample ``B``, with ``s_ij`` the cosine
    similarity of the two nodes' hidden rows,

        ``ℓ_i = −log( Σ_{j∈B, j≠i} γ_ij exp(s_ij / τ) / Σ_{k∈B, k≠i} exp(s_ik / τ) )``,

    where ``γ = Â^hops`` with ``Â = D^-1/2 (A + I) D^-1/2`` (so ``γ_ij > 0`` for nodes at most
    ``hops`` apart); the loss is the mean of ``ℓ_i`` over the sampled nodes with at least one
    such neighbour in the sample. The graph is read only in training; the student stays a
    plain MLP at inference. ``Â^hops`` is computed once per run on the graph training sees
    (in the inductive setting, the observed graph only).

    Full-graph training only (the sample's pairs need the whole graph's ``Â^hops``).

    Args:
        student_layer: index into the student's ``hiddens`` (default ``-1``: the input of its
            last layer).
        hops: the power of ``Â`` (Graph-MLP: 2 or 3).
        temperature: ``τ``.
        max_nodes: nodes sampled per step (the similarity matrix is ``max_nodes²``).
    """

    name = "ncontrast"

    def __init__(self, weight: float = 1.0, nodes: NodeSet = "all", student_layer: int = -1, hops: int = 2,
                 temperature: float = 1.0, max_nodes: int = 2048) -> None:
        super().__init__(weight, nodes)
        if hops < 1 or temperature <= 0 or max_nodes < 2:
            raise ConfigError(f"NeighbourhoodContrast: hops must be >= 1, temperature > 0 and max_nodes >= 2, got "
                              f"hops={hops}, temperature={temperature}, max_nodes={max_nodes}.")
        self.student_layer = student_layer
        self.hops = hops
        self.temperature = temperature
        self.max_nodes = max_nodes
        self._closeness = InputCache()

    def bind(self, student_widths: list[int], teacher_widths: list[int], num_classes: int) -> None:
        layer_width(student_widths, self.student_layer, "student", type(self).__name__)

    def forward(self, student: ModelOutput, teacher: ModelOutput, batch: Data) -> Tensor:
        require_full_graph(batch, "NeighbourhoodContrast reads the whole graph's neighbourhoods: use --data.loader "
                                  "full.")
        idx = sample_nodes(self.node_mask(batch), self.max_nodes)
        z = F.normalize(student.hiddens[self.student_layer][idx], dim=-1)
        logits = (z @ z.t()) / self.temperature
        off_diagonal = ~torch.eye(idx.numel(), dtype=torch.bool, device=z.device)
        gamma = self.closeness_among(batch, idx) * off_diagonal
        has_neighbour = gamma.sum(1) > 0
        if not bool(has_neighbour.any()):
            return logits.sum() * 0.0
        logits = logits.masked_fill(~off_diagonal, float("-inf"))
        log_denominator = torch.logsumexp(logits, dim=1)
        log_numerator = torch.logsumexp(logits + gamma.clamp(min=1e-30).log(), dim=1)
        return (log_denominator - log_numerator)[has_neighbour].mean()

    @torch.no_grad()
    def closeness_among(self, batch: Data, idx: Tensor) -> Tensor:
        """``γ = Â^hops`` restricted to the nodes ``idx``, dense ``[len(idx), len(idx)]``."""
        power = self.closeness(batch)
        row, col = power.indices()
        position = torch.full((batch.num_nodes,), -1, dtype=torch.long, device=idx.device)
        position[idx] = torch.arange(idx.numel(), device=idx.device)
        keep = (position[row] >= 0) & (position[col] >= 0)
        gamma = torch.zeros(idx.numel(), idx.numel(), device=idx.device)
        gamma[position[row[keep]], position[col[keep]]] = power.values()[keep].float()
        return gamma

    @torch.no_grad()
    def closeness(self, batch: Data) -> Tensor:
        """``Â^hops`` of the batch's graph as a coalesced sparse ``[N, N]`` tensor (computed on
        the first call of a run, then reused: the training graph does not change during a run)."""
        return self._closeness.get((batch.edge_index,), lambda: self._power(batch.edge_index, batch.num_nodes))

    def _power(self, edge_index: Tensor, n: int) -> Tensor:
        import scipy.sparse as sp

        normalised, weight = gcn_norm(edge_index, num_nodes=n)  # D^-1/2 (A + I) D^-1/2
        src, dst = normalised.cpu().numpy()
        step = sp.csr_matrix((weight.double().cpu().numpy(), (src, dst)), shape=(n, n))
        power = step
        for _ in range(self.hops - 1):
            power = power @ step
        power = power.tocoo()
        indices = torch.from_numpy(np.vstack([power.row, power.col]).astype(np.int64))
        return torch.sparse_coo_tensor(indices, torch.from_numpy(power.data).float(), (n, n),
                                       check_invariants=False).coalesce().to(edge_index.device)

    def extra_repr(self) -> str:
        return (f"{super().extra_repr()}, student_layer={self.student_layer}, hops={self.hops}, "
                f"temperature={self.temperature}, max_nodes={self.max_nodes}")
