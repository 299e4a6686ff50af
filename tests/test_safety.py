"""Files from a user are data, never code; a run never saves a non-finite weight, never
resumes a changed run silently, and writes its files atomically."""

from __future__ import annotations

import errno
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from graphdistill.cli import main
from graphdistill.errors import CheckpointError, ConfigError, NonFiniteLossError, ResumeError
from graphdistill.lightning_cli import run_fit
from graphdistill.training.checkpoint import load_model, read_checkpoint, run_identity

from .conftest import config


# ---------------------------------------------------------------------------- helpers
class _RunsCode:
    """A pickle that runs ``touch <marker>`` when loaded without ``weights_only``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (subprocess.call, (["touch", str(self.marker)],))


def _malicious_pickle(path: Path, marker: Path) -> Path:
    with open(path, "wb") as f:
        pickle.dump({"state_dict": {}, "graphdistill": {"model": _RunsCode(marker)}}, f)
    return path


@pytest.fixture(scope="module")
def teacher_ckpt(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("teacher")
    return run_fit("--config", config("synthetic/gcn.yaml"), "--trainer.max_epochs=5",
                   f"--trainer.default_root_dir={folder}", "--trainer.logger=false")["best_checkpoint"]


def _one_line_error(capsys, args: list[str]) -> str:
    """Run ``graphdistill ARGS``: it must exit with status 2 and one line on stderr."""
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    lines = [line for line in err.splitlines() if line.startswith("graphdistill: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _student_args(tmp_path: Path, *extra: str) -> list[str]:
    return ["fit", "--config", config("synthetic/student_mlp.yaml"), f"--trainer.default_root_dir={tmp_path / 'run'}",
            "--trainer.logger=false", "--trainer.max_epochs=3", "--trainer.enable_progress_bar=false",
            "--trainer.enable_model_summary=false", *extra]


# ---------------------------------------------------------------------------- 1. no code from files
def test_a_pickle_that_runs_code_is_refused_as_teacher_and_runs_nothing(tmp_path, capsys):
    marker = tmp_path / "pwned"
    evil = _malicious_pickle(tmp_path / "evil.ckpt", marker)
    line = _one_line_error(capsys, _student_args(tmp_path, "--config", config("methods/kd.yaml"),
                                                  f"--model.init_args.teacher={evil}"))
    assert "Refused teacher checkpoint" in line and "subprocess" in line
    assert not marker.exists()


@pytest.mark.parametrize("command", ["fit", "test"])
def test_a_pickle_that_runs_code_is_refused_as_ckpt_path(tmp_path, capsys, command):
    marker = tmp_path / "pwned"
    evil = _malicious_pickle(tmp_path / "evil.ckpt", marker)
    args = _student_args(tmp_path, f"--ckpt_path={evil}")
    args[0] = command
    if command == "test":  # test takes no fit-only options
        args = [a for a in args if not a.startswith("--trainer.max_epochs")]
    line = _one_line_error(capsys, args)
    assert "Refused" in line and not marker.exists()


@pytest.mark.parametrize("class_path", ["subprocess.call", "os.system", "graphdistill.models.base.build_model"])
def test_a_weights_only_checkpoint_naming_another_class_builds_nothing(tmp_path, teacher_ckpt, class_path):
    marker = tmp_path / "pwned"
    checkpoint = torch.load(teacher_ckpt, weights_only=True)
    checkpoint["graphdistill"]["model"] = {"class_path": class_path, "init_args": {"args": ["touch", str(marker)]}}
    path = tmp_path / "named.ckpt"
    torch.save(checkpoint, path)
    with pytest.raises(CheckpointError, match="Refused to build|not a graphdistill NodeClassifier"):
        load_model(path)
    assert not marker.exists()


def test_a_class_the_user_allows_is_built(tmp_path, teacher_ckpt, monkeypatch):
    """An allowed class outside graphdistill.models (here a subclass defined in the tests)."""
    checkpoint = torch.load(teacher_ckpt, weights_only=True)
    checkpoint["graphdistill"]["model"]["class_path"] = "tests.test_safety.MyGCN"
    path = tmp_path / "mine.ckpt"
    torch.save(checkpoint, path)
    with pytest.raises(CheckpointError, match="GRAPHDISTILL_ALLOWED_MODELS=tests.test_safety.MyGCN"):
        load_model(path)
    monkeypatch.setenv("GRAPHDISTILL_ALLOWED_MODELS", "tests.test_safety.MyGCN")
    assert type(load_model(path).model).__name__ == "MyGCN"


from graphdistill.models import GCN  # noqa: E402


class MyGCN(GCN):
    """A user's own model class (allowed explicitly in a test above)."""


