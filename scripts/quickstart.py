"""The main job, end to end on the embedded synthetic graph (no download):
train a GNN teacher, train the student alone, distil the teacher into the student, and
print the three test accuracies (each at its best validation epoch) with the compression
ratio.

    python scripts/quickstart.py [--workdir runs/quickstart]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from graphdistill.cli import run_fit

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", default="runs/quickstart")
    args = parser.parse_args()
    common = ["--trainer.logger=false"]
    teacher = run_fit("--config", str(REPO / "configs/synthetic/gcn.yaml"),
                      f"--trainer.default_root_dir={args.workdir}/teacher", *common)
    print(f"\nTeacher {teacher['model']} ({teacher['parameters']:,} params): "
          f"test accuracy {100 * teacher['test']:.2f}%")


if __name__ == "__main__":
    main()
