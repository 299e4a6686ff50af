"""Logit distillation (Hinton et al., 2015)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import Data

from ..errors import ConfigError
from ..models import ModelOutput
from .base import DistillationComponent, NodeSet


class LogitKD(DistillationComponent):
    """``T² · KL(softmax(z_t / T) || softmax(z_s / T))``, averaged over nodes (``batchmean``).

    Hinton's ``(1 - a)·CE + a·T²·KL`` with ``a = 0.9``, ``T = 4`` is this component with
    ``weight: 0.9`` and the distillation module's ``task_weight: 0.1``.

    With ``standardize`` (off by default, which is Hinton's KD), each node's logits are first
    z-scored over the classes, ``(z − mean_c z) / std_c z`` (population std), for teacher and
    student alike (logit standardisation, Sun et al., CVPR 2024). The student then matches
    the *shape* of the teacher's logits, not their scale. This matters when the teacher's
    logits are small: at T = 4 the targets of a teacher whose logits are about 1 in size
    are near-uniform, and plain KD can fall far below the student alone (Coauthor CS, in
    ``benchmarks/results``).

    On a multi-label task (ogbn-proteins: ``C`` independent yes/no tasks, sigmoid outputs)
    the softmax over "classes" would be wrong; there the loss is the binary KL per task,
    ``T² · mean_c KL(Bernoulli(σ(z_t,c / T)) || Bernoulli(σ(z_s,c / T)))``, averaged over
    nodes (``standardize`` is refused: z-scoring across independent tasks has no meaning).

    Args:
        temperature: softmax temperature ``T`` (> 0).
        standardize: z-score each node's logits before the temperature.
    """

    name = "kd"

    def __init__(self, weight: float = 0.9, nodes: NodeSet = "all", temperature: float = 4.0,
                 standardize: bool = False) -> None:
        super().__init__(weight, nodes)
        if not temperature > 0:
            raise ConfigError(f"LogitKD: temperature must be positive, got {temperature}.")
        self.temperature = temperature
        self.standardize = standardize

    def set_multilabel(self, multilabel: bool) -> None:
        if multilabel and self.standardize:
            raise ConfigError("LogitKD: standardize z-scores one softmax over the classes; this dataset is "
                              "multi-label (independent tasks). Use standardize: false.")
        super().set_multilabel(multilabel)

    def _standardized(self, logits: Tensor) -> Tensor:
        if self.standardize:
            return (logits - logits.mean(-1, keepdim=True)) / (logits.std(-1, unbiased=False, keepdim=True) + 1e-7)
        return logits

    def forward(self, student: ModelOutput, teacher: ModelOutput, batch: Data) -> Tensor:
        mask = self.node_mask(batch)
        t = self.temperature
        if self.multilabel:
            return binary_kl(teacher.logits[mask] / t, student.logits[mask] / t).mean(-1).mean() * t * t
        return softened_kl(self._standardized(student.logits[mask]), self._standardized(teacher.logits[mask]), t)


def softened_kl(student_logits: Tensor, teacher_logits: Tensor, temperature: float) -> Tensor:
    """``T² · KL(softmax(z_t / T) || softmax(z_s / T))``, averaged over nodes (``batchmean``):
    Hinton's distillation term, shared by :class:`LogitKD` and OAD's group KL."""
    t = temperature
    log_p_student = F.log_softmax(student_logits / t, dim=-1)
    log_p_teacher = F.log_softmax(teacher_logits / t, dim=-1)
    return F.kl_div(log_p_student, log_p_teacher, log_target=True, reduction="batchmean") * t * t


def binary_kl(teacher_logits: Tensor, student_logits: Tensor) -> Tensor:
    """Element-wise ``KL(Bernoulli(σ(t)) || Bernoulli(σ(s)))``, from logits (stable)."""
    p = torch.sigmoid(teacher_logits)
    return (p * (F.logsigmoid(teacher_logits) - F.logsigmoid(student_logits))
            + (1 - p) * (F.logsigmoid(-teacher_logits) - F.logsigmoid(-student_logits)))
