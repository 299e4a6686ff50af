"""GCN, GraphSAGE, GAT, GIN, R-GCN, GCNII, PropagatedMLP and MLP node classifiers on PyG layers.

All share one forward contract (:class:`~graphdistill.models.base.ModelOutput`). The
stacked models follow one pattern, per hidden layer ``i``::

    h = act(norm_i(layer_i(x, edge_index)))
    h = h + x            (residual, where widths match)
    x = dropout(h)       -> hiddens[i], the input of layer i + 1

starting from ``x = dropout(features)`` (:class:`~graphdistill.models.base.FeatureDropout`);
the last layer produces the logits (no norm, no activation).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import GATConv, GCNConv, GINConv, RGCNConv, SAGEConv
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.nn.resolver import aggregation_resolver
from torch_geometric.utils import degree, scatter

from ..errors import ConfigError
from .base import InputCache, ModelOutput, NodeClassifier, NormType, csr_tensor, make_norm, row_pointers, take_rows
from .layerwise import TargetChunk, TargetChunks


class StackedNodeClassifier(NodeClassifier):
    """A stack of ``num_layers`` layers built by :meth:`make_layer`; see the module docstring."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        hidden_channels: int = 64,
        num_layers: int = 2,
        dropout: float = 0.5,
        norm: NormType = "none",
        residual: bool = False,
        **extra: Any,
    ) -> None:
        super().__init__(
            in_channels, out_channels, hidden_channels, num_layers, dropout, norm, residual, **extra
        )
        widths = [self.input_width()] + [hidden_channels] * (num_layers - 1) + [out_channels]
        self.layers = nn.ModuleList(
            self.make_layer(widths[i], widths[i + 1], last=i == num_layers - 1) for i in range(num_layers)
        )
        self.norms = nn.ModuleList(make_norm(norm, hidden_channels) for _ in range(num_layers - 1))

    def make_layer(self, in_channels: int, out_channels: int, last: bool) -> nn.Module:  # pragma: no cover
        raise NotImplementedError

    def apply_layer(self, layer: nn.Module, x: Tensor | tuple[Tensor, Tensor], edge_index: Tensor | None,
                    edge_attr: Tensor | None = None) -> Tensor:
        """One layer on ``x`` (or a bipartite ``(sources, targets)`` pair); ``edge_attr`` is
        what :meth:`edge_attribute` gives (``None`` but for typed models)."""
        return layer(x, edge_index)

    def encode(self, x: Tensor, **graph: Tensor) -> Tensor:
        """The input of the first layer (the node features; typed models add embeddings)."""
        return x

    def edge_attribute(self, **graph: Tensor) -> Tensor | None:
        """A per-edge tensor every layer takes (``None``; R-GCN's relation types)."""
        return None

    def forward(self, x: Tensor, edge_index: Tensor | None = None, **graph: Tensor) -> ModelOutput:
        if self.uses_graph and edge_index is None:
            raise ValueError(f"{type(self).__name__} needs edge_index.")
        edge_attr = self.edge_attribute(**graph)
        hiddens: list[Tensor] = []
        x = self.input_dropout(self.encode(x, **graph))
        for i, layer in enumerate(self.layers[:-1]):
            h = F.relu(self.norms[i](self.apply_layer(layer, x, edge_index, edge_attr)))
            if self.residual and h.shape == x.shape:
                h = h + x
            x = F.dropout(h, self.dropout, self.training)
            hiddens.append(x)
        logits = self.apply_layer(self.layers[-1], x, edge_index, edge_attr)
        return ModelOutput(logits, hiddens)

    @torch.no_grad()
    def inference(self, x: Tensor, edge_index: Tensor | None = None, batch_size: int | None = None,
                  **graph: Tensor) -> ModelOutput:
        if batch_size is None or batch_size >= x.size(0):
            return self(x, edge_index, **graph)
        if self.uses_graph and edge_index is None:
            raise ValueError(f"{type(self).__name__} needs edge_index.")
        chunks = None
        if self.uses_graph:
            edges, attr = self.inference_edges(edge_index, x.size(0), **graph)
            chunks = TargetChunks(edges, x.size(0), batch_size, edge_attr=attr)
        hiddens: list[Tensor] = []
        x = self.input_dropout(self.encode(x, **graph))  # eval: sparse features stay a CSR matrix
        for i, layer in enumerate(self.layers):
            out = self.apply_layer(layer, x, None) if chunks is None else self.layer_inference(layer, x, chunks)
            if i == len(self.layers) - 1:
                return ModelOutput(out, hiddens)
            h = F.relu(self.norms[i](out))
            if self.residual and h.shape == x.shape:
                h = h + (x.to_dense() if x.layout != torch.strided else x)
            x = h
            hiddens.append(x)
        raise AssertionError("unreachable")

    def layer_inference(self, layer: nn.Module, x: Tensor, chunks: TargetChunks) -> Tensor:
        """One layer's output for every node, a chunk of targets at a time."""
        return torch.cat([self.apply_layer_to_chunk(layer, x, chunk) for chunk in chunks])

    def inference_edges(self, edge_index: Tensor, num_nodes: int, **graph: Tensor) -> tuple[Tensor, Tensor | None]:
        """``(edge_index, edge_attr)`` that :meth:`apply_layer_to_chunk` reads: the graph and
        :meth:`edge_attribute` (GCN gives its normalisation weights instead)."""
        return edge_index, self.edge_attribute(**graph)

    def apply_layer_to_chunk(self, layer: nn.Module, x: Tensor, chunk: TargetChunk) -> Tensor:
        """The layer's output for the chunk's targets, as a bipartite layer: sources
        ``x[chunk.nodes]``, targets ``x[chunk.start:chunk.stop]`` (SAGE, GAT, GIN, R-GCN)."""
        targets = take_rows(x, chunk.nodes[:chunk.num_targets])
        return self.apply_layer(layer, (take_rows(x, chunk.nodes), targets), chunk.edge_index, chunk.edge_attr)


