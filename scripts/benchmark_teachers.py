"""Teacher accuracy over seeds, next to the published GCN/GAT numbers (Shchur et al. 2018).

Each seed ``s`` trains with ``--seed_everything s`` and, on datasets without an official
split, the seeded 20/30-per-class split ``--data.split_seed s`` (the reference numbers
are means over random splits too; see ``graphdistill.experiments.runs.seed_args``). Test
accuracy is taken at the best validation epoch.

    python scripts/benchmark_teachers.py --root DATA_ROOT --seeds 5 \
        --out benchmarks/results/teachers.md
"""

from __future__ import annotations

import argparse
from pathlib import Path

from graphdistill.experiments.runs import fit_seeded
from graphdistill.reporting import markdown_table, mean_std, run_header, write_report

REPO = Path(__file__).resolve().parents[1]  # the source checkout this script lives in

PUBLISHED = {  # Shchur et al. 2018, random 20/30-per-class splits (shared/docs/methods.md)
    ("cora", "gcn"): "81.5 ± 1.3", ("cora", "gat"): "81.8 ± 1.3",
    ("citeseer", "gcn"): "71.9 ± 1.9", ("citeseer", "gat"): "71.4 ± 1.9",
    ("amazon-photo", "gcn"): "91.2 ± 1.2", ("amazon-photo", "gat"): "85.7 ± 20.3",
    ("coauthor-cs", "gcn"): "91.1 ± 0.5", ("coauthor-cs", "gat"): "90.5 ± 0.6",
    ("amazon-photo", "mlp"): "69.6 ± 3.8", ("coauthor-cs", "mlp"): "88.3 ± 0.7",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", required=True, help="dataset root (a copy of shared/datasets)")
    parser.add_argument("--datasets", nargs="+", default=["amazon-photo", "coauthor-cs"])
    parser.add_argument("--models", nargs="+", default=["gcn", "gat"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "teachers.md"))
    parser.add_argument("--workdir", default="runs/benchmark_teachers")
    args = parser.parse_args()

    rows = []
    for dataset in args.datasets:
        for model in args.models:
            accs, params = [], None
            for seed in range(args.seeds):
                result = fit_seeded([f"{dataset}/{model}.yaml"], seed,
                                    f"{args.workdir}/{dataset}/{model}/seed{seed}", root=args.root)
                accs.append(result["test"])
                params = result["parameters"]
                print(f"{dataset} {model} seed {seed}: test {100 * result['test']:.2f}", flush=True)
            stats = mean_std(accs)
            rows.append([dataset, model.upper(), f"{params:,}", stats.pct(), f"{100 * min(accs):.2f}",
                         PUBLISHED.get((dataset, model), "n/a"), " ".join(f"{100 * a:.1f}" for a in accs)])
    table = markdown_table(
        ["dataset", "model", "params", f"test acc % (mean ± std, {args.seeds} seeds)", "worst seed",
         "published (Shchur et al.)", "per seed"], rows)
    text = run_header("Teacher accuracy at the best validation epoch") + "\n" + table + "\n"
    write_report(args.out, text)


if __name__ == "__main__":
    main()
