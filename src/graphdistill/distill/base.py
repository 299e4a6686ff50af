"""The distillation component API.

A component is an ``nn.Module`` with a ``weight``. The distillation module calls
``component(student, teacher, batch)`` each training step, where ``student`` and
``teacher`` are :class:`~graphdistill.models.ModelOutput` rows for the batch's nodes
(the teacher's precomputed once per run), and adds ``weight · loss`` to the task loss.
Each term is logged on its own as ``train/<name>``. A component with diagnostics worth
watching (sub-terms, an attention map) returns them from :meth:`~DistillationComponent.terms`
as data, ``(loss, logs)``; it keeps no state about the last step.

A component with trainable parts (projection heads) creates them in :meth:`bind`, which
the distillation module calls at construction with the student's and teacher's layer
widths; they then train, checkpoint and move to devices with the student.
"""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn
from torch_geometric.data import Data

from ..data import sampled, seed_mask
from ..errors import ConfigError
from ..models import ModelOutput

NodeSet = Literal["all", "train"]


class DistillationComponent(nn.Module):
    """Base class of every distillation loss term.

    Args:
        weight: multiplier of this term in the total loss.
        nodes: which nodes the loss covers: ``all`` (every seed node of the batch,
            labelled or not: the default for transductive node classification, where the
            teacher's soft labels on unlabelled nodes carry most of the gain) or ``train``
            (the labelled training nodes only).
    """

    #: short name used in logs (``train/<name>``)
    name: str = "component"
    #: fewest covered nodes the loss is defined for; a batch with fewer skips the term
    #: (2 where a BatchNorm head or a per-dimension statistic over the nodes needs them)
    min_nodes: int = 1
    #: whether the loss is defined for multi-label tasks (independent sigmoid outputs,
    #: ogbn-proteins); components that read the logits as one softmax are not
    supports_multilabel: bool = True

    def __init__(self, weight: float = 1.0, nodes: NodeSet = "all") -> None:
        super().__init__()
        if nodes not in ("all", "train"):
            raise ConfigError(f"{type(self).__name__}: nodes must be 'all' or 'train', got {nodes!r}.")
        self.weight = float(weight)
        self.nodes = nodes
        self.multilabel = False

    def set_multilabel(self, multilabel: bool) -> None:
        """Called by the distillation module once the data is known: a multi-label task
        (ogbn-proteins) is refused by components that read the logits as one softmax."""
        if multilabel and not self.supports_multilabel:
            raise ConfigError(f"{type(self).__name__} reads the logits as one softmax over classes, but this dataset "
                              "is multi-label (independent tasks): use LogitKD or a feature method instead.")
        self.multilabel = multilabel

    def bind(self, student_widths: list[int], teacher_widths: list[int], num_classes: int) -> None:
        """Create trainable parts for the given layer widths (``hiddens`` widths of each model).
        Called once by the distillation module; the default has nothing to create."""

    def node_mask(self, batch: Data) -> Tensor:
        """Boolean mask over the batch's nodes that this loss covers: the seed nodes (all
        nodes of a full-graph batch), the labelled ones with ``nodes: train``, and on a typed
        graph (ogbn-mag) only nodes of the classified type."""
        mask = seed_mask(batch)
        return mask & batch.train_mask if self.nodes == "train" else mask

    def forward(self, student: ModelOutput, teacher: ModelOutput, batch: Data) -> Tensor:  # pragma: no cover
        raise NotImplementedError

    def terms(self, student: ModelOutput, teacher: ModelOutput, batch: Data) -> tuple[Tensor, dict[str, Tensor]]:
        """``(loss, logs)``: the loss (what :meth:`forward` gives) and named, detached
        diagnostics. The distillation module logs the scalar ones as ``train/<name>/<key>``
        and hands every one (an attention map too) to callbacks through its
        ``diagnostics``. Default: no diagnostics."""
        return self(student, teacher, batch), {}

    def extra_repr(self) -> str:
        return f"weight={self.weight}, nodes={self.nodes!r}"


