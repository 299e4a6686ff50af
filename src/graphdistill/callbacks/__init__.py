"""Lightning callbacks: what training does not need (epoch timing, the ABKD attention heatmap,
saving OAD's students one by one)."""

from .attention import AttentionMapReport, draw_attention
from .online import SaveStudents
from .timing import EpochTimer

__all__ = ["AttentionMapReport", "EpochTimer", "SaveStudents", "draw_attention"]
