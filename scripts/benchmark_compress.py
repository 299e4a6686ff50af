"""graphdistill compress on real datasets: the chosen method per dataset and student, its test
accuracy over seeds beside the student alone and the teacher, at a stated search budget.

Each (dataset, student) runs ``graphdistill compress`` into ``--workdir/<dataset>-<student>``
with the dataset's default teacher (``configs/<dataset>/gcn.yaml``, seed 0, trained first); a
finished one is read back (the command resumes)::

    python scripts/benchmark_compress.py --root ../shared/datasets \\
        --datasets cora citeseer amazon-photo coauthor-cs --students mlp gcn --trials 16 --timeout 600 --seeds 5

``--teacher DATASET=NAME`` trains ``configs/<dataset>/<NAME>.yaml`` (seed 0) as the teacher
instead; a student other than mlp/gcn/sage/gat is the packaged ``configs/<dataset>/student_<NAME>.yaml``.
``--each-method`` gives every method its own search of the same budget (one row per method):
a comparison of methods each tuned alike, as for ABKD in its paper's setting::

    python scripts/benchmark_compress.py --root ../shared/datasets --datasets cora citeseer \\
        --teacher cora=gcnii citeseer=gcnii --students gcn4 --each-method abkd kd kd_standardized gcrd \\
        --trials 4 --rescore 1 --seeds 5 --out benchmarks/results/abkd_search.md

The table is rewritten after every search, so a stopped benchmark keeps what it finished.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from graphdistill.config_files import CONFIG_DIR
from graphdistill.errors import exit_on_user_error
from graphdistill.experiments.runs import fit_seeded, quiet_output
from graphdistill.reporting import markdown_table, run_header

REPO = Path(__file__).resolve().parents[1]
BUILT_IN_STUDENTS = ("mlp", "gcn", "sage", "gat")


@exit_on_user_error
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", required=True)
    parser.add_argument("--datasets", nargs="+", default=["cora", "citeseer", "amazon-photo", "coauthor-cs"])
    parser.add_argument("--students", nargs="+", default=["mlp", "gcn"])
    parser.add_argument("--teacher", nargs="*", default=[], metavar="DATASET=NAME",
                        help="teacher config per dataset (default: configs/<dataset>/gcn.yaml)")
    parser.add_argument("--each-method", nargs="+", default=None, metavar="METHOD",
                        help="one search per method (default: one search over every method that fits)")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--timeout", type=int, default=None, help="seconds per search (compress --timeout)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--rescore", type=int, default=3, help="best trials re-scored over the seeds")
    parser.add_argument("--workdir", default=str(REPO / "runs" / "benchmark_compress"))
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "compress.md"))
    args = parser.parse_args()
    teachers = dict(item.split("=", 1) for item in args.teacher)
    rows = []
    for dataset in args.datasets:
        teacher = _teacher(dataset, teachers.get(dataset), args) if dataset in teachers else None
        for student in args.students:
            for method in args.each_method or [None]:
                out = Path(args.workdir) / "-".join(filter(None, [dataset, student, method]))
                student_arg = student if student in BUILT_IN_STUDENTS else str(
                    CONFIG_DIR / dataset / f"student_{student}.yaml")
                command = ["graphdistill", "compress", f"--data.dataset={dataset}", f"--data.root={args.root}",
                           "--student", student_arg, "--trials", str(args.trials), "--seeds", str(args.seeds),
                           "--rescore", str(args.rescore), "--out", str(out), "--no-export"]
                command += ["--teacher", teacher] if teacher else []
                command += ["--methods", method] if method else []
                command += ["--timeout", str(args.timeout)] if args.timeout else []
                print("$", " ".join(command), flush=True)
                started = time.time()
                exe = Path(sys.executable).with_name("graphdistill")
                subprocess.run([str(exe) if exe.exists() else "graphdistill", *command[1:]], check=True)
                s = json.loads((out / "summary.json").read_text())
                chosen, alone = s["chosen"], s["alone"]
                states = [t["state"] for t in s["trials"]]
                # with --each-method: the method's own best re-scored trial, chosen or not
                best = (max(s["rescored"], key=lambda c: c["val_mean"]) if args.each_method and s["rescored"]
                        else chosen)
                rows.append([dataset, student, *([method] if args.each_method else []), f"**{chosen['method']}**",
                             f"{100 * best['test_mean']:.2f} ± {100 * best['test_std']:.2f}",
                             f"{100 * best['val_mean']:.2f}",
                             f"{100 * alone['val_mean']:.2f}",
                             f"{100 * alone['test_mean']:.2f} ± {100 * alone['test_std']:.2f}",
                             f"{100 * s['teacher']['test']:.2f}",
                             f"{states.count('COMPLETE')} + {states.count('PRUNED')}",
                             f"{(time.time() - started) / 60:.0f}"])
                _write_table(args, teachers, rows)


def _teacher(dataset: str, name: str, args: argparse.Namespace) -> str:
    """``configs/<dataset>/<name>.yaml`` trained once (seed 0, read back when finished): its best checkpoint."""
    print(f"Teacher {dataset}/{name}.yaml (seed 0)", flush=True)
    with quiet_output():
        result = fit_seeded([f"{dataset}/{name}.yaml"], 0, Path(args.workdir) / f"{dataset}-teacher-{name}",
                            root=args.root, reuse=True, vary_split=False)
    return str(Path(result["best_checkpoint"]).resolve())


def _write_table(args: argparse.Namespace, teachers: dict[str, str], rows: list[list[str]]) -> None:
    budget = f"{args.trials} trials" + (f" or {args.timeout} s, whichever comes first," if args.timeout else "")
    searched = ("each method its own search" if args.each_method
                else "one search over every method with a search space that fits")
    teacher = ", ".join(f"configs/{d}/{n}.yaml" for d, n in teachers.items()) or "configs/<dataset>/gcn.yaml"
    text = (run_header("graphdistill compress on real datasets") + "\n"
            + markdown_table(["dataset", "student", *(["methods searched"] if args.each_method else []),
                              "chosen on validation", f"test acc % ({args.seeds} seeds)", "mean val %",
                              "student alone, val %", "student alone", "teacher (seed 0)",
                              "trials (complete + pruned)", "minutes"], rows)
            + f"\n\nBudget: {budget} per search ({searched}); the best {args.rescore} trials and the student alone "
            f"re-scored on {args.seeds} seeds and chosen by mean validation accuracy (the student alone when nothing "
            f"beats it); one teacher ({teacher}, seed 0) and its split for every seed."
            + (" Test and mean val: each method's best re-scored trial (by mean val), whether or not it beat the "
               "student alone." if args.each_method else "") + "\n")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text, flush=True)


if __name__ == "__main__":
    main()
