"""A built-in dataset given as your own files trains exactly as the built-in loader.

Exports a built-in dataset (default Amazon Photo) as a CSV folder (nodes.csv with one
column per feature, edges.csv; no split column, so the seeded per-class split of the
configs applies), then for each seed trains the teacher, the student alone and the
student distilled from that teacher, once on the built-in loader and once on the CSV
folder, and writes the table (mean ± std over seeds, and whether every seed agrees)::

    python scripts/benchmark_own_data.py --root ../shared/datasets --seeds 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from graphdistill.config_files import CONFIG_DIR
from graphdistill.data import NodeDataModule
from graphdistill.data.files import save_graph
from graphdistill.errors import exit_on_user_error
from graphdistill.lightning_cli import run_config_hash, run_fit
from graphdistill.provenance import code_provenance, describe

REPO = Path(__file__).resolve().parents[1]


def _mean_std(values: list[float]) -> str:
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * statistics.mean(values):.2f} ± {100 * std:.2f}"


@exit_on_user_error
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="amazon-photo")
    parser.add_argument("--root", default=str(REPO.parent / "shared" / "datasets"))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--teacher", default="gcn", help="configs/<dataset>/<teacher>.yaml")
    parser.add_argument("--method", default="kd", help="configs/methods/<method>.yaml")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "own_data")
    parser.add_argument("--table", type=Path, default=REPO / "benchmarks" / "results" / "own_data.md")
    args = parser.parse_args()
    configs = CONFIG_DIR
    builtin = NodeDataModule(args.dataset, root=args.root).data
    graph = builtin.clone()
    for mask in ("train_mask", "val_mask", "test_mask", "n_id"):
        delattr(graph, mask)
    folder = save_graph(graph, args.out / f"{args.dataset}-csv", tables="csv")
    print(f"{args.dataset} written as {folder}/nodes.csv and edges.csv", flush=True)
    sources = {"built-in loader": [f"--data.root={args.root}"], "CSV folder": [f"--data.dataset={folder}"]}
    teacher_cfg = ["--config", str(configs / args.dataset / f"{args.teacher}.yaml")]
    student_cfg = ["--config", str(configs / args.dataset / "student_mlp.yaml")]
    method_cfg = ["--config", str(configs / "methods" / f"{args.method}.yaml")]
    results: dict[tuple[str, str], list[float]] = {}
    hashes: dict[str, str] = {}
    for seed in range(args.seeds):
        for source, data_args in sources.items():
            run = args.out / source.replace(" ", "-") / f"seed{seed}"
            common = [*data_args, f"--seed_everything={seed}", "--trainer.logger=false"]
            teacher = run_fit(*teacher_cfg, *common, f"--trainer.default_root_dir={run / 'teacher'}")
            alone = run_fit(*student_cfg, *common, f"--trainer.default_root_dir={run / 'alone'}")
            kd_args = [*student_cfg, *method_cfg, *common, f"--model.init_args.teacher={teacher['best_checkpoint']}"]
            distilled = run_fit(*kd_args, f"--trainer.default_root_dir={run / 'kd'}")
            for row, result in (("teacher", teacher), ("alone", alone), ("kd", distilled)):
                results.setdefault((source, row), []).append(result["test"])
            hashes[source] = run_config_hash(*kd_args)
            print(f"seed {seed} {source}: teacher {teacher['test']:.4f}, MLP alone {alone['test']:.4f}, "
                  f"MLP + {args.method} {distilled['test']:.4f}", flush=True)
    rows = [("teacher", f"{args.teacher.upper()} teacher"), ("alone", "MLP alone"), ("kd", f"MLP + {args.method}")]
    lines = [f"# {args.dataset}: built-in loader vs the same graph as a CSV folder", "",
             f"Test accuracy (%) at the best validation epoch, mean ± std over seeds 0..{args.seeds - 1}.", "",
             f"Command: `python {' '.join(['scripts/benchmark_own_data.py', *sys.argv[1:]])}`  ",
             f"Code: {describe(code_provenance())}  ",
             f"Config hash (student + {args.method}): " + ", ".join(f"{s}: {h[:12]}" for s, h in hashes.items()), "",
             "| model | " + " | ".join(sources) + " | same on every seed |",
             "|---|" + "---|" * (len(sources) + 1)]
    for key, label in rows:
        values = [results[(s, key)] for s in sources]
        same = "yes" if all(v == values[0] for v in values) else "no"
        lines.append(f"| {label} | " + " | ".join(_mean_std(v) for v in values) + f" | {same} |")
    args.table.parent.mkdir(parents=True, exist_ok=True)
    args.table.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
