"""The ``graphdistill`` command: ``fit``/``validate``/``test``/``predict`` (Lightning's
commands, :class:`~graphdistill.lightning_cli.GraphDistillCLI`) and ``grid`` (the experiment
runner, :mod:`graphdistill.experiments.grid`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import exit_on_user_error

GRID_HELP = """Run a grid of datasets × students × methods × seeds and write one table.

The teacher trains once per dataset and seed; each student trains alone and with every
method, on the same seed and split. Finished runs are read back (a stored run made with
another config is refused), interrupted ones resume from their last checkpoint, so the same
command continues a stopped grid. Writes OUT.md and OUT.csv (mean ± std over seeds, with the
command, commit and config hash), one OUT_<dataset>.png (accuracy vs parameters and vs
latency) per dataset, and OUT_analysis.md (similarity to the teacher, robustness).

example:
  graphdistill grid configs/experiments/synthetic_smoke.yaml
  graphdistill grid configs/experiments/citation.yaml --root DATA_ROOT --out benchmarks/results/citation"""


def grid_command(args: list[str]) -> None:
    """``graphdistill grid GRID.yaml [...]``: see :data:`GRID_HELP`."""
    from .config_files import resolve_config
    from .experiments.grid import Grid, run_grid

    parser = argparse.ArgumentParser(prog="graphdistill grid", description=GRID_HELP,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("grid", help="grid YAML: a path, or a packaged grid such as configs/experiments/citation.yaml")
    parser.add_argument("--root", default=None, help="dataset root (not needed for the synthetic graph)")
    parser.add_argument("--out", default=None, help="output path without suffix (default: WORKDIR/<grid>)")
    parser.add_argument("--workdir", default=None, help="run folders (default: runs/experiments/<grid>)")
    parser.add_argument("--no-latency", action="store_true", help="skip the inference latency measurements")
    parser.add_argument("--no-analysis", action="store_true", help="skip the similarity/robustness table")
    parsed = parser.parse_args(args)
    path = resolve_config(parsed.grid)
    name = path.stem
    workdir = Path(parsed.workdir or f"runs/experiments/{name}")
    out = Path(parsed.out or workdir / name)
    run_grid(Grid.from_yaml(path), workdir, out, root=parsed.root, latency=not parsed.no_latency,
             analysis=not parsed.no_analysis)
    print(out.with_suffix(".md").read_text())
    print(f"Table: {out.with_suffix('.md')}, {out.with_suffix('.csv')}; plots: {out.parent}/{out.name}_*.png")


@exit_on_user_error
def main(args: list[str] | None = None) -> None:
    words = list(sys.argv[1:] if args is None else args)
    if words[:1] == ["grid"]:
        grid_command(words[1:])
        return
    from .lightning_cli import GraphDistillCLI

    GraphDistillCLI(args=words)
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        # every rank leaves together: a rank exiting while another still tears down the
        # process group aborted at exit ("terminate called without an active exception")
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
