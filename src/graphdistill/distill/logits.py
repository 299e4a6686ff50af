"""Logit distillation (Hinton et al., 2015)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import Data

from ..models import ModelOutput
from .base import DistillationComponent, NodeSet


class LogitKD(DistillationComponent):
    """``T² · KL(softmax(z_t / T) || softmax(z_s / T))``, averaged over nodes (``batchmean``).

    Hinton's ``(1 - a)·CE + a·T²·KL`` with ``a = 0.9``, ``T = 4`` is this component with
    ``weight: 0.9`` and the distillation module's ``task_weight: 0.1``.

    Args:
        temperature: softmax temperature ``T``.
    """

    name = "kd"

    def __init__(self, weight: float = 0.9, nodes: NodeSet = "all", temperature: float = 4.0) -> None:
        super().__init__(weight, nodes)
        self.temperature = temperature

    def forward(self, student: ModelOutput, teacher: ModelOutput, batch: Data) -> Tensor:
        mask = self.node_mask(batch)
        t = self.temperature
        log_p_student = F.log_softmax(student.logits[mask] / t, dim=-1)
        log_p_teacher = F.log_softmax(teacher.logits[mask] / t, dim=-1)
        kl = F.kl_div(log_p_student, log_p_teacher, log_target=True, reduction="batchmean")
        return kl * t * t
