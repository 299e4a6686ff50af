"""GraphAKD: adversarial distillation with a frozen teacher (He et al., KDD 2022).

The student is the generator; trainable discriminators ("identifiers") learn to tell the
teacher's outputs from the student's, on their own optimizer. The distillation module
switches to manual optimization when a component is an :class:`AdversarialComponent`:
each step it first updates the discriminators (every ``d_critic`` steps, on the student's
detached outputs), then the student (every ``g_critic`` steps) on its loss, in which this
component's term asks the updated discriminators to take the student for the teacher.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import Data

from ..errors import ConfigError
from ..models import ModelOutput
from .base import DistillationComponent, NodeSet


class AdversarialComponent(DistillationComponent):
    """A component with discriminators trained against the student on their own optimizer.

    ``forward`` is the student's (generator's) term, as for every component;
    :meth:`discriminator_loss` is what the discriminators minimise. The discriminators are
    submodules, so they checkpoint and move to devices with the student, but the student's
    optimizer never sees them: :meth:`discriminator_parameters` go to a separate Adam.

    Args:
        d_critic: update the discriminators every ``d_critic`` training steps.
        g_critic: update the student every ``g_critic`` training steps.
        lr: the discriminators' Adam learning rate.
        weight_decay: the discriminators' Adam weight decay.
    """

    def __init__(self, weight: float = 1.0, nodes: NodeSet = "all", d_critic: int = 1, g_critic: int = 1,
                 lr: float = 0.01, weight_decay: float = 5e-4) -> None:
        super().__init__(weight, nodes)
        if d_critic < 1 or g_critic < 1:
            raise ConfigError(f"{type(self).__name__}: d_critic and g_critic must be >= 1 (steps between updates), "
                              f"got d_critic={d_critic}, g_critic={g_critic}.")
        self.d_critic = d_critic
        self.g_critic = g_critic
        self.lr = lr
        self.weight_decay = weight_decay

    def discriminator_parameters(self) -> list[nn.Parameter]:
        return list(self.parameters())

    def discriminator_loss(self, student: ModelOutput, teacher: ModelOutput, batch: Data
                           ) -> tuple[Tensor, dict[str, Tensor]]:  # pragma: no cover
        """``(loss, logs)``: what the discriminators minimise, and its detached sub-terms."""
        raise NotImplementedError


class LogitIdentifier(nn.Module):
    """GraphAKD's logit discriminator: ``h = ReLU(z + W1·z)``, output ``W2·h`` with ``C + 1``
    units. Units ``0..C-1`` classify the node; unit ``C`` scores "teacher" (real) against
    "student" (fake)."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.residual = nn.Linear(num_classes, num_classes)
        self.out = nn.Linear(num_classes, num_classes + 1)

    def forward(self, logits: Tensor) -> tuple[Tensor, Tensor]:
        """``(class_logits [N, C], real_score [N])``."""
        h = F.relu(logits + self.residual(logits))
        out = self.out(h)
        return out[:, :-1], out[:, -1]


class RepresentationIdentifier(nn.Module):
    """GraphAKD's representation discriminator, on L2-normalised node embeddings ``e``.

    * local (edge level): ``score(u, v) = Σ e_u ⊙ d ⊙ e_v`` with a trainable diagonal ``d``;
      the teacher's edges are real, the student's fake.
    * global (summary level, DGI-style): ``score(i, s) = e_iᵀ W s`` with summary
      ``s = σ(mean_i e_i)``; against each of the two summaries (teacher's and student's),
      teacher nodes are real and student nodes fake.
    """

    def __init__(self, width: int) -> None:
        super().__init__()
        self.diagonal = nn.Parameter(torch.ones(width))
        self.bilinear = nn.Parameter(torch.empty(width, width))
        nn.init.xavier_uniform_(self.bilinear)

    def edge_scores(self, e: Tensor, edge_index: Tensor) -> Tensor:
        return (e[edge_index[0]] * self.diagonal * e[edge_index[1]]).sum(-1)

    def summary_scores(self, e: Tensor, summary: Tensor) -> Tensor:
        return e @ (self.bilinear @ summary)

    @staticmethod
    def summary(e: Tensor) -> Tensor:
        return torch.sigmoid(e.mean(0))


