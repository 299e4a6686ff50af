"""graphdistill compress on real datasets: the chosen method per dataset and student, its test
accuracy over seeds beside the student alone and the teacher, at a stated search budget.

Each (dataset, student) runs ``graphdistill compress`` with the dataset's default teacher
(``configs/<dataset>/gcn.yaml``, seed 0, trained first) into ``--workdir/<dataset>-<student>``;
a finished one is read back (the command resumes)::

    python scripts/benchmark_compress.py --root ../shared/datasets \\
        --datasets cora citeseer amazon-photo coauthor-cs --students mlp gcn --trials 16 --timeout 600 --seeds 5

The table is rewritten after every (dataset, student), so a stopped benchmark keeps what it
finished.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from graphdistill.errors import exit_on_user_error
from graphdistill.reporting import markdown_table, run_header

REPO = Path(__file__).resolve().parents[1]


@exit_on_user_error
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", required=True)
    parser.add_argument("--datasets", nargs="+", default=["cora", "citeseer", "amazon-photo", "coauthor-cs"])
    parser.add_argument("--students", nargs="+", default=["mlp", "gcn"])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--timeout", type=int, default=None, help="seconds per search (compress --timeout)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--workdir", default=str(REPO / "runs" / "benchmark_compress"))
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "compress.md"))
    args = parser.parse_args()
    rows = []
    for dataset in args.datasets:
        for student in args.students:
            out = Path(args.workdir) / f"{dataset}-{student}"
            command = ["graphdistill", "compress", f"--data.dataset={dataset}", f"--data.root={args.root}",
                       "--student", student, "--trials", str(args.trials), "--seeds", str(args.seeds),
                       "--out", str(out)]
            if args.timeout:
                command += ["--timeout", str(args.timeout)]
            print("$", " ".join(command), flush=True)
            started = time.time()
            exe = Path(sys.executable).with_name("graphdistill")
            subprocess.run([str(exe) if exe.exists() else "graphdistill", *command[1:]], check=True)
            s = json.loads((out / "summary.json").read_text())
            chosen, alone, teacher = s["chosen"], s["alone"], s["teacher"]
            states = [t["state"] for t in s["trials"]]
            rows.append([dataset, chosen["model"], f"**{chosen['method']}**",
                         f"{100 * chosen['test_mean']:.2f} ± {100 * chosen['test_std']:.2f}",
                         f"{100 * alone['test_mean']:.2f} ± {100 * alone['test_std']:.2f}",
                         f"{100 * teacher['test']:.2f}",
                         f"{states.count('COMPLETE')} + {states.count('PRUNED')}",
                         f"{(time.time() - started) / 60:.0f}"])
            _write_table(args, rows)


def _write_table(args: argparse.Namespace, rows: list[list[str]]) -> None:
    budget = f"{args.trials} trials" + (f" or {args.timeout} s, whichever comes first," if args.timeout else "")
    text = (run_header("graphdistill compress on real datasets") + "\n"
            + markdown_table(["dataset", "student", "chosen on validation",
                              f"test acc % ({args.seeds} seeds)", "student alone", "teacher (seed 0)",
                              "trials (complete + pruned)", "minutes"], rows)
            + f"\n\nBudget: {budget} per dataset and student (every method with a search space that fits), "
            f"the best 3 trials and the student alone re-scored on {args.seeds} seeds and chosen by mean "
            "validation accuracy; one teacher (configs/<dataset>/gcn.yaml, seed 0) and its split for every seed.\n")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text, flush=True)


if __name__ == "__main__":
    main()
