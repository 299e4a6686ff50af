"""Adversarial feature augmentation (NOSMOG, Tian et al., ICLR 2023): a distillation term
computed on node features perturbed, within a small box, to make that term as large as
possible, so that the student learns outputs that small feature noise does not move."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch_geometric.data import Data

from ..errors import ConfigError
from ..models import ModelOutput
from .base import DistillationComponent


class AdversarialFeatures(DistillationComponent):
    """The term of the wrapped component ``loss``, on the student's outputs for adversarially
    perturbed node features.

    Each training step the perturbation ``δ`` (one row per node, as wide as the features)
    starts uniform in ``[−ε, ε]``; ``steps`` rounds of projected gradient ascent,
    ``δ ← clip(δ + step_size · sign(∇_δ ℓ(student(x + δ))), −ε, ε)``, make the wrapped term
    ``ℓ`` larger; this component's term is then ``ℓ(student(x + δ))``, whose gradient trains
    the student (the ascent itself gives the student's weights no gradient). Only the node
    features are perturbed: not position features, not the graph. Add it beside the clean
    term (the method configs keep ``loss``'s clean copy as a component of its own).

    ``ε`` is relative to the features' scale: ``eps`` times the mean absolute value of the
    feature matrix's non-zero entries in the batch (1 on binary bag-of-words, about 1/30 on
    row-normalised ones), so one setting means the same on both.

    Args:
        loss: the component whose term is computed on perturbed features (an ``nn.Module``,
            injected; its own ``weight`` is ignored: this component's applies; its ``nodes``
            are the nodes covered).
        eps: half-width of the perturbation box, relative to the features' scale (> 0).
        steps: ascent rounds (>= 1).
        step_size: ascent step, relative like ``eps`` (default ``eps``: with one step, a
            random start then one signed-gradient step, clipped to the box).
    """

    name = "adv_features"

    def __init__(self, loss: DistillationComponent, weight: float = 1.0, eps: float = 0.05, steps: int = 1,
                 step_size: float | None = None) -> None:
        if not isinstance(loss, DistillationComponent):
            raise ConfigError(f"AdversarialFeatures: loss must be a distillation component, got {type(loss).__name__}.")
        if isinstance(loss, AdversarialFeatures):
            raise ConfigError("AdversarialFeatures: loss is already an AdversarialFeatures; wrap the plain component.")
        super().__init__(weight, loss.nodes)
        if not eps > 0 or steps < 1 or (step_size is not None and not step_size > 0):
            raise ConfigError(f"AdversarialFeatures: eps and step_size must be positive and steps >= 1, got eps={eps}, "
                              f"steps={steps}, step_size={step_size}.")
        self.loss = loss
        self.eps = eps
        self.steps = steps
        self.step_size = eps if step_size is None else step_size
        self.min_nodes = loss.min_nodes
        self.supports_multilabel = loss.supports_multilabel

    def set_multilabel(self, multilabel: bool) -> None:
        self.loss.set_multilabel(multilabel)
        super().set_multilabel(multilabel)

    def bind(self, student_widths: list[int], teacher_widths: list[int], num_classes: int) -> None:
        self.loss.bind(student_widths, teacher_widths, num_classes)

    def perturbed_output(self, student: Callable[[Tensor], ModelOutput], x: Tensor, teacher: ModelOutput,
                         batch: Data) -> ModelOutput:
        """The student's outputs on ``x + δ`` for the ``δ`` the ascent finds; ``student``
        maps node features to the student's outputs (the rest of its inputs fixed)."""
        x = (x.to_dense() if x.layout != torch.strided else x).detach()
        x = x if x.is_floating_point() else x.float()
        nonzero = int(torch.count_nonzero(x))
        scale = float(x.abs().sum()) / nonzero if nonzero else 1.0
        eps, step = self.eps * scale, self.step_size * scale
        delta = torch.empty_like(x).uniform_(-eps, eps)  # in-place ops below: n × d tensors dominate the cost
        for _ in range(self.steps):
            delta.requires_grad_(True)
            with torch.enable_grad():
                term = self.loss(student(x + delta), teacher, batch)
                (grad,) = torch.autograd.grad(term, delta)
            delta = delta.detach().add_(grad.sign_(), alpha=step).clamp_(-eps, eps)
        return student(x + delta)

    def forward(self, student: ModelOutput, teacher: ModelOutput, batch: Data) -> Tensor:
        """``student``: the outputs on perturbed features (:meth:`perturbed_output`)."""
        return self.loss(student, teacher, batch)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, eps={self.eps}, steps={self.steps}, step_size={self.step_size}"