def real_fake_bce(scores: Tensor, real: bool) -> Tensor:
    """Mean BCE of discriminator scores (logits) against "real" (1) or "fake" (0); shared
    by GraphAKD's identifiers and OAD's peer discriminators; 0 for no scores."""
    if scores.numel() == 0:  # e.g. no edge among a sampled batch's covered nodes: nothing to score
        return scores.sum()
    target = torch.ones_like(scores) if real else torch.zeros_like(scores)
    return F.binary_cross_entropy_with_logits(scores, target)


def discriminator_accuracy(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """Fraction of real scored real (> 0) and fake scored fake (< 0), averaged over the two
    sides: 0.5 means the discriminator is fooled. Detached, for logging."""
    return ((real_scores > 0).float().mean() + (fake_scores < 0).float().mean()).detach() / 2


class AdversarialDistiller(AdversarialComponent):
    """GraphAKD: a logit identifier and a representation identifier against the student.

    Student (generator) term, each part weighted by its own ``*_weight``:

    * ``logit``: ``BCE(real unit of D_l(z_s) → teacher) + CE(class units of D_l(z_s), y)`` on
      the labelled training nodes for the CE;
    * ``edge`` and ``summary``: the representation identifier's scores of student edges and
      nodes pushed to "teacher";
    * ``l1``: ``‖z_s − z_t‖₁ / N`` (sum over classes, mean over nodes).

    Discriminator loss: real/fake BCE for teacher vs student logits, the identifier's CE
    on both sides' labelled nodes, and the representation identifier's BCE, teacher real
    and student fake, for edges and for nodes against both summaries.

    Every sub-term is logged (``train/graphakd/<part>`` and ``train/disc/graphakd/<part>``).
    The representation identifier reads ``representation: probabilities`` (default: the
    softmax of the logits), ``logits`` or ``hidden`` (the last hidden layers, whose widths
    must then be equal), L2-normalised. Probabilities by default because a freshly
    initialised student's logits are near zero, where normalising them multiplies the
    adversarial gradients by ``1/‖z‖`` and drowns the cross-entropy; a probability
    vector's norm is at least ``1/√C``. Reference settings: ``d_critic`` 1-15 on citation
    graphs, 30 on ogbn-arxiv; Adam for the discriminators.

    ``summary_weight`` defaults to 0.1: the summary score is linear in each node's own
    embedding (``e_iᵀ W s``), so fooling it pulls every student node towards one direction,
    which collapsed students at weight 1. The measurements behind both defaults are in
    ``benchmarks/results/defaults.md``.

    Args:
        logit_weight / edge_weight / summary_weight / l1_weight: weights of the parts of
            the student's term (set one to 0 to drop that part).
        representation: which embeddings the representation identifier compares.
    """

    name = "graphakd"
    supports_multilabel = False  # a (C+1)-way identifier and a softmax over the classes

    def __init__(self, weight: float = 1.0, nodes: NodeSet = "all", d_critic: int = 1, g_critic: int = 1,
                 lr: float = 0.01, weight_decay: float = 5e-4, logit_weight: float = 1.0, edge_weight: float = 1.0,
                 summary_weight: float = 0.1, l1_weight: float = 1.0,
                 representation: Literal["logits", "probabilities", "hidden"] = "probabilities") -> None:
        super().__init__(weight, nodes, d_critic, g_critic, lr, weight_decay)
        if representation not in ("logits", "probabilities", "hidden"):
            raise ConfigError("AdversarialDistiller: representation must be 'logits', 'probabilities' or 'hidden', "
                              f"got {representation!r}.")
        self.weights = {"logit": logit_weight, "edge": edge_weight, "summary": summary_weight, "l1": l1_weight}
        self.representation = representation

    def bind(self, student_widths: list[int], teacher_widths: list[int], num_classes: int) -> None:
        width = num_classes
        if self.representation == "hidden":
            if not student_widths or not teacher_widths:
                raise ConfigError("AdversarialDistiller: representation='hidden' needs a hidden layer in both models; "
                                  "use representation='logits'.")
            if student_widths[-1] != teacher_widths[-1]:
                raise ConfigError(
                    f"AdversarialDistiller: representation='hidden' compares the last hidden layers, but the student's "
                    f"is {student_widths[-1]} wide and the teacher's {teacher_widths[-1]}. Use representation='logits' "
                    "or give both the same hidden width.")
            width = student_widths[-1]
        self.logit_identifier = LogitIdentifier(num_classes)
        self.representation_identifier = RepresentationIdentifier(width)

    # ------------------------------------------------------------------ pieces
    def _embeddings(self, out: ModelOutput) -> Tensor:
        if self.representation == "probabilities":
            e = out.logits.softmax(-1)  # norm >= 1/sqrt(C): normalising it never amplifies gradients
        else:
            e = out.logits if self.representation == "logits" else out.hiddens[-1]
        return F.normalize(e, dim=-1)

    def _edges(self, batch: Data, nodes: Tensor) -> Tensor:
        ei = batch.edge_index
        return ei[:, nodes[ei[0]] & nodes[ei[1]]]

    def _class_loss(self, class_logits: Tensor, batch: Data, nodes: Tensor) -> Tensor:
        labelled = nodes & batch.train_mask
        if not bool(labelled.any()):
            return class_logits.sum() * 0.0
        return F.cross_entropy(class_logits[labelled], batch.y[labelled])

    # ------------------------------------------------------------------ losses
    def forward(self, student: ModelOutput, teacher: ModelOutput, batch: Data) -> Tensor:
        return self.terms(student, teacher, batch)[0]

    def terms(self, student: ModelOutput, teacher: ModelOutput, batch: Data) -> tuple[Tensor, dict[str, Tensor]]:
        """The student's fooling terms, weighted, and each unweighted as a log."""
        nodes = self.node_mask(batch)
        identifier = self.representation_identifier
        classes, real = self.logit_identifier(student.logits)
        es, et = self._embeddings(student), self._embeddings(teacher)
        edges = self._edges(batch, nodes)
        summaries = (identifier.summary(et[nodes]), identifier.summary(es[nodes]))
        parts = {
            "logit": real_fake_bce(real[nodes], True) + self._class_loss(classes, batch, nodes),
            "edge": real_fake_bce(identifier.edge_scores(es, edges), True),
            "summary": sum(real_fake_bce(identifier.summary_scores(es[nodes], s), True) for s in summaries) / 2,
            "l1": (student.logits[nodes] - teacher.logits[nodes]).abs().sum(-1).mean(),
        }
        return sum(self.weights[k] * v for k, v in parts.items()), {k: v.detach() for k, v in parts.items()}

    def discriminator_loss(self, student: ModelOutput, teacher: ModelOutput, batch: Data
                           ) -> tuple[Tensor, dict[str, Tensor]]:
        nodes = self.node_mask(batch)
        identifier = self.representation_identifier
        classes_t, real_t = self.logit_identifier(teacher.logits)
        classes_s, real_s = self.logit_identifier(student.logits)
        es, et = self._embeddings(student), self._embeddings(teacher)
        edges = self._edges(batch, nodes)
        summaries = (identifier.summary(et[nodes]), identifier.summary(es[nodes]))
        parts = {
            "logit": (real_fake_bce(real_t[nodes], True) + real_fake_bce(real_s[nodes], False)
                      + self._class_loss(classes_t, batch, nodes) + self._class_loss(classes_s, batch, nodes)),
            "edge": (real_fake_bce(identifier.edge_scores(et, edges), True)
                     + real_fake_bce(identifier.edge_scores(es, edges), False)),
            "summary": sum(real_fake_bce(identifier.summary_scores(et[nodes], s), True)
                           + real_fake_bce(identifier.summary_scores(es[nodes], s), False) for s in summaries) / 2,
        }
        logs = {k: v.detach() for k, v in parts.items()}
        # how often the logit identifier tells the two apart (0.5: fooled)
        logs["acc"] = discriminator_accuracy(real_t[nodes], real_s[nodes])
        return sum(parts.values()), logs

    def extra_repr(self) -> str:
        return (f"{super().extra_repr()}, d_critic={self.d_critic}, g_critic={self.g_critic}, "
                f"representation={self.representation!r}")
