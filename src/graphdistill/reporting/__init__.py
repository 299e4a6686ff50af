"""Results tables and run reports."""

from .tables import MeanStd, markdown_table, mean_std, run_header
from .timing import EpochTimer

__all__ = ["EpochTimer", "MeanStd", "markdown_table", "mean_std", "run_header"]