class MLP(StackedNodeClassifier):
    """Multi-layer perceptron on node features alone (the graph-free GLNN-style student).

    Args:
        position_channels: also read the graph's position features (``data.position``,
            made by ``--data.positions`` of the same width, see
            :mod:`graphdistill.data.positions`), concatenated to the node features: the
            node's place in the graph, computed once, so the MLP stays graph-free at
            inference. 0: node features only.
    """

    uses_graph = False

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int = 64, num_layers: int = 2,
                 dropout: float = 0.5, norm: NormType = "none", residual: bool = False,
                 position_channels: int = 0) -> None:
        if position_channels < 0:
            raise ConfigError(f"MLP: position_channels is a width (0: none), got {position_channels}.")
        self.position_channels = position_channels
        # Full-graph training and inference feed the same features and positions every call: keeping their
        # concatenation (pinned, so that FeatureDropout's cache keyed on it holds) lets FeatureDropout find its
        # non-zero pattern once instead of scanning N x (F + P) entries per call, which took most of a forward pass
        self._encoded = InputCache(pin=True)
        extra = {"position_channels": position_channels} if position_channels else {}
        super().__init__(in_channels, out_channels, hidden_channels, num_layers, dropout, norm, residual, **extra)
        self.graph_attributes = ("position",) if position_channels else ()

    def input_width(self) -> int:
        return self.in_channels + self.position_channels

    def encode(self, x: Tensor, **graph: Tensor) -> Tensor:
        if not self.position_channels:
            return x
        position = graph["position"]
        if x.layout == torch.strided and not torch.is_inference_mode_enabled():
            # not under inference mode, where FeatureDropout passes the dense matrix through anyway
            return self._encoded.get((x, position), lambda: torch.cat([x, position.to(x.dtype)], dim=1))
        self._encoded.clear()  # releases the pinned inputs
        dense = x.to_dense() if x.layout != torch.strided else x
        return torch.cat([dense, position.to(dense.dtype)], dim=1)

    def check_graph(self, data: Any) -> None:
        width = data["position"].size(1) if "position" in data else 0
        if self.position_channels and width != self.position_channels:
            raise ConfigError(f"MLP reads {self.position_channels} position features but the data has "
                              f"{width or 'none'}: set --data.positions {self.position_channels} (or the model's "
                              "position_channels to the data's width).")

    def make_layer(self, in_channels: int, out_channels: int, last: bool) -> nn.Module:
        return nn.Linear(in_channels, out_channels)

    def apply_layer(self, layer: nn.Module, x: Tensor | tuple[Tensor, Tensor], edge_index: Tensor | None,
                    edge_attr: Tensor | None = None) -> Tensor:
        return layer(x)