@pytest.mark.parametrize(("command", "option", "value", "says"), [
    ("latency", "--repeats", "0", "must be >= 1, got 0"), ("latency", "--warmup", "-1", "must be >= 0, got -1"),
    ("latency", "--batch-size", "0", "must be >= 1, got 0"),
    ("latency", "--device", "tpu", "must be cpu, cuda or cuda:N, got 'tpu'"),
    ("analyze", "--edge-drop", "1.5", "must be in [0, 1), got 1.5"),
    ("analyze", "--seeds", "0", "must be >= 1, got 0")])
def test_comparison_commands_refuse_impossible_numbers_before_reading_a_file(capsys, command, option, value, says):
    # before: --repeats 0 ended in a StatisticsError traceback after the models had been timed
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--teacher", "t.ckpt", "--students", "s.ckpt", option, value])
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and "Traceback" not in err
    assert err.splitlines()[-1] == f"graphdistill {command}: error: argument {option}: {says}"


@pytest.mark.parametrize("command", ["latency", "analyze"])
def test_evaluation_commands_refuse_a_malicious_checkpoint(tmp_path, teacher_ckpt, command):
    marker = tmp_path / "pwned"
    evil = _malicious_pickle(tmp_path / "evil.ckpt", marker)
    proc = subprocess.run([sys.executable, "-m", "graphdistill.cli", command, "--teacher", teacher_ckpt, "--students",
                           str(evil)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "GRAPHDISTILL_CACHE": str(tmp_path / "cache")})
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Refused student checkpoint" in proc.stderr and "Traceback" not in proc.stderr
    assert not marker.exists()


def test_truncated_and_missing_checkpoints_are_one_line_errors(tmp_path, teacher_ckpt, capsys):
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(Path(teacher_ckpt).read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="is corrupt or not a PyTorch checkpoint"):
        read_checkpoint(truncated)
    line = _one_line_error(capsys, _student_args(tmp_path, f"--ckpt_path={truncated}"))
    assert "truncated.ckpt is corrupt" in line
    # torch's own text for a file its weights-only unpickler cannot read asks to file an issue with torch
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(bytes(range(128, 256)) * 4)
    with pytest.raises(CheckpointError) as refused:
        read_checkpoint(garbage)
    message = str(refused.value)
    assert "garbage.ckpt is corrupt" in message and "Unsupported operand" in message
    assert "file an issue" not in message and "documentation" not in message and len(message) < 300
    line = _one_line_error(capsys, _student_args(tmp_path, f"--ckpt_path={tmp_path / 'missing.ckpt'}"))
    assert "not found" in line


# ---------------------------------------------------------------------------- 2. no NaN saved
def _all_checkpoints_finite(folder: Path) -> list[str]:
    files = sorted(folder.rglob("*.ckpt"))
    for path in files:
        state = torch.load(path, weights_only=True)["state_dict"]
        assert all(bool(v.isfinite().all()) for v in state.values() if v.is_floating_point()), path
    return [p.name for p in files]


def test_an_overflowing_weighted_total_stops_before_the_step(tmp_path, teacher_ckpt):
    """KD weight 1e39: each term is finite, their weighted sum is not."""
    with pytest.raises(NonFiniteLossError, match="train/total"):
        run_fit("--config", config("synthetic/student_mlp.yaml"), "--config", config("methods/kd.yaml"),
                f"--model.init_args.teacher={teacher_ckpt}", "--model.init_args.components.init_args.weight=1e39",
                f"--trainer.default_root_dir={tmp_path}", "--trainer.logger=false", "--trainer.max_epochs=3")
    _all_checkpoints_finite(tmp_path)


def test_a_diverging_first_epoch_writes_no_checkpoint_and_says_so(tmp_path):
    with pytest.raises(NonFiniteLossError, match="No checkpoint was written") as info:
        run_fit("--config", config("synthetic/student_mlp.yaml"), "--model.init_args.lr=1e30",
                f"--trainer.default_root_dir={tmp_path}", "--trainer.logger=false", "--trainer.max_epochs=5")
    assert "--model.init_args.lr 1e+29" in str(info.value)
    assert _all_checkpoints_finite(tmp_path) == []


