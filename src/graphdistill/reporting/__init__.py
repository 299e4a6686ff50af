"""Results tables and run reports."""

from .attention import AttentionMapReport, draw_attention
from .tables import MeanStd, markdown_table, mean_std, run_header, write_report
from .timing import EpochTimer

__all__ = ["AttentionMapReport", "EpochTimer", "draw_attention", "MeanStd", "markdown_table", "mean_std", "run_header",
           "write_report"]
