"""Lightning callbacks: what training does not need (epoch timing, the ABKD attention heatmap,
saving OAD's students one by one, writing ``graphdistill predict``'s predictions)."""

from .attention import AttentionMapReport, draw_attention
from .online import SaveStudents
from .predictions import PredictionWriter
from .timing import EpochTimer

__all__ = ["AttentionMapReport", "EpochTimer", "PredictionWriter", "SaveStudents", "draw_attention"]
