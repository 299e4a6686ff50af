"""Wall-clock timing of training, as a callback (the model does not need it to run)."""

from __future__ import annotations

import statistics
import time
from typing import Any

import lightning as L

from ..data import num_seeds


class EpochTimer(L.Callback):
    """Records the wall-clock time of every training epoch (training steps only), of every
    whole epoch (training plus validation) and of every validation, and counts the seed
    nodes each training epoch covers. ``summary()`` gives medians, skipping the first
    ``warmup`` epochs (allocation, caches), the training throughput in seed nodes per
    second (of this process: under DDP, of one rank), and ``setup_s``: from the start of
    fit to the first training step (for distillation, mostly the teacher's pass over the
    graph)."""

    def __init__(self, warmup: int = 2) -> None:
        self.warmup = warmup
        self.train_times: list[float] = []
        self.epoch_times: list[float] = []
        self.val_times: list[float] = []
        self.seeds: list[int] = []
        self.setup_s: float | None = None
        self._fit_start = self._epoch_start = self._val_start = 0.0

    def on_fit_start(self, trainer, pl_module) -> None:
        self._fit_start = time.perf_counter()

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._epoch_start = time.perf_counter()
        if self.setup_s is None:
            self.setup_s = self._epoch_start - self._fit_start
        self.seeds.append(0)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.seeds[-1] += num_seeds(batch)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        # with full-graph validation every epoch, Lightning runs validation before this hook
        self.epoch_times.append(time.perf_counter() - self._epoch_start)

    def on_validation_start(self, trainer, pl_module) -> None:
        self._val_start = time.perf_counter()
        if not trainer.sanity_checking:
            self.train_times.append(self._val_start - self._epoch_start)

    def on_validation_end(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            self.val_times.append(time.perf_counter() - self._val_start)

    def summary(self) -> dict[str, Any]:
        train, whole = self.train_times[self.warmup:], self.epoch_times[self.warmup:]
        seeds = self.seeds[self.warmup:self.warmup + len(train)]
        val = self.val_times[self.warmup:]
        return {"epochs_timed": len(whole), "train_s_median": statistics.median(train) if train else None,
                "epoch_s_median": statistics.median(whole) if whole else None,
                "val_s_median": statistics.median(val) if val else None,
                "seeds_per_s": sum(seeds) / sum(train) if train and sum(train) > 0 else None,
                "seeds_last_epoch": self.seeds[-1] if self.seeds else None,
                "setup_s": self.setup_s}
