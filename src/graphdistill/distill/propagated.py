"""Logit distillation toward the teacher's soft labels smoothed over the graph."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.nn.conv.gcn_conv import gcn_norm

from ..errors import ConfigError
from ..models import InputCache, ModelOutput
from .base import NodeSet, require_full_graph
from .logits import LogitKD


def label_propagation(start: Tensor, edge_index: Tensor, steps: int, alpha: float) -> Tensor:
    """``Y ← (1 − α)·Y₀ + α·D^-1/2 (A + I) D^-1/2 Y``, ``steps`` rounds from ``Y₀ = start``
    (``alpha = 1``: plain propagation, ``(D^-1/2 (A + I) D^-1/2)^steps Y₀``)."""
    index, weight = gcn_norm(edge_index, num_nodes=start.size(0))
    src, dst = index
    weight = weight.unsqueeze(1)
    y = start
    for _ in range(steps):
        y = (1 - alpha) * start + alpha * torch.zeros_like(y).index_add_(0, dst, weight * y[src])
    return y


class PropagatedKD(LogitKD):
    """Logit KD toward targets that the graph has cleaned up: the teacher's class
    probabilities, with each labelled training node's set to its one-hot label, spread over
    the graph by ``steps`` rounds of label propagation,
    ``Y ← (1 − α)·Y₀ + α·D^-1/2 (A + I) D^-1/2 Y`` (Zhou et al., 2004; the "smooth" step of
    Correct & Smooth, Huang et al., 2021, run on the teacher's outputs). A node whose
    neighbours the teacher labels confidently is pulled towards them, so the student learns
    from targets better than the teacher's own. The targets are computed once per run, on
    the graph training sees (in the inductive setting, the observed graph only), from the
    training labels and the teacher; the student stays a plain MLP at inference.

    Full-graph training only (the propagation needs every node at once); single-label
    tasks only.

    Args:
        temperature: softmax temperature ``T`` of the KL, applied to ``log Y``.
        steps: propagation rounds (0: the teacher's probabilities with the training labels
            written in).
        alpha: how much each round takes from the neighbours, in [0, 1).
    """

    name = "pkd"
    supports_multilabel = False

    def __init__(self, weight: float = 1.0, nodes: NodeSet = "all", temperature: float = 1.0, steps: int = 10,
                 alpha: float = 0.8) -> None:
        super().__init__(weight, nodes, temperature)
        if steps < 0 or not 0.0 <= alpha < 1.0:
            raise ConfigError(f"PropagatedKD: steps must be >= 0 and alpha in [0, 1), got steps={steps}, "
                              f"alpha={alpha}.")
        self.steps = steps
        self.alpha = alpha
        self._targets = InputCache()

    def forward(self, student: ModelOutput, teacher: ModelOutput, batch: Data) -> Tensor:
        require_full_graph(batch, "PropagatedKD propagates over the whole graph: use --data.loader full (or LogitKD "
                                  "under neighbor sampling).")
        return super().forward(student, ModelOutput(self.targets(teacher.logits, batch), teacher.hiddens), batch)

    @torch.no_grad()
    def targets(self, teacher_logits: Tensor, batch: Data) -> Tensor:
        """``log Y`` for every node (computed on the first call of a run, then reused: the
        teacher's outputs and the training graph do not change during a run)."""
        return self._targets.get((teacher_logits, batch.edge_index, batch.train_mask),
                                 lambda: self._propagate(teacher_logits, batch))

    def _propagate(self, teacher_logits: Tensor, batch: Data) -> Tensor:
        start = F.softmax(teacher_logits.float(), dim=-1)
        labelled = batch.train_mask
        start[labelled] = F.one_hot(batch.y[labelled], start.size(1)).to(start.dtype)
        y = label_propagation(start, batch.edge_index, self.steps, self.alpha)
        y = y / y.sum(1, keepdim=True).clamp(min=1e-12)
        return y.clamp(min=1e-8).log()

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, temperature={self.temperature}, steps={self.steps}, alpha={self.alpha}"
