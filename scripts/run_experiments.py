"""Run a grid of datasets × students × methods × seeds and write one results table.

The teacher trains once per dataset and seed; each student trains alone and with every
method. Finished runs are read back, interrupted ones resume from their last checkpoint,
so the same command continues a stopped grid. Writes ``OUT.md``, ``OUT.csv`` and one
``OUT_<dataset>.png`` (accuracy vs parameters and vs latency) per dataset and
``OUT_analysis.md`` (similarity to the teacher, robustness). Grid format:
:mod:`graphdistill.reporting.experiments`.

    python scripts/run_experiments.py --grid configs/experiments/citation.yaml --root DATA_ROOT \
        --out benchmarks/results/citation
"""

from __future__ import annotations

import argparse
from pathlib import Path

from graphdistill.errors import exit_on_user_error
from graphdistill.reporting.experiments import Grid, run_grid


@exit_on_user_error
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grid", required=True, help="grid YAML (see configs/experiments/)")
    parser.add_argument("--root", default=None, help="dataset root (not needed for the synthetic graph)")
    parser.add_argument("--out", default=None, help="output path without suffix (default: runs/experiments/<grid>)")
    parser.add_argument("--workdir", default=None, help="run folders (default: runs/experiments/<grid>)")
    parser.add_argument("--no-latency", action="store_true", help="skip the inference latency measurements")
    parser.add_argument("--no-analysis", action="store_true", help="skip the similarity/robustness table")
    args = parser.parse_args()
    name = Path(args.grid).stem
    workdir = Path(args.workdir or f"runs/experiments/{name}")
    out = Path(args.out or workdir / name)
    run_grid(Grid.from_yaml(args.grid), workdir, out, root=args.root, latency=not args.no_latency,
             analysis=not args.no_analysis)
    print(out.with_suffix(".md").read_text())
    print(f"Table: {out.with_suffix('.md')}, {out.with_suffix('.csv')}; plots: {out.parent}/{out.name}_*.png")


if __name__ == "__main__":
    main()
