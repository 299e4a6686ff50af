"""Neighbor-sampled distillation (KD + G-CRD) on large synthetic graphs: throughput, time and
peak memory as the graph grows, on this machine.

For each size, two fresh processes (so that each one's peak memory is its own):

1. the teacher, a 3-layer GCN (64 wide), trained for ``--teacher-epochs`` sampled epochs
   (seeded at the labelled nodes; validated every 10 epochs);
2. the student, a 2-layer GCN (16 wide), distilled with KD + G-CRD for one epoch of
   ``--batches`` batches of ``--batch-size`` seed nodes (fan-outs 10, 5), with the teacher's
   outputs computed once by layer-wise inference over the whole graph and a layer-wise
   validation pass at the end.

The graph is the embedded CSBM with ``--avg-degree`` (each undirected edge counted once:
``num_nodes · avg_degree / 2`` edges, stored in both directions). Peak memory is the
process's maximum resident set size (``ru_maxrss``), graph generation included.

    python scripts/benchmark_scale.py --sizes 200000 500000 1000000 --avg-degree 20 \
        --out benchmarks/results/scale.md

(``OMP_NUM_THREADS`` sets the CPU threads; the header records them.)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _run_one(args: argparse.Namespace) -> None:
    """One phase at one size in this process; prints a JSON line with its measurements."""
    from graphdistill.config_files import CONFIG_DIR
    from graphdistill.lightning_cli import run_fit

    cfg = CONFIG_DIR
    n = args.one
    graph = [f"--data.synthetic.num_nodes={n}", f"--data.synthetic.avg_degree={args.avg_degree}",
             "--data.loader=neighbor", f"--data.batch_size={args.batch_size}", "--data.num_workers=0",
             "--trainer.num_sanity_val_steps=0", "--trainer.logger=false",
             f"--trainer.default_root_dir={args.workdir}/{n}/{args.phase}"]
    timer = '--trainer.callbacks+={"class_path": "graphdistill.callbacks.EpochTimer", "init_args": {"warmup": 0}}'
    start = time.perf_counter()
    if args.phase == "teacher":
        result = run_fit("--config", str(cfg / "synthetic/gcn.yaml"), *graph, "--data.num_neighbors=[10, 10, 5]",
                         f"--trainer.max_epochs={args.teacher_epochs}",
                         f"--trainer.check_val_every_n_epoch={min(10, args.teacher_epochs)}")
    else:
        teacher = json.loads(Path(args.teacher_results).read_text())["best_checkpoint"]
        result = run_fit("--config", str(cfg / "synthetic/student_gcn.yaml"), "--config",
                         str(cfg / "methods/kd_gcrd.yaml"), *graph, "--data.num_neighbors=[10, 5]",
                         f"--model.init_args.teacher={teacher}", "--model.init_args.cache_teacher_outputs=false",
                         "--trainer.max_epochs=1", f"--trainer.limit_train_batches={args.batches}", timer)
    result["wall_s"] = time.perf_counter() - start
    result["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    Path(args.workdir, str(n), f"{args.phase}.json").write_text(json.dumps(result, indent=2))


def _spawn(args: argparse.Namespace, n: int, phase: str) -> dict:
    out = Path(args.workdir, str(n), f"{phase}.json")
    cmd = [sys.executable, __file__, "--one", str(n), "--phase", phase, "--avg-degree", str(args.avg_degree),
           "--batch-size", str(args.batch_size), "--batches", str(args.batches),
           "--teacher-epochs", str(args.teacher_epochs), "--workdir", args.workdir,
           "--teacher-results", str(Path(args.workdir, str(n), "teacher.json"))]
    print(f"[{n:,} nodes] {phase} ...", flush=True)
    subprocess.run(cmd, check=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[200_000, 500_000, 1_000_000])
    parser.add_argument("--avg-degree", type=float, default=20.0)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--batches", type=int, default=100, help="distillation batches timed per size")
    parser.add_argument("--teacher-epochs", type=int, default=30)
    parser.add_argument("--workdir", default="runs/benchmark_scale")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "scale.md"))
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--phase", choices=["teacher", "student"], help=argparse.SUPPRESS)
    parser.add_argument("--teacher-results", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        _run_one(args)
        return

    from graphdistill.reporting import markdown_table, run_header, write_report

    rows, points = [], []
    for n in args.sizes:
        teacher = _spawn(args, n, "teacher")
        student = _spawn(args, n, "student")
        timing = student["timing"]
        edges = int(n * args.avg_degree / 2)
        points.append((n, timing["train_s_median"], student["peak_rss_gib"], timing["setup_s"], timing["val_s_median"]))
        rows.append([f"{n:,}", f"{edges:,}", f"{timing['seeds_per_s']:,.0f}", f"{timing['train_s_median']:.1f}",
                     f"{timing['setup_s']:.1f}", f"{timing['val_s_median']:.1f}", f"{student['wall_s']:.0f}",
                     f"{student['peak_rss_gib']:.2f}", f"{teacher['peak_rss_gib']:.2f}",
                     f"{100 * teacher['best_val']:.1f} / {100 * student['best_val']:.1f}"])
    base = points[0]
    ratios = [f"{n / base[0]:.1f}x nodes: {t / base[1]:.2f}x training time, {m / base[2]:.2f}x peak memory, "
              f"{s / base[3]:.2f}x teacher pass, {v / base[4]:.2f}x validation"
              for n, t, m, s, v in points[1:]]
    table = markdown_table(
        ["nodes", "edges (undirected)", "seed nodes / s", f"{args.batches} batches (s)",
         "teacher outputs + set-up (s)", "layer-wise validation (s)", "student process (s)",
         "student peak RSS (GiB)", "teacher peak RSS (GiB)", "val acc % teacher / student"], rows)
    text = (run_header("Neighbor-sampled distillation at scale (KD + G-CRD, synthetic CSBM)") + "\n" + table
            + "\n\nGrowth against the smallest graph, measured in this run: " + "; ".join(ratios) + ".\n\n"
            f"Teacher: GCN 3x64, {args.teacher_epochs} sampled epochs over the labelled nodes (fan-outs 10, 10, 5). "
            "Student: GCN 2x16, "
            f"KD + G-CRD (`configs/methods/kd_gcrd.yaml`), one epoch of {args.batches} batches of "
            f"{args.batch_size} seed nodes (fan-outs 10, 5; seeds drawn from every node). The teacher's outputs "
            "(logits and hidden layers for every node) are computed once, by layer-wise inference in chunks of "
            "16,384 target nodes; validation and test use the same layer-wise inference. Peak RSS is the whole "
            "process: graph generation, sampler, teacher outputs and training.\n")
    write_report(args.out, text)
    _plot(points, Path(args.out).with_suffix(".png"))


def _plot(points: list[tuple], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nodes = [p[0] / 1e6 for p in points]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax1.plot(nodes, [p[1] for p in points], "o-", label="training batches")
    ax1.plot(nodes, [p[3] for p in points], "s-", label="teacher outputs + set-up")
    ax1.plot(nodes, [p[4] for p in points], "^-", label="layer-wise validation")
    ax1.set_xlabel("nodes (millions)")
    ax1.set_ylabel("seconds")
    ax1.legend()
    ax2.plot(nodes, [p[2] for p in points], "o-")
    ax2.axhline(16, color="r", linestyle="--", label="16 GiB target")
    ax2.set_xlabel("nodes (millions)")
    ax2.set_ylabel("peak RSS of the distillation process (GiB)")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
