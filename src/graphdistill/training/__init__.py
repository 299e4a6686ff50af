"""LightningModules: plain training (teachers, students alone) and offline distillation."""

from .distillation import DistillationModule
from .plain import NodeClassificationModule
from .teacher import FrozenTeacher

__all__ = ["DistillationModule", "FrozenTeacher", "NodeClassificationModule"]
