import hashlib
import shutil
from pathlib import Path

import lightning as L
import pytest
import torch

from graphdistill.cli import main
from graphdistill.lightning_cli import run_fit
from graphdistill.training.teacher import FrozenTeacher

from .conftest import config

STUDENT = config("synthetic/student_mlp.yaml")
KD_GCRD = config("methods/kd_gcrd.yaml")


class CrashAtEpoch(L.Callback):
    """Simulates a run killed at the start of epoch ``epoch`` (after the previous epoch's checkpoint)."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if trainer.current_epoch == self.epoch:
            raise RuntimeError("simulated crash")


def _distil(tmp_path, teacher, *extra):
    return run_fit("--config", STUDENT, "--config", KD_GCRD, f"--model.init_args.teacher={teacher}",
                   f"--trainer.default_root_dir={tmp_path}", "--trainer.logger=false", *extra)


def test_teacher_runs_once_per_run_and_not_at_all_with_its_cache(tmp_path, monkeypatch, synthetic_teacher):
    monkeypatch.setenv("GRAPHDISTILL_CACHE", str(tmp_path / "cache"))
    calls, teachers = [], []
    original_init = FrozenTeacher.__init__

    def counting_init(self, path, read=None):
        original_init(self, path, read)
        forward = self.model.forward
        self.model.forward = lambda *a, **k: calls.append(1) or forward(*a, **k)
        teachers.append(self)

    monkeypatch.setattr(FrozenTeacher, "__init__", counting_init)
    _distil(tmp_path / "a", synthetic_teacher, "--trainer.max_epochs=5")
    assert len(calls) == 1  # 5 epochs of training and validation, one teacher pass
    assert not teachers[-1].model.training
    assert not any(p.requires_grad for p in teachers[-1].model.parameters())
    _distil(tmp_path / "b", synthetic_teacher, "--trainer.max_epochs=5")
    assert len(calls) == 1  # second run read the cached outputs
    no_cache = "--model.init_args.cache_teacher_outputs=false"
    _distil(tmp_path / "c", synthetic_teacher, "--trainer.max_epochs=2", no_cache)
    assert len(calls) == 2


def test_student_checkpoint_records_teacher_without_its_weights(tmp_path, synthetic_teacher):
    result = _distil(tmp_path, synthetic_teacher, "--trainer.max_epochs=3")
    ckpt = torch.load(result["best_checkpoint"], map_location="cpu", weights_only=True)
    keys = list(ckpt["state_dict"])
    assert keys and all(k.startswith(("model.", "components.")) for k in keys), keys
    assert any(k.startswith("components.1.teacher_head") for k in keys)  # G-CRD heads are saved
    teacher_params = torch.load(synthetic_teacher, map_location="cpu", weights_only=True)["state_dict"]
    assert not any(k.startswith("teacher") for k in keys)
    assert sum(v.numel() for k, v in ckpt["state_dict"].items() if k.startswith("model.")) < sum(
        v.numel() for v in teacher_params.values())
    teacher_size = sum(v.numel() for k, v in teacher_params.items() if k.startswith("model."))
    assert result["teacher"]["parameters"] == teacher_size > 0  # frozen, but counted
    record = ckpt["graphdistill"]["teacher"]
    assert record["sha256"] == hashlib.sha256(Path(synthetic_teacher).read_bytes()).hexdigest()
    assert record["path"].endswith(".ckpt") and record["model"]["class_path"] == "graphdistill.models.gnn.GCN"


def test_killed_run_resumes_to_the_same_result(tmp_path, synthetic_teacher):
    # G-CRD samples 400 of the 3000 nodes per step, so the random stream must resume exactly too.
    sampled = tmp_path / "sampled.yaml"
    sampled.write_text(open(KD_GCRD).read().replace("max_nodes: 1024", "max_nodes: 400"))
    assert "max_nodes: 400" in sampled.read_text()
    common = ["--trainer.max_epochs=12", "--config", str(sampled)]
    straight = _distil(tmp_path / "straight", synthetic_teacher, *common)
    crash = ["--trainer.callbacks+=tests.test_distillation.CrashAtEpoch", "--trainer.callbacks.epoch=7"]
    with pytest.raises(RuntimeError, match="simulated crash"):
        _distil(tmp_path / "killed", synthetic_teacher, *common, *crash)
    last = tmp_path / "killed" / "checkpoints" / "last.ckpt"
    assert 4 <= torch.load(last, weights_only=True)["epoch"] <= 7  # killed mid-way
    resumed = _distil(tmp_path / "killed", synthetic_teacher, *common, f"--ckpt_path={last}")
    a = torch.load(tmp_path / "straight" / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    b = torch.load(last, weights_only=True)["state_dict"]
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)
    assert resumed["best_val"] == straight["best_val"] and resumed["test"] == straight["test"]


def _error(capsys, *args):
    with pytest.raises(SystemExit):
        main(["fit", *args])
    err = capsys.readouterr().err.strip()
    assert err.startswith("graphdistill: error: ") and "\n" not in err, err
    return err


def test_missing_and_corrupt_teacher_are_clear_errors(tmp_path, capsys):
    err = _error(capsys, "--config", STUDENT, "--config", KD_GCRD, f"--model.init_args.teacher={tmp_path}/none.ckpt")
    assert "Teacher checkpoint not found" in err and "none.ckpt" in err
    corrupt = tmp_path / "corrupt.ckpt"
    corrupt.write_bytes(b"\x00not a checkpoint" * 10)
    err = _error(capsys, "--config", STUDENT, "--config", KD_GCRD, f"--model.init_args.teacher={corrupt}")
    assert "is corrupt or not a PyTorch checkpoint" in err
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {}}, foreign)
    err = _error(capsys, "--config", STUDENT, "--config", KD_GCRD, f"--model.init_args.teacher={foreign}")
    assert "was not written by graphdistill" in err


def test_teacher_from_other_data_is_a_clear_error(tmp_path, capsys, synthetic_teacher):
    # same shapes, other graph: caught by the data fingerprint
    err = _error(capsys, "--config", STUDENT, "--config", KD_GCRD, f"--model.init_args.teacher={synthetic_teacher}",
                 "--data.synthetic.seed=7", f"--trainer.default_root_dir={tmp_path}")
    assert "was trained on different data" in err and "synthetic" in err and "graph: teacher" in err
    # another number of classes: caught before any training
    err = _error(capsys, "--config", STUDENT, "--config", KD_GCRD, f"--model.init_args.teacher={synthetic_teacher}",
                 "--data.synthetic.num_classes=4", f"--trainer.default_root_dir={tmp_path}")
    assert "predicts 5 classes but the student 4" in err


def test_resume_with_a_changed_teacher_file_is_refused(tmp_path, capsys, synthetic_teacher):
    teacher = tmp_path / "teacher.ckpt"
    shutil.copy(synthetic_teacher, teacher)
    result = _distil(tmp_path / "run", teacher, "--trainer.max_epochs=2")
    other = torch.load(teacher, weights_only=False)
    other["state_dict"] = {k: v + 0.01 if v.is_floating_point() else v for k, v in other["state_dict"].items()}
    torch.save(other, teacher)
    err = _error(capsys, "--config", STUDENT, "--config", KD_GCRD, f"--model.init_args.teacher={teacher}",
                 "--trainer.max_epochs=4", f"--trainer.default_root_dir={tmp_path / 'run'}", "--trainer.logger=false",
                 f"--ckpt_path={result['best_checkpoint']}")
    assert "sha256" in err and "Resume with the original teacher file" in err
