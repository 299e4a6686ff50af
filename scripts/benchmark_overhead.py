"""Distillation overhead: epoch time of the student alone vs the same student with KD+G-CRD,
measured in one run on one machine (the teacher's outputs are computed once, before
training, and reported separately).

    python scripts/benchmark_overhead.py --root DATA_ROOT --dataset coauthor-cs --epochs 40 \
        --out benchmarks/results/overhead.md
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from graphdistill.experiments.runs import fit_seeded
from graphdistill.reporting import markdown_table, run_header, write_report

REPO = Path(__file__).resolve().parents[1]  # the source checkout this script lives in

TIMER = ["--trainer.callbacks+=graphdistill.callbacks.EpochTimer", "--trainer.num_sanity_val_steps=0"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", required=True)
    parser.add_argument("--dataset", default="coauthor-cs")
    parser.add_argument("--student", default="gcn")
    parser.add_argument("--method", default="kd_gcrd")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--teacher-epochs", type=int, default=50, help="teacher quality does not affect timing")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "overhead.md"))
    parser.add_argument("--workdir", default="runs/benchmark_overhead")
    args = parser.parse_args()
    work, ds = Path(args.workdir), args.dataset
    epochs = f"--trainer.max_epochs={args.epochs}"

    teacher = fit_seeded([f"{ds}/gcn.yaml"], ds, 0, work / "teacher", f"--trainer.max_epochs={args.teacher_epochs}",
                         root=args.root)
    student = [f"{ds}/student_{args.student}.yaml"]
    alone = fit_seeded(student, ds, 0, work / "alone", epochs, *TIMER, root=args.root)
    no_cache = "--model.init_args.cache_teacher_outputs=false"
    start = time.perf_counter()
    distilled = fit_seeded([*student, f"methods/{args.method}.yaml"], ds, 0, work / "distilled", epochs, *TIMER,
                           f"--model.init_args.teacher={teacher['best_checkpoint']}", no_cache, root=args.root)
    total_distilled = time.perf_counter() - start

    ta, td = alone["timing"], distilled["timing"]
    rows = [
        ["student alone", f"{ta['train_s_median'] * 1000:.0f}", f"{ta['epoch_s_median'] * 1000:.0f}", "1.00x", "1.00x"],
        [f"student + {args.method}", f"{td['train_s_median'] * 1000:.0f}", f"{td['epoch_s_median'] * 1000:.0f}",
         f"{td['train_s_median'] / ta['train_s_median']:.2f}x", f"{td['epoch_s_median'] / ta['epoch_s_median']:.2f}x"],
    ]
    table = markdown_table(["run", "training step ms (median)", "epoch ms (train + val, median)",
                            "step ratio", "epoch ratio"], rows)
    text = (run_header(f"Distillation overhead on {ds}: {args.student.upper()} student, {args.method}") + "\n" + table
            + f"\n\nMedians over epochs 3..{args.epochs}. Teacher: {teacher['model']} "
            f"({teacher['parameters']:,} params); its outputs are computed once per run, before the first epoch "
            f"(the distilled run took {total_distilled:.1f} s in all, teacher pass and set-up included). "
            "Target: epoch ratio <= 1.3x.\n")
    write_report(args.out, text)


if __name__ == "__main__":
    main()
