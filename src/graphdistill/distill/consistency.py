"""Consistency regularisation (GRAND, Feng et al., NeurIPS 2020): random views of every node
pulled toward their sharpened mean prediction. No teacher: it regularises whatever model it is
given to, a teacher in training (its use in graphdistill: a teacher that labels the unlabelled
nodes better teaches a better student) or a student."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import ConfigError


class ConsistencyRegularization(nn.Module):
    """GRAND's random propagation and consistency loss, for any graphdistill model.

    Each training step the model runs ``views`` times on node features with whole rows dropped
    (DropNode: each node's features zeroed with probability ``drop_node``, the others scaled by
    ``1 / (1 - drop_node)``; the graph propagates what is left, so each view is a random
    propagation); the task loss is the mean over the views (GRAND's supervised loss), any
    distillation component reads the first view, and this term is

    ``(1/S) Σ_s mean_i ‖p_s(i) − sharpen(p̄)(i)‖²``,  ``p̄ = (1/S) Σ_s p_s``,  ``sharpen(p)_c ∝ p_c^{1/T}``

    over every node the step covers (labelled or not; the sharpened mean is a constant target),
    with ``p_s`` the softmax of view ``s``. Evaluation and inference see the whole features.
    Injected into a training module as ``consistency`` (:class:`~graphdistill.training.NodeClassificationModule`
    and its subclasses), weighted and checked with the other loss terms (``train/consistency``).

    Args:
        weight: λ, the term's weight (GRAND: 1.0 on Cora, 0.7 on CiteSeer).
        views: S, random views per step (>= 2; GRAND: 4 on Cora, 2 on CiteSeer).
        drop_node: DropNode rate (GRAND: 0.5).
        temperature: sharpening temperature T (GRAND: 0.5; 1 leaves the mean as it is).
    """

    name = "consistency"

    def __init__(self, weight: float = 1.0, views: int = 2, drop_node: float = 0.5,
                 temperature: float = 0.5) -> None:
        super().__init__()
        if views < 2:
            raise ConfigError(f"ConsistencyRegularization: views must be >= 2 (views agree with each other), got "
                              f"{views}.")
        if not 0.0 <= drop_node < 1.0 or not temperature > 0 or not weight >= 0:
            raise ConfigError(f"ConsistencyRegularization: drop_node must be in [0, 1), temperature > 0 and weight "
                              f">= 0, got drop_node={drop_node}, temperature={temperature}, weight={weight}.")
        self.weight, self.views, self.drop_node, self.temperature = float(weight), views, drop_node, temperature

    def drop_nodes(self, x: Tensor) -> Tensor:
        """``x`` with each row zeroed with probability ``drop_node``, the kept rows rescaled (a
        sparse CSR matrix stays one)."""
        if self.drop_node == 0.0:
            return x
        keep = (torch.rand(x.size(0), device=x.device) >= self.drop_node).to(torch.float32) / (1.0 - self.drop_node)
        if x.layout == torch.sparse_csr:
            rows = torch.repeat_interleave(torch.arange(x.size(0), device=x.device), x.crow_indices().diff())
            values = x.values() * keep[rows].to(x.values().dtype)
            return torch.sparse_csr_tensor(x.crow_indices(), x.col_indices(), values, x.shape)
        if not x.is_floating_point():
            raise ConfigError(f"ConsistencyRegularization drops rows of float node features; this model's input is "
                              f"{x.dtype}: leave consistency out for it.")
        return x * keep.to(x.dtype).unsqueeze(1)

    def forward(self, logits: list[Tensor]) -> Tensor:
        """The term for the views' logits (each ``[nodes, classes]``, the covered nodes' rows)."""
        probs = torch.stack([torch.softmax(z.float(), -1) for z in logits])
        sharp = probs.mean(0).detach() ** (1.0 / self.temperature)
        sharp = sharp / sharp.sum(-1, keepdim=True)
        return (probs - sharp).pow(2).sum(-1).mean()

    def extra_repr(self) -> str:
        return (f"weight={self.weight}, views={self.views}, drop_node={self.drop_node}, "
                f"temperature={self.temperature}")
