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


def make_metric(dataset: str, num_classes: int) -> Metric:
    """The metric that scores ``dataset``: OGB's Evaluator for ``ogbn-*``, accuracy otherwise."""
    if dataset.startswith("ogbn-"):
        return OGBEvaluatorMetric(dataset)
    return MulticlassAccuracy(num_classes=num_classes, average="micro")
