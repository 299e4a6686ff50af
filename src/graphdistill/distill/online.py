"""OAD's losses and discriminators (Wang et al., "Online Adversarial Knowledge Distillation
for Graph Neural Networks"): the group's knowledge (each student taught by the mean of its
peers' logits) and the ring of peer discriminators (``D_k`` tells student ``k``'s last
hidden embeddings, real, from student ``k-1``'s, fake). The training glue is
:class:`~graphdistill.training.OnlineDistillationModule`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.utils import scatter

from ..errors import ConfigError
from .adversarial import discriminator_accuracy, real_fake_bce
from .logits import softened_kl


class PeerDiscriminator(nn.Module):
    """``D_k``: two graph convolutions over the whole graph scoring each node's embedding as
    coming from student ``k`` (real) or ``k-1`` (fake): each layer is GraphConv's
    ``W_root·h_i + W_rel·agg_{j→i} h_j`` (ReLU between). Returns raw scores (logits): the
    sigmoid is in the BCE, with no ReLU before it (a quirk of the public code).

    Args:
        aggr: neighbour aggregation, ``mean`` (scores independent of node degree) or
            ``sum`` (PyG ``GraphConv``'s default).
        spectral_norm: spectral normalisation of every weight (a Lipschitz-bounded critic),
            which keeps ``D_k`` from becoming arbitrarily confident (see
            :class:`OnlineDistillationModule`).
    """

    def __init__(self, in_channels: int, hidden_channels: int = 64, aggr: str = "mean",
                 spectral_norm: bool = True) -> None:
        super().__init__()
        if aggr not in ("mean", "sum"):
            raise ConfigError(f"PeerDiscriminator: aggr must be 'mean' or 'sum', got {aggr!r}.")
        self.aggr = aggr
        self.root = nn.ModuleList([nn.Linear(in_channels, hidden_channels), nn.Linear(hidden_channels, 1)])
        self.rel = nn.ModuleList([nn.Linear(in_channels, hidden_channels, bias=False),
                                  nn.Linear(hidden_channels, 1, bias=False)])
        if spectral_norm:
            for linear in [*self.root, *self.rel]:
                nn.utils.parametrizations.spectral_norm(linear)

    def forward(self, h: Tensor, edge_index: Tensor) -> Tensor:
        src, dst = edge_index
        for i, (root, rel) in enumerate(zip(self.root, self.rel)):
            if i:
                h = F.relu(h)
            # aggregation commutes with the bias-free W_rel: aggregate the narrower side
            # (the input of layer 1, the 1-wide output of layer 2), the costly part on big graphs
            if rel.out_features < rel.in_features:
                h = root(h) + scatter(rel(h)[src], dst, dim=0, dim_size=h.size(0), reduce=self.aggr)
            else:
                h = root(h) + rel(scatter(h[src], dst, dim=0, dim_size=h.size(0), reduce=self.aggr))
        return h.squeeze(-1)


def peer_mean_logits(logits: list[Tensor]) -> list[Tensor]:
    """For each student ``k``, the mean of the *other* students' logits, detached (the group
    knowledge that teaches ``k``)."""
    if len(logits) < 2:
        raise ConfigError("Online distillation needs at least 2 students.")
    stack = torch.stack([z.detach() for z in logits])
    total = stack.sum(0)
    return [(total - stack[k]) / (len(logits) - 1) for k in range(len(logits))]


def group_kl(logits: list[Tensor], temperature: float) -> list[Tensor]:
    """``T² · KL(softmax(z̄_{-k} / T) || softmax(z_k / T))`` per student, averaged over nodes
    (:func:`~graphdistill.distill.logits.softened_kl` with the peers' mean as the teacher)."""
    return [softened_kl(z, peer, temperature) for z, peer in zip(logits, peer_mean_logits(logits))]


def ring_discriminator_losses(discriminators: list[nn.Module], hidden: list[Tensor],
                              edge_index: Tensor) -> list[tuple[Tensor, Tensor]]:
    """``(loss, accuracy)`` of each ``D_k``: ``BCE(D_k(h_k) → real) + BCE(D_k(h_{k-1}) → fake)``
    on detached embeddings (student ``k-1`` of student 0 is student ``K-1``); accuracy is the
    fraction of nodes ``D_k`` gets right, averaged over the two sides (0.5: fooled)."""
    results = []
    for k, disc in enumerate(discriminators):
        real, fake = disc(hidden[k].detach(), edge_index), disc(hidden[k - 1].detach(), edge_index)
        results.append((real_fake_bce(real, True) + real_fake_bce(fake, False), discriminator_accuracy(real, fake)))
    return results


def ring_fooling_losses(discriminators: list[nn.Module], hidden: list[Tensor], edge_index: Tensor) -> list[Tensor]:
    """Per student ``j``: ``BCE(D_{j+1}(h_j) → real)``, student ``j`` passing for student
    ``j+1`` in front of ``D_{j+1}`` (entry ``j`` of the list)."""
    k = len(discriminators)
    return [real_fake_bce(discriminators[(j + 1) % k](hidden[j], edge_index), True) for j in range(k)]
