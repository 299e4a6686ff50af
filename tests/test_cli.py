import statistics
import subprocess
import sys

import pytest
import torch

from graphdistill.cli import main
from graphdistill.models import build_model

from .conftest import config


def _error_line(capsys, *args):
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err  # one line
    return err


def test_unknown_config_key_is_one_clear_line(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data:\n  datset: cora\n")
    err = _error_line(capsys, "fit", "--config", config("synthetic/gcn.yaml"), "--config", str(bad))
    assert "does not accept option 'data.datset'" in err
    err = _error_line(capsys, "fit", "--config", config("synthetic/gcn.yaml"), "--model.init_args.lrr=0.1")
    assert "Option 'lrr' is not accepted" in err


def test_unknown_dataset_and_wrong_root_are_one_clear_line(capsys, tmp_path):
    err = _error_line(capsys, "fit", "--config", config("synthetic/gcn.yaml"), "--data.dataset=coraa")
    assert "Unknown dataset 'coraa'" in err and "cora" in err
    err = _error_line(capsys, "fit", "--config", config("cora/gcn.yaml"), f"--data.root={tmp_path}")
    assert f"{tmp_path}/planetoid/Cora/raw" in err and "ind.cora.x" in err


def test_print_config_shows_linked_model_and_data(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["fit", "--config", config("synthetic/gcn.yaml"), "--print_config"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "class_path: graphdistill.models.GCN" in out and "dataset: synthetic" in out


def test_checkpoint_records_model_spec_and_data(fit, tmp_path):
    result = fit("--config", config("synthetic/gcn.yaml"), "--trainer.max_epochs=5")
    ckpt = torch.load(result["best_checkpoint"], map_location="cpu", weights_only=False)
    meta = ckpt["graphdistill"]
    assert meta["data"]["dataset"] == "synthetic" and meta["data"]["num_classes"] == 5
    model = build_model(meta["model"])
    model.load_state_dict({k[len("model."):]: v for k, v in ckpt["state_dict"].items() if k.startswith("model.")})
    assert model.num_parameters == result["parameters"]


def test_synthetic_gnn_teacher_beats_mlp_by_ten_points(fit):
    gcn = fit("--config", config("synthetic/gcn.yaml"))
    mlp = fit("--config", config("synthetic/mlp.yaml"))
    assert gcn["test"] - mlp["test"] >= 0.10, (gcn["test"], mlp["test"])


@pytest.mark.slow
@pytest.mark.parametrize("model", ["gcn", "gat"])
def test_cora_teacher_reaches_80_percent_mean_of_3_seeds(datasets_root, fit, model):
    accs = [fit("--config", config(f"cora/{model}.yaml"), f"--data.root={datasets_root}",
                f"--seed_everything={seed}")["test"] for seed in range(3)]
    assert statistics.mean(accs) >= 0.80, accs


def test_seeded_run_is_read_back_with_reuse_and_not_trained_again(tmp_path, monkeypatch):
    from graphdistill.experiments import runs

    first = runs.fit_seeded(["synthetic/student_mlp.yaml"], 0, tmp_path / "run", "--trainer.max_epochs=2")
    assert (tmp_path / "run" / "results.json").exists()
    monkeypatch.setattr(runs, "run_fit", lambda *a, **k: pytest.fail("a finished run was trained again"))
    again = runs.fit_seeded(["synthetic/student_mlp.yaml"], 0, tmp_path / "run", "--trainer.max_epochs=2",
                            reuse=True)
    assert again["test"] == first["test"] and again["best_checkpoint"] == first["best_checkpoint"]
    with pytest.raises(pytest.fail.Exception, match="trained again"):
        runs.fit_seeded(["synthetic/student_mlp.yaml"], 0, tmp_path / "run", "--trainer.max_epochs=2")


def test_help_says_what_the_tool_does_and_version_works(capsys):
    from graphdistill import __version__
    from graphdistill.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code in (0, None) and capsys.readouterr().out.strip() == f"graphdistill {__version__}"
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "compress a graph neural network by knowledge distillation" in text
    assert "Lightning Trainer command line tool" not in text
    for command in ("fit", "validate", "test", "predict"):
        assert f"graphdistill {command} --config" in text
    for command in ("compress", "export", "grid", "paired", "latency", "analyze"):  # each command is listed
        assert f"\n  {command}  " in text and f"graphdistill {command} " in text
    with pytest.raises(SystemExit):
        main([])
    assert capsys.readouterr().err.strip() == (
        "graphdistill: error: give a command: compress (the main job), fit, validate, test, predict, export, grid, "
        "paired, latency or analyze (graphdistill --help lists them).")
    proc = subprocess.run([sys.executable, "-m", "graphdistill.cli", "--help"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and "graphdistill latency" in proc.stdout
    assert proc.stderr == "", proc.stderr  # no library warning in front of the help


def test_a_command_without_its_config_says_which_to_give(capsys, tmp_path):
    assert _error_line(capsys, "fit") == ("graphdistill: error: fit needs a model and data: give --config CONFIG, such "
                                          "as configs/cora/gcn.yaml (graphdistill fit --help lists the options).")
    assert _error_line(capsys, "test", "--trainer.logger=false") == (
        "graphdistill: error: test runs a trained model: give --config CONFIG (the config it was trained with) and "
        "--ckpt_path CKPT (a checkpoint from graphdistill fit).")
    ckpt = tmp_path / "elsewhere.ckpt"  # no run folder around it: the line says where fit saves the config
    assert _error_line(capsys, "validate", "--ckpt_path", str(ckpt)) == (
        f"graphdistill: error: validate needs the config {ckpt} was trained with (a checkpoint holds weights only): "
        "add --config CONFIG (fit saves it as config.yaml in the run folder).")
    (tmp_path / "student.ckpt").write_bytes(b"")  # compress's output: the student's config beside its checkpoint
    (tmp_path / "student.yaml").write_text("model: {}\n")
    assert _error_line(capsys, "predict", "--ckpt_path", str(tmp_path / "student.ckpt")) == (
        f"graphdistill: error: predict needs the config {tmp_path / 'student.ckpt'} was trained with (a checkpoint "
        f"holds weights only): add --config {tmp_path / 'student.yaml'}.")
    assert _error_line(capsys, "fit", "--ckpt_path", "last") == (
        "graphdistill: error: fit --ckpt_path last needs the config of the run it names: add --config CONFIG, the "
        "config that run was trained with.")
    assert _error_line(capsys, "predict", "--ckpt_path") == (  # a name without its value: no traceback
        "graphdistill: error: predict runs a trained model: give --config CONFIG (the config it was trained with) and "
        "--ckpt_path CKPT (a checkpoint from graphdistill fit).")
    broken = tmp_path / "broken.yaml"  # a tab where YAML wants spaces: the file and its line, no traceback
    broken.write_text("model:\n\tclass_path: x\n")
    assert _error_line(capsys, "fit", "--config", str(broken)) == (
        f"graphdistill: error: Config {broken}, line 2: not valid YAML (found character '\\t' that cannot start "
        "any token).")
    grid = tmp_path / "grid.yaml"
    grid.write_text("datasets: [synthetic]\nteacher: gcn\nstudents: [mlp]\nmethods: [kd]\n")
    assert _error_line(capsys, "fit", "--config", str(grid)) == (
        f"graphdistill: error: {grid} is a grid file (datasets:, students:), not a run's config: run it with "
        f"graphdistill grid {grid}.")