class GCN(StackedNodeClassifier):
    """Graph convolutional network (Kipf & Welling, 2017) on ``GCNConv``.

    Args:
        cached: cache the normalized adjacency (full-batch transductive training only).
        edge_weight: read the graph's ``edge_weight`` (a weighted graph of your own, see
            :mod:`graphdistill.data.files`): each edge counts with its weight in the
            normalisation, ``D^-1/2 (A + I) D^-1/2`` with ``A`` the weighted adjacency and
            self-loops of weight 1, as ``GCNConv`` does. Off (the default), every edge counts 1
            even where the graph has weights.
    """

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int = 64, num_layers: int = 2,
                 dropout: float = 0.5, norm: NormType = "none", residual: bool = False,
                 cached: bool = False, edge_weight: bool = False) -> None:
        self._cached = cached
        extra = {"edge_weight": True} if edge_weight else {}  # the spec (and config hash) of unweighted GCNs stay
        super().__init__(in_channels, out_channels, hidden_channels, num_layers, dropout, norm, residual,
                         cached=cached, **extra)
        self.graph_attributes = ("edge_weight",) if edge_weight else ()

    def make_layer(self, in_channels: int, out_channels: int, last: bool) -> nn.Module:
        return GCNConv(in_channels, out_channels, cached=self._cached)

    def apply_layer(self, layer: nn.Module, x: Tensor | tuple[Tensor, Tensor], edge_index: Tensor | None,
                    edge_attr: Tensor | None = None) -> Tensor:
        return layer(x, edge_index, edge_attr)

    def edge_attribute(self, **graph: Tensor) -> Tensor | None:
        return graph["edge_weight"].float() if self.graph_attributes else None

    def check_graph(self, data: Any) -> None:
        if not self.graph_attributes:
            return
        weight = data.get("edge_weight")
        if weight is None:
            raise ConfigError("GCN reads edge weights (edge_weight: true) but the graph has none: give the graph "
                              "an edge_weight, or set the model's edge_weight: false.")
        if bool((weight < 0).any()):
            raise ConfigError("GCN's normalisation needs non-negative edge weights, but the graph has negative "
                              "ones: rescale them, or set the model's edge_weight: false.")

    def inference_edges(self, edge_index: Tensor, num_nodes: int, **graph: Tensor) -> tuple[Tensor, Tensor | None]:
        # the whole graph's normalisation (with self-loops), as GCNConv computes it
        index, weight = gcn_norm(edge_index, self.edge_attribute(**graph), num_nodes, add_self_loops=True)
        return index, weight

    def layer_inference(self, layer: nn.Module, x: Tensor, chunks: TargetChunks) -> Tensor:
        # GCNConv takes no bipartite input: Â[targets, :] (x W) + b with the whole graph's Â;
        # x W once for every node (a sparse product for sparse features), then chunk by chunk
        xw = layer.lin(x)
        parts = []
        for chunk in chunks:
            src, dst = chunk.edge_index
            parts.append(scatter(chunk.edge_attr.unsqueeze(-1) * xw[chunk.nodes[src]], dst, dim=0,
                                 dim_size=chunk.num_targets, reduce="sum"))
        out = torch.cat(parts)
        return out + layer.bias if layer.bias is not None else out


