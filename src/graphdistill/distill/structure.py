"""Structure-preserving distillation: LSP (Yang et al., 2020) and its global variant GSP."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.utils import scatter, softmax

from ..errors import ConfigError
from ..models import ModelOutput
from .base import LayerPairComponent, NodeSet

Kernel = Literal["cosine", "poly", "l2", "neg_sq_l2", "rbf"]
KERNELS = ("cosine", "poly", "l2", "neg_sq_l2", "rbf")


def similarity(a: Tensor, b: Tensor, kernel: Kernel, gamma: float = 1.0, pairwise: bool = False) -> Tensor:
    """Kernel similarity between rows of ``a`` and ``b``: row by row (``[N]``), or every
    pair (``[N, M]``) with ``pairwise``.

    ``cosine``: cosine similarity; ``poly``: its square; ``l2``: the Euclidean distance
    ``‖a − b‖`` (as the G-CRD reference code has it, a distance used as the score);
    ``neg_sq_l2``: the negative squared distance (a similarity); ``rbf``:
    ``exp(-gamma · squared distance)``.
    """
    if kernel in ("cosine", "poly"):
        a, b = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
        cos = a @ b.t() if pairwise else (a * b).sum(dim=-1)
        return cos if kernel == "cosine" else cos.pow(2)
    if kernel == "l2":
        return torch.cdist(a, b) if pairwise else (a - b).norm(dim=-1)
    sq = torch.cdist(a, b).pow(2) if pairwise else (a - b).pow(2).sum(dim=-1)
    return -sq if kernel == "neg_sq_l2" else torch.exp(-gamma * sq)


class _KernelComponent(LayerPairComponent):
    def __init__(self, weight: float, nodes: NodeSet, student_layer: int, teacher_layer: int,
                 kernel: Kernel, gamma: float) -> None:
        super().__init__(weight, nodes, student_layer, teacher_layer)
        if kernel not in KERNELS:
            raise ConfigError(f"{type(self).__name__}: unknown kernel {kernel!r}; choose one of {', '.join(KERNELS)}.")
        self.kernel = kernel
        self.gamma = gamma


class LocalStructurePreserving(_KernelComponent):
    """LSP: for every edge ``(j → i)`` a kernel similarity between ``i``'s and ``j``'s
    embeddings; a softmax over each node's in-edges gives a distribution over its
    neighbours in each model; the loss is ``KL(teacher || student)`` per node, averaged over
    nodes that have in-edges.

    Edges covered: with ``nodes: all``, every edge whose target is a seed node; with
    ``nodes: train``, the edges of the subgraph induced by the training nodes (the choice
    for large graphs).

    Args:
        kernel: ``cosine``, ``poly``, ``l2``, ``neg_sq_l2`` or ``rbf`` (see :func:`similarity`).
        gamma: RBF bandwidth (``exp(-gamma · d²)``).
    """

    name = "lsp"

    def __init__(self, weight: float = 1.0, nodes: NodeSet = "all", student_layer: int = -1,
                 teacher_layer: int = -1, kernel: Kernel = "rbf", gamma: float = 1.0) -> None:
        super().__init__(weight, nodes, student_layer, teacher_layer, kernel, gamma)

    def forward(self, student: ModelOutput, teacher: ModelOutput, batch: Data) -> Tensor:
        mask = self.node_mask(batch)
        src, dst = batch.edge_index
        keep = mask[dst] & (mask[src] if self.nodes == "train" else True) & (src != dst)
        src, dst = src[keep], dst[keep]
        if src.numel() == 0:
            return student.logits.sum() * 0.0
        hs, ht = self.pair(student, teacher)
        n = hs.size(0)
        p_student = softmax(similarity(hs[src], hs[dst], self.kernel, self.gamma), dst, num_nodes=n)
        p_teacher = softmax(similarity(ht[src], ht[dst], self.kernel, self.gamma), dst, num_nodes=n)
        eps = 1e-12
        kl_edge = p_teacher * (torch.log(p_teacher + eps) - torch.log(p_student + eps))
        kl_node = scatter(kl_edge, dst, dim=0, dim_size=n, reduce="sum")
        return kl_node[torch.unique(dst)].mean()


class GlobalStructurePreserving(_KernelComponent):
    """GSP: sample up to ``max_nodes`` covered nodes, build the full pairwise kernel matrix in
    each model's space, and take the mean squared difference of the two matrices.

    Args:
        kernel: ``cosine``, ``poly``, ``l2``, ``neg_sq_l2`` or ``rbf`` (see :func:`similarity`).
        gamma: RBF bandwidth.
        max_nodes: nodes sampled per step (the matrices are ``max_nodes²``).
    """

    name = "gsp"

    def __init__(self, weight: float = 1.0, nodes: NodeSet = "all", student_layer: int = -1,
                 teacher_layer: int = -1, kernel: Kernel = "cosine", gamma: float = 1.0,
                 max_nodes: int = 1024) -> None:
        super().__init__(weight, nodes, student_layer, teacher_layer, kernel, gamma)
        self.max_nodes = max_nodes

    def forward(self, student: ModelOutput, teacher: ModelOutput, batch: Data) -> Tensor:
        idx = sample_nodes(self.node_mask(batch), self.max_nodes)
        hs, ht = self.pair(student, teacher)
        ks = similarity(hs[idx], hs[idx], self.kernel, self.gamma, pairwise=True)
        kt = similarity(ht[idx], ht[idx], self.kernel, self.gamma, pairwise=True)
        return F.mse_loss(ks, kt)


def sample_nodes(mask: Tensor, max_nodes: int | None) -> Tensor:
    """Indices of the covered nodes, a uniform random subset of ``max_nodes`` if there are more
    (all of them when ``max_nodes`` is ``None``)."""
    idx = mask.nonzero().view(-1)
    if max_nodes is not None and idx.numel() > max_nodes:
        idx = idx[torch.randperm(idx.numel(), device=idx.device)[:max_nodes]]
    return idx
