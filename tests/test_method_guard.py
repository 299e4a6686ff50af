"""The accuracy guard: every method config in ``configs/methods/`` distils a real teacher
into a real student on Cora, 3 seeds, and the student must be no worse than the same
student trained alone on the same seeds (beyond a stated tolerance); logit methods must
also keep most of their measured gain. A regression in any method fails CI.

Setting (fast, real): Cora's public split; the GCN 2×64 teacher of ``configs/cora/gcn.yaml``
(100 epochs); the MLP 2×32 student of ``configs/cora/student_mlp.yaml`` (100 epochs; OAD's
group of 4 MLPs trains 40 warm-up + 60 distillation epochs). Test accuracy at the best
validation epoch, mean over seeds 0, 1, 2. The gain floors were set from one measured run
of this file (``benchmarks/results/method_guard.md``) at about half the measured gain, so
that noise does not fail it while a broken method does.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from graphdistill.lightning_cli import run_fit

from .conftest import config

pytestmark = pytest.mark.slow

SEEDS = (0, 1, 2)
EPOCHS = "--trainer.max_epochs=100"
#: how far below the student alone (mean over seeds, accuracy points) a method may land
TOLERANCE = 1.5
#: methods whose gain over the student alone must stay at least this large (points): about
#: half the gain measured in benchmarks/results/method_guard.md, for every method that gained
#: more than 5 points there (AT, LSP, GSP and OAD did not: they have the tolerance only)
MIN_GAIN = {"kd": 8.0, "kd_standardized": 12.0, "kd_gcrd": 8.0, "abkd_kd": 8.0, "abkd_kd_standardized": 12.0,
            "fitnet": 4.0, "gcrd": 6.0, "graphakd": 6.0, "abkd": 3.0,
            "glnn": 8.0, "glnn_positions": 9.0, "propagated_kd": 8.0, "propagated_kd_positions": 9.0}
METHODS = sorted(p.stem for p in Path(config("methods")).glob("*.yaml"))
MEASURED: dict[str, float] = {}


def _fit(root: Path, workdir: Path, seed: int, *args: str) -> dict:
    return run_fit(*args, f"--data.root={root}", f"--seed_everything={seed}", f"--trainer.default_root_dir={workdir}",
                   "--trainer.logger=false")


@pytest.fixture(scope="module")
def cora_runs(datasets_root, tmp_path_factory) -> dict:
    """Per seed: the teacher's checkpoint and the student alone's test accuracy."""
    work = tmp_path_factory.mktemp("guard")
    runs = {}
    for seed in SEEDS:
        teacher = _fit(datasets_root, work / f"teacher{seed}", seed, "--config", config("cora/gcn.yaml"), EPOCHS)
        alone = _fit(datasets_root, work / f"alone{seed}", seed, "--config", config("cora/student_mlp.yaml"), EPOCHS)
        runs[seed] = {"teacher": teacher["best_checkpoint"], "alone": alone["test"], "work": work}
    return runs


def test_every_method_config_is_guarded():
    assert set(METHODS) >= {"kd", "kd_standardized", "fitnet", "at", "lsp", "gsp", "gcrd", "kd_gcrd", "abkd",
                            "abkd_kd", "abkd_kd_standardized", "graphakd", "oad"}


@pytest.mark.parametrize("method", METHODS)
def test_distilled_student_is_not_worse_than_alone(method, cora_runs, datasets_root):
    distilled, alone = [], []
    for seed, run in cora_runs.items():
        args = ["--config", config("cora/student_mlp.yaml"), "--config", config(f"methods/{method}.yaml"), EPOCHS]
        if method == "oad":
            args.append("--model.init_args.warmup_epochs=40")
        else:
            args.append(f"--model.init_args.teacher={run['teacher']}")
        distilled.append(_fit(datasets_root, run["work"] / f"{method}{seed}", seed, *args)["test"])
        alone.append(run["alone"])
    gain = 100 * (sum(distilled) - sum(alone)) / len(SEEDS)
    MEASURED[method] = gain
    print(f"{method}: distilled {[round(100 * d, 2) for d in distilled]}, alone {[round(100 * a, 2) for a in alone]}, "
          f"gain {gain:+.2f} points")
    assert gain >= -TOLERANCE, f"{method} is {-gain:.2f} points below the student alone (tolerance {TOLERANCE})"
    assert gain >= MIN_GAIN.get(method, -TOLERANCE), f"{method} gained only {gain:.2f} points"
