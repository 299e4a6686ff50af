"""Evaluation metrics: torchmetrics for every dataset, OGB's own Evaluator for OGB datasets."""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.classification import MulticlassAccuracy


class OGBEvaluatorMetric(Metric):
    """Accumulates predictions and targets and scores them with ``ogb.nodeproppred.Evaluator``.

    ``update`` takes logits (``[N, C]``) and targets (``[N]`` class ids, or ``[N, T]``
    binary labels for multi-label datasets). States are concatenated across DDP ranks.
    """

    full_state_update = False

    def __init__(self, name: str) -> None:
        super().__init__()
        from ogb.nodeproppred import Evaluator

        self.evaluator = Evaluator(name)
        self.metric_key = self.evaluator.eval_metric
        self.add_state("preds", default=[], dist_reduce_fx="cat")
        self.add_state("target", default=[], dist_reduce_fx="cat")

    def update(self, logits: Tensor, target: Tensor) -> None:
        if self.metric_key == "acc":
            self.preds.append(logits.argmax(dim=-1, keepdim=True))
            self.target.append(target.view(-1, 1))
        else:
            self.preds.append(logits.float())
            self.target.append(target)

    def compute(self) -> Tensor:
        preds = torch.cat(self.preds) if isinstance(self.preds, list) else self.preds
        target = torch.cat(self.target) if isinstance(self.target, list) else self.target
        result = self.evaluator.eval({"y_true": target.cpu(), "y_pred": preds.cpu()})
        return torch.tensor(float(result[self.metric_key]))


class MultilabelROCAUC(Metric):
    """The ROC-AUC of each task averaged over the tasks, from logits ``[N, T]`` and 0/1 targets of any dtype (the
    graph's float targets, as the loss reads them), each task over the nodes whose target is known there (``-1``:
    unknown). As OGB's evaluator for ogbn-proteins, a task whose known targets are all 0 or all 1 (its ROC-AUC
    undefined) is left out of the average; with no such task to score, the
    result is 0.5, chance. States are concatenated across DDP ranks."""

    full_state_update = False

    def __init__(self, num_labels: int) -> None:
        super().__init__()
        self.num_labels = num_labels
        self.add_state("preds", default=[], dist_reduce_fx="cat")
        self.add_state("target", default=[], dist_reduce_fx="cat")

    def update(self, logits: Tensor, target: Tensor) -> None:
        self.preds.append(logits.float())
        self.target.append(target.long())

    def compute(self) -> Tensor:
        from torchmetrics.functional.classification import binary_auroc
        from torchmetrics.utilities import dim_zero_cat

        preds, target = dim_zero_cat(self.preds), dim_zero_cat(self.target)
        scored = []
        for t in range(self.num_labels):
            known = target[:, t] >= 0  # -1: this task's target unknown at that node
            positives = int(target[known, t].sum())
            if 0 < positives < int(known.sum()):
                scored.append(binary_auroc(preds[known, t], target[known, t]))
        return torch.stack(scored).mean() if scored else torch.tensor(0.5)


def make_metric(dataset: str, num_classes: int, multilabel: bool = False) -> Metric:
    """The metric that scores ``dataset``: OGB's Evaluator for ``ogbn-*``; else the ROC-AUC
    averaged over the ``num_classes`` tasks of a multi-label graph (as OGB scores
    ogbn-proteins), or accuracy."""
    if dataset.startswith("ogbn-"):
        return OGBEvaluatorMetric(dataset)
    if multilabel:
        return MultilabelROCAUC(num_labels=num_classes)
    return MulticlassAccuracy(num_classes=num_classes, average="micro")


def score(logits: Tensor, target: Tensor) -> float:
    """One evaluation outside training, on the metric training reports: accuracy for class ids (``[N]``), the
    ROC-AUC averaged over tasks for multi-label targets (``[N, T]``)."""
    if target.dim() == 2:
        metric = MultilabelROCAUC(num_labels=target.size(1))
        metric.update(logits, target)
        return float(metric.compute())
    return float((logits.argmax(-1) == target).float().mean())


def split_scores(logits: Tensor, data, parts: tuple[str, ...] = ("val", "test")) -> dict[str, float]:
    """:func:`score` of every node's ``logits`` on the split's ``<part>_mask`` nodes, for each of ``parts``
    whose mask holds a node."""
    masks = {part: data[f"{part}_mask"] for part in parts}
    return {part: score(logits[mask], data.y[mask]) for part, mask in masks.items() if bool(mask.any())}
