"""ABKD: attention-based distillation of intermediate layers (every teacher layer × every
student layer, weighted by learned attention)."""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import Data

from ..errors import ConfigError
from ..models import ModelOutput
from .base import DistillationComponent, NodeSet
from .structure import sample_nodes


class LayerAttentionDistiller(DistillationComponent):
    """ABKD: a shallow student learns from *all* of a deep teacher's layers, with learned
    attention deciding which teacher layer each student layer imitates.

    The layers are every hidden output (``ModelOutput.hiddens``) and, with
    ``include_logits`` (default), the last layer's output too, so a 2-layer student
    contributes two layers and a 32-layer GCNII teacher 34 (its input projection, 32
    convolutions, its output). For teacher layers ``H_t^1..H_t^L`` and student layers
    ``H_s^1..H_s^M`` over the covered nodes:

    - **Attention** ``A ∈ R^{L×M}``: each layer is mean-pooled over nodes and mapped to
      width ``dim`` by its own trainable linear map (a query per teacher layer, a key per
      student layer); scores ``q_i · k_j / √dim / temperature``; softmax over the student
      axis for each teacher row (``softmax_over="student"``, default) or over the teacher
      axis for each student column (``"teacher"``).
    - **Dissimilarity** ``D ∈ R^{L×M}``: each layer's node embeddings go through their own
      trainable linear map to width ``dim``, are standardised per dimension over the covered
      nodes (``standardize``, default) and L2-normalised per node;
      ``D_ij = mean_n ‖t_i[n] − s_j[n]‖²`` (``dissimilarity="node"``, default) or the
      squared distance between the normalised mean-pooled vectors (``"pooled"``).
    - **Loss** ``Σ_ij A_ij D_ij`` divided by the number of attention distributions
      (``mean_i Σ_j A_ij D_ij`` with the default axis), minus ``entropy_weight`` times the
      mean entropy of those distributions: a positive ``entropy_weight`` counters the
      known collapse of the attention onto one easy pair.

    The attention maps and projections train with the student on this loss. The optional
    logit-KD term of the method is :class:`~graphdistill.distill.LogitKD` in the same
    component list (``configs/methods/abkd_kd.yaml``), so it is weighted and logged on its
    own. :meth:`terms` returns the (detached) map as ``attention_map`` and its mean entropy
    as ``entropy`` (logged as ``train/<name>/entropy``);
    :class:`~graphdistill.callbacks.AttentionMapReport` logs the map per epoch and draws
    the heatmap.

    No public code exists for ABKD; the choices above follow ``methods.md``. One is added:
    without ``standardize`` the trainable maps can send every node of every layer to one
    shared direction, which makes every ``D_ij`` zero and leaves the attention with nothing
    to learn (measured on Cora with a 64-layer GCNII teacher: every entry of ``A`` ended at
    exactly 0.5). Standardising each dimension (zero mean, unit variance over the nodes, as a
    BatchNorm without affine) rules that out. It does not apply to ``"pooled"``.

    Args:
        dim: shared width of the attention and dissimilarity spaces.
        softmax_over: ``"student"`` or ``"teacher"``: the axis each distribution runs over.
        temperature: divides the attention scores (above 1 flattens the attention).
        dissimilarity: ``"node"`` (per-node distance, averaged) or ``"pooled"``.
        entropy_weight: weight of the entropy bonus against attention collapse.
        standardize: zero mean, unit variance per projected dimension before the distance.
        include_logits: treat each model's output (logits) as its last layer.
        max_nodes: covered nodes sampled per step (``None``: all of them).
    """

    name = "abkd"
    min_nodes = 2  # standardised per dimension over the nodes

    def __init__(self, weight: float = 1.0, nodes: NodeSet = "all", dim: int = 128,
                 softmax_over: Literal["student", "teacher"] = "student", temperature: float = 1.0,
                 dissimilarity: Literal["node", "pooled"] = "node", entropy_weight: float = 0.0,
                 standardize: bool = True, include_logits: bool = True, max_nodes: int | None = None) -> None:
        super().__init__(weight, nodes)
        if softmax_over not in ("student", "teacher"):
            raise ConfigError("LayerAttentionDistiller: softmax_over must be 'student' or 'teacher', "
                              f"got {softmax_over!r}.")
        if dissimilarity not in ("node", "pooled"):
            raise ConfigError("LayerAttentionDistiller: dissimilarity must be 'node' or 'pooled', "
                              f"got {dissimilarity!r}.")
        if temperature <= 0:
            raise ConfigError(f"LayerAttentionDistiller: temperature must be positive, got {temperature}.")
        self.dim = dim
        self.softmax_over = softmax_over
        self.temperature = temperature
        self.dissimilarity = dissimilarity
        self.entropy_weight = entropy_weight
        self.standardize = standardize
        self.include_logits = include_logits
        self.max_nodes = max_nodes

    def bind(self, student_widths: list[int], teacher_widths: list[int], num_classes: int) -> None:
        extra = [num_classes] if self.include_logits else []
        student, teacher = [*student_widths, *extra], [*teacher_widths, *extra]
        for side, widths in (("student", student), ("teacher", teacher)):
            if not widths:
                raise ConfigError(f"LayerAttentionDistiller: the {side} has no hidden layer to align; use a {side} "
                                  "with num_layers >= 2 or set include_logits: true.")
        self.teacher_query = nn.ModuleList(nn.Linear(w, self.dim) for w in teacher)
        self.student_key = nn.ModuleList(nn.Linear(w, self.dim) for w in student)
        self.teacher_proj = nn.ModuleList(nn.Linear(w, self.dim) for w in teacher)
        self.student_proj = nn.ModuleList(nn.Linear(w, self.dim) for w in student)

    def layers(self, out: ModelOutput) -> list[Tensor]:
        return [*out.hiddens, out.logits] if self.include_logits else list(out.hiddens)

    def attention(self, student: list[Tensor], teacher: list[Tensor]) -> Tensor:
        """``A`` (teacher layers × student layers) from the layers' node embeddings."""
        q = torch.stack([f(h.mean(0)) for f, h in zip(self.teacher_query, teacher)])
        k = torch.stack([f(h.mean(0)) for f, h in zip(self.student_key, student)])
        scores = q @ k.t() / (math.sqrt(self.dim) * self.temperature)
        return scores.softmax(dim=1 if self.softmax_over == "student" else 0)

    def dissimilarities(self, student: list[Tensor], teacher: list[Tensor]) -> Tensor:
        """``D`` (teacher layers × student layers) from the layers' node embeddings."""
        t = [f(h) for f, h in zip(self.teacher_proj, teacher)]
        s = [f(h) for f, h in zip(self.student_proj, student)]
        if self.dissimilarity == "pooled":
            tp = F.normalize(torch.stack([x.mean(0) for x in t]), dim=-1)
            sp = F.normalize(torch.stack([x.mean(0) for x in s]), dim=-1)
            return (tp.unsqueeze(1) - sp.unsqueeze(0)).pow(2).sum(-1)
        tn, sn = torch.stack(t), torch.stack(s)  # L × N × dim, M × N × dim
        if self.standardize:
            tn, sn = _standardize(tn), _standardize(sn)
        tn, sn = F.normalize(tn, dim=-1), F.normalize(sn, dim=-1)
        # mean_n ‖t − s‖² = mean_n ‖t‖² + mean_n ‖s‖² − 2 mean_n t·s, without an L × M × N × dim tensor
        cross = torch.einsum("lnd,mnd->lm", tn, sn) / tn.size(1)
        return tn.pow(2).sum(-1).mean(1).unsqueeze(1) + sn.pow(2).sum(-1).mean(1).unsqueeze(0) - 2 * cross

    def forward(self, student: ModelOutput, teacher: ModelOutput, batch: Data) -> Tensor:
        return self.terms(student, teacher, batch)[0]

    def terms(self, student: ModelOutput, teacher: ModelOutput, batch: Data) -> tuple[Tensor, dict[str, Tensor]]:
        """The loss, and as logs the attention map ``attention_map`` (teacher layers ×
        student layers) and its mean entropy ``entropy``."""
        idx = sample_nodes(self.node_mask(batch), self.max_nodes)
        hs = [h[idx] for h in self.layers(student)]
        ht = [h[idx] for h in self.layers(teacher)]
        a = self.attention(hs, ht)
        d = self.dissimilarities(hs, ht)
        distributions = a.size(0) if self.softmax_over == "student" else a.size(1)
        loss = (a * d).sum() / distributions
        entropy = -(a * a.clamp_min(1e-12).log()).sum() / distributions
        logs = {"attention_map": a.detach(), "entropy": entropy.detach()}
        return (loss - self.entropy_weight * entropy if self.entropy_weight else loss), logs

    def extra_repr(self) -> str:
        return (f"{super().extra_repr()}, dim={self.dim}, softmax_over={self.softmax_over!r}, "
                f"temperature={self.temperature}, dissimilarity={self.dissimilarity!r}, "
                f"entropy_weight={self.entropy_weight}, standardize={self.standardize}")


def _standardize(x: Tensor, eps: float = 1e-5) -> Tensor:
    """Zero mean and unit variance over the nodes (dim 1), per layer and dimension."""
    mean = x.mean(1, keepdim=True)
    var = x.var(1, unbiased=False, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps)
