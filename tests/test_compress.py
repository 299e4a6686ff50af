"""graphdistill compress (search, selection on validation, resume, parallel workers) and export."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from graphdistill.cli import main
from graphdistill.data import NodeDataModule
from graphdistill.errors import ConfigError, GraphDistillError, GraphDistillWarning
from graphdistill.experiments import compress, runs
from graphdistill.experiments.compress import Compress, SearchSpace, method_config
from graphdistill.export import export_model, run_onnx
from graphdistill.models import GAT, GCN, MLP, GraphSAGE
from graphdistill.training.checkpoint import load_model

from .conftest import REPO, config

QUICK = ["--epochs", "15", "--seeds", "2"]


@pytest.fixture
def teacher(synthetic_teacher) -> str:
    return synthetic_teacher


def test_every_search_space_names_settings_its_method_config_has():
    import yaml

    from graphdistill.config_files import CONFIG_DIR

    spaces = sorted(p.stem for p in (CONFIG_DIR / "search").glob("*.yaml"))
    assert spaces == sorted(p.stem for p in (CONFIG_DIR / "methods").glob("*.yaml"))  # one per method
    for method in spaces:
        space = SearchSpace.load(method)
        original = yaml.safe_load((CONFIG_DIR / "methods" / f"{method}.yaml").read_text())
        for key in space.space:
            node = original
            for part in key.split("."):  # the path exists in the method config: a typo cannot pass
                node = node[int(part)] if isinstance(node, list) else node[part]
        changed = method_config(method, {key: "X" for key in space.space})
        assert changed != original and space.uses in ("logits", "hidden layers", "no teacher")


def test_compress_selects_on_validation_exports_and_reports(tmp_path, teacher, capsys, caplog, monkeypatch):
    monkeypatch.chdir(tmp_path)  # --out relative to the current folder, as in the README
    out = tmp_path / "out"
    # a machine with a GPU also times student and teacher there (here the "GPU" timing runs on the CPU)
    from graphdistill.evaluation import latency

    timed, cpu_latency = [], latency.inference_latency
    monkeypatch.setattr(compress, "latency_devices", lambda: ["cpu", "cuda"])
    monkeypatch.setattr(latency, "inference_latency",
                        lambda model, data, device, **kw: timed.append(device) or cpu_latency(model, data, "cpu", **kw))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        main(["compress", "--teacher", teacher, "--methods", "kd", "kd_standardized", "--trials", "3", "--out", "out",
              *QUICK])
    summary = json.loads((out / "summary.json").read_text())
    # a teacher above the student alone is not warned about
    assert summary["teacher"]["val"] > summary["alone"]["val_mean"]
    assert not [w for w in caught if "below the student alone" in str(w.message)]
    printed = capsys.readouterr().out
    assert "| MLP alone |" in printed and "Report:" in printed and "Tip" not in printed and "Warning" not in printed
    trials = [t for t in summary["trials"] if t["state"] == "COMPLETE"]
    alone_val = sum(json.loads((out / "alone" / f"seed{s}" / "results.json").read_text())["best_val"]
                    for s in (0, 1)) / 2
    # the best trials are re-scored over the seeds, best first; seed 0 is the trial's own run
    rescored = summary["rescored"]
    assert [c["trial"] for c in rescored] == [t["number"] for t in sorted(trials, key=lambda t: -t["value"])][:3]
    for c in rescored:
        folder = Path(c["config"]).parent
        runs = [json.loads((folder / run / "results.json").read_text()) for run in ("run", "seed1")]
        assert c["val_mean"] == pytest.approx(sum(r["best_val"] for r in runs) / 2)
    best = max(rescored, key=lambda c: c["val_mean"])
    # selection reads validation only: the best mean over seeds, if it beats the student alone's mean
    assert summary["chosen"]["method"] == (best["method"] if best["val_mean"] > alone_val else "alone")
    assert summary["chosen"]["seeds"] == 2 and len(summary["chosen"]["tests"]) == 2
    assert not (out / "chosen").exists()  # nothing trained twice: the chosen runs are the re-scored ones
    for name in ("student.ckpt", "student.onnx", "student.pt", "report.md", "report.png"):
        assert (out / name).is_file(), name
    assert summary["exports"]["onnx"]["same_predictions"]
    assert timed == ["cpu", "cuda", "cpu", "cuda"]  # the student, then the teacher
    assert summary["exports"]["pytorch_latency_gpu"]["full_ms"] > 0 and summary["teacher"]["full_ms_gpu"] > 0
    assert "full graph (GPU): PyTorch" in (out / "report.md").read_text()
    # the exported MLP gives PyTorch's predictions in onnxruntime on the real graph
    data = NodeDataModule("synthetic").data
    model = load_model(out / "student.ckpt").model.eval()
    with torch.no_grad():
        expected = model(data.x).logits
    got = torch.as_tensor(run_onnx(out / "student.onnx", (data.x,)))
    assert torch.equal(got.argmax(-1), expected.argmax(-1)) and torch.allclose(got, expected, atol=1e-4)
    scripted = torch.jit.load(str(out / "student.pt"))
    assert torch.equal(scripted(data.x).argmax(-1), expected.argmax(-1))
    # the command the run prints predicts with the student from any folder, into --out
    command = next(line for line in printed.splitlines() if line.startswith("Predict with it: graphdistill "))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    capsys.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        main(command.split("graphdistill ", 1)[1].split())
    # nothing of Lightning's that does not concern the user: its advertisement, the checkpoint callback that
    # predict drops on purpose, a deprecation inside Lightning
    said = capsys.readouterr()
    assert "Tip" not in said.out + said.err and not [r for r in caplog.records if "Tip" in r.getMessage()]
    assert not [w for w in caught if "ckpt_path" in str(w.message) or "LeafSpec" in str(w.message)], caught
    predicted = np.loadtxt(out / "predictions.csv", delimiter=",", skiprows=1, usecols=1, dtype=np.int64)
    assert torch.equal(torch.as_tensor(predicted), expected.argmax(-1))


def test_a_killed_search_resumes_without_repeating_finished_trials(tmp_path, teacher, monkeypatch):
    out = tmp_path / "out"
    args = dict(out=out, teacher=teacher, methods=["kd"], seeds=1, epochs=8, export=False)
    Compress(trials=2, **args).run()
    trained: list[str] = []
    real_fit = runs.run_fit

    def counting_fit(*a, **k):
        trained.append(next(x for x in a if x.startswith("--trainer.default_root_dir=")))
        return real_fit(*a, **k)

    monkeypatch.setattr(runs, "run_fit", counting_fit)
    summary = Compress(trials=3, **args).run()  # the same search, asked for one more trial
    assert len(summary["trials"]) == 3 and [t["number"] for t in summary["trials"]] == [0, 1, 2]
    assert len([t for t in trained if "/trials/" in t]) == 1  # only the new trial trained
    assert not any(t.endswith(("/alone/seed0", "/teacher")) for t in trained)  # finished runs read back


def test_the_time_limit_stops_a_running_trial_which_never_competes(tmp_path, teacher):
    import optuna

    from graphdistill.training.teacher import load_teacher

    search = Compress(out=tmp_path / "out", teacher=teacher, methods=["kd"], epochs=40, trials=3, timeout=1e-3,
                      export=False)
    study = search.search(teacher, search.candidates(load_teacher(teacher), multilabel=False))
    (trial,) = study.trials  # the first trial starts, none after the limit
    assert trial.state == optuna.trial.TrialState.PRUNED and trial.user_attrs["stopped"] == "time limit"
    assert max(trial.intermediate_values) < 39  # stopped at a validation epoch, not at the end
    from graphdistill.errors import ConfigError

    for bad in (0, -3):  # a limit that leaves no time is a mistake, said in one line
        with pytest.raises(ConfigError, match="--timeout is the search's time limit"):
            Compress(out=tmp_path / "bad", timeout=bad)
        with pytest.raises(ConfigError, match="--epochs is every run's max epochs, >= 1"):  # not "the default"
            Compress(out=tmp_path / "bad", epochs=bad)


def test_two_processes_run_trials_of_one_study_at_once(tmp_path, teacher):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "graphdistill.cli", "compress", "--search-only", "--teacher", teacher,
               "--methods", "kd", "kd_standardized", "--trials", "4", "--epochs", "5", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    workers = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
               for _ in range(2)]
    outputs = [w.communicate(timeout=600)[0] for w in workers]
    assert all(w.returncode == 0 for w in workers), outputs
    assert all("trial" in o for o in outputs)  # both processes ran trials
    import optuna

    storage = f"sqlite:///{out / 'study.db'}"
    (study_summary,) = optuna.get_all_study_summaries(storage)
    study = optuna.load_study(study_name=study_summary.study_name, storage=storage)
    numbers = [t.number for t in study.trials]
    assert numbers == list(range(len(numbers))) and 4 <= len(numbers) <= 5  # a worker may finish one in flight
    assert all(t.state.name in ("COMPLETE", "PRUNED") for t in study.trials)
    folders = sorted(p.name for p in (out / "trials").iterdir())
    assert [int(f.split("-")[0]) for f in folders] == numbers  # one folder per trial, none shared


def test_a_chosen_student_with_position_features_is_exported_with_them(tmp_path, teacher, monkeypatch):
    import graphdistill.export

    written = []
    write = graphdistill.export.write_positions
    monkeypatch.setattr(graphdistill.export, "write_positions", lambda *a: written.append(a) or write(*a))
    out = tmp_path / "out"
    summary = Compress(out=out, teacher=teacher, methods=["glnn_positions"], trials=1, seeds=1, epochs=30).run()
    assert summary["chosen"]["method"] == "glnn_positions"  # position features beat the MLP alone by far here
    data = NodeDataModule("synthetic", positions=32).data
    model = load_model(out / "student.ckpt").model.eval()
    with torch.no_grad():
        expected = model(data.x, None, position=data.position).logits
    # a deployment needs no graphdistill: the stored position rows ship beside the exported file, plain NumPy
    positions = np.load(out / "student.positions.npy", allow_pickle=False)
    assert positions.shape == (data.num_nodes, 32) and positions.dtype == np.float32
    assert summary["exports"]["onnx"]["positions"] == str(out / "student.positions.npy")
    assert summary["exports"]["torchscript"]["positions"] == str(out / "student.positions.npy")
    assert len(written) == 1  # one file beside both exports, written once
    got = torch.as_tensor(run_onnx(out / "student.onnx", (torch.cat([data.x, torch.from_numpy(positions)], 1),)))
    assert torch.equal(got.argmax(-1), expected.argmax(-1)) and torch.allclose(got, expected, atol=1e-4)
    assert "student.positions.npy" in (out / "report.md").read_text()


def test_export_writes_the_position_features_a_student_reads_and_only_for_such_a_student(tmp_path, capsys):
    from graphdistill.lightning_cli import run_fit

    def fit(name: str, *extra: str) -> Path:
        return Path(run_fit("--config", "configs/synthetic/mlp.yaml", *extra, "--trainer.max_epochs", "3",
                            "--trainer.default_root_dir", str(tmp_path / name))["best_checkpoint"])

    plain = fit("plain")
    main(["export", str(plain), "--out", str(tmp_path / "plain.onnx")])
    assert not (tmp_path / "plain.positions.npy").exists()  # features only: nothing else to ship
    # trained in the inductive setting: the hidden test nodes' rows are their observed neighbours' mean
    ckpt = fit("pos", "--model.init_args.model.init_args.position_channels", "8", "--data.positions", "8",
               "--data.inductive", "0.2")
    capsys.readouterr()
    main(["export", str(ckpt), "--out", str(tmp_path / "pos.onnx")])
    assert "pos.positions.npy: the position features it reads" in capsys.readouterr().out
    data = NodeDataModule("synthetic", positions=8, inductive=0.2).data
    positions = np.load(tmp_path / "pos.positions.npy", allow_pickle=False)
    assert np.array_equal(positions, data.position.numpy()) and positions[data.unseen_mask].any()
    model = load_model(ckpt).model
    with torch.no_grad():
        expected = model(data.x, None, position=data.position).logits
    got = run_onnx(tmp_path / "pos.onnx", (torch.cat([data.x, torch.from_numpy(positions)], 1),))
    assert np.array_equal(got.argmax(-1), expected.argmax(-1).numpy())
    # the rows are rebuilt from the graph the checkpoint names: gone, that is one line saying so
    from graphdistill.data.files import save_graph

    save_graph(NodeDataModule("synthetic").data, tmp_path / "g.pt")
    on_file = fit("file", "--model.init_args.model.init_args.position_channels", "8", "--data.positions", "8",
                  "--data.dataset", str(tmp_path / "g.pt"))
    (tmp_path / "g.pt").unlink()
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["export", str(on_file), "--out", str(tmp_path / "file.onnx")])
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "are rebuilt from its graph" in err and "g.pt" in err
    assert not (tmp_path / "file.onnx").exists()


def test_when_every_candidate_loses_the_student_alone_is_returned(tmp_path):
    data = NodeDataModule("synthetic").data
    gen = torch.Generator().manual_seed(0)
    np.save(tmp_path / "noise.npy", (10 * torch.randn(data.num_nodes, 5, generator=gen)).numpy())  # a useless teacher
    out = tmp_path / "out"
    with pytest.warns(GraphDistillWarning, match="teacher's validation accuracy is .* below the student alone's"):
        summary = Compress(out=out, teacher=str(tmp_path / "noise.npy"), methods=["kd"], trials=2, seeds=1,
                           epochs=30, export=False).run()
    logits = torch.as_tensor(np.load(tmp_path / "noise.npy"))
    for split in ("val", "test"):  # the teacher's own scores, beside the student's in the report
        mask = data[f"{split}_mask"]
        assert summary["teacher"][split] == pytest.approx((logits[mask].argmax(-1) == data.y[mask]).float().mean())
    assert f"| {100 * summary['teacher']['val']:.2f} |" in (out / "report.md").read_text()
    assert all(t["value"] < json.loads((out / "alone/seed0/results.json").read_text())["best_val"]
               for t in summary["trials"] if t["value"] is not None)
    assert summary["chosen"]["method"] == "alone"
    alone = json.loads((out / "alone" / "seed0" / "results.json").read_text())
    assert Path(out / "student.ckpt").read_bytes() == Path(alone["best_checkpoint"]).read_bytes()
    assert "no method beat the student alone" in (out / "report.md").read_text()


def test_a_report_on_your_own_graph_names_the_file_and_says_when_no_trial_ran(tmp_path):
    from graphdistill.data.files import save_graph

    data = NodeDataModule("synthetic").data
    save_graph(data, tmp_path / "my_graph.pt")
    np.save(tmp_path / "logits.npy", torch.randn(data.num_nodes, 5).numpy())
    out = tmp_path / "out"
    with pytest.warns(GraphDistillWarning, match="below the student alone's"):  # random logits
        summary = Compress(out=out, data_args=["--data.dataset", str(tmp_path / "my_graph.pt")],
                           teacher=str(tmp_path / "logits.npy"), methods=["kd"], trials=0, seeds=1, epochs=5,
                           export=False).run()
    report = (out / "report.md").read_text()
    assert summary["dataset"] == str(tmp_path / "my_graph.pt")
    assert report.startswith(f"# graphdistill compress: {tmp_path / 'my_graph.pt'}\n")
    assert summary["chosen"]["method"] == "alone"
    assert "no trial finished: `--trials 0`" in report and "no method beat" not in report


def test_a_student_config_file_is_found_as_fit_finds_it_and_its_model_decides_which_methods_fit(tmp_path, teacher):
    names = ["glnn_positions", "kd"]
    packaged = Compress(out=tmp_path / "out", teacher=teacher, student="configs/cora/student_mlp128.yaml",
                        methods=names)
    assert packaged.student_config().is_file() and packaged.student_kind == "mlp"  # not in the current folder
    gcn = Compress(out=tmp_path / "out", teacher=teacher, student="configs/cora/student_gcn.yaml")
    assert gcn.student_kind == "gcn"
    own = tmp_path / "mine.yaml"
    own.write_text("model:\n  init_args:\n    model:\n      class_path: mypackage.MyNet\n")
    assert Compress(out=tmp_path / "out", teacher=teacher, student=str(own)).student_kind is None
    loaded = SimpleNamespace(hidden_widths=[16])  # what candidates() reads of a teacher
    assert [s.method for s in packaged.candidates(loaded, multilabel=False)] == names  # MLP-only methods kept
    assert [s.method for s in Compress(out=tmp_path / "out", teacher=teacher, student=str(own), methods=names
                                       ).candidates(loaded, multilabel=False)] == ["kd"]


def test_a_trial_is_pruned_against_earlier_trials_of_its_own_method_only():
    import optuna
    from optuna.distributions import CategoricalDistribution

    from graphdistill.experiments.compress import MedianPerMethodPruner

    method = {"method": CategoricalDistribution(["fast", "slow"])}
    study = optuna.create_study(direction="maximize", pruner=MedianPerMethodPruner(startup=3, warmup=20))
    for final in (0.80, 0.82, 0.84):  # three finished trials of a method that learns fast: 0.7 by epoch 25
        study.add_trial(optuna.trial.create_trial(params={"method": "fast"}, distributions=method, value=final,
                                                  intermediate_values={25: 0.70, 199: final}))

    def ask(name: str, value: float, epoch: int = 25) -> bool:
        study.enqueue_trial({"method": name})
        trial = study.ask(method)
        assert trial.params["method"] == name
        trial.report(value, epoch)
        prune = trial.should_prune()
        study.tell(trial, state=optuna.trial.TrialState.FAIL)  # only judged: it never joins the medians
        return prune

    assert ask("fast", 0.60) and not ask("fast", 0.75)  # behind / ahead of its own method's median (0.70)
    assert not ask("fast", 0.10, epoch=19)  # warm-up epochs are never pruned
    assert not ask("slow", 0.30)  # a slow starter: no finished trial of its own method yet, so not judged by "fast"
    for final in (0.85, 0.86, 0.87):
        study.add_trial(optuna.trial.create_trial(params={"method": "slow"}, distributions=method, value=final,
                                                  intermediate_values={25: 0.40, 199: final}))
    assert ask("slow", 0.30) and not ask("slow", 0.45)  # now judged against its own (median 0.40 at epoch 25)


def test_a_teacher_of_other_data_is_refused_before_anything_trains(tmp_path):
    data = NodeDataModule("synthetic").data
    np.save(tmp_path / "three.npy", torch.randn(data.num_nodes, 3).numpy())  # the graph has 5 classes
    search = Compress(out=tmp_path / "out", teacher=str(tmp_path / "three.npy"), methods=["kd"], trials=5)
    with pytest.raises(GraphDistillError, match="was trained on different data.*num_classes: teacher 3 vs data 5"):
        search.run()
    assert not (tmp_path / "out" / "alone").exists()


def test_a_setup_error_stops_the_search_after_three_failed_trials_in_one_line(tmp_path, teacher, monkeypatch,
                                                                            capsys):
    def fit_failing_trials(configs, *args, **kwargs):  # every trial fails as a broken setup would
        if len(configs) > 1:
            raise ValueError("Does not validate") from ConfigError("A component needs something this setup lacks.")
        return fit_seeded(configs, *args, **kwargs)

    fit_seeded = compress.fit_seeded
    monkeypatch.setattr(compress, "fit_seeded", fit_failing_trials)
    search = Compress(out=tmp_path / "out", teacher=teacher, methods=["kd"], trials=5, seeds=1, epochs=5, export=False)
    logged: list[str] = []  # what Optuna's own log says (its handler writes to the terminal, not to capsys)
    keep = logging.Handler()
    keep.emit = lambda record: logged.append(record.getMessage())
    logging.getLogger("optuna").addHandler(keep)
    try:
        with pytest.raises(ConfigError, match="stopped after 3 trials in a row failed: A component needs something"):
            search.run()  # it used to repeat the failing trial forever: failed trials never count towards --trials
    finally:
        logging.getLogger("optuna").removeHandler(keep)
    assert not any("failed with" in line for line in logged)  # no exception dump per failed trial
    import optuna

    study = optuna.load_study(study_name=None, storage=f"sqlite:///{tmp_path / 'out' / 'study.db'}")
    assert [t.state.name for t in study.trials] == ["FAIL"] * 3
    shown = capsys.readouterr().out  # instead, the reason ends each failed trial's progress line
    assert shown.count("fail ") == 3 and shown.count("(A component needs something this setup lacks.)") == 3


def test_a_student_config_for_other_data_is_refused_before_a_teacher_trains(tmp_path):
    search = Compress(out=tmp_path / "out", student="configs/cora/student_mlp128.yaml", trials=1)
    with pytest.raises(ConfigError, match="sets data.dataset: cora but the teacher .* has synthetic: pass "
                                          "--data.dataset cora"):
        search.run()
    assert not (tmp_path / "out" / "teacher").exists()
    own = tmp_path / "student.yaml"  # the synthetic MLP student on another split seed than the teacher's
    own.write_text((REPO / "src/graphdistill/configs/synthetic/student_mlp.yaml").read_text()
                   + "\n  split_seed: 3\n")
    with pytest.raises(ConfigError, match="sets data.split_seed: 3 .* pass --data.split_seed 3"):
        Compress(out=tmp_path / "out", student=str(own)).check_student_data()
    Compress(out=tmp_path / "out", student=str(own), data_args=["--data.split_seed", "3"]).check_student_data()
    Compress(out=tmp_path / "out", student="configs/cora/student_mlp128.yaml",
             data_args=["--data.dataset=cora", "--data.split=glnn"]).check_student_data()


def test_feature_methods_are_not_searched_with_a_logits_only_teacher(tmp_path, capsys):
    data = NodeDataModule("synthetic").data
    np.save(tmp_path / "logits.npy", torch.randn(data.num_nodes, 5).numpy())
    with pytest.raises(SystemExit):  # only feature methods asked for: one line saying what to do
        main(["compress", "--teacher", str(tmp_path / "logits.npy"), "--methods", "fitnet", "gcrd",
              "--out", str(tmp_path / "out"), "--trials", "1"])
    err = capsys.readouterr()
    assert "No method fits this student and teacher" in err.err and "fitnet (the teacher has no hidden layers)" in (
        err.out)
    # an ensemble (its members' mean probabilities) has none either: compress reads it as any teacher
    np.save(tmp_path / "more.npy", torch.randn(data.num_nodes, 5).numpy())
    (tmp_path / "ensemble.yaml").write_text("members: [logits.npy, more.npy]\n")
    with pytest.raises(SystemExit):
        main(["compress", "--teacher", str(tmp_path / "ensemble.yaml"), "--methods", "fitnet",
              "--out", str(tmp_path / "out2"), "--trials", "1"])
    assert "fitnet (the teacher has no hidden layers)" in capsys.readouterr().out


@pytest.mark.parametrize("model_class", [MLP, GCN, GraphSAGE, GAT])
def test_export_onnx_and_torchscript_reproduce_pytorch_on_other_graph_sizes(tmp_path, model_class):
    model = model_class(in_channels=12, out_channels=3, hidden_channels=8, num_layers=2).eval()
    for fmt in ("onnx", "torchscript"):
        result = export_model(model, tmp_path / f"m.{fmt}", fmt)
        assert result["same_predictions"] and result["max_abs_diff"] < 1e-4
    x = torch.randn(150, 12)
    inputs = (x,) if model_class is MLP else (x, torch.randint(0, 150, (2, 700)))
    with torch.no_grad():
        expected = model(*inputs).logits
    assert np.allclose(run_onnx(tmp_path / "m.onnx", inputs), expected.numpy(), atol=1e-4)
    assert torch.allclose(torch.jit.load(str(tmp_path / "m.torchscript"))(*inputs), expected, atol=1e-5)


@pytest.mark.parametrize("model_class,options", [(GCN, {}), (GraphSAGE, {}), (GraphSAGE, {"aggr": "gcn"})])
def test_a_gnn_that_reads_edge_weights_exports_with_them_as_an_input(tmp_path, model_class, options):
    model = model_class(in_channels=12, out_channels=3, hidden_channels=8, num_layers=2, edge_weight=True,
                        **options).eval()
    for fmt in ("onnx", "torchscript"):
        result = export_model(model, tmp_path / f"w.{fmt}", fmt)
        assert result["same_predictions"] and result["max_abs_diff"] < 1e-4
    x, edge_index = torch.randn(150, 12), torch.randint(0, 150, (2, 700))
    for weight in (torch.rand(700), torch.rand(700) * 5):  # other sizes, and the weights change the logits
        with torch.no_grad():
            expected = model(x, edge_index, edge_weight=weight).logits
        assert np.allclose(run_onnx(tmp_path / "w.onnx", (x, edge_index, weight)), expected.numpy(), atol=1e-4)
        scripted = torch.jit.load(str(tmp_path / "w.torchscript"))
        assert torch.allclose(scripted(x, edge_index, weight), expected, atol=1e-5)
    unweighted = run_onnx(tmp_path / "w.onnx", (x, edge_index, torch.ones(700)))
    assert not np.allclose(unweighted, expected.numpy(), atol=1e-2)
    from graphdistill.models import RGCN

    typed = RGCN(12, 3, hidden_channels=8, num_relations=2, num_nodes_per_type=[150])
    with pytest.raises(ConfigError, match="RGCN also reads node_type, type_index, edge_type"):
        export_model(typed, tmp_path / "r.onnx", "onnx")  # per-edge types: refused in one line


def test_the_onnx_check_allows_rounding_relative_to_the_logits_and_refuses_a_real_difference(tmp_path, monkeypatch):
    from graphdistill import export
    from graphdistill.errors import ConfigError

    model = MLP(in_channels=6805, out_channels=15, hidden_channels=128, num_layers=2).eval()
    with torch.no_grad():  # large logits, as a trained student on wide features has
        for layer in model.layers:
            layer.weight.mul_(30)
    result = export_model(model, tmp_path / "wide.onnx", "onnx")  # float32 rounding above 1e-4 in absolute terms
    assert result["same_predictions"] and result["max_abs_diff"] > 1e-4
    real_run = export.run_onnx
    monkeypatch.setattr(export, "run_onnx", lambda path, inputs: real_run(path, inputs) * 1.001)
    with pytest.raises(ConfigError, match="does not reproduce PyTorch on the inputs it was exported with"):
        export_model(model, tmp_path / "off.onnx", "onnx")
    assert not list(tmp_path.glob("*off.onnx*"))  # a file that fails its check is not written


class _SizeFixedMLP(MLP):
    """Traces to a file that runs on its export graph's node count only (a Python int in forward)."""

    def forward(self, x, edge_index=None, **graph):
        out = super().forward(x, edge_index, **graph)
        return type(out)(out.logits + torch.zeros(int(x.size(0)), 1), out.hiddens)