class GraphSAGE(StackedNodeClassifier):
    """GraphSAGE (Hamilton et al., 2017) on ``SAGEConv``.

    A layer that narrows (``in > out``) with a linear aggregation (mean, sum) projects
    before aggregating, ``aggr(x W_l) + b_l + x W_r``, the same function as ``SAGEConv``'s
    ``aggr(x) W_l + b_l + x W_r`` (same parameters, same checkpoints) but it never
    aggregates raw features: on wide bag-of-words inputs (Coauthor CS: 6,805 columns) the
    first layer takes a sparse product instead of a dense ``N × F`` scatter.

    Args:
        aggr: neighbour aggregation (``mean``, ``max``, ``sum``: ``SAGEConv``'s, with a root
            weight), or ``gcn``: the mean over the node and its neighbours through one weight
            matrix, ``W (x_v + Σ_u x_u) / (deg(v) + 1) + b`` (DGL's ``SAGEConv`` "gcn"
            aggregator, the teacher in GLNN's, NOSMOG's and VQGraph's code; half the weights).
        edge_weight: read the graph's ``edge_weight``: each neighbour's message is scaled by
            its edge's weight before the aggregation, as DGL's ``SAGEConv(edge_weight=...)``
            does (``mean``: ``Σ w_uv x_u / deg(v)``; ``gcn``: ``(x_v + Σ w_uv x_u) / (deg(v) + 1)``,
            ``deg`` counting edges). Off (the default), every edge counts 1.
    """

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int = 64, num_layers: int = 2,
                 dropout: float = 0.5, norm: NormType = "none", residual: bool = False,
                 aggr: str = "mean", edge_weight: bool = False) -> None:
        if aggr != "gcn":
            try:
                aggregation_resolver(aggr)
            except (ValueError, TypeError):
                raise ConfigError(f"GraphSAGE: unknown aggr {aggr!r}: use mean, sum, max or gcn.") from None
        self._aggr = aggr
        extra = {"edge_weight": True} if edge_weight else {}  # the spec (and config hash) of unweighted ones stay
        super().__init__(in_channels, out_channels, hidden_channels, num_layers, dropout, norm, residual,
                         aggr=aggr, **extra)
        self.graph_attributes = ("edge_weight",) if edge_weight else ()

    def edge_attribute(self, **graph: Tensor) -> Tensor | None:
        return graph["edge_weight"].float() if self.graph_attributes else None

    def check_graph(self, data: Any) -> None:
        if self.graph_attributes and data.get("edge_weight") is None:
            raise ConfigError("GraphSAGE reads edge weights (edge_weight: true) but the graph has none: give the "
                              "graph an edge_weight, or set the model's edge_weight: false.")

    @property
    def sparse_input(self) -> bool:  # type: ignore[override]  # the first layer projects first
        first_out = self.hidden_channels if self.num_layers > 1 else self.out_channels
        return self.projects_first(self.input_width(), first_out)

    def projects_first(self, in_channels: int, out_channels: int) -> bool:
        """Whether a layer ``in_channels → out_channels`` projects before aggregating."""
        return self._aggr == "gcn" or (self._aggr in LINEAR_AGGREGATIONS and in_channels > out_channels)

    def make_layer(self, in_channels: int, out_channels: int, last: bool) -> nn.Module:
        if self._aggr == "gcn":  # one weight (lin_l) for the node and its neighbours alike
            return SAGEConv(in_channels, out_channels, aggr="sum", root_weight=False)
        return SAGEConv(in_channels, out_channels, aggr=self._aggr)

    def apply_layer(self, layer: nn.Module, x: Tensor | tuple[Tensor, Tensor], edge_index: Tensor | None,
                    edge_attr: Tensor | None = None) -> Tensor:
        first = self.projects_first(layer.lin_l.in_channels, layer.out_channels)
        if edge_attr is None and not first:
            return layer(x, edge_index)
        sources, targets = x if isinstance(x, tuple) else (x, x)
        h = F.linear(sources, layer.lin_l.weight) if first else sources  # a sparse product for CSR features
        if edge_attr is None:
            out = layer.propagate(edge_index, x=(h, None), size=(sources.size(0), targets.size(0)))
        else:  # edge_weight: each message x_u scaled by its edge's weight before the aggregation
            out = layer.aggr_module(edge_attr.unsqueeze(-1) * h[edge_index[0]], edge_index[1],
                                    dim_size=targets.size(0))
        if self._aggr == "gcn":
            own = h if targets is sources else F.linear(targets, layer.lin_l.weight)
            in_degree = degree(edge_index[1], targets.size(0), dtype=out.dtype)
            return (out + own) / (in_degree + 1).unsqueeze(-1) + layer.lin_l.bias
        out = out + layer.lin_l.bias if first else layer.lin_l(out)
        return out + layer.lin_r(targets)


