"""Soft code-assignment distillation: the teacher's representation space cut into a codebook."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import Data

from ..errors import ConfigError
from ..models import InputCache, ModelOutput
from .base import LayerPairComponent, NodeSet, require_full_graph


class CodebookKD(LayerPairComponent):
    """Distillation of soft code assignments, after VQGraph (Yang et al., 2024, arXiv
    2308.02117): the student learns, through a linear head on its hidden layer, to predict
    how close each node's teacher representation is to each of ``num_codes`` codewords. The
    codewords describe the teacher's representations of nodes with their neighbourhoods
    (a GNN's hidden layer mixes each node's neighbourhood), far more finely than its few
    classes.

    VQGraph learns its codebook while it trains the teacher; here the codebook is made once
    per run from any trained teacher: spherical k-means (``iterations`` rounds, seeded start)
    on the teacher's L2-normalised hidden rows of every node of the training graph. Targets:
    ``softmax(cos(h_t, c_k) / T)`` over codewords ``c_k``; loss: the KL divergence to the
    head's ``log_softmax``, mean over the covered nodes. The head trains with the student and
    is not used at inference.

    Full-graph training only (the codebook needs every node's teacher representation at once).

    Args:
        num_codes: codewords (at most the number of nodes).
        temperature: ``T`` of the targets' softmax over cosine similarities.
        iterations: k-means rounds.
    """

    name = "codebook"

    def __init__(self, weight: float = 1.0, nodes: NodeSet = "all", student_layer: int = -1, teacher_layer: int = -1,
                 num_codes: int = 256, temperature: float = 0.1, iterations: int = 20) -> None:
        super().__init__(weight, nodes, student_layer, teacher_layer)
        if num_codes < 2 or temperature <= 0 or iterations < 1:
            raise ConfigError(f"CodebookKD: num_codes must be >= 2, temperature > 0 and iterations >= 1, got "
                              f"num_codes={num_codes}, temperature={temperature}, iterations={iterations}.")
        self.num_codes = num_codes
        self.temperature = temperature
        self.iterations = iterations
        self._targets = InputCache()

    def bind(self, student_widths: list[int], teacher_widths: list[int], num_classes: int) -> None:
        super().bind(student_widths, teacher_widths, num_classes)
        self.head = nn.Linear(self.student_width, self.num_codes)

    def forward(self, student: ModelOutput, teacher: ModelOutput, batch: Data) -> Tensor:
        require_full_graph(batch, "CodebookKD builds its codebook from every node's teacher representation: use "
                                  "--data.loader full.")
        hs, ht = self.pair(student, teacher)
        mask = self.node_mask(batch)
        targets = self.targets(ht)[mask]
        return F.kl_div(F.log_softmax(self.head(hs[mask]), dim=-1), targets, reduction="batchmean")

    @torch.no_grad()
    def targets(self, teacher_hidden: Tensor) -> Tensor:
        """Soft code assignments of every node (computed on the first call of a run, then
        reused: the teacher's outputs do not change during a run)."""
        return self._targets.get((teacher_hidden,), lambda: self._assignments(teacher_hidden))

    def _assignments(self, teacher_hidden: Tensor) -> Tensor:
        points = F.normalize(teacher_hidden.float(), dim=-1)
        codes = spherical_kmeans(points, self.num_codes, self.iterations)
        return F.softmax(points @ codes.t() / self.temperature, dim=-1)

    def extra_repr(self) -> str:
        return (f"{super().extra_repr()}, num_codes={self.num_codes}, temperature={self.temperature}, "
                f"iterations={self.iterations}")


def spherical_kmeans(points: Tensor, k: int, iterations: int, seed: int = 0) -> Tensor:
    """``k`` unit-norm centroids of unit-norm ``points`` ``[n, d]``: start from ``k`` distinct
    points drawn with ``seed``, then ``iterations`` rounds of assigning each point to its most
    similar centroid (cosine) and renormalising each cluster's mean; a centroid whose cluster
    empties keeps its place. The same result on every run."""
    if k > points.size(0):
        raise ConfigError(f"CodebookKD: num_codes={k} is more than the graph's {points.size(0)} nodes.")
    generator = torch.Generator().manual_seed(seed)
    codes = points[torch.randperm(points.size(0), generator=generator)[:k].to(points.device)].clone()
    for _ in range(iterations):
        assignment = (points @ codes.t()).argmax(dim=1)
        sums = torch.zeros_like(codes).index_add_(0, assignment, points)
        filled = torch.bincount(assignment, minlength=k) > 0
        codes[filled] = F.normalize(sums[filled], dim=-1)
    return codes
