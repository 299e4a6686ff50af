"""OAD's students saved one by one: each at its own best validation epoch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L

from ..training.checkpoint import atomic_save, model_record, single_model_checkpoint
from ..training.online import OnlineDistillationModule


class SaveStudents(L.Callback):
    """Writes each OAD student whose validation score improved as
    ``<checkpoint dir>/students/student<k>.ckpt``: the student alone, as
    :class:`~graphdistill.training.NodeClassificationModule` writes a checkpoint, so that
    ``graphdistill test`` reads it and distillation takes it as a teacher; its path goes into
    the module's ``selection`` (and from there into ``results.json``). Listed in
    ``configs/methods/oad.yaml``."""

    def on_validation_end(self, trainer: L.Trainer, pl_module: OnlineDistillationModule) -> None:
        if trainer.sanity_checking or not pl_module.improved or not trainer.is_global_zero:
            return
        folder = self.folder(trainer)
        folder.mkdir(parents=True, exist_ok=True)
        for k in pl_module.improved:
            path = folder / f"student{k}.ckpt"
            atomic_save(self.student_checkpoint(pl_module, k), path)
            pl_module.selection[f"s{k}"]["checkpoint"] = str(path)

    @staticmethod
    def student_checkpoint(pl_module: OnlineDistillationModule, k: int) -> dict[str, Any]:
        student = pl_module.students[k]
        record = model_record(student, pl_module.data_fingerprint, pl_module.metric_name)
        return single_model_checkpoint(student, {**record, "online": {"student": k, **pl_module.selection[f"s{k}"]}})

    @staticmethod
    def folder(trainer: L.Trainer) -> Path:
        ckpt = trainer.checkpoint_callback
        base = getattr(ckpt, "dirpath", None) or Path(trainer.default_root_dir) / "checkpoints"
        return Path(base) / "students"