import lightning as L  # noqa: E402


class BlowUpLearningRate(L.Callback):
    """Multiplies the learning rate by 1e30 at the start of epoch ``epoch``."""

    def __init__(self, epoch: int = 3) -> None:
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if trainer.current_epoch == self.epoch:
            for group in trainer.optimizers[0].param_groups:
                group["lr"] *= 1e30


def test_the_advice_after_a_divergence_works(tmp_path):
    """A run that diverges at epoch 3 names last.ckpt (epoch 2, finite); resuming from it
    with the lower learning rate the message suggests finishes the run."""
    args = ["--config", config("synthetic/student_mlp.yaml"), f"--trainer.default_root_dir={tmp_path}",
            "--trainer.logger=false", "--trainer.max_epochs=8"]
    with pytest.raises(NonFiniteLossError) as info:
        run_fit(*args, "--trainer.callbacks+=tests.test_safety.BlowUpLearningRate")
    message = str(info.value)
    last = tmp_path / "checkpoints" / "last.ckpt"
    assert f"--ckpt_path {last} --model.init_args.lr 0.001" in message
    assert torch.load(last, weights_only=True)["epoch"] == 2
    _all_checkpoints_finite(tmp_path)
    result = run_fit(*args, f"--ckpt_path={last}", "--model.init_args.lr=0.001")  # no NaN this time
    assert result["test"] is not None
    assert torch.load(last, weights_only=True)["epoch"] == 7
    _all_checkpoints_finite(tmp_path)


# ---------------------------------------------------------------------------- 3. last.ckpt is the last epoch
class WorseEveryEpoch(L.Callback):
    """Makes validation accuracy fall after epoch 1 (weights scrambled), so the best epoch is
    early and later epochs never improve on it."""

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if trainer.current_epoch >= 1:
            with torch.no_grad():
                for p in pl_module.model.parameters():
                    p.mul_(-1.0)


def test_last_ckpt_is_the_last_epoch_after_a_plateau(tmp_path):
    result = run_fit("--config", config("synthetic/student_mlp.yaml"), f"--trainer.default_root_dir={tmp_path}",
                     "--trainer.logger=false", "--trainer.max_epochs=6", "--model.init_args.lr=0.05",
                     "--trainer.callbacks+=tests.test_safety.WorseEveryEpoch")
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    best = torch.load(result["best_checkpoint"], weights_only=True)
    assert last["epoch"] == 5
    assert best["epoch"] < 5  # validation stopped improving before the end


# ---------------------------------------------------------------------------- 4. resume refuses a changed run
@pytest.fixture
def interrupted_run(tmp_path, teacher_ckpt):
    args = ["--config", config("synthetic/student_mlp.yaml"), "--config", config("methods/kd.yaml"),
            f"--model.init_args.teacher={teacher_ckpt}", f"--trainer.default_root_dir={tmp_path / 'run'}",
            "--trainer.logger=false", "--trainer.max_epochs=2"]
    run_fit(*args)
    return args, tmp_path / "run" / "checkpoints" / "last.ckpt"


@pytest.mark.parametrize("change, key", [
    (["--config", config("methods/kd_standardized.yaml")], "model.init_args.components.0.init_args.standardize"),
    (["--data.split_seed=1"], "data.split_seed"),
    (["--data.synthetic.homophily=0.5"], "data.synthetic.homophily"),
    (["--seed_everything=3"], "seed_everything"),
])
def test_resume_refuses_a_changed_run_naming_the_key(interrupted_run, change, key):
    args, last = interrupted_run
    saved_config = (last.parent.parent / "config.yaml")
    before = saved_config.read_text() if saved_config.exists() else None
    with pytest.raises(ResumeError, match=key.replace(".", r"\.")):
        run_fit(*args, *change, f"--ckpt_path={last}", "--trainer.max_epochs=4")
    after = saved_config.read_text() if saved_config.exists() else None
    assert before == after  # the refused resume rewrote nothing


