"""Student alone vs distilled students, over seeds, on real datasets.

For each dataset and seed: train the teacher (``configs/<dataset>/<teacher>.yaml``), then
each student (``configs/<dataset>/student_<s>.yaml``) alone and with each method config
(``configs/methods/<m>.yaml``), all on the same seed and split. Every number is test
accuracy at the best validation epoch; the table gives mean ± std over seeds.

``--teacher`` is one config name for every dataset, or ``DATASET=NAME`` pairs (one teacher
per dataset, as in the ABKD benchmark: deep GCNII on the citation graphs, 3-layer GAT on
Amazon Photo and Coauthor CS). With ``--compare``, a second table sets each compared method
(ABKD, say) against the best of the ``--against`` baselines on each dataset: the best
baseline is the one with the highest mean, and the difference is paired by seed (same
teacher, split and seed), mean ± std over seeds. Beside the table, ``<out>.png`` draws
each dataset's methods as bars (mean ± std), with the student alone and the teacher as lines.

    python scripts/benchmark_distillation.py --root DATA_ROOT --datasets cora citeseer \
        --students mlp gcn --methods kd kd_gcrd --seeds 5 --out benchmarks/results/distillation.md

    python scripts/benchmark_distillation.py --root DATA_ROOT \
        --datasets cora citeseer amazon-photo coauthor-cs \
        --teacher cora=gcnii citeseer=gcnii amazon-photo=gat3 coauthor-cs=gat3 --students gcn \
        --methods kd kd_standardized gcrd kd_gcrd abkd abkd_kd --compare abkd abkd_kd \
        --seeds 5 --out benchmarks/results/abkd.md
"""

from __future__ import annotations

import argparse
from pathlib import Path

from graphdistill.experiments.runs import fit_seeded
from graphdistill.reporting import markdown_table, mean_std, run_header, write_report

REPO = Path(__file__).resolve().parents[1]  # the source checkout this script lives in

BASELINES = ["kd", "kd_standardized", "gcrd", "kd_gcrd"]


