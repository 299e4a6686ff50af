"""Distillation overhead: epoch time of the student alone vs the same student with a method,
measured in one run on one machine, repeats interleaved (alone, distilled, alone, distilled, …)
so that drift of the machine hits both sides alike; reports the median ratio over the pairs
and its spread (the teacher's outputs are computed once per run, before training, and
reported separately).

    python scripts/benchmark_overhead.py --root DATA_ROOT --dataset coauthor-cs --epochs 40 --repeats 5 \
        --out benchmarks/results/overhead.md
"""

from __future__ import annotations

import argparse
import statistics
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
    parser.add_argument("--repeats", type=int, default=5, help="pairs of runs (alone, distilled), interleaved")
    parser.add_argument("--teacher-epochs", type=int, default=50, help="teacher quality does not affect timing")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "overhead.md"))
    parser.add_argument("--workdir", default="runs/benchmark_overhead")
    args = parser.parse_args()
    work, ds = Path(args.workdir), args.dataset
    epochs = f"--trainer.max_epochs={args.epochs}"

    teacher = fit_seeded([f"{ds}/gcn.yaml"], 0, work / "teacher", f"--trainer.max_epochs={args.teacher_epochs}",
                         root=args.root, reuse=True)
    student = [f"{ds}/student_{args.student}.yaml"]
    distill = [f"--model.init_args.teacher={teacher['best_checkpoint']}",
               "--model.init_args.cache_teacher_outputs=false"]
    pairs, totals = [], []
    for r in range(args.repeats):  # fresh runs every time (never read back): timing is what is measured
        alone = fit_seeded(student, 0, work / f"alone{r}", epochs, *TIMER, root=args.root)
        start = time.perf_counter()
        distilled = fit_seeded([*student, f"methods/{args.method}.yaml"], 0, work / f"distilled{r}", epochs,
                               *TIMER, *distill, root=args.root)
        totals.append(time.perf_counter() - start)
        pairs.append((alone["timing"], distilled["timing"]))
        print(f"pair {r}: epoch ratio {pairs[-1][1]['epoch_s_median'] / pairs[-1][0]['epoch_s_median']:.2f}x",
              flush=True)

    def spread(key: str) -> tuple[float, float, float, list[float]]:
        ratios = sorted(d[key] / a[key] for a, d in pairs)
        return statistics.median(ratios), ratios[0], ratios[-1], ratios

    def ms(side: int, key: str) -> str:
        return f"{1000 * statistics.median(p[side][key] for p in pairs):.0f}"

    step, epoch = spread("train_s_median"), spread("epoch_s_median")
    rows = [
        ["student alone", ms(0, "train_s_median"), ms(0, "epoch_s_median"), "1.00x", "1.00x"],
        [f"student + {args.method}", ms(1, "train_s_median"), ms(1, "epoch_s_median"),
         f"{step[0]:.2f}x ({step[1]:.2f}–{step[2]:.2f})", f"{epoch[0]:.2f}x ({epoch[1]:.2f}–{epoch[2]:.2f})"],
    ]
    table = markdown_table(["run", "training step ms (median)", "epoch ms (train + val, median)",
                            "step ratio (min–max)", "epoch ratio (min–max)"], rows)
    text = (run_header(f"Distillation overhead on {ds}: {args.student.upper()} student, {args.method}") + "\n" + table
            + f"\n\n{args.repeats} interleaved pairs of runs (alone, distilled, alone, …), {args.epochs} epochs each; "
            f"per run the median over epochs 3..{args.epochs}, per pair the ratio distilled / alone; the table gives "
            f"the median ratio over the pairs and its range (epoch ratios: "
            f"{', '.join(f'{x:.2f}' for x in epoch[3])}). Teacher: {teacher['model']} ({teacher['parameters']:,} "
            f"params); its outputs are computed once per run, before the first epoch (a distilled run took "
            f"{statistics.median(totals):.1f} s in all, median, teacher pass and set-up included). "
            "Target: epoch ratio <= 1.3x.\n")
    write_report(args.out, text)


if __name__ == "__main__":
    main()