def test_a_setting_added_later_keeps_the_identity_of_runs_without_it(interrupted_run):
    """``consistency`` at its None default is not part of a run's identity (runs stored and
    checkpoints written before it existed keep their config hash and resume); set, it is."""
    _, last = interrupted_run
    values = torch.load(last, weights_only=True)["graphdistill"]["config"]["values"]
    assert "model.init_args.consistency" not in values and "model.init_args.task_weight" in values
    config = {"model": {"init_args": {"lr": 0.01, "consistency": None}}}
    assert run_identity(config)["hash"] == run_identity({"model": {"init_args": {"lr": 0.01}}})["hash"]
    config["model"]["init_args"]["consistency"] = {"class_path": "graphdistill.distill.ConsistencyRegularization"}
    assert "model.init_args.consistency.class_path" in run_identity(config)["values"]


def test_resume_refuses_the_plain_config_for_a_distillation_run(interrupted_run):
    args, last = interrupted_run
    plain = args[:2] + args[5:]  # without the method config and the teacher
    with pytest.raises(ResumeError, match="class_path"):
        run_fit(*plain, f"--ckpt_path={last}", "--trainer.max_epochs=4")


def test_resume_with_more_epochs_and_another_progress_bar_is_accepted(interrupted_run):
    args, last = interrupted_run
    run_fit(*args, f"--ckpt_path={last}", "--trainer.max_epochs=3", "--trainer.enable_progress_bar=true")
    assert torch.load(last, weights_only=True)["epoch"] == 2


def test_a_second_run_into_a_used_folder_is_refused(interrupted_run):
    args, last = interrupted_run
    with pytest.raises(ConfigError, match="already holds a run .* resume it with --ckpt_path"):
        run_fit(*args)
    assert sorted(p.name for p in last.parent.glob("*.ckpt")) == sorted(
        ["last.ckpt", "best.ckpt", *(p.name for p in last.parent.glob("best-epoch=*.ckpt"))])
    assert not list(last.parent.glob("*-v1.ckpt"))


