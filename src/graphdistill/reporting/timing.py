"""Wall-clock timing of training, as a callback (the model does not need it to run)."""

from __future__ import annotations

import statistics
import time
from typing import Any

import lightning as L


class EpochTimer(L.Callback):
    """Records the wall-clock time of every training epoch (training steps only) and of
    every whole epoch (training plus validation). ``summary()`` gives medians, skipping
    the first ``warmup`` epochs (allocation, caches)."""

    def __init__(self, warmup: int = 2) -> None:
        self.warmup = warmup
        self.train_times: list[float] = []
        self.epoch_times: list[float] = []
        self._epoch_start = 0.0

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._epoch_start = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        # with full-graph validation every epoch, Lightning runs validation before this hook
        self.epoch_times.append(time.perf_counter() - self._epoch_start)

    def on_validation_start(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            self.train_times.append(time.perf_counter() - self._epoch_start)

    def summary(self) -> dict[str, Any]:
        train, whole = self.train_times[self.warmup:], self.epoch_times[self.warmup:]
        return {"epochs_timed": len(whole), "train_s_median": statistics.median(train) if train else None,
                "epoch_s_median": statistics.median(whole) if whole else None}
