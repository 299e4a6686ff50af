"""Results tables and run reports."""

from .tables import MeanStd, markdown_table, mean_std, run_header

__all__ = ["MeanStd", "markdown_table", "mean_std", "run_header"]