def teacher_names(entries: list[str], datasets: list[str]) -> dict[str, str]:
    """``["gcn"]`` -> that teacher for every dataset; ``["cora=gcnii", ...]`` -> one per dataset."""
    if len(entries) == 1 and "=" not in entries[0]:
        return {dataset: entries[0] for dataset in datasets}
    pairs = dict(entry.split("=", 1) for entry in entries if "=" in entry)
    if len(pairs) != len(entries) or set(pairs) != set(datasets):
        raise SystemExit(f"--teacher: give one config name, or DATASET=NAME for each of {datasets} "
                         f"(got {entries})")
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", required=True, help="dataset root (a copy of shared/datasets)")
    parser.add_argument("--datasets", nargs="+", default=["cora", "citeseer"])
    parser.add_argument("--teacher", nargs="+", default=["gcn"],
                        help="teacher config name in configs/<dataset>/, or DATASET=NAME pairs")
    parser.add_argument("--students", nargs="+", default=["mlp", "gcn"])
    parser.add_argument("--methods", nargs="+", default=["kd", "kd_gcrd"])
    parser.add_argument("--compare", nargs="*", default=[],
                        help="methods to set against the best of --against on each dataset (second table)")
    parser.add_argument("--against", nargs="+", default=BASELINES,
                        help="baselines for --compare (those among --methods are used)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "distillation.md"))
    parser.add_argument("--workdir", default="runs/benchmark_distillation")
    parser.add_argument("--reuse", action="store_true",
                        help="read back runs already finished in --workdir (continue an interrupted benchmark)")
    args = parser.parse_args()
    teachers = teacher_names(args.teacher, args.datasets)
    against = [m for m in args.against if m in args.methods]
    missing = [m for m in args.compare if m not in args.methods]
    if missing or (args.compare and not against):
        raise SystemExit(f"--compare {missing or args.compare}: compared methods and at least one --against "
                         f"baseline must be among --methods {args.methods}")

    results: dict[tuple[str, str, str], list[dict]] = {}
    for dataset in args.datasets:
        for seed in range(args.seeds):
            work = Path(args.workdir) / dataset / f"seed{seed}"
            teacher = fit_seeded([f"{dataset}/{teachers[dataset]}.yaml"], dataset, seed, work / "teacher",
                                 root=args.root, reuse=args.reuse)
            results.setdefault((dataset, "teacher", "-"), []).append(teacher)
            print(f"{dataset} seed {seed} teacher {teachers[dataset]}: {100 * teacher['test']:.2f}", flush=True)
            for student in args.students:
                base = [f"{dataset}/student_{student}.yaml"]
                for method in ["alone", *args.methods]:
                    configs = base if method == "alone" else [*base, f"methods/{method}.yaml"]
                    extra = [] if method == "alone" else [f"--model.init_args.teacher={teacher['best_checkpoint']}"]
                    run = fit_seeded(configs, dataset, seed, work / f"{student}_{method}", *extra, root=args.root,
                                     reuse=args.reuse)
                    results.setdefault((dataset, student, method), []).append(run)
                    print(f"{dataset} seed {seed} {student} {method}: {100 * run['test']:.2f}", flush=True)

    accuracy = {key: [r["test"] for r in runs] for key, runs in results.items()}  # test accuracy per seed
    rows, comparisons = [], []
    for dataset in args.datasets:
        teacher_runs = results[(dataset, "teacher", "-")]
        teacher_params = teacher_runs[0]["parameters"]
        rows.append([dataset, f"teacher {teacher_runs[0]['model']} ({teachers[dataset]})", "-",
                     f"{teacher_params:,}", "1.0x", mean_std(accuracy[(dataset, "teacher", "-")]).pct(), "-"])
        for student in args.students:
            alone = mean_std(accuracy[(dataset, student, "alone")])
            for method in ["alone", *args.methods]:
                runs = results[(dataset, student, method)]
                stats = mean_std(accuracy[(dataset, student, method)])
                params = runs[0]["parameters"]
                delta = "-" if method == "alone" else f"{100 * (stats.mean - alone.mean):+.2f}"
                rows.append([dataset, f"{runs[0]['model']} student", method, f"{params:,}",
                             f"{teacher_params / params:.1f}x", stats.pct(), delta])
            if args.compare:
                best = max(against, key=lambda m: mean_std(accuracy[(dataset, student, m)]).mean)
                best_acc = accuracy[(dataset, student, best)]
                params = results[(dataset, student, "alone")][0]["parameters"]
                for method in args.compare:
                    paired = [a - b for a, b in zip(accuracy[(dataset, student, method)], best_acc)]
                    diff = mean_std(paired)
                    verdict = ("better" if diff.mean - diff.std > 0 else
                               "worse" if diff.mean + diff.std < 0 else "within 1 std")
                    comparisons.append([dataset, student, f"{teacher_params / params:.1f}x", method,
                                        mean_std(accuracy[(dataset, student, method)]).pct(),
                                        f"{best} {mean_std(best_acc).pct()}",
                                        f"{100 * diff.mean:+.2f} ± {100 * diff.std:.2f}", verdict])
    table = markdown_table(["dataset", "model", "method", "params", "compression", f"test acc % ({args.seeds} seeds)",
                            "Δ vs alone"], rows)
    text = run_header("Distilled students vs students alone") + "\n" + table + "\n"
    if comparisons:
        text += ("\n## Compared with the best baseline on each dataset\n\n"
                 f"Best baseline: the highest mean among {', '.join(against)}. Δ: per-seed difference "
                 "(same teacher, split and seed), mean ± std over seeds; \"better\" / \"worse\" when the mean "
                 "is more than one std away from 0.\n\n")
        text += markdown_table(["dataset", "student", "compression", "method", "test acc %", "best baseline",
                                "Δ (paired)", "verdict"], comparisons) + "\n"
    write_report(args.out, text, raw={"|".join(k): v for k, v in accuracy.items()})
    if args.out:
        png = Path(args.out).with_suffix(".png")
        plot_methods(accuracy, args.datasets, args.students, args.methods, args.compare, png)
        print(f"Plot: {png}")


def plot_methods(accuracy: dict[tuple[str, str, str], list[float]], datasets: list[str], students: list[str],
                 methods: list[str], compared: list[str], png: Path) -> None:
    """One panel per dataset and student: test accuracy per method (bar: mean, error bar:
    std over seeds; ``compared`` methods in orange), the student alone (solid line) and the
    teacher (dashed line)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(d, s) for d in datasets for s in students]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels) + 1, 3.6), squeeze=False)
    for ax, (dataset, student) in zip(axes[0], panels):
        stats = [mean_std(accuracy[(dataset, student, m)]) for m in methods]
        ax.bar(range(len(methods)), [100 * x.mean for x in stats], yerr=[100 * x.std for x in stats],
               color=["tab:orange" if m in compared else "tab:blue" for m in methods], capsize=3)
        alone = mean_std(accuracy[(dataset, student, "alone")])
        teacher = mean_std(accuracy[(dataset, "teacher", "-")])
        ax.axhline(100 * alone.mean, color="black", label="student alone")
        ax.axhline(100 * teacher.mean, color="tab:red", linestyle="--", label="teacher")
        low = min([x.mean - x.std for x in stats] + [alone.mean, teacher.mean])
        high = max([x.mean + x.std for x in stats] + [alone.mean, teacher.mean])
        ax.set_ylim(100 * low - 2, 100 * high + 1)
        ax.set_xticks(range(len(methods)), methods, rotation=60, ha="right", fontsize=8)
        ax.set_title(f"{dataset} ({student} student)", fontsize=9)
        ax.set_ylabel("test accuracy % (mean ± std)", fontsize=8)
    axes[0][0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