#: aggregations that commute with a linear map (GraphSAGE projects before aggregating)
LINEAR_AGGREGATIONS = ("mean", "sum", "add")


class GAT(StackedNodeClassifier):
    """Graph attention network (Veličković et al., 2018) on ``GATConv``.

    ``hidden_channels`` is the concatenated width of a hidden layer: each of the ``heads``
    heads outputs ``hidden_channels // heads`` channels. The last layer averages
    ``out_heads`` heads.

    Args:
        heads: attention heads per hidden layer (must divide ``hidden_channels``).
        out_heads: attention heads of the output layer (averaged).
        attn_dropout: dropout on the attention coefficients.
    """

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int = 64, num_layers: int = 2,
                 dropout: float = 0.6, norm: NormType = "none", residual: bool = False,
                 heads: int = 8, out_heads: int = 1, attn_dropout: float = 0.6) -> None:
        if hidden_channels % heads:
            raise ConfigError(f"GAT: hidden_channels ({hidden_channels}) must be divisible by heads ({heads}).")
        self._heads, self._out_heads, self._attn_dropout = heads, out_heads, attn_dropout
        super().__init__(in_channels, out_channels, hidden_channels, num_layers, dropout, norm, residual,
                         heads=heads, out_heads=out_heads, attn_dropout=attn_dropout)

    def make_layer(self, in_channels: int, out_channels: int, last: bool) -> nn.Module:
        if last:
            return GATConv(in_channels, out_channels, heads=self._out_heads, concat=False,
                           dropout=self._attn_dropout)
        return GATConv(in_channels, out_channels // self._heads, heads=self._heads, concat=True,
                       dropout=self._attn_dropout)


class GIN(StackedNodeClassifier):
    """Graph isomorphism network (Xu et al., 2019): ``GINConv`` with a 2-layer MLP per layer.

    Args:
        train_eps: learn the self-loop weight epsilon.
    """

    sparse_input = False  # aggregates raw features before its MLP

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int = 64, num_layers: int = 2,
                 dropout: float = 0.5, norm: NormType = "none", residual: bool = False,
                 train_eps: bool = False) -> None:
        self._train_eps = train_eps
        super().__init__(in_channels, out_channels, hidden_channels, num_layers, dropout, norm, residual,
                         train_eps=train_eps)

    def make_layer(self, in_channels: int, out_channels: int, last: bool) -> nn.Module:
        mlp = nn.Sequential(
            nn.Linear(in_channels, self.hidden_channels), nn.ReLU(), nn.Linear(self.hidden_channels, out_channels)
        )
        return GINConv(mlp, train_eps=self._train_eps)


