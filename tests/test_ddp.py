"""Every module under DDP: 2 CPU processes (gloo) train, validate and test the same model as
one process (and predict the same file), for plain training and every packaged method config (among them extra student
passes inside a step, several optimizers, K students with K discriminators, once-per-run
caches computed on the graph); and the SLURM scripts' command as a 2-task job."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from graphdistill.lightning_cli import run_fit

from .conftest import REPO, config

# Dropout, DropNode views and sampled nodes stay as shipped: Lightning re-seeds every rank alike when DDP starts,
# so both ranks draw what a one-process DDP run draws, and the mean of two identical full-graph gradients is that
# run's gradient to the last bit: the two runs must agree exactly.
EPOCHS = "--trainer.max_epochs=8"
GNN_STUDENT = ["--config", config("synthetic/student_gcn.yaml")]
MLP_STUDENT = ["--config", config("synthetic/student_mlp.yaml")]
#: every packaged method config, so that a new method is under DDP the day it ships
METHODS = ["plain", "plain_consistency", *sorted(p.stem for p in Path(config("methods")).glob("*.yaml"))]


def _process(tmp_path: Path, name: str, args: list[str], env_extra: dict[str, str] | None = None,
             devices: int = 2, launcher: list[str] | None = None) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GRAPHDISTILL_CACHE": str(tmp_path / f"cache-{name}"),
           **(env_extra or {})}
    cmd = launcher or [sys.executable, "-m", "graphdistill.cli", "fit", *args, "--trainer.accelerator=cpu",
                       f"--trainer.devices={devices}", "--trainer.strategy=ddp",
                       f"--trainer.default_root_dir={tmp_path / name}", "--trainer.logger=false",
                       "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)


def _finish(proc: subprocess.Popen) -> str:
    out, err = proc.communicate(timeout=400)
    assert proc.returncode == 0, (out[-2000:], err[-4000:])
    return out + err


@pytest.fixture(scope="module")
def teacher(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("ddp-teacher")
    return run_fit("--config", config("synthetic/gcn.yaml"), "--trainer.max_epochs=15",
                   f"--trainer.default_root_dir={folder}", "--trainer.logger=false")["best_checkpoint"]


def _method_args(method: str) -> list[str]:
    """The student and method config of one DDP comparison: a method that reads position
    features trains the MLP student (only it takes them), every other one the GCN."""
    if method == "plain":
        return [*GNN_STUDENT, EPOCHS]
    if method == "plain_consistency":  # GRAND's DropNode views
        return [*GNN_STUDENT, EPOCHS, "--model.init_args.consistency=graphdistill.distill.ConsistencyRegularization"]
    path = config(f"methods/{method}.yaml")
    student = MLP_STUDENT if "position_channels" in Path(path).read_text() else GNN_STUDENT
    extra = ["--model.init_args.warmup_epochs=3"] if method == "oad" else []
    return [*student, "--config", path, EPOCHS, *extra]


def test_every_method_config_is_compared():
    assert {"kd", "kd_adversarial", "gcrd", "abkd", "graphakd", "oad", "propagated_kd_positions_codebook",
            "propagated_kd_positions_neighbourhood", "gsp"} <= set(METHODS)


@pytest.mark.parametrize("method", METHODS)
def test_two_processes_match_one(tmp_path, teacher, method):
    args = _method_args(method)
    if method not in ("plain", "plain_consistency", "oad"):
        args.append(f"--model.init_args.teacher={teacher}")
    # the one-process run is DDP on one process: it takes the re-seed DDP makes when it starts
    two, one = _process(tmp_path, "two", args), _process(tmp_path, "one", args, devices=1)
    _finish(two), _finish(one)
    one, two = (json.loads((tmp_path / name / "results.json").read_text()) for name in ("one", "two"))
    assert (two["best_val"], two["test"]) == (one["best_val"], one["test"])
    assert one["test"] > 0.3  # it learned (chance is 0.2)


def test_predict_under_two_processes_writes_the_one_process_predictions(tmp_path, teacher):
    """Each rank predicts the whole graph (Lightning's predict sampler gave rank 1 nothing: a crash) and rank 0
    writes predictions.csv, byte for byte the one-process file."""
    from graphdistill.cli import main

    args = ["predict", "--config", config("synthetic/gcn.yaml"), f"--ckpt_path={teacher}", "--trainer.logger=false"]
    two = _process(tmp_path, "two", [], launcher=[
        sys.executable, "-m", "graphdistill.cli", *args, "--trainer.accelerator=cpu", "--trainer.devices=2",
        "--trainer.strategy=ddp", f"--trainer.default_root_dir={tmp_path / 'two'}"])
    main([*args, f"--trainer.default_root_dir={tmp_path / 'one'}"])
    assert _finish(two).count("Wrote ") == 1  # rank 0 only
    one = (tmp_path / "one" / "predictions.csv").read_text()
    assert one.count("\n") == 3001 and (tmp_path / "two" / "predictions.csv").read_text() == one


def _srun_line(script: str) -> list[str]:
    """The ``graphdistill fit ...`` command of a shipped sbatch script, as its words."""
    text = (REPO / "scripts" / "slurm" / script).read_text().replace("\\\n", " ")
    line = next(line for line in text.splitlines() if line.strip().startswith("srun graphdistill"))
    return [w for w in shlex.split(line.strip()[len("srun "):]) if w != "$@"]  # "$@": the user's extra arguments


def test_the_single_node_sbatch_command_runs_as_a_two_task_slurm_job(tmp_path):
    """The script's own command, started twice with the environment SLURM gives the two
    tasks of a job: Lightning reads the ranks from it and the tasks train as one DDP run."""
    words = _srun_line("single_node.sbatch")
    job = "4242"
    slurm = {"SLURM_NTASKS": "2", "SLURM_NTASKS_PER_NODE": "2", "SLURM_NNODES": "1", "SLURM_NODEID": "0",
             "SLURM_JOB_ID": job, "SLURM_JOB_NAME": "graphdistill", "SLURM_NODELIST": "localhost",
             "SLURM_SUBMIT_DIR": str(REPO), "SLURM_CPUS_PER_TASK": "1"}
    substituted = [re.sub(r"\$(\w+)", lambda m: {"CONFIG": config("synthetic/student_gcn.yaml"), **slurm}[m.group(1)],
                          w) for w in words]
    assert substituted[:2] == ["graphdistill", "fit"]
    root = tmp_path / "runs"
    command = [sys.executable, "-m", "graphdistill.cli", *substituted[1:], "--trainer.accelerator=cpu",
               "--trainer.max_epochs=10", "--trainer.logger=false", "--trainer.enable_progress_bar=false",
               f"--trainer.default_root_dir={root}"]
    procs = [_process(tmp_path, "slurm", [], {**slurm, "SLURM_PROCID": str(rank), "SLURM_LOCALID": str(rank)},
                      launcher=command) for rank in range(2)]
    logs = [_finish(proc) for proc in procs]
    assert "MEMBER: 1/2" in logs[0] and "MEMBER: 2/2" in logs[1]  # one DDP run of two ranks, from SLURM's variables
    results = json.loads((root / "results.json").read_text())
    assert results["test"] > 0.4


def test_shipped_slurm_and_sweep_files_point_at_what_exists():
    """Log folders exist before SLURM opens them (no sub-folder that nothing creates), the
    trainer config names the script that exists, and the sweep's teacher is the checkpoint
    its own comment's command writes (checked by test_fit_writes_a_stable_best_checkpoint)."""
    for script in (REPO / "scripts" / "slurm").glob("*.sbatch"):
        for output in re.findall(r"#SBATCH --output=(\S+)", script.read_text()):
            assert "/" not in output, f"{script.name}: {output} needs a folder that nothing creates"
    named = re.findall(r"scripts/slurm/(\S+\.sbatch)", Path(config("trainer/multinode.yaml")).read_text())
    assert named and all((REPO / "scripts" / "slurm" / n).is_file() for n in named)
    sweep = Path(config("sweeps/kd_cora.yaml")).read_text()
    teacher = re.search(r"model\.init_args\.teacher:\s*\n\s*value: (\S+)", sweep).group(1)
    assert teacher == "runs/cora/gcn/checkpoints/best.ckpt"
    assert "graphdistill fit --config configs/cora/gcn.yaml --trainer.logger false" in sweep


def test_fit_writes_a_stable_best_checkpoint(tmp_path):
    """``checkpoints/best.ckpt`` is the best-validation checkpoint (what sweeps point at)."""
    import torch

    result = run_fit("--config", config("synthetic/student_mlp.yaml"), "--trainer.max_epochs=3",
                     f"--trainer.default_root_dir={tmp_path}", "--trainer.logger=false")
    best = torch.load(tmp_path / "checkpoints" / "best.ckpt", weights_only=True)
    assert best["epoch"] == torch.load(result["best_checkpoint"], weights_only=True)["epoch"]
