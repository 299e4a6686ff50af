"""Adversarial distillation over seeds: GraphAKD vs KD (same teacher and student), and OAD's
group of K students vs one student alone.

For each dataset and seed (same seed and split for every run): the teacher
(``configs/<dataset>/<teacher>.yaml``), the student alone (``student_<s>.yaml``), the student
with KD, standardised KD and GraphAKD from that teacher (``methods/kd.yaml``,
``methods/kd_standardized.yaml``, ``methods/graphakd.yaml``),
and OAD (``methods/oad.yaml``: K students of the same architecture, no teacher). Every number
is test accuracy at the best validation epoch, per model: OAD's best student is the one best
on validation, its mean student the mean of the K students, each at its own best epoch.

    python scripts/benchmark_adversarial.py --root DATA_ROOT --datasets cora citeseer --seeds 5 \
        --out benchmarks/results/adversarial.md
"""

from __future__ import annotations

import argparse
from pathlib import Path

from graphdistill.experiments.runs import fit_seeded
from graphdistill.reporting import markdown_table, mean_std, run_header, write_report

REPO = Path(__file__).resolve().parents[1]  # the source checkout this script lives in

COLUMNS = ["alone", "kd", "kd_standardized", "graphakd", "oad_best", "oad_mean", "oad_ensemble"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", required=True, help="dataset root (a copy of shared/datasets)")
    parser.add_argument("--datasets", nargs="+", default=["cora", "citeseer", "amazon-photo", "coauthor-cs"])
    parser.add_argument("--teacher", default="gcn", help="teacher config name in configs/<dataset>/")
    parser.add_argument("--student", default="gcn", help="student config: configs/<dataset>/student_<student>.yaml")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "adversarial.md"))
    parser.add_argument("--workdir", default="runs/benchmark_adversarial")
    parser.add_argument("--reuse", action="store_true",
                        help="read back runs already finished in --workdir (continue an interrupted benchmark)")
    args = parser.parse_args()

    scores: dict[str, dict[str, list[float]]] = {}
    params: dict[str, dict[str, int]] = {}
    for dataset in args.datasets:
        table = scores.setdefault(dataset, {k: [] for k in ["teacher", *COLUMNS]})
        for seed in range(args.seeds):
            work = Path(args.workdir) / dataset / f"seed{seed}"
            student = [f"{dataset}/student_{args.student}.yaml"]

            def fit(name: str, configs: list[str], *extra: str, dataset=dataset, seed=seed, work=work) -> dict:
                run = fit_seeded(configs, dataset, seed, work / name, *extra, root=args.root, reuse=args.reuse)
                print(f"{dataset} seed {seed} {name}: {100 * run['test']:.2f}", flush=True)
                return run

            teacher = fit("teacher", [f"{dataset}/{args.teacher}.yaml"])
            alone = fit("alone", student)
            with_teacher = f"--model.init_args.teacher={teacher['best_checkpoint']}"
            kd = fit("kd", [*student, "methods/kd.yaml"], with_teacher)
            kd_std = fit("kd_standardized", [*student, "methods/kd_standardized.yaml"], with_teacher)
            akd = fit("graphakd", [*student, "methods/graphakd.yaml"], with_teacher)
            oad = fit("oad", [*student, "methods/oad.yaml"])
            params[dataset] = {"teacher": teacher["parameters"], "student": alone["parameters"]}
            for name, run in (("teacher", teacher), ("alone", alone), ("kd", kd), ("kd_standardized", kd_std),
                              ("graphakd", akd)):
                table[name].append(run["test"])
            table["oad_best"].append(oad["test"])
            table["oad_mean"].append(oad["online"]["mean_student_test"])
            table["oad_ensemble"].append(oad["online"]["ensemble"]["test"])

    rows = []
    for dataset, table in scores.items():
        base = mean_std(table["alone"]).mean
        cells = [mean_std(table["teacher"]).pct()]
        for column in COLUMNS:
            stats = mean_std(table[column])
            cells.append(stats.pct() if column == "alone" else f"{stats.pct()} ({100 * (stats.mean - base):+.2f})")
        p = params[dataset]
        rows.append([dataset, f"{p['teacher']:,} / {p['student']:,}", *cells])
    header = ["dataset", "params teacher / student", f"teacher {args.teacher}", f"{args.student} alone", "KD",
              "standardised KD", "GraphAKD", "OAD best student", "OAD mean student", "OAD ensemble"]
    text = (run_header(f"Adversarial distillation: {args.student} students, {args.seeds} seeds") + "\n"
            + markdown_table(header, rows) + "\n\nTest accuracy % at the best validation epoch, mean ± std over "
            "seeds (Δ vs the student alone). KD (T = 4), standardised KD (z-scored logits, T = 1) and GraphAKD distil "
            "the teacher; OAD trains 4 students together "
            "without it (the ensemble needs all 4 at inference).\n")
    write_report(args.out, text, raw=scores)


if __name__ == "__main__":
    main()