class RGCN(StackedNodeClassifier):
    """Relational GCN (Schlichtkrull et al., 2018) on a typed graph, PyG's ``RGCNConv``:
    one weight per relation plus a root weight, neighbours averaged per relation.

    The graph is a heterogeneous graph flattened to one node and edge list, as the data
    module builds it for ``ogbn-mag``: node type 0 is the type being classified and the only
    one with features (``x``); every other type ``t`` gets a learnable embedding per node,
    ``Embedding(num_nodes_per_type[t], in_channels)``, looked up by the node's index within
    its type. The graph carries ``node_type``, ``type_index`` (index within the type) and
    ``edge_type`` (relation id); sampled batches carry the same vectors for their nodes.

    Args:
        num_relations: relation types, reverse relations included (8 on ogbn-mag).
        num_nodes_per_type: nodes of each type, the featured type first (on ogbn-mag:
            papers, authors, fields of study, institutions).
        num_bases: basis decomposition of the relation weights (``None``: one full weight
            per relation).
    """

    sparse_input = False  # the first layer's input mixes features and embeddings
    graph_attributes = ("node_type", "type_index", "edge_type")

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int = 64, num_layers: int = 2,
                 dropout: float = 0.5, norm: NormType = "none", residual: bool = False,
                 num_relations: int = 1, num_nodes_per_type: list[int] | None = None,
                 num_bases: int | None = None) -> None:
        num_nodes_per_type = list(num_nodes_per_type or [])
        if num_relations < 1:
            raise ConfigError(f"RGCN: num_relations must be >= 1, got {num_relations}.")
        self._num_relations, self._num_bases = num_relations, num_bases
        super().__init__(in_channels, out_channels, hidden_channels, num_layers, dropout, norm, residual,
                         num_relations=num_relations, num_nodes_per_type=num_nodes_per_type, num_bases=num_bases)
        self.embeddings = nn.ModuleList(nn.Embedding(n, in_channels) for n in num_nodes_per_type[1:])
        for embedding in self.embeddings:
            nn.init.xavier_uniform_(embedding.weight)

    def make_layer(self, in_channels: int, out_channels: int, last: bool) -> nn.Module:
        return RGCNConv(in_channels, out_channels, self._num_relations, num_bases=self._num_bases, aggr="mean")

    def apply_layer(self, layer: nn.Module, x: Tensor | tuple[Tensor, Tensor], edge_index: Tensor | None,
                    edge_attr: Tensor | None = None) -> Tensor:
        return layer(x, edge_index, edge_attr)

    def encode(self, x: Tensor, **graph: Tensor) -> Tensor:
        node_type, type_index = graph["node_type"], graph["type_index"]
        x = x.to_dense() if x.layout != torch.strided else x
        h = torch.where((node_type == 0).unsqueeze(-1), x, torch.zeros((), dtype=x.dtype, device=x.device))
        for t, embedding in enumerate(self.embeddings, start=1):
            rows = (node_type == t).nonzero().view(-1)
            h = h.index_put((rows,), embedding(type_index[rows]))
        return h

    def edge_attribute(self, **graph: Tensor) -> Tensor | None:
        return graph["edge_type"]

    def check_graph(self, data) -> None:
        missing = [a for a in self.graph_attributes if a not in data]
        if missing:
            raise ConfigError(f"RGCN needs a typed graph (node_type, type_index, edge_type; missing: "
                              f"{', '.join(missing)}): use it on ogbn-mag, or a homogeneous model elsewhere.")
        counts = torch.bincount(data.node_type).tolist()
        expected = self.init_args["num_nodes_per_type"]
        relations = int(data.edge_type.max()) + 1 if data.edge_type.numel() else 0
        if counts != expected or relations > self._num_relations:
            raise ConfigError(
                f"RGCN was built for {expected} nodes per type and {self._num_relations} relations, but the graph "
                f"has {counts} and {relations}: set num_nodes_per_type: {counts} and num_relations: {relations} "
                "in the model's init_args.")


class GCNII(NodeClassifier):
    """GCNII (Chen et al., 2020): deep GCN with initial residual and identity mapping.

    ``Linear(in, hidden) → num_layers × GCNIILayer → Linear(hidden, out)``. ``num_layers``
    counts the GCNII layers (2 to 64 and more). :attr:`ModelOutput.hiddens` holds
    ``num_layers + 1`` entries: the input projection, then each layer's output.

    Built for depth on a CPU: the normalised adjacency ``D^-1/2 (A + I) D^-1/2`` and its
    transpose are built once per forward as CSR matrices and shared by every layer (the
    backward pass multiplies by the transpose instead of converting per layer), and hidden
    dropout draws uniform numbers instead of Bernoulli samples (same distribution): a deep
    GCNII trains faster than on PyG's ``GCN2Conv``.

    Args:
        alpha: strength of the initial residual.
        theta: ``lambda`` of the paper; layer ``l`` uses ``beta = log(theta / l + 1)``.
        shared_weights: one weight for the smoothed and the initial representation (GCNII);
            ``False`` gives each its own (GCNII*).
    """

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int = 64, num_layers: int = 16,
                 dropout: float = 0.6, norm: NormType = "none", residual: bool = False,
                 alpha: float = 0.1, theta: float = 0.5, shared_weights: bool = True) -> None:
        super().__init__(in_channels, out_channels, hidden_channels, num_layers, dropout, norm, residual,
                         alpha=alpha, theta=theta, shared_weights=shared_weights)
        self.lin_in = nn.Linear(in_channels, hidden_channels)
        self.convs = nn.ModuleList(
            GCNIILayer(hidden_channels, alpha, math.log(theta / (i + 1) + 1), shared_weights)
            for i in range(num_layers)
        )
        self.norms = nn.ModuleList(make_norm(norm, hidden_channels) for _ in range(num_layers))
        self.lin_out = nn.Linear(hidden_channels, out_channels)

    @property
    def hidden_widths(self) -> list[int]:
        return [self.hidden_channels] * (self.num_layers + 1)

    def forward(self, x: Tensor, edge_index: Tensor | None = None) -> ModelOutput:
        if edge_index is None:
            raise ValueError("GCNII needs edge_index.")
        adj = normalized_adjacency(edge_index, x.size(0))
        x = x0 = F.relu(self.lin_in(self.input_dropout(x)))
        x = _dropout(x, self.dropout, self.training)
        hiddens = [x]
        for conv, norm in zip(self.convs, self.norms):
            h = F.relu(norm(conv(x, x0, adj)))
            if self.residual:
                h = h + x
            x = _dropout(h, self.dropout, self.training)
            hiddens.append(x)
        logits = self.lin_out(x)
        return ModelOutput(logits, hiddens)