def test_an_export_that_only_runs_on_its_own_graph_size_is_refused_and_keeps_the_old_file(tmp_path, capsys):
    model = _SizeFixedMLP(in_channels=12, out_channels=3, hidden_channels=8, num_layers=2).eval()
    (tmp_path / "m.pt").write_bytes(b"the file exported before")
    with pytest.raises(ConfigError, match="does not reproduce PyTorch on a graph of another size"):
        export_model(model, tmp_path / "m.pt", "torchscript")
    assert (tmp_path / "m.pt").read_bytes() == b"the file exported before"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]


def test_a_model_that_does_not_export_is_one_line_from_the_command(tmp_path, capsys, fit):
    """GCNII (a custom autograd function, a sparse product) exports to neither format: one line each, no
    traceback, no file."""
    run = fit("--config", config("cora/gcnii.yaml"), "--data.dataset=synthetic", "--trainer.max_epochs=1",
              "--model.init_args.model.init_args.num_layers=2")
    for fmt in ("torchscript", "onnx"):
        with pytest.raises(SystemExit):
            main(["export", run["best_checkpoint"], "--format", fmt, "--out", str(tmp_path / f"g.{fmt}")])
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "GCNII cannot be exported to" in err and "\x1b" not in err, err
        assert not list(tmp_path.glob(f"*g.{fmt}*"))


