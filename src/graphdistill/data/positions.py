"""Position features: where a node sits in the graph, as a few numbers an MLP can read.

A graph-free student sees only its node's features; position features computed once from
the graph give it a summary of the node's place in the structure (NOSMOG feeds DeepWalk
embeddings; this module gives Laplacian eigenmaps, which need no training and come out
the same on every run; ARPACK's Lanczos iterations on the sparse adjacency, seconds for the
graphs of the GLNN protocol, not tried on graphs of millions of nodes). They are computed on
the graph seen during training; a node
unseen then (the inductive setting) gets the mean position of its neighbours that were
seen, read once when it arrives (NOSMOG's rule), and zeros where it has none.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import ConfigError


def make_positions(kind: str, edge_index: Tensor, num_nodes: int, dims: int, nodes: Tensor | None = None) -> Tensor:
    """Position features of ``kind`` (:data:`POSITION_KINDS`): :func:`spectral_positions` or
    :func:`deepwalk_positions`."""
    return _MAKERS[kind](edge_index, num_nodes, dims, nodes)


def _seen_graph(edge_index: Tensor, num_nodes: int, nodes: Tensor | None) -> tuple[Tensor, int, Tensor]:
    """``(keep, n, edges)``: the mask of the nodes positions are computed for (``nodes``, default all), their
    count, and the edges among them relabelled ``0..n-1``, self-loops removed; one line below 3 nodes."""
    from torch_geometric.utils import remove_self_loops, subgraph

    keep = torch.ones(num_nodes, dtype=torch.bool) if nodes is None else nodes.bool()
    n = int(keep.sum())
    if n < 3:
        raise ConfigError(f"Position features need a graph of at least 3 nodes, got {n}: drop --data.positions.")
    edges, _ = remove_self_loops(subgraph(keep, edge_index.cpu(), relabel_nodes=True, num_nodes=num_nodes)[0])
    return keep, n, edges


def spectral_positions(edge_index: Tensor, num_nodes: int, dims: int, nodes: Tensor | None = None) -> Tensor:
    """Laplacian eigenmaps: the ``dims`` eigenvectors of the symmetric normalised adjacency
    ``D^-1/2 A D^-1/2`` (edges taken both ways) with the largest eigenvalues, i.e. the
    smoothest signals on the graph, each scaled to unit root-mean-square and signed so that
    its largest entry is positive (so the result is the same on every run).

    ``nodes`` (boolean mask): compute them on the subgraph of these nodes only (the nodes
    seen during training); the other rows are zero (see :func:`extend_to_unseen`).
    Returns a ``[num_nodes, dims]`` float tensor."""
    import scipy.sparse as sp
    from scipy.sparse.linalg import eigsh
    from torch_geometric.utils import to_scipy_sparse_matrix

    keep, n, edges = _seen_graph(edge_index, num_nodes, nodes)
    adj = to_scipy_sparse_matrix(edges, num_nodes=n).tocsr()
    adj = ((adj + adj.T) > 0).astype(np.float64)
    degree = np.asarray(adj.sum(axis=1)).ravel()
    scale = sp.diags(1.0 / np.sqrt(np.maximum(degree, 1.0)))
    k = min(dims, n - 2)  # at least 1: _seen_graph refuses fewer than 3 nodes
    start = np.random.default_rng(0).uniform(0.5, 1.5, n)  # a fixed start vector: the same result on every run
    _, vectors = eigsh(scale @ adj @ scale, k=k, which="LA", v0=start, tol=1e-6)
    vectors = vectors[:, ::-1] * np.sqrt(n)  # largest eigenvalue first, unit RMS per column
    signs = np.sign(vectors[np.abs(vectors).argmax(axis=0), np.arange(k)])
    vectors = vectors * np.where(signs == 0, 1.0, signs)
    out = torch.zeros(num_nodes, dims)
    out[keep, :k] = torch.from_numpy(np.ascontiguousarray(vectors)).float()
    return out


def deepwalk_positions(edge_index: Tensor, num_nodes: int, dims: int, nodes: Tensor | None = None,
                       window: int = 5, negatives: int = 5, steps: int = 300, batch_size: int = 4096,
                       lr: float = 0.01, seed: int = 0) -> Tensor:
    """DeepWalk embeddings (Perozzi et al., 2014; the position features NOSMOG feeds its MLP): a node is
    pulled toward the nodes a uniform random walk from it reaches within ``window`` steps and pushed from
    ``negatives`` uniformly drawn nodes per pair (skip-gram with negative sampling, one embedding table as PyG's
    ``Node2Vec``). ``steps`` Adam steps of ``batch_size`` fresh walks from uniformly drawn start nodes (no
    walk corpus is stored, so memory stays ``O(batch)``); a node without edges stays where it is. Seeded: the
    same result on every run on one machine. Each column is scaled to unit root-mean-square, as
    :func:`spectral_positions` does.

    ``nodes`` (boolean mask): walk on the subgraph of these nodes only (the nodes seen during training); the
    other rows are zero (see :func:`extend_to_unseen`). Returns a ``[num_nodes, dims]`` float tensor."""
    from torch_geometric.utils import to_undirected

    keep, n, edges = _seen_graph(edge_index, num_nodes, nodes)
    src, dst = to_undirected(edges, num_nodes=n)  # sorted by source: a CSR of the neighbours
    degree = torch.bincount(src, minlength=n)
    start = torch.cumsum(degree, 0) - degree
    neighbours = torch.cat([dst, dst.new_zeros(1)])  # one entry more: a node without edges indexes it, and stays
    gen = torch.Generator().manual_seed(seed)
    embedding = torch.nn.Parameter(torch.randn(n, dims, generator=gen) / dims ** 0.5)
    optimizer = torch.optim.Adam([embedding], lr=lr)
    for _ in range(steps):
        walk = [torch.randint(0, n, (batch_size,), generator=gen)]
        for _ in range(window):
            here = walk[-1]
            step = (torch.rand(batch_size, generator=gen) * degree[here]).long()
            walk.append(torch.where(degree[here] > 0, neighbours[start[here] + step], here))
        # F.embedding: its CPU backward sums a row's gradients in a fixed order (indexing's may not)
        centre = F.embedding(walk[0], embedding).unsqueeze(1)  # [B, 1, d]
        context = F.embedding(torch.stack(walk[1:], 1), embedding)  # [B, window, d]
        noise = F.embedding(torch.randint(0, n, (batch_size, window * negatives), generator=gen), embedding)
        attract = F.logsigmoid((centre * context).sum(-1)).mean()
        repel = negatives * F.logsigmoid(-(centre * noise).sum(-1)).mean()  # per pair: its negatives' sum
        loss = -attract - repel
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    vectors = embedding.detach()
    vectors = vectors / vectors.pow(2).mean(0, keepdim=True).sqrt().clamp(min=1e-12)
    out = torch.zeros(num_nodes, dims)
    out[keep] = vectors
    return out


_MAKERS = {"spectral": spectral_positions, "deepwalk": deepwalk_positions}
#: the ways :func:`make_positions` computes position features (``--data.position_kind``), the default first
POSITION_KINDS = tuple(_MAKERS)


def extend_to_unseen(positions: Tensor, edge_index: Tensor, unseen: Tensor) -> Tensor:
    """Positions for the ``unseen`` nodes: the mean of their seen neighbours' positions
    (zeros where a node has no seen neighbour); seen nodes keep theirs."""
    from torch_geometric.utils import scatter, to_undirected

    src, dst = to_undirected(edge_index.cpu(), num_nodes=positions.size(0))
    edges = unseen[dst] & ~unseen[src]  # messages from seen neighbours into unseen nodes
    mean = scatter(positions[src[edges]], dst[edges], dim=0, dim_size=positions.size(0), reduce="mean")
    out = positions.clone()
    out[unseen] = mean[unseen]
    return out
