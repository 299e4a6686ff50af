"""Distillation components: each an ``nn.Module`` with a ``weight``, injected into
:class:`~graphdistill.training.DistillationModule` through ``components``."""

from .adversarial import AdversarialComponent, AdversarialDistiller
from .attention import LayerAttentionDistiller
from .augmentation import AdversarialFeatures
from .base import DistillationComponent, LayerPairComponent
from .codebook import CodebookKD
from .consistency import ConsistencyRegularization
from .contrastive import ContrastiveDistiller
from .features import AttentionTransfer, FitNet
from .logits import LogitKD
from .neighbourhood import NeighbourhoodContrast
from .propagated import PropagatedKD
from .structure import GlobalStructurePreserving, LocalStructurePreserving

__all__ = [
    "AdversarialComponent", "AdversarialDistiller", "AdversarialFeatures", "AttentionTransfer", "CodebookKD",
    "ConsistencyRegularization",
    "ContrastiveDistiller",
    "DistillationComponent", "FitNet",
    "GlobalStructurePreserving", "LayerAttentionDistiller", "LayerPairComponent", "LocalStructurePreserving", "LogitKD",
    "NeighbourhoodContrast", "PropagatedKD",
]
