"""Small helpers shared by the benchmark and reproduction scripts."""

from __future__ import annotations

import json
import platform
import statistics
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..provenance import code_provenance, describe


@dataclass(frozen=True)
class MeanStd:
    mean: float
    std: float
    n: int

    def pct(self) -> str:
        """``mean ± std`` in percent, two decimals (sample std; 0 for one value)."""
        return f"{100 * self.mean:.2f} ± {100 * self.std:.2f}"


def mean_std(values: list[float]) -> MeanStd:
    values = [float(v) for v in values]
    return MeanStd(statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0, len(values))


def metric_words(metrics: Any) -> tuple[str, str]:
    """How a table names the score of runs whose metrics (``acc``, ``rocauc``) are ``metrics``: ``(short, long)``,
    ``("acc", "accuracy")``, ``("ROC-AUC", "ROC-AUC")`` for multi-label datasets only, ``("score", "score")`` for
    a mix."""
    found = set(metrics)
    if found == {"rocauc"}:
        return "ROC-AUC", "ROC-AUC"
    return ("score", "score") if "rocauc" in found else ("acc", "accuracy")


def markdown_table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def run_header(title: str) -> str:
    """Title plus the exact command, code (version, commit), machine and date that produced
    a results file (each run's config hash is in its ``results.json``)."""
    import torch

    program = Path(sys.argv[0])
    is_tool = program.name == "graphdistill" or program.parts[-2:] == ("graphdistill", "cli.py")  # or python -m
    command = " ".join(["graphdistill", *sys.argv[1:]] if is_tool else ["python", *sys.argv])
    machine = f"{platform.machine()}, {torch.get_num_threads()} CPU threads, torch {torch.__version__}"
    if torch.cuda.is_available():
        machine += f", {torch.cuda.get_device_name()}"
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    return (f"# {title}\n\nCommand: `{command}`  \nCode: {describe(code_provenance())}  \nMachine: {machine}  \n"
            f"Date: {date}\n")


def write_report(out: str | Path | None, text: str, raw: Any = None) -> None:
    """Write a results file (``out``, its folder made if needed; nothing with ``out=None``),
    its raw numbers beside it as ``<out>.json`` if given, and print the text."""
    if out:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        if raw is not None:
            out.with_suffix(".json").write_text(json.dumps(raw, indent=1))
    print(text)
