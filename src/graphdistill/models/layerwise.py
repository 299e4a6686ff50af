"""Layer-wise full-neighbourhood inference: the pieces a model needs to compute one layer for
every node, a chunk of target nodes at a time.

Evaluating a ``L``-layer GNN on mini-batches of seed nodes with their full ``L``-hop
neighbourhoods builds a receptive field per batch that grows with the degree to the power
``L``, and recomputes shared nodes again and again. Layer-wise inference instead computes
layer 1 for all nodes, then layer 2 from those outputs, and so on: every layer is computed
once per node, and memory is bounded by a few ``[num_nodes, width]`` tensors plus the
one-hop messages of one chunk of targets (``batch_size`` targets and their in-edges).
The results equal a full-graph forward pass in eval mode (up to float rounding).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class TargetChunk:
    """One chunk of target nodes with their one-hop in-neighbourhood, relabelled.

    ``nodes`` are global ids: the targets first (``nodes[:num_targets]`` is
    ``arange(start, stop)``), then every other source of an in-edge. ``edge_index`` runs
    from positions in ``nodes`` to positions among the targets, so a bipartite layer takes
    ``(x[nodes], x[start:stop])``.
    """

    start: int
    stop: int
    nodes: Tensor
    edge_index: Tensor
    edge_attr: Tensor | None

    @property
    def num_targets(self) -> int:
        return self.stop - self.start


class TargetChunks:
    """Iterates over :class:`TargetChunk` s of ``batch_size`` consecutive target nodes.

    The edges are sorted by target once (CSR order), so each chunk's in-edges are one
    contiguous slice.

    Args:
        edge_index: ``[2, E]`` edges (source, target).
        num_nodes: number of nodes.
        batch_size: targets per chunk.
        edge_attr: an optional ``[E, ...]`` tensor per edge, carried along (GCN's
            normalisation weights, R-GCN's relation types).
    """

    def __init__(self, edge_index: Tensor, num_nodes: int, batch_size: int,
                 edge_attr: Tensor | None = None) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
        order = torch.argsort(edge_index[1] * num_nodes + edge_index[0])
        self.src = edge_index[0, order]
        self.dst = edge_index[1, order]
        self.attr = edge_attr[order] if edge_attr is not None else None
        counts = torch.bincount(self.dst, minlength=num_nodes)
        self.ptr = torch.zeros(num_nodes + 1, dtype=torch.long, device=edge_index.device)
        self.ptr[1:] = torch.cumsum(counts, 0)
        self.num_nodes = num_nodes
        self.batch_size = batch_size
        self._position = torch.full((num_nodes,), -1, dtype=torch.long, device=edge_index.device)

    def __len__(self) -> int:
        return -(-self.num_nodes // self.batch_size)

    def __iter__(self) -> Iterator[TargetChunk]:
        for start in range(0, self.num_nodes, self.batch_size):
            yield self.chunk(start, min(start + self.batch_size, self.num_nodes))

    def chunk(self, start: int, stop: int) -> TargetChunk:
        lo, hi = int(self.ptr[start]), int(self.ptr[stop])
        src, dst = self.src[lo:hi], self.dst[lo:hi] - start
        targets = torch.arange(start, stop, device=src.device)
        outside = src[(src < start) | (src >= stop)].unique()
        nodes = torch.cat([targets, outside])
        position = self._position
        position[nodes] = torch.arange(nodes.numel(), device=src.device)
        local_src = position[src]
        position[nodes] = -1
        attr = self.attr[lo:hi] if self.attr is not None else None
        return TargetChunk(start, stop, nodes, torch.stack([local_src, dst]), attr)