class PropagatedMLP(NodeClassifier):
    """An MLP on node features averaged over propagation orders ``0..K``: GRAND's classifier (Feng et
    al., 2020), and with :class:`~graphdistill.distill.ConsistencyRegularization`'s DropNode views,
    GRAND itself.

    ``x̄ = (x + Âx + … + Âᴷx) / (K + 1)`` with ``Â = D^-1/2 (A + I) D^-1/2``, then
    ``Linear → act → … → Linear`` on ``x̄``. The propagation has no parameters, so the model has
    the parameters of an MLP of the same width and depth; a node's output reads ``K`` hops of
    neighbours (:attr:`receptive_field`), not ``num_layers``. The propagation runs on the whole
    input: train it full-graph (neighbor sampling would need ``K`` fan-outs). Without dropout on
    ``x̄`` (eval mode, or ``feature_dropout: 0``) it propagates ``x W`` instead of ``x``: the same
    function (the propagation is linear), on ``hidden_channels`` columns instead of ``in_channels``.

    Args:
        propagation_order: ``K``, the largest power of ``Â`` (GRAND: 8 on Cora, 2 on CiteSeer).
        feature_dropout: dropout on ``x̄``, the first layer's input (GRAND's input dropout);
            ``None``: ``dropout``, which applies to every hidden layer's output.
    """

    sparse_input = False

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int = 64, num_layers: int = 2,
                 dropout: float = 0.5, norm: NormType = "none", residual: bool = False,
                 propagation_order: int = 2, feature_dropout: float | None = None) -> None:
        if propagation_order < 0:
            raise ConfigError(f"PropagatedMLP: propagation_order must be >= 0, got {propagation_order}.")
        if feature_dropout is not None and not 0.0 <= feature_dropout < 1.0:
            raise ConfigError(f"PropagatedMLP: feature_dropout must be in [0, 1), got {feature_dropout}.")
        super().__init__(in_channels, out_channels, hidden_channels, num_layers, dropout, norm, residual,
                         propagation_order=propagation_order, feature_dropout=feature_dropout)
        del self.input_dropout  # dropout on x̄ is feature_dropout, applied after the propagation
        self.propagation_order = propagation_order
        self.feature_dropout = dropout if feature_dropout is None else feature_dropout
        widths = [in_channels] + [hidden_channels] * (num_layers - 1) + [out_channels]
        self.lins = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.norms = nn.ModuleList(make_norm(norm, hidden_channels) for _ in range(num_layers - 1))
        self._adjacency = InputCache()  # full-graph training passes the same edge_index every step

    @property
    def receptive_field(self) -> int:
        return self.propagation_order

    def propagate(self, x: Tensor, edge_index: Tensor) -> Tensor:
        """``(x + Âx + … + Âᴷx) / (K + 1)``."""
        x = x.to_dense() if x.layout != torch.strided else x
        n = x.size(0)  # the same edges with more (isolated) nodes' features are another graph
        adj, adj_t = self._adjacency.get((edge_index,), lambda: normalized_adjacency(edge_index, n), key=n)
        total = h = x
        for _ in range(self.propagation_order):
            h = _SparseMatmul.apply(adj, adj_t, h)
            total = total + h
        return total / (self.propagation_order + 1)

    def forward(self, x: Tensor, edge_index: Tensor | None = None) -> ModelOutput:
        if edge_index is None:
            raise ValueError("PropagatedMLP needs edge_index.")
        first = self.lins[0]
        if self.training and self.feature_dropout > 0.0:
            z = first(_dropout(self.propagate(x, edge_index), self.feature_dropout, True))
        else:  # the propagation is linear, so it can run on x W (hidden_channels columns, not in_channels)
            z = self.propagate(x @ first.weight.t(), edge_index) + first.bias
        hiddens: list[Tensor] = []
        for lin, norm in zip(self.lins[1:], self.norms):
            h = F.relu(norm(z))
            if self.residual and hiddens:
                h = h + hiddens[-1]
            hiddens.append(_dropout(h, self.dropout, self.training))
            z = lin(hiddens[-1])
        return ModelOutput(z, hiddens)