class LayerPairComponent(DistillationComponent):
    """A component that aligns one student layer with one teacher layer.

    Args:
        student_layer: index into the student's ``hiddens`` (default ``-1``: the input of
            its last layer).
        teacher_layer: index into the teacher's ``hiddens`` (default ``-1``).
    """

    def __init__(self, weight: float = 1.0, nodes: NodeSet = "all", student_layer: int = -1,
                 teacher_layer: int = -1) -> None:
        super().__init__(weight, nodes)
        self.student_layer = student_layer
        self.teacher_layer = teacher_layer
        self.student_width: int | None = None
        self.teacher_width: int | None = None

    def bind(self, student_widths: list[int], teacher_widths: list[int], num_classes: int) -> None:
        self.student_width = layer_width(student_widths, self.student_layer, "student", type(self).__name__)
        self.teacher_width = layer_width(teacher_widths, self.teacher_layer, "teacher", type(self).__name__)

    def pair(self, student: ModelOutput, teacher: ModelOutput) -> tuple[Tensor, Tensor]:
        return student.hiddens[self.student_layer], teacher.hiddens[self.teacher_layer]


class ProjectedPairComponent(LayerPairComponent):
    """A layer pair compared in a shared space: one trainable ``Linear → BN → ReLU`` head per
    side maps each embedding to ``proj_dim``, so the two widths need not match.

    Args:
        proj_dim: width of the shared space.
    """

    min_nodes = 2  # BatchNorm in training mode needs two nodes

    def __init__(self, weight: float = 1.0, nodes: NodeSet = "all", student_layer: int = -1,
                 teacher_layer: int = -1, proj_dim: int = 256) -> None:
        super().__init__(weight, nodes, student_layer, teacher_layer)
        self.proj_dim = proj_dim

    def bind(self, student_widths: list[int], teacher_widths: list[int], num_classes: int) -> None:
        super().bind(student_widths, teacher_widths, num_classes)
        self.student_head = projection_head(self.student_width, self.proj_dim)
        self.teacher_head = projection_head(self.teacher_width, self.proj_dim)

    def project(self, student: ModelOutput, teacher: ModelOutput, nodes: Tensor) -> tuple[Tensor, Tensor]:
        """L2-normalised projections of the selected nodes' embeddings, student and teacher."""
        hs, ht = self.pair(student, teacher)
        zs = nn.functional.normalize(self.student_head(hs[nodes]), dim=-1)
        zt = nn.functional.normalize(self.teacher_head(ht[nodes]), dim=-1)
        return zs, zt


def require_full_graph(batch: Data, message: str) -> None:
    """Refuse a neighbor-sampled ``batch`` with ``message`` (one line saying what to use
    instead), for components that need every node of the training graph at once."""
    if sampled(batch):
        raise ConfigError(message)


def layer_width(widths: list[int], index: int, side: str, owner: str) -> int:
    """The width of hidden layer ``index`` of ``widths`` (the student's or teacher's), or a
    one-line :class:`ConfigError` naming ``owner`` where there is no such layer."""
    if not widths:
        raise ConfigError(f"{owner}: the {side} has no hidden layer to align (it is a single layer); "
                          f"use a {side} with num_layers >= 2 or a logit-based method such as LogitKD.")
    if not -len(widths) <= index < len(widths):
        raise ConfigError(f"{owner}: {side}_layer={index} is out of range: the {side} has {len(widths)} "
                          f"hidden layers (valid indices {-len(widths)}..{len(widths) - 1}).")
    return widths[index]


def projection_head(in_channels: int, out_channels: int) -> nn.Sequential:
    """``Linear → BatchNorm1d → ReLU``: the projection head of FitNet and G-CRD."""
    return nn.Sequential(nn.Linear(in_channels, out_channels), nn.BatchNorm1d(out_channels), nn.ReLU())
