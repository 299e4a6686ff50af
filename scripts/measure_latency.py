"""Inference latency and throughput of a teacher and its students on the same graph, with
the speedup next to the compression ratio.

Full graph (one forward pass over every node; nodes per second) and one batch of
``--batch-size`` random nodes predicted from scratch (a GNN extracts its L-hop
neighbourhood; an MLP reads the nodes' own features only), median of ``--repeats`` timed
runs after ``--warmup`` untimed ones, on the GPU when present (``--device`` to choose).

    python scripts/measure_latency.py --teacher T.ckpt --students S1.ckpt S2.ckpt --root DATA_ROOT
"""

from __future__ import annotations

import argparse

from graphdistill.data.datamodule import fingerprint_differences
from graphdistill.errors import ConfigError, exit_on_user_error
from graphdistill.evaluation.analysis import data_from_fingerprint
from graphdistill.evaluation.latency import inference_latency
from graphdistill.reporting import markdown_table, run_header
from graphdistill.training.checkpoint import load_model


@exit_on_user_error
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teacher", required=True)
    parser.add_argument("--students", nargs="+", required=True)
    parser.add_argument("--root", default=None, help="dataset root (not needed for the synthetic graph)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=1024)
    args = parser.parse_args()
    teacher_checkpoint = load_model(args.teacher, role="teacher checkpoint")
    checkpoints = [teacher_checkpoint, *(load_model(path, role="student checkpoint") for path in args.students)]
    teacher_data = teacher_checkpoint.record.get("data") or {}
    for path, student in zip(args.students, checkpoints[1:]):
        diffs = fingerprint_differences(teacher_data, student.record.get("data") or {}, names=("teacher", "student"))
        if diffs:  # a clear error for another dataset's model
            raise ConfigError(f"Student {path} was trained on other data than the teacher: {'; '.join(diffs)}.")
    data = data_from_fingerprint(teacher_data, args.root)
    rows, teacher = [], None
    for i, checkpoint in enumerate(checkpoints):
        r = inference_latency(checkpoint.model, data, args.device, args.repeats, args.warmup, args.batch_size)
        size = r["parameters"]
        teacher = teacher or (size, r)
        rows.append([f"{type(checkpoint.model).__name__}{' teacher' if i == 0 else ''}", f"{size:,}",
                     f"{teacher[0] / size:.1f}x", f"{r['full_ms']:.2f}", f"{r['nodes_per_s']:,.0f}",
                     f"{teacher[1]['full_ms'] / r['full_ms']:.1f}x", f"{r['batch_ms']:.2f}",
                     f"{teacher[1]['batch_ms'] / r['batch_ms']:.1f}x"])
    print(run_header(f"Inference latency on {data.num_nodes:,} nodes ({r['device']})"))
    print(markdown_table(["model", "params", "compression", "full-graph ms", "nodes/s", "speedup",
                          f"{args.batch_size}-node batch ms", "speedup"], rows))


if __name__ == "__main__":
    main()
