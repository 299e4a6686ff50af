"""Exploration, not a packaged method: a SAGE teacher that also learns a codebook of local structure.

After VQGraph (Yang et al., 2024, arXiv 2308.02117), whose teacher learns a codebook while it
trains: each node's hidden row ``h`` (the 2-layer GraphSAGE's first layer) is L2-normalised and
snapped to its most similar of ``num_codes`` codewords (straight-through); from the snapped row a
linear decoder rebuilds ``h`` and another gives ``z``, whose min-max-scaled Gram matrix ``z zᵀ``
rebuilds the training graph's adjacency. Loss added to the cross-entropy:
``‖sg(ĥ) − e‖² + 0.25 ‖ĥ − sg(e)‖² + λ_node ‖h − dec(e)‖² + λ_edge · RMSE(A, scaled z zᵀ)``.
The codewords start as the first step's normalised rows.

``side`` (benchmarks/grids/glnn_structure_codebook_teacher.yaml): the second layer reads ``h`` and
the codebook is a side branch that shapes ``h``; without it (glnn_quantized_teacher.yaml), the
second layer reads ``z``, decoded from the snapped rows, as VQGraph's does. The MLP
student distils from ``hiddens[-1] = h`` with the packaged components (CodebookKD clusters it).

Full-graph training (the adjacency target is dense, ``N × N``). Run with this folder importable:
``PYTHONPATH=benchmarks/explorations GRAPHDISTILL_ALLOWED_MODELS=structure_codebook_teacher``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import Data
from torch_geometric.utils import to_dense_adj

from graphdistill.models import GraphSAGE, ModelOutput
from graphdistill.training import NodeClassificationModule


class StructureCodebookSAGE(GraphSAGE):
    """2-layer GraphSAGE with a structure-reconstructing codebook on its hidden layer (see the
    module docstring). After a training forward pass, :attr:`structure_loss` holds the added terms."""

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int = 128, num_layers: int = 2,
                 dropout: float = 0.5, norm: str = "none", residual: bool = False, aggr: str = "mean",
                 num_codes: int = 2048, lamb_edge: float = 1.0, lamb_node: float = 1.0, commitment: float = 0.25,
                 side: bool = True) -> None:
        if num_layers != 2:
            raise ValueError("StructureCodebookSAGE has two layers.")
        super().__init__(in_channels, out_channels, hidden_channels, num_layers, dropout, norm, residual, aggr)
        self.init_args.update(num_codes=num_codes, lamb_edge=lamb_edge, lamb_node=lamb_node, commitment=commitment,
                              side=side)
        self.codebook = nn.Parameter(torch.zeros(num_codes, hidden_channels))
        self.register_buffer("codebook_ready", torch.tensor(False))
        self.edge_decoder = nn.Linear(hidden_channels, hidden_channels)
        self.node_decoder = nn.Linear(hidden_channels, hidden_channels)
        self.lamb_edge, self.lamb_node, self.commitment, self.side = lamb_edge, lamb_node, commitment, side
        self.structure_loss: Tensor | None = None

    def forward(self, x: Tensor, edge_index: Tensor | None = None, **graph: Tensor) -> ModelOutput:
        h = F.relu(self.apply_layer(self.layers[0], self.input_dropout(x), edge_index))
        h = F.dropout(h, self.dropout, self.training)
        unit = F.normalize(h, dim=-1)
        if self.training and not bool(self.codebook_ready):
            with torch.no_grad():
                start = unit[torch.randperm(unit.size(0), device=unit.device)[: self.codebook.size(0)]]
                self.codebook[: start.size(0)] = start
                self.codebook_ready.fill_(True)
        codes = F.normalize(self.codebook, dim=-1)
        chosen = codes[(unit @ codes.t()).argmax(dim=1)]
        snapped = unit + (chosen - unit).detach()
        z = self.edge_decoder(snapped)
        logits = self.apply_layer(self.layers[1], h if self.side else z, edge_index)
        if self.training:
            gram = z @ z.t()
            gram = (gram - gram.min()) / (gram.max() - gram.min()).clamp(min=1e-12)
            adjacency = to_dense_adj(edge_index, max_num_nodes=h.size(0))[0]
            self.structure_loss = (F.mse_loss(chosen, unit.detach())
                                   + self.commitment * F.mse_loss(unit, chosen.detach())
                                   + self.lamb_node * F.mse_loss(h, self.node_decoder(snapped))
                                   + self.lamb_edge * F.mse_loss(gram, adjacency).sqrt())
        return ModelOutput(logits, [h])

    @torch.no_grad()
    def inference(self, x: Tensor, edge_index: Tensor | None = None, batch_size: int | None = None,
                  **graph: Tensor) -> ModelOutput:
        return self(x, edge_index)


class StructureCodebookModule(NodeClassificationModule):
    """Plain training plus the model's structure loss (checked for finiteness with the task loss)."""

    def training_loss(self, out: ModelOutput, batch: Data) -> Tensor:
        loss = super().training_loss(out, batch)
        structure = self.model.structure_loss
        self.check_finite({"structure": structure})
        self.log("train/structure", structure)
        return loss + structure
