"""Results tables and their headers (provenance), written as Markdown."""

from .tables import MeanStd, markdown_table, mean_std, run_header, write_report

__all__ = ["MeanStd", "markdown_table", "mean_std", "run_header", "write_report"]
