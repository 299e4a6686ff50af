"""Student alone vs distilled students, over seeds, on real datasets.

For each dataset and seed: train the teacher (``configs/<dataset>/<teacher>.yaml``), then
each student (``configs/<dataset>/student_<s>.yaml``) alone and with each method config
(``configs/methods/<m>.yaml``), all on the same seed and split. Every number is test
accuracy at the best validation epoch; the table gives mean ± std over seeds.

    python scripts/benchmark_distillation.py --root DATA_ROOT --datasets cora citeseer \
        --students mlp gcn --methods kd kd_gcrd --seeds 5 --out benchmarks/results/distillation.md
"""

from __future__ import annotations

import argparse
from pathlib import Path

from graphdistill.reporting import markdown_table, mean_std, run_header, write_report
from graphdistill.reporting.runs import REPO, fit_seeded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", required=True, help="dataset root (a copy of shared/datasets)")
    parser.add_argument("--datasets", nargs="+", default=["cora", "citeseer"])
    parser.add_argument("--teacher", default="gcn", help="teacher config name in configs/<dataset>/")
    parser.add_argument("--students", nargs="+", default=["mlp", "gcn"])
    parser.add_argument("--methods", nargs="+", default=["kd", "kd_gcrd"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "distillation.md"))
    parser.add_argument("--workdir", default="runs/benchmark_distillation")
    parser.add_argument("--reuse", action="store_true",
                        help="read back runs already finished in --workdir (continue an interrupted benchmark)")
    args = parser.parse_args()

    results: dict[tuple[str, str, str], list[dict]] = {}
    for dataset in args.datasets:
        for seed in range(args.seeds):
            work = Path(args.workdir) / dataset / f"seed{seed}"
            teacher = fit_seeded([f"{dataset}/{args.teacher}.yaml"], dataset, seed, work / "teacher", root=args.root,
                                 reuse=args.reuse)
            results.setdefault((dataset, "teacher", args.teacher), []).append(teacher)
            for student in args.students:
                base = [f"{dataset}/student_{student}.yaml"]
                for method in ["alone", *args.methods]:
                    configs = base if method == "alone" else [*base, f"methods/{method}.yaml"]
                    extra = [] if method == "alone" else [f"--model.init_args.teacher={teacher['best_checkpoint']}"]
                    run = fit_seeded(configs, dataset, seed, work / f"{student}_{method}", *extra, root=args.root,
                                     reuse=args.reuse)
                    results.setdefault((dataset, student, method), []).append(run)
                    print(f"{dataset} seed {seed} {student} {method}: {100 * run['test']:.2f}", flush=True)

    rows = []
    for dataset in args.datasets:
        teacher_runs = results[(dataset, "teacher", args.teacher)]
        teacher_params = teacher_runs[0]["parameters"]
        rows.append([dataset, f"teacher {teacher_runs[0]['model']}", "-", f"{teacher_params:,}", "1.0x",
                     mean_std([r["test"] for r in teacher_runs]).pct(), "-"])
        for student in args.students:
            alone = mean_std([r["test"] for r in results[(dataset, student, "alone")]])
            for method in ["alone", *args.methods]:
                runs = results[(dataset, student, method)]
                stats = mean_std([r["test"] for r in runs])
                params = runs[0]["parameters"]
                delta = "-" if method == "alone" else f"{100 * (stats.mean - alone.mean):+.2f}"
                rows.append([dataset, f"{runs[0]['model']} student", method, f"{params:,}",
                             f"{teacher_params / params:.1f}x", stats.pct(), delta])
    table = markdown_table(["dataset", "model", "method", "params", "compression", f"test acc % ({args.seeds} seeds)",
                            "Δ vs alone"], rows)
    text = run_header("Distilled students vs students alone") + "\n" + table + "\n"
    write_report(args.out, text, raw={"|".join(k): [r["test"] for r in v] for k, v in results.items()})


if __name__ == "__main__":
    main()