class GCNIILayer(nn.Module):
    """One GCNII layer: ``h = (1 − α)·Â x + α·x0``, output ``(1 − β)·h + β·h W`` (shared
    weights), or ``(1 − α)·((1 − β)·Âx + β·Âx W1) + α·((1 − β)·x0 + β·x0 W2)`` (GCNII*)."""

    def __init__(self, channels: int, alpha: float, beta: float, shared_weights: bool = True) -> None:
        super().__init__()
        self.alpha, self.beta = alpha, beta
        self.weight1 = nn.Parameter(torch.empty(channels, channels))
        self.weight2 = None if shared_weights else nn.Parameter(torch.empty(channels, channels))
        for w in (self.weight1, self.weight2):
            if w is not None:
                nn.init.xavier_uniform_(w)

    def forward(self, x: Tensor, x0: Tensor, adj: tuple[Tensor, Tensor]) -> Tensor:
        ax = _SparseMatmul.apply(adj[0], adj[1], x)
        a, b = self.alpha, self.beta
        if self.weight2 is None:
            h = (1 - a) * ax + a * x0
            return torch.addmm(h, h, self.weight1, beta=1 - b, alpha=b)
        return (1 - a) * torch.addmm(ax, ax, self.weight1, beta=1 - b, alpha=b) + a * torch.addmm(
            x0, x0, self.weight2, beta=1 - b, alpha=b)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, beta={self.beta:.4f}, shared_weights={self.weight2 is None}"


class _SparseMatmul(torch.autograd.Function):
    """``A @ x`` whose backward uses a prebuilt ``Aᵀ`` (no per-call sparse transposition)."""

    @staticmethod
    def forward(ctx, a: Tensor, a_t: Tensor, x: Tensor) -> Tensor:
        ctx.a_t = a_t
        return a @ x

    @staticmethod
    def backward(ctx, grad: Tensor):
        return None, None, ctx.a_t @ grad


def _dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """Inverted dropout from uniform draws: ``x · 1[u ≥ p] / (1 − p)``; on CPU about twice as
    fast as ``F.dropout``'s Bernoulli sampling, with the same distribution."""
    if not training or p == 0.0:
        return x
    return x * (torch.rand_like(x) >= p) / (1.0 - p)


def normalized_adjacency(edge_index: Tensor, num_nodes: int) -> tuple[Tensor, Tensor]:
    """``Â = D^-1/2 (A + I) D^-1/2`` (rows: targets, as PyG's ``adj_t``) and ``Âᵀ``, as CSR
    matrices for ``Â @ x``."""
    index, weight = gcn_norm(edge_index, None, num_nodes, add_self_loops=True)
    return _csr(index[1], index[0], weight, num_nodes), _csr(index[0], index[1], weight, num_nodes)


def _csr(rows: Tensor, cols: Tensor, values: Tensor, n: int) -> Tensor:
    order = (rows * n + cols).argsort()
    rows, cols, values = rows[order], cols[order], values[order]
    return csr_tensor(row_pointers(rows, n), cols, values, (n, n))
