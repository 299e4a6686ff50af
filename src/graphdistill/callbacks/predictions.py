"""``graphdistill predict`` writes what it predicts: one CSV row per node."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.callbacks import BasePredictionWriter

from ..training.checkpoint import atomic_write


class PredictionWriter(BasePredictionWriter):
    """Writes the predictions of ``trainer.predict`` on the whole graph to ``path`` (CSV,
    written atomically, by the global rank 0 only).

    Columns: ``node`` (a node table's ``id``, else the node's row in the file or dataset: see
    :meth:`~graphdistill.data.NodeDataModule.node_names`); for a single-label graph
    ``prediction`` (the class number), ``class`` (its name, where the graph names its classes),
    ``confidence`` (the largest class probability) and one probability column per class
    (``p_<name>``, or ``p_<number>``); for a multi-label graph one probability column per task
    (``p_task<t>``).
    """

    def __init__(self, path: str | Path) -> None:
        super().__init__(write_interval="epoch")
        self.path = Path(path)

    def write_on_epoch_end(self, trainer: Any, pl_module: Any, predictions: Any, batch_indices: Any) -> None:
        if not trainer.is_global_zero:
            return
        import pandas as pd

        datamodule = trainer.datamodule
        logits = torch.cat([torch.as_tensor(p).detach().cpu().float() for p in _flat(predictions)])
        table = pd.DataFrame({"node": datamodule.node_names()})
        if datamodule.multilabel:
            probabilities = torch.sigmoid(logits)
            columns = [f"p_task{t}" for t in range(logits.size(1))]
        else:
            probabilities = torch.softmax(logits, dim=-1)
            names = getattr(datamodule.data, "class_names", None)
            confidence, prediction = probabilities.max(dim=-1)
            table["prediction"] = prediction.numpy()
            if names is not None:
                table["class"] = [names[k] for k in prediction.tolist()]
            table["confidence"] = confidence.numpy()
            columns = [f"p_{name}" for name in (names or range(logits.size(1)))]
        table = pd.concat([table, pd.DataFrame(probabilities.numpy(), columns=columns)], axis=1)
        atomic_write(self.path, lambda f: f.write(table.to_csv(index=False).encode()))


def _flat(predictions: Any) -> list:
    """Lightning's predictions: a list of batch outputs, or one such list per dataloader."""
    if predictions and isinstance(predictions[0], list):
        return [p for loader in predictions for p in loader]
    return list(predictions)
