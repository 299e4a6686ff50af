"""How much of its teacher a student kept, and how it holds up under perturbation.

For a teacher checkpoint and any number of student checkpoints (alone, distilled, OAD
students): linear CKA of the logits and of the last hidden layers, local structure
agreement (correlation over edges of the endpoints' cosine similarity) and global
structure agreement (correlation of all pairwise distances among 1,000 sampled nodes), and
test accuracy with a fraction of edges dropped or Gaussian feature noise added at test
time (mean over 3 draws). All on the teacher's graph and split.

    python scripts/analyze_distillation.py --teacher T.ckpt --students A.ckpt B.ckpt --root DATA_ROOT \
        --edge-drop 0.2 0.5 --feature-noise 0.5 1.0 --out benchmarks/results/analysis_cora.md
"""

from __future__ import annotations

import argparse

from graphdistill.errors import exit_on_user_error
from graphdistill.evaluation.analysis import analyze, format_measurement, measurement_columns
from graphdistill.reporting import markdown_table, run_header, write_report


def format_rows(rows: list[dict]) -> str:
    keys = measurement_columns(rows)
    table = [[f"{row['model']} teacher" if i == 0 else row["model"], f"{row['parameters']:,}",
              *(format_measurement(k, row.get(k)) for k in keys)] for i, row in enumerate(rows)]
    return markdown_table(["model", "params", *keys], table)


@exit_on_user_error
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teacher", required=True)
    parser.add_argument("--students", nargs="+", required=True)
    parser.add_argument("--root", default=None, help="dataset root (not needed for the synthetic graph)")
    parser.add_argument("--edge-drop", nargs="*", type=float, default=[0.2, 0.5])
    parser.add_argument("--feature-noise", nargs="*", type=float, default=[0.5, 1.0],
                        help="noise std as a fraction of each feature's std")
    parser.add_argument("--seeds", type=int, default=3, help="perturbation draws averaged")
    parser.add_argument("--out", default=None, help="write the table here (Markdown)")
    args = parser.parse_args()
    rows = analyze(args.teacher, args.students, args.root, tuple(args.edge_drop), tuple(args.feature_noise),
                   args.seeds)
    text = (run_header("Teacher-student similarity and robustness") + "\n" + format_rows(rows)
            + "\n\nCKA / local / global: agreement with the teacher (1 = same). Accuracies in % on the test "
            "nodes: clean, with a fraction of edges dropped (edge_drop_p), with Gaussian feature noise of a "
            "fraction of each feature's std (feature_noise_s).\n\nCheckpoints:\n"
            + "\n".join(f"- {r['checkpoint']}" for r in rows) + "\n")
    write_report(args.out, text)


if __name__ == "__main__":
    main()
