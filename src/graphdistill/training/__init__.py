"""LightningModules: plain training (teachers, students alone) and distillation."""

from .plain import NodeClassificationModule

__all__ = ["NodeClassificationModule"]