def test_export_command_is_one_line_for_a_bad_file(tmp_path, capsys):
    (tmp_path / "bad.ckpt").write_bytes(b"nope")
    with pytest.raises(SystemExit):
        main(["export", str(tmp_path / "bad.ckpt"), "--format", "onnx"])
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "is corrupt or not a PyTorch checkpoint" in err


def test_trial_lines_keep_their_columns_for_long_method_names(capsys):
    import optuna

    from graphdistill.experiments.compress import _progress

    names = ["kd", "propagated_kd_positions_adversarial"]
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for name in names:
        study.enqueue_trial({"method": name})
    study.optimize(lambda t: 0.5 if t.suggest_categorical("method", names) else 0.0, n_trials=2,
                   callbacks=[_progress(2, max(map(len, names)))])
    lines = [line for line in capsys.readouterr().out.splitlines() if "trial" in line]
    assert len(lines) == 2 and len({line.index(" val ") for line in lines}) == 1, lines


def test_the_chosen_students_config_and_checkpoint_predict_without_the_teacher(tmp_path, teacher, fit, capsys):
    """compress writes a distilled student as the student network alone: ``student.yaml`` names no teacher or
    method, ``student.ckpt`` holds the student's weights only (not FitNet's projection), and predict with the two
    works with the teacher file gone, giving the distilled run's own predictions."""
    import shutil

    import yaml

    from graphdistill.experiments.compress import student_only, write_student_checkpoint
    from graphdistill.training.checkpoint import read_checkpoint

    own_teacher = tmp_path / "teacher.ckpt"
    shutil.copyfile(teacher, own_teacher)
    run = fit("--config", config("synthetic/student_mlp.yaml"), "--config", config("methods/fitnet.yaml"),
              f"--model.init_args.teacher={own_teacher}", "--trainer.max_epochs=3")
    source = Path(run["best_checkpoint"])
    assert any(not k.startswith("model.") for k in read_checkpoint(source)[0]["state_dict"])  # FitNet's projection
    out = tmp_path / "out"
    out.mkdir()
    write_student_checkpoint(source, out / "student.ckpt")
    saved = read_checkpoint(out / "student.ckpt")[0]
    assert saved["state_dict"].keys() == {k for k in read_checkpoint(source)[0]["state_dict"] if k.startswith("model.")}
    assert "optimizer_states" not in saved
    student = student_only(yaml.safe_load((source.parent.parent / "config.yaml").read_text()))
    student["trainer"]["default_root_dir"] = str(out)
    assert "teacher" not in yaml.safe_dump(student) and "FitNet" not in yaml.safe_dump(student)
    (out / "student.yaml").write_text(yaml.safe_dump(student))
    own_teacher.unlink()
    main(["predict", "--config", str(out / "student.yaml"), "--ckpt_path", str(out / "student.ckpt")])
    predicted = np.loadtxt(out / "predictions.csv", delimiter=",", skiprows=1, usecols=1, dtype=np.int64)
    with torch.no_grad():
        expected = load_model(source).model.eval()(NodeDataModule("synthetic").data.x).logits.argmax(-1)
    assert torch.equal(torch.as_tensor(predicted), expected)
