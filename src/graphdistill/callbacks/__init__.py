"""Lightning callbacks: what training does not need (epoch timing, the ABKD attention heatmap)."""

from .attention import AttentionMapReport, draw_attention
from .timing import EpochTimer

__all__ = ["AttentionMapReport", "EpochTimer", "draw_attention"]