# ---------------------------------------------------------------------------- 6. files written atomically
def test_a_full_disk_leaves_the_previous_checkpoint_whole(tmp_path, monkeypatch):
    """The third checkpoint write fails half-way (ENOSPC): one-line error, and last.ckpt is
    still the complete previous one."""
    import graphdistill.training.checkpoint as checkpoint_module

    real_save, calls = torch.save, []

    def failing_save(obj, f, *args, **kwargs):
        calls.append(1)
        if len(calls) >= 5:  # best + last for epochs 0 and 1, then the disk is full
            f.write(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(checkpoint_module.torch, "save", failing_save)
    with pytest.raises(CheckpointError, match="No space left on device"):
        run_fit("--config", config("synthetic/student_mlp.yaml"), f"--trainer.default_root_dir={tmp_path}",
                "--trainer.logger=false", "--trainer.max_epochs=5")
    monkeypatch.setattr(checkpoint_module.torch, "save", real_save)
    folder = tmp_path / "checkpoints"
    assert torch.load(folder / "last.ckpt", weights_only=True)["epoch"] == 1
    assert not [p for p in folder.iterdir() if ".tmp" in p.name]


# ---------------------------------------------------------------------------- 5. the teacher cache is verified
def _cache_files(cache: Path) -> list[Path]:
    return sorted((cache / "teacher_outputs").glob("*.pt"))


@pytest.mark.parametrize("damage", ["shape", "bytes", "values", "nan"])
def test_a_damaged_teacher_cache_is_recomputed(tmp_path, teacher_ckpt, monkeypatch, damage):
    monkeypatch.setenv("GRAPHDISTILL_CACHE", str(tmp_path / "cache"))
    runs = iter(range(10))

    def distil() -> float:
        return run_fit("--config", config("synthetic/student_mlp.yaml"), "--config", config("methods/kd.yaml"),
                       f"--model.init_args.teacher={teacher_ckpt}", "--trainer.max_epochs=5", "--trainer.logger=false",
                       f"--trainer.default_root_dir={tmp_path / str(next(runs))}")["test"]

    clean = distil()
    (path,) = _cache_files(tmp_path / "cache")
    cached = torch.load(path, weights_only=True)
    if damage == "shape":
        cached["logits"] = cached["logits"][:10]
    elif damage == "values":
        cached["logits"] = cached["logits"].flip(0)
    elif damage == "nan":
        cached["logits"][0, 0] = float("nan")
    torch.save(cached, path)
    if damage == "bytes":
        raw = bytearray(path.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        path.write_bytes(bytes(raw))
    with pytest.warns(UserWarning, match="does not match the teacher: recomputing"):
        again = distil()
    assert again == clean
    (path,) = _cache_files(tmp_path / "cache")  # rewritten, and now valid
    fresh = torch.load(path, weights_only=True)
    assert fresh["logits"].shape == (3000, 5) and bool(fresh["logits"].isfinite().all())


def test_an_unwritable_cache_folder_runs_on_without_the_cache(tmp_path, teacher_ckpt, monkeypatch):
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    monkeypatch.setenv("GRAPHDISTILL_CACHE", str(blocked / "cache"))
    with pytest.warns(UserWarning, match="cannot be written: running without the cache"):
        result = run_fit("--config", config("synthetic/student_mlp.yaml"), "--config", config("methods/kd.yaml"),
                         f"--model.init_args.teacher={teacher_ckpt}", "--trainer.max_epochs=3",
                         "--trainer.logger=false", f"--trainer.default_root_dir={tmp_path / 'run'}")
    assert result["test"] > 0.2


# ---------------------------------------------------------------------------- 6. dataset files
def test_a_corrupt_processed_file_is_rebuilt(datasets_root, tmp_path):
    import shutil

    from graphdistill.data import NodeDataModule

    root = tmp_path / "root"
    shutil.copytree(datasets_root / "planetoid" / "Cora", root / "planetoid" / "Cora")
    clean = NodeDataModule("cora", root=str(root)).data
    processed = root / "planetoid" / "Cora" / "processed" / "data.pt"
    assert processed.is_file()
    processed.write_bytes(b"\x00garbage")
    with pytest.warns(UserWarning, match="data.pt does not load as plain data"):
        again = NodeDataModule("cora", root=str(root)).data
    assert torch.equal(clean.edge_index, again.edge_index) and torch.equal(clean.y, again.y)


def test_a_processed_file_that_would_run_code_is_rebuilt_not_run(datasets_root, tmp_path):
    import shutil

    from graphdistill.data import NodeDataModule

    root = tmp_path / "root"
    shutil.copytree(datasets_root / "planetoid" / "Cora", root / "planetoid" / "Cora")
    NodeDataModule("cora", root=str(root)).data  # noqa: B018  (writes processed/)
    marker = tmp_path / "pwned"
    _malicious_pickle(root / "planetoid" / "Cora" / "processed" / "data.pt", marker)
    with pytest.warns(UserWarning, match="does not load as plain data"):
        data = NodeDataModule("cora", root=str(root)).data
    assert data.num_nodes == 2708 and not marker.exists()


def test_a_raw_file_that_would_run_code_or_is_corrupt_is_named(datasets_root, tmp_path):
    import shutil

    from graphdistill.data import NodeDataModule
    from graphdistill.errors import DatasetFileError

    root = tmp_path / "root"
    shutil.copytree(datasets_root / "planetoid" / "Cora" / "raw", root / "planetoid" / "Cora" / "raw")
    marker = tmp_path / "pwned"
    _malicious_pickle(root / "planetoid" / "Cora" / "raw" / "ind.cora.x", marker)
    with pytest.raises(DatasetFileError, match="ind.cora.x cannot be read as data"):
        NodeDataModule("cora", root=str(root)).data  # noqa: B018
    assert not marker.exists()
    (root / "planetoid" / "Cora" / "raw" / "ind.cora.x").write_bytes(b"\x80\x02truncated")
    with pytest.raises(DatasetFileError, match="ind.cora.x"):
        NodeDataModule("cora", root=str(root)).data  # noqa: B018


def test_a_read_only_roots_mirror_follows_a_changed_source(datasets_root, tmp_path, monkeypatch):
    import shutil
    import stat

    import numpy as np

    from graphdistill.data import NodeDataModule

    monkeypatch.setenv("GRAPHDISTILL_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "root"
    source = root / "amazon" / "Photo" / "raw" / "amazon_electronics_photo.npz"
    shutil.copytree(datasets_root / "amazon" / "Photo" / "raw", source.parent)

    def read_only(flag: bool) -> None:
        for path in [root, *root.rglob("*")]:
            mode = path.stat().st_mode
            path.chmod(mode & ~0o222 if flag else mode | stat.S_IWUSR)

    read_only(True)
    first = NodeDataModule("amazon-photo", root=str(root)).data
    read_only(False)
    with np.load(source, allow_pickle=False) as npz:  # the same graph, one label changed
        arrays = dict(npz)
    arrays["labels"] = arrays["labels"].copy()
    arrays["labels"][0] = (arrays["labels"][0] + 1) % 8
    np.savez(source, **arrays)
    read_only(True)
    second = NodeDataModule("amazon-photo", root=str(root)).data
    read_only(False)
    assert int(second.y[0]) == (int(first.y[0]) + 1) % 8


# ---------------------------------------------------------------------------- 7. one line for a user's mistake
@pytest.mark.parametrize("extra, expected", [
    (["--model.init_args.lr=-0.01"], "lr must be a positive number"),
    (["--model.init_args.weight_decay=-1"], "weight_decay must be >= 0"),
    (["--model.init_args.model.init_args.hidden_channels=0"], "channel sizes must be positive"),
    (["--model.init_args.model.init_args.dropout=1.5"], "dropout must be in [0, 1)"),
    (["--model.init_args.model.init_args.num_layers=0"], "num_layers must be >= 1"),
    (["--trainer.max_epochs=0"], "max_epochs must be >= 1"),
    (["--trainer.default_root_dir=/proc/graphdistill-run"], "pass a writable --trainer.default_root_dir"),
    (["--model.init_args.model.class_path=subprocess.Popen"], "subprocess.Popen"),
    (["--model.init_args.model.class_path=graphdistill.models.NoSuchModel"], "NoSuchModel"),
])
def test_bad_options_are_one_line_errors(tmp_path, capsys, extra, expected):
    line = _one_line_error(capsys, _student_args(tmp_path, *extra))
    assert expected in line
    assert "NoneType" not in line


def test_kd_temperature_zero_is_a_one_line_error(tmp_path, capsys, teacher_ckpt):
    line = _one_line_error(capsys, _student_args(tmp_path, "--config", config("methods/kd.yaml"),
                                                  f"--model.init_args.teacher={teacher_ckpt}",
                                                  "--model.init_args.components.init_args.temperature=0"))
    assert "temperature must be positive" in line


def test_malformed_yaml_names_the_file_and_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("trainer:\n  max_epochs: 3\n  logger: [unclosed\nmodel: {}\n")
    line = _one_line_error(capsys, ["fit", "--config", str(bad)])
    assert str(bad) in line and "line" in line


def test_a_corrupt_raw_file_is_named_by_the_cli(datasets_root, tmp_path, capsys):
    import shutil

    root = tmp_path / "root"
    shutil.copytree(datasets_root / "amazon" / "Photo" / "raw", root / "amazon" / "Photo" / "raw")
    (root / "amazon" / "Photo" / "raw" / "amazon_electronics_photo.npz").write_bytes(b"PK\x03\x04 truncated")
    line = _one_line_error(capsys, ["fit", "--config", config("amazon-photo/student_mlp.yaml"),
                                    f"--data.root={root}", f"--trainer.default_root_dir={tmp_path / 'run'}"])
    assert "amazon_electronics_photo.npz" in line and "corrupt" in line


def test_download_without_network_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    import urllib.request

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    line = _one_line_error(capsys, ["fit", "--config", config("cora/student_mlp.yaml"), f"--data.root={tmp_path}",
                                    "--data.download=true", f"--trainer.default_root_dir={tmp_path / 'run'}"])
    assert "Could not download dataset 'cora'" in line and "raw files" in line


@pytest.mark.parametrize("text, expected", [
    ("datasets: [synthetic]\nteacher: gcn\nstudents: [mlp]\nmethods: []\nseeds: 0\n", "seeds must be a whole number"),
    ("datasets: [synthetic]\nteacher: gcn\nstudents: [mlp]\nmethods: []\nseed: 2\n", "unknown keys ['seed']"),
    ("datasets: synthetic\nteacher: gcn\nstudents: [mlp]\nmethods: []\n", "datasets must be a list"),
    ("datasets: [synthetic\n", "line"),
    ("datasets: [synthetic]\nteacher: gcn\nstudents: [mlp]\nmethods: [nope]\n", "nope.yaml"),
])
def test_experiment_grid_mistakes_are_one_line_errors(tmp_path, text, expected):
    grid = tmp_path / "grid.yaml"
    grid.write_text(text)
    command = [sys.executable, "-m", "graphdistill.cli", "grid", str(grid), "--workdir", str(tmp_path / "w")]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert expected in proc.stderr
