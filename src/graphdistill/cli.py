"""The ``graphdistill`` command: ``fit``/``validate``/``test``/``predict`` (Lightning's
commands, :class:`~graphdistill.lightning_cli.GraphDistillCLI`), ``compress`` (search,
select and export: :mod:`graphdistill.experiments.compress`), ``export``
(:mod:`graphdistill.export`), ``grid`` (the experiment runner,
:mod:`graphdistill.experiments.grid`), ``paired`` (two grids' results paired by seed:
:mod:`graphdistill.experiments.paired`), ``latency`` and ``analyze`` (a teacher and its
students compared: :mod:`graphdistill.evaluation`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import ConfigError, exit_on_user_error

GRID_HELP = """Run a grid of datasets × students × methods × seeds and write one table.

The teacher trains once per dataset and seed; each student trains alone and with every
method, on the same seed and split. Finished runs are read back (a stored run made with
another config is refused), interrupted ones resume from their last checkpoint, so the same
command continues a stopped grid. Writes OUT.md and OUT.csv (mean ± std over seeds, with the
command, commit and config hash), one OUT_<dataset>.png (accuracy vs parameters and vs
latency) per dataset, OUT_analysis.md (similarity to the teacher, robustness) and, for a
grid with `compare`, OUT_compare.md and OUT_methods.png (paired by seed against the best
baseline); with --paired-with BASE.csv, OUT_paired.md and .png (every row against its
counterpart in another grid's results, paired by seed: see graphdistill paired --help).

example:
  graphdistill grid configs/experiments/synthetic_smoke.yaml
  graphdistill grid configs/experiments/citation.yaml --root DATA_ROOT --out benchmarks/results/citation
  graphdistill grid configs/experiments/abkd.yaml --root DATA_ROOT --datasets cora citeseer"""


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
    parser.add_argument("--datasets", nargs="+", default=None, metavar="NAME",
                        help="run only these of the grid's datasets; the tables cover them only (the same run "
                        "folders: the others run later, or in another job, with the same --workdir)")
    parser.add_argument("--no-latency", action="store_true", help="skip the inference latency measurements")
    parser.add_argument("--no-analysis", action="store_true", help="skip the similarity/robustness table")
    parser.add_argument("--paired-with", default=None, metavar="BASE.csv",
                        help="also set this grid's rows against another grid's results, paired by seed "
                        "(OUT_paired.md and .png, as graphdistill paired writes)")
    parsed = parser.parse_args(args)
    if parsed.paired_with:
        from .experiments.paired import read_results

        read_results(parsed.paired_with)  # a wrong file is refused before the grid runs, not after
    path = resolve_config(parsed.grid)
    name = path.stem
    workdir = Path(parsed.workdir or f"runs/experiments/{name}")
    out = Path(parsed.out or workdir / name)
    grid = Grid.from_yaml(path)
    run_grid(grid.only(parsed.datasets) if parsed.datasets else grid, workdir, out, root=parsed.root,
             latency=not parsed.no_latency, analysis=not parsed.no_analysis)
    print(out.with_suffix(".md").read_text())
    print(f"Table: {out.with_suffix('.md')}, {out.with_suffix('.csv')}; plots: {out.parent}/{out.name}_*.png")
    if parsed.paired_with:
        from .experiments.paired import write_paired

        paired = out.with_name(f"{out.name}_paired")
        write_paired(out.with_suffix(".csv"), parsed.paired_with, paired)
        print(f"Paired: {paired.with_suffix('.md')}, {paired.with_suffix('.png')}")


PAIRED_HELP = """Two grids' results side by side, paired by seed.

For a change that needs a grid of its own (another teacher, a wider student): each row of
NEW (a grid's OUT.csv) against its counterpart in BASE (the teacher against the teacher, a
student against the same student and method, or the one row of the same method), the test
difference paired by seed over the seeds both ran (same seed, same split), the seeds it
won, and both mean validation scores (a change is adopted on validation). Both grids must
have the same data options (split, inductive), so that a seed means the same split: a pair
trained on other splits is refused (where the CSVs keep each run's split). Prints the table;
with --out, writes OUT.md and OUT.png (the differences as bars).

example:
  graphdistill paired benchmarks/results/glnn_grand_wide256_photo.csv \\
      benchmarks/results/glnn_grand_teacher_photo_transductive.csv --out runs/paired"""


def paired_command(args: list[str]) -> None:
    """``graphdistill paired NEW.csv BASE.csv [--out OUT]``: see :data:`PAIRED_HELP`."""
    from .experiments.paired import write_paired

    parser = argparse.ArgumentParser(prog="graphdistill paired", description=PAIRED_HELP,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("new", help="the results CSV of the grid with the change (graphdistill grid's OUT.csv)")
    parser.add_argument("base", help="the results CSV it is judged against")
    parser.add_argument("--out", default=None, help="also write OUT.md and OUT.png (path without suffix)")
    parsed = parser.parse_args(args)
    write_paired(parsed.new, parsed.base, parsed.out)


COMPRESS_HELP = """From a teacher to the best deployable student, chosen on validation.

Trains the student alone, searches distillation methods and their sensitive settings with
Optuna (TPE, pruning on validation accuracy), scores the --rescore best trials and the
student alone over --seeds seeds, picks the best mean validation accuracy (the student alone
if nothing beats it), and writes to --out:
student.ckpt, student.onnx and student.pt (TorchScript), report.md and report.png.
Data options are those of fit (--data.dataset, --data.root, --data.split, ...); trainer
options (--trainer.*) go to every run. The search is resumable (same command) and can run
in several processes at once (--search-only on the extra ones).

example:
  graphdistill compress --out runs/compress --trials 12
  graphdistill compress --data.dataset cora --data.root DATA --teacher T.ckpt --student mlp --trials 40 --seeds 5"""


def compress_command(args: list[str]) -> None:
    """``graphdistill compress [...]``: see :data:`COMPRESS_HELP`."""
    from .experiments.compress import Compress

    parser = argparse.ArgumentParser(prog="graphdistill compress", description=COMPRESS_HELP,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teacher", default=None,
                        help="teacher: a graphdistill checkpoint, an outputs file (.pt/.npy), a module spec "
                             "(.yaml/.json) or an ensemble's members file (.yaml/.json: members: [...]); default: "
                             "train configs/<dataset>/gcn.yaml first")
    parser.add_argument("--student", default="mlp", help="mlp, gcn, sage, gat, or a student config file")
    parser.add_argument("--methods", nargs="+", default=None,
                        help="methods to search (configs/search/<method>.yaml); default: every one that fits")
    parser.add_argument("--trials", type=int, default=20, help="trials of the search in all (default 20)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="search for at most this many seconds: no trial starts after it, a running one "
                        "stops at its next validation (pruned)")
    parser.add_argument("--seeds", type=int, default=3,
                        help="seeds the best trials and the student alone are scored on (default 3)")
    parser.add_argument("--rescore", type=int, default=3,
                        help="best trials re-scored over --seeds seeds before choosing (default 3)")
    parser.add_argument("--epochs", type=int, default=None, help="max epochs of every run (default: the configs')")
    parser.add_argument("--out", default="runs/compress", help="output folder (default runs/compress)")
    parser.add_argument("--storage", default=None, help="Optuna storage URL (default: sqlite in --out)")
    parser.add_argument("--search-only", action="store_true",
                        help="only run trials of the study (an extra worker; the main process reports)")
    parser.add_argument("--no-export", action="store_true", help="skip the ONNX and TorchScript export")
    parsed, rest = parser.parse_known_args(args)
    unknown = [a for a in rest if a.startswith("--") and not a.startswith(("--data.", "--trainer."))]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)} (data and trainer options: --data.*, --trainer.*)")
    summary = Compress(out=parsed.out, data_args=rest, teacher=parsed.teacher, student=parsed.student,
                       methods=parsed.methods, trials=parsed.trials, timeout=parsed.timeout, seeds=parsed.seeds,
                       rescore=parsed.rescore,
                       epochs=parsed.epochs, storage=parsed.storage, search_only=parsed.search_only,
                       export=not parsed.no_export).run()
    if summary:
        print()
        print((Path(parsed.out) / "report.md").read_text().split("\n## Trials")[0].split("Date: ", 1)[-1]
              .split("\n", 1)[-1].strip())
        print(f"\nReport: {Path(parsed.out) / 'report.md'} and report.png; student: {summary['student_checkpoint']}")
        print(f"Predict with it: graphdistill predict --config {summary['student_config']} --ckpt_path "
              f"{summary['student_checkpoint']}")


def export_command(args: list[str]) -> None:
    """``graphdistill export CKPT --format onnx|torchscript [--out PATH]``."""
    from .export import FORMATS, export_checkpoint

    parser = argparse.ArgumentParser(
        prog="graphdistill export", description="Export a graphdistill checkpoint's network for deployment: ONNX "
        "(checked in onnxruntime against PyTorch) or TorchScript. Input x [N, F] (and edge_index [2, E] for a GNN), "
        "output logits [N, C]. An MLP that reads position features takes them as x's last columns; they are "
        "written beside the file (NAME.positions.npy, one row per node of its graph).")
    parser.add_argument("checkpoint")
    parser.add_argument("--format", choices=sorted(FORMATS), default="onnx")
    parser.add_argument("--out", default=None, help="output file (default: the checkpoint's path with .onnx/.pt)")
    parser.add_argument("--root", default=None, help="dataset root, for an MLP with position features trained on a "
                        "built-in dataset (its positions are rebuilt from the graph)")
    parsed = parser.parse_args(args)
    result = export_checkpoint(parsed.checkpoint, parsed.format, parsed.out, root=parsed.root)
    print(f"Wrote {result['path']} ({parsed.format}; same predictions as PyTorch: {result['same_predictions']}, "
          f"largest logit difference {result['max_abs_diff']:.1e}).")
    if "positions" in result:
        print(f"Wrote {result['positions']}: the position features it reads after a node's features, one row per "
              "node of its graph (a new node: the mean of its neighbours' rows).")
    if "classes" in result:
        print(f"Wrote {result['classes']}: the class names of its graph, logit column k is the k-th name.")


def _number(kind: type, low: float, high: float | None = None) -> Callable[[str], Any]:
    """An argparse type: ``kind`` (int or float) in ``[low, high)``, else argparse's one-line error."""
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {kind.__name__} value: {text!r}") from None
        if value < low or (high is not None and value >= high):
            bound = f">= {low:g}" if high is None else f"in [{low:g}, {high:g})"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {text}")
        return value

    return parse


def _device(text: str) -> str:
    """An argparse type: ``cpu``, ``cuda`` or ``cuda:N``, on a machine that has it."""
    import torch

    if text != "cpu" and not (text == "cuda" or (text.startswith("cuda:") and text[5:].isdigit())):
        raise argparse.ArgumentTypeError(f"must be cpu, cuda or cuda:N, got {text!r}")
    if text != "cpu" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"{text}: no GPU is available here; use cpu")
    return text


def _comparison_parser(prog: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teacher", required=True, help="the teacher's graphdistill checkpoint")
    parser.add_argument("--students", nargs="+", required=True, help="student checkpoints (same dataset and split)")
    parser.add_argument("--root", default=None, help="dataset root (not needed for the synthetic graph)")
    parser.add_argument("--out", default=None, help="also write the table here (Markdown)")
    return parser


LATENCY_HELP = """Inference latency of a teacher and its students on the teacher's graph.

Full graph (one forward pass over every node; nodes per second) and one batch of --batch-size
random nodes predicted from scratch (a GNN extracts its L-hop neighbourhood; an MLP reads the
nodes' own rows), median of --repeats timed runs after --warmup untimed ones, with the
speedup over the teacher beside the compression.

example:
  graphdistill latency --teacher T.ckpt --students S1.ckpt S2.ckpt --root DATA_ROOT --batch-size 10"""


def latency_command(args: list[str]) -> None:
    """``graphdistill latency --teacher T.ckpt --students S.ckpt ...``."""
    from .evaluation.latency import latency_table
    from .reporting import write_report

    parser = _comparison_parser("graphdistill latency", LATENCY_HELP)
    parser.add_argument("--device", type=_device, default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--repeats", type=_number(int, 1), default=10)
    parser.add_argument("--warmup", type=_number(int, 0), default=3)
    parser.add_argument("--batch-size", type=_number(int, 1), default=1024)
    parsed = parser.parse_args(args)
    write_report(parsed.out, latency_table(parsed.teacher, parsed.students, parsed.root, parsed.device,
                                           parsed.repeats, parsed.warmup, parsed.batch_size))


ANALYZE_HELP = """How much of its teacher each student kept, and how it holds up.

Linear CKA of the logits and of the last hidden layers, local structure agreement
(correlation over edges of the endpoints' cosine similarity), global structure agreement
(correlation of pairwise distances among 1,000 sampled nodes), and test accuracy with a
fraction of edges dropped or Gaussian feature noise added at test time (mean over --seeds
draws), all on the teacher's graph and split.

example:
  graphdistill analyze --teacher T.ckpt --students ALONE.ckpt KD.ckpt --root DATA_ROOT --out analysis.md"""


def analyze_command(args: list[str]) -> None:
    """``graphdistill analyze --teacher T.ckpt --students S.ckpt ...``."""
    from .evaluation.analysis import ANALYSIS_NOTE, analysis_cells, analyze
    from .reporting import markdown_table, run_header, write_report

    parser = _comparison_parser("graphdistill analyze", ANALYZE_HELP)
    parser.add_argument("--edge-drop", nargs="*", type=_number(float, 0, 1), default=[0.2, 0.5])
    parser.add_argument("--feature-noise", nargs="*", type=_number(float, 0), default=[0.5, 1.0],
                        help="noise std as a fraction of each feature's std")
    parser.add_argument("--seeds", type=_number(int, 1), default=3, help="perturbation draws averaged")
    parsed = parser.parse_args(args)
    rows = analyze(parsed.teacher, parsed.students, parsed.root, tuple(parsed.edge_drop), tuple(parsed.feature_noise),
                   parsed.seeds)
    columns, cells = analysis_cells(rows)
    write_report(parsed.out, run_header("Teacher-student similarity and robustness") + "\n"
                 + markdown_table(columns, cells) + f"\n\n{ANALYSIS_NOTE}\n\nCheckpoints:\n"
                 + "\n".join(f"- {r['checkpoint']}" for r in rows) + "\n")


@exit_on_user_error
def main(args: list[str] | None = None) -> None:
    words = list(sys.argv[1:] if args is None else args)
    if not words:
        raise ConfigError("give a command: compress (the main job), fit, validate, test, predict, export, grid, "
                          "paired, latency or analyze (graphdistill --help lists them).")
    commands = {"grid": grid_command, "compress": compress_command, "export": export_command,
                "latency": latency_command, "analyze": analyze_command, "paired": paired_command}
    if words[:1] and words[0] in commands:
        commands[words[0]](words[1:])
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
