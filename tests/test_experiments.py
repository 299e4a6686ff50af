"""The experiment runner: a grid end to end, resumed after an interruption, and its table."""

import csv
import hashlib
import json
import statistics
from pathlib import Path

import pytest
import torch
import yaml

from graphdistill.data import NodeDataModule
from graphdistill.data.datamodule import data_from_fingerprint
from graphdistill.errors import ConfigError
from graphdistill.evaluation.analysis import (
    analyze,
    global_structure_agreement,
    linear_cka,
    local_structure_agreement,
    robustness,
)
from graphdistill.evaluation.latency import inference_latency
from graphdistill.experiments import grid as experiments
from graphdistill.experiments import runs
from graphdistill.experiments.grid import Grid, run_grid
from graphdistill.models import GCN, MLP

from .conftest import config


def test_grid_runs_resumes_without_redoing_finished_runs_and_tables_match_the_runs(tmp_path, monkeypatch):
    grid = Grid.from_yaml(config("experiments/synthetic_smoke.yaml"))
    grid.extra = ["--trainer.max_epochs=6"]
    trained = []
    real_fit = runs.run_fit

    def counting_fit(*args, **kwargs):
        trained.append(next(a for a in args if a.startswith("--trainer.default_root_dir=")))
        if len(trained) == 5 and crash:
            raise KeyboardInterrupt("simulated interruption")
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(runs, "run_fit", counting_fit)
    crash = True
    with pytest.raises(KeyboardInterrupt):
        run_grid(grid, tmp_path / "work", tmp_path / "table", log=lambda _: None)
    assert len(trained) == 5  # teacher + alone + kd + gcrd of seed 0, then the crash
    crash = False
    trained.clear()
    progress: list[str] = []
    rows = run_grid(grid, tmp_path / "work", tmp_path / "table", log=progress.append)
    # 2 seeds × (teacher + 3 student runs) = 8 runs; the 4 finished ones were read back
    assert len(trained) == 4 and all("seed1" in t or "seed0/teacher" not in t for t in trained)
    assert [line.split(":")[0] for line in progress[:2]] == ["[1/8] synthetic seed 0 teacher",
                                                            "[2/8] synthetic seed 0 mlp_alone"]
    assert [line.endswith("(read back)") for line in progress] == [True] * 4 + [False] * 4
    assert not any(t.endswith(("seed0/teacher", "seed0/mlp_alone", "seed0/mlp_kd")) for t in trained)

    with open(tmp_path / "table.csv") as f:
        table = list(csv.DictReader(f))
    assert [(r["student"], r["method"]) for r in table] == [("teacher", "gcn"), ("mlp", "alone"), ("mlp", "kd"),
                                                             ("mlp", "gcrd")]
    for row in table:
        folder = "teacher" if row["student"] == "teacher" else f"mlp_{row['method']}"
        results = [json.loads((tmp_path / "work" / "synthetic" / f"seed{s}" / folder / "results.json").read_text())
                   for s in range(2)]
        tests = [r["test"] for r in results]
        assert [float(t) for t in row["tests"].split()] == pytest.approx(tests)
        assert float(row["test_mean"]) == pytest.approx(statistics.mean(tests))
        assert float(row["val_mean"]) == pytest.approx(statistics.mean(r["best_val"] for r in results))
        assert float(row["test_std"]) == pytest.approx(statistics.stdev(tests))
        assert int(row["parameters"]) == results[0]["parameters"]
        assert row["config_hashes"].split() == [r["config_hash"] for r in results]
    teacher, alone, kd = table[0], table[1], table[2]
    assert float(alone["compression"]) == pytest.approx(int(teacher["parameters"]) / int(alone["parameters"]))
    assert float(kd["delta_vs_alone"]) == pytest.approx(float(kd["test_mean"]) - float(alone["test_mean"]))
    assert float(kd["delta_vs_teacher"]) == pytest.approx(float(kd["test_mean"]) - float(teacher["test_mean"]))
    assert float(alone["speedup_full"]) > 0 and rows[1]["full_ms"] > 0
    md = (tmp_path / "table.md").read_text()
    assert "Command:" in md and f"{100 * float(kd['test_mean']):.2f} ± " in md
    hashes = sorted(h for row in table for h in row["config_hashes"].split())
    assert "Runs: 8, trained at commit " in md and hashlib.sha256(" ".join(hashes).encode()).hexdigest()[:16] in md
    assert (tmp_path / "table_synthetic.png").stat().st_size > 10_000
    analysis = (tmp_path / "table_analysis.md").read_text()
    assert "cka_hidden" in analysis and analysis.count("| synthetic |") == 4


def test_a_grid_rerun_with_other_arguments_refuses_the_stale_runs(tmp_path):
    """Reading a finished run back needs the config hash it recorded to be the one the grid
    asks for now: another ``extra`` (here more epochs) refuses, naming the stale file."""
    grid = Grid(datasets=["synthetic"], teacher="gcn", students=["mlp"], methods=["kd"], seeds=1,
                extra=["--trainer.max_epochs=3"])
    run_grid(grid, tmp_path / "work", tmp_path / "table", latency=False, analysis=False, log=lambda _: None)
    results = json.loads((tmp_path / "work" / "synthetic" / "seed0" / "teacher" / "results.json").read_text())
    assert len(results["config_hash"]) == 64 and results["code"]["version"]
    header = (tmp_path / "table.md").read_text()
    assert "Code: graphdistill " in header
    run_grid(grid, tmp_path / "work", tmp_path / "table", latency=False, analysis=False, log=lambda _: None)  # reused
    grid.extra = ["--trainer.max_epochs=4"]
    with pytest.raises(ConfigError, match=r"teacher/results.json was made with another config"):
        run_grid(grid, tmp_path / "work", tmp_path / "table", latency=False, analysis=False, log=lambda _: None)


def test_student_methods_give_a_student_only_its_methods(tmp_path, monkeypatch):
    """A narrowed student for some methods (the GLNN benchmark's positions student): the grid trains and
    tabulates each student with its own methods only, alone always."""
    grid = Grid(datasets=["synthetic"], teacher="gcn", students=["mlp", "gcn"], methods=["kd", "gcrd"], seeds=1,
                extra=["--trainer.max_epochs=2"], student_methods={"mlp": ["kd"]}, compare=["gcrd"])
    trained = []
    real_fit = runs.run_fit

    def counting_fit(*args, **kwargs):
        trained.append(next(a for a in args if a.startswith("--trainer.default_root_dir=")).rsplit("/", 1)[1])
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(runs, "run_fit", counting_fit)
    rows = run_grid(grid, tmp_path / "work", tmp_path / "table", latency=False, analysis=False, log=lambda _: None)
    assert trained == ["teacher", "mlp_alone", "mlp_kd", "gcn_alone", "gcn_kd", "gcn_gcrd"]
    assert [(r["student"], r["method"]) for r in rows] == [("teacher", "gcn"), ("mlp", "alone"), ("mlp", "kd"),
                                                           ("gcn", "alone"), ("gcn", "kd"), ("gcn", "gcrd")]
    compared = (tmp_path / "table_compare.md").read_text()
    assert "| synthetic | gcn | gcrd |" in compared and "| synthetic | mlp |" not in compared
    bad = tmp_path / "grid.yaml"
    bad.write_text("datasets: [cora]\nteacher: gcn\nstudents: [mlp]\nmethods: [kd]\nstudent_methods: {mlp: [fitnet]}\n")
    with pytest.raises(ConfigError, match=r"student_methods names students and methods of the grid .*\['fitnet'\]"):
        Grid.from_yaml(bad)
    bad.write_text("datasets: [cora]\nteacher: gcn\nstudents: [mlp]\nmethods: [kd, fitnet]\n"
                   "student_methods: {mlp: [kd]}\n")
    with pytest.raises(ConfigError, match=r"no student trains with \['fitnet'\]"):
        Grid.from_yaml(bad)


def test_grid_file_errors_are_clear(tmp_path):
    bad = tmp_path / "grid.yaml"
    bad.write_text("datasets: [cora]\nteacher: gcn\nstudents: [gcn]\nmethods: [nosuchmethod]\n")
    with pytest.raises(ConfigError, match="nosuchmethod.yaml"):
        Grid.from_yaml(bad)
    bad.write_text("datasets: [cora]\nteacher: gcn\nstudents: [gcn]\nmethods: [kd]\nseed: 3\n")
    with pytest.raises(ConfigError, match="unknown keys \\['seed'\\]"):
        Grid.from_yaml(bad)
    # every config is read before any run trains: a broken student config stops the grid at load, by file and line
    (tmp_path / "student.yaml").write_text("model:\n  init_args: {hidden: [32\n")
    bad.write_text("datasets: [synthetic]\nteacher: gcn\nstudents: [student.yaml]\nmethods: [kd]\n")
    with pytest.raises(ConfigError, match=f"^Config {tmp_path / 'student.yaml'}, line 3: not valid YAML"):
        Grid.from_yaml(bad)
    (tmp_path / "student.yaml").write_text("- data\n- model\n")
    with pytest.raises(ConfigError, match="student.yaml: expected keys \\(data:, model:, trainer:\\), got a list"):
        Grid.from_yaml(bad)
    bad.write_text("datasets: [synthetic\n")
    with pytest.raises(ConfigError, match="^Grid .*grid.yaml, line 2: not valid YAML"):
        Grid.from_yaml(bad)


def test_per_dataset_teachers_and_the_paired_comparison_table(tmp_path):
    grid_file = tmp_path / "grid.yaml"
    grid_file.write_text("datasets: [cora, citeseer]\nteacher: {cora: gcnii, citeseer: gcn}\nstudents: [gcn]\n"
                         "methods: [kd, kd_gcrd, abkd]\ncompare: [abkd]\nseeds: 3\n")
    grid = Grid.from_yaml(grid_file)
    assert grid.teacher_configs("cora") == ["cora/gcnii.yaml"] and grid.teacher_configs("citeseer") == [
        "citeseer/gcn.yaml"]
    assert grid.baselines() == ["kd", "kd_gcrd"]
    tests = {"alone": [0.70, 0.71, 0.72], "kd": [0.75, 0.76, 0.77], "kd_gcrd": [0.74, 0.80, 0.75],
             "abkd": [0.80, 0.79, 0.81]}
    vals = {"alone": 0.70, "kd": 0.78, "kd_gcrd": 0.77, "abkd": 0.79}
    runs = {}
    for dataset in grid.datasets:
        runs[(dataset, "teacher", grid.teacher_name(dataset))] = [{"test": 0.8, "best_val": 0.8}] * 3
        for method, values in tests.items():
            runs[(dataset, "gcn", method)] = [{"test": v, "best_val": vals[method]} for v in values]
    text = experiments.write_comparison(grid, runs, tmp_path / "table").read_text()
    # best baseline on validation: kd (78 > kd_gcrd's 77, though kd_gcrd's test mean is higher: 76.33 > 76.00);
    # paired Δ = 5, 3, 4 points: mean 4.00, std 1.00
    assert "| cora | gcn | abkd | 80.00 ± 1.00 | kd 76.00 ± 1.00 | +4.00 ± 1.00 | better |" in text
    assert "highest mean validation accuracy among kd, kd_gcrd." in text
    # runs that kept no validation score: the highest test mean, kd_gcrd; paired Δ = 6, -1, 6: mean 3.67, std 4.04
    for found in runs.values():
        found[:] = [{"test": r["test"]} for r in found]
    text = experiments.write_comparison(grid, runs, tmp_path / "table").read_text()
    assert "| cora | gcn | abkd | 80.00 ± 1.00 | kd_gcrd 76.33 ± 3.21 | +3.67 ± 4.04 | within 1 std |" in text
    assert "(the highest mean test accuracy where a run kept no validation score)" in text
    assert (tmp_path / "table_methods.png").read_bytes()[:4] == b"\x89PNG"
    grid_file.write_text("datasets: [cora]\nteacher: {citeseer: gcn}\nstudents: [gcn]\nmethods: [kd]\n")
    with pytest.raises(ConfigError, match="none for \\['cora'\\]"):
        Grid.from_yaml(grid_file)
    grid_file.write_text("datasets: [cora]\nteacher: gcn\nstudents: [gcn]\nmethods: [kd]\ncompare: [abkd]\n")
    with pytest.raises(ConfigError, match="compare and against"):
        Grid.from_yaml(grid_file)


def test_an_ensemble_teacher_trains_each_member_and_its_row_is_the_ensemble_scored_on_each_split(tmp_path):
    from graphdistill.training.checkpoint import read_checkpoint
    from graphdistill.training.teacher import FrozenTeacher

    grid_file = tmp_path / "grid.yaml"
    grid_file.write_text("datasets: [synthetic]\nteacher: [gcn, mlp]\nstudents: [mlp]\nmethods: [kd]\nseeds: 2\n"
                         "extra: ['--trainer.max_epochs=4']\n")
    grid = Grid.from_yaml(grid_file)
    progress: list[str] = []
    rows = run_grid(grid, tmp_path / "work", tmp_path / "table", log=progress.append)
    assert [line.split(":")[0] for line in progress[:4]] == [
        "[1/8] synthetic seed 0 teacher_gcn", "[2/8] synthetic seed 0 teacher_mlp",
        "[3/8] synthetic seed 0 mlp_alone", "[4/8] synthetic seed 0 mlp_kd"]
    assert [(r["student"], r["method"]) for r in rows] == [
        ("teacher", "gcn+mlp"), ("teacher", "gcn"), ("teacher", "mlp"), ("mlp", "alone"), ("mlp", "kd")]
    ensemble, gcn, mlp = rows[:3]
    assert ensemble["model"] == "ensemble of GCN, MLP" and ensemble["parameters"] == gcn["parameters"] + mlp[
        "parameters"]
    assert ensemble["full_ms"] > 0 and gcn["full_ms"] is None and rows[4]["speedup_full"] > 0
    for seed in range(2):
        work = tmp_path / "work" / "synthetic" / f"seed{seed}"
        members = yaml.safe_load((work / "teacher_ensemble.yaml").read_text())["members"]
        assert [m.split("/")[0] for m in members] == ["teacher_gcn", "teacher_mlp"]  # relative to the file
        # the ensemble's score on this seed's split, by hand: the members' mean probabilities on the data the
        # student was trained on
        kd = json.loads((work / "mlp_kd" / "results.json").read_text())
        data = data_from_fingerprint(read_checkpoint(kd["best_checkpoint"])[0]["graphdistill"]["data"])
        probs = sum(FrozenTeacher(work / m).outputs(data, torch.device("cpu"), use_cache=False).logits.softmax(-1)
                    for m in members)
        for part, mask in (("test", data.test_mask), ("val", data.val_mask)):
            by_hand = float((probs[mask].argmax(-1) == data.y[mask]).float().mean())
            assert kd["teacher"][part] == pytest.approx(by_hand)
        assert ensemble["tests"][seed] == pytest.approx(kd["teacher"]["test"])
        assert ensemble["vals"][seed] == pytest.approx(kd["teacher"]["val"])
    with pytest.raises(ConfigError, match="recorded no teacher scores on its split"):  # an older or inductive run
        experiments.ensemble_result("ens.yaml", [], {"teacher": {"val": 0.5}})
    from graphdistill.experiments.paired import _counterpart, read_results

    table = read_results(tmp_path / "table.csv")  # each teacher row pairs with the same config's row, not all four
    assert [[c["method"] for c in _counterpart(r, table)] for r in table[:3]] == [["gcn+mlp"], ["gcn"], ["mlp"]]
    assert [c["method"] for c in _counterpart({**table[1], "method": "gcnii"}, table)] == ["gcn+mlp", "gcn", "mlp"]
    assert "Not analysed (an ensemble teacher has no single network to compare with): synthetic." in (
        tmp_path / "table_analysis.md").read_text()
    for teacher, message in [("[gcn]", "an ensemble of two or more different ones"),
                             ("[gcn, gcn]", "an ensemble of two or more different ones")]:
        grid_file.write_text(f"datasets: [synthetic]\nteacher: {teacher}\nstudents: [mlp]\nmethods: [kd]\n")
        with pytest.raises(ConfigError, match=message):
            Grid.from_yaml(grid_file)
    grid_file.write_text("datasets: [synthetic]\nteacher: [gcn, mlp]\nstudents: [mlp]\nmethods: [kd]\n"
                         "extra: ['--data.inductive=0.2']\n")
    with pytest.raises(ConfigError, match="cannot be scored in the inductive setting"):
        Grid.from_yaml(grid_file)
    for extra, refused in [("['--data.inductive', '0.2']", True), ("['--data.inductive=0.00']", False),
                           ("['--data.inductive=0.2', '--data.inductive=0']", False)]:  # the last one counts
        grid_file.write_text(f"datasets: [synthetic]\nteacher: [gcn, mlp]\nstudents: [mlp]\nmethods: [kd]\n"
                             f"extra: {extra}\n")
        if refused:
            with pytest.raises(ConfigError, match="cannot be scored in the inductive setting"):
                Grid.from_yaml(grid_file)
        else:
            assert Grid.from_yaml(grid_file).extra == yaml.safe_load(extra)
    student = tmp_path / "student_inductive.yaml"  # the same share set inside a config, caught at load too
    student.write_text(yaml.safe_dump({"model": {"class_path": "graphdistill.models.MLP"},
                                       "data": {"inductive": 0.2}}))
    grid_file.write_text(f"datasets: [synthetic]\nteacher: [gcn, mlp]\nstudents: [{student}]\nmethods: [kd]\n")
    with pytest.raises(ConfigError, match=f"inductive setting .*set there by {student}"):
        Grid.from_yaml(grid_file)
    student.write_text(yaml.safe_dump({"data": {"inductive": 0.0}}))
    assert Grid.from_yaml(grid_file).students == [str(student)]


def test_oad_rows_give_its_best_and_mean_student_and_its_ensemble():
    grid = Grid(datasets=["cora"], teacher="gcn", students=["gcn"], methods=["oad"], seeds=2)
    base = {"parameters": 100, "model": "GCN"}
    online = [{"students": [{}, {}], "mean_student_test": m, "ensemble": {"test": e}}
              for m, e in ((0.7, 0.8), (0.6, 0.9))]
    runs = {("cora", "teacher", "gcn"): [{**base, "parameters": 400, "test": 0.8}] * 2,
            ("cora", "gcn", "alone"): [{**base, "test": 0.5}, {**base, "test": 0.7}],
            ("cora", "gcn", "oad"): [{**base, "test": 0.75, "online": online[0]},
                                     {**base, "test": 0.65, "online": online[1]}]}
    rows = {r["method"]: r for r in experiments._rows(grid, runs, {})}
    assert rows["oad (best student)"]["test_mean"] == pytest.approx(0.70)
    assert rows["oad (mean student)"]["test_mean"] == pytest.approx(0.65)
    ensemble = rows["oad (ensemble of 2)"]
    assert ensemble["test_mean"] == pytest.approx(0.85) and ensemble["delta_vs_alone"] == pytest.approx(0.25)
    assert ensemble["parameters"] == 200 and ensemble["compression"] == pytest.approx(2.0)


def test_methods_without_a_teacher_get_none():
    assert experiments._needs_teacher("kd") and experiments._needs_teacher("graphakd")
    assert not experiments._needs_teacher("oad")


def test_latency_reports_both_timings_and_the_mlp_skips_the_neighbourhood():
    from graphdistill.data import NodeDataModule

    module = NodeDataModule(dataset="synthetic")
    data = module.data
    gnn = GCN(module.num_features, module.num_classes, hidden_channels=64, num_layers=3)
    mlp = MLP(module.num_features, module.num_classes, hidden_channels=64, num_layers=3)
    a = inference_latency(gnn, data, device="cpu", repeats=3, warmup=1, batch_size=256)
    b = inference_latency(mlp, data, device="cpu", repeats=3, warmup=1, batch_size=256)
    for r in (a, b):
        assert r["full_ms"] > 0 and r["batch_ms"] > 0 and r["batch_size"] == 256
        assert r["nodes_per_s"] == pytest.approx(data.num_nodes / (r["full_ms"] / 1000))
    assert not gnn.training and torch.is_grad_enabled()


def test_linear_cka_by_hand_and_its_invariances():
    x = torch.tensor([[1.0], [2.0], [3.0]])
    y = torch.tensor([[1.0], [3.0], [2.0]])
    # centred: x = (-1, 0, 1), y = (-1, 1, 0); (yᵀx)² = 1, ‖xᵀx‖ = 2, ‖yᵀy‖ = 2
    assert linear_cka(x, y) == pytest.approx(0.25)
    g = torch.Generator().manual_seed(0)
    a = torch.randn(200, 8, generator=g)
    q, _ = torch.linalg.qr(torch.randn(8, 8, generator=g))
    assert linear_cka(a, 3.0 * a @ q + 1.0) == pytest.approx(1.0)
    assert linear_cka(a, torch.randn(200, 8, generator=g)) < 0.2
    edges = torch.randint(0, 200, (2, 500), generator=g)
    assert local_structure_agreement(a, a @ q, edges) == pytest.approx(1.0)
    assert global_structure_agreement(a, 2.0 * a @ q, max_nodes=50) == pytest.approx(1.0)


def test_robustness_leaves_a_graph_free_mlp_untouched_by_edge_drop():
    from graphdistill.data import NodeDataModule

    module = NodeDataModule(dataset="synthetic")
    mlp = MLP(module.num_features, module.num_classes)
    result = robustness(mlp, module.data, edge_drop=(0.5,), feature_noise=(0.0, 5.0), seeds=2)
    assert result["edge_drop_0.5"] == result["clean"] == result["feature_noise_0"]
    gcn = GCN(module.num_features, module.num_classes)
    assert robustness(gcn, module.data, edge_drop=(0.0,), feature_noise=(), seeds=1)["edge_drop_0"] == pytest.approx(
        robustness(gcn, module.data, edge_drop=(), feature_noise=(), seeds=1)["clean"])


def test_latency_and_analyze_commands_compare_a_teacher_with_its_students(tmp_path, capsys):
    from graphdistill.cli import main
    from graphdistill.lightning_cli import run_fit

    def fit(name: str, *args: str, folder: str | None = None) -> dict:
        return run_fit("--config", config(f"synthetic/{name}.yaml"), "--trainer.max_epochs=3", "--trainer.logger=false",
                       f"--trainer.default_root_dir={tmp_path / (folder or name)}", *args)

    def with_positions(width: int) -> tuple[str, str]:
        return f"--model.init_args.model.init_args.position_channels={width}", f"--data.positions={width}"

    teacher, mlp = fit("gcn")["best_checkpoint"], fit("student_mlp")["best_checkpoint"]
    positioned = fit("student_mlp", *with_positions(8), folder="positioned")
    capsys.readouterr()
    main(["latency", "--teacher", teacher, "--students", teacher, mlp, positioned["best_checkpoint"], "--repeats", "2",
          "--warmup", "1", "--batch-size", "10", "--out", str(tmp_path / "latency.md")])
    rows = [line.split(" | ") for line in (tmp_path / "latency.md").read_text().splitlines() if line.startswith("| ")]
    assert rows[0][:3] == ["| model", "params", "compression"] and "10-node batch ms" in rows[0][6]
    assert [r[0] for r in rows[2:]] == ["| GCN teacher", "| GCN", "| MLP", "| MLP"]
    assert rows[3][2] == "1.0x" and rows[4][2] != "1.0x"  # the teacher as its own student: no compression
    assert "| GCN teacher" in capsys.readouterr().out  # printed too
    main(["analyze", "--teacher", teacher, "--students", teacher, mlp, "--edge-drop", "0.5", "--feature-noise",
          "--seeds", "1"])
    table = [line.split(" | ") for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    header = table[0]
    itself = dict(zip(header, table[3]))
    # the teacher compared with itself agrees fully and is exactly as robust
    assert {itself[k] for k in ("cka_logits", "local_logits", "global_logits", "cka_hidden")} == {"1.000"}
    assert table[3][header.index("clean"):] == table[2][header.index("clean"):]
    # a student that reads position features is analysed with the positions it was trained with:
    # its clean accuracy is its own test accuracy at the best validation epoch
    main(["analyze", "--teacher", teacher, "--students", positioned["best_checkpoint"], "--edge-drop",
          "--feature-noise", "--seeds", "1"])
    table = [line.split(" | ") for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    assert table[0][-1] == "clean |" and float(table[3][-1].strip(" |")) == pytest.approx(100 * positioned["test"],
                                                                                            abs=0.006)
    # students of other position features (width, kind) side by side: each measured with its own
    narrower = fit("student_mlp", "--trainer.max_epochs=1", *with_positions(4), folder="narrower")
    walked = fit("student_mlp", "--trainer.max_epochs=1", *with_positions(8), "--data.position_kind=deepwalk",
                 folder="walked")
    runs = [positioned, narrower, walked]
    rows = analyze(teacher, [run["best_checkpoint"] for run in runs], edge_drop=(), feature_noise=(), seeds=1)
    assert [row["clean"] for row in rows[1:]] == pytest.approx([run["test"] for run in runs], abs=1e-4)


def test_wandb_logger_works_offline_and_gets_the_config_and_final_results(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    from lightning.pytorch.loggers import WandbLogger

    from graphdistill.lightning_cli import run_fit

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    hyperparams, metrics = [], {}
    original_hparams, original_metrics = WandbLogger.log_hyperparams, WandbLogger.log_metrics

    def record_hparams(self, params, *args, **kwargs):
        hyperparams.append(params)
        return original_hparams(self, params, *args, **kwargs)

    def record_metrics(self, *args, **kwargs):
        metrics.update(kwargs.get("metrics", args[0] if args else {}))
        return original_metrics(self, *args, **kwargs)

    monkeypatch.setattr(WandbLogger, "log_hyperparams", record_hparams)
    monkeypatch.setattr(WandbLogger, "log_metrics", record_metrics)
    result = run_fit("--config", config("synthetic/student_mlp.yaml"), "--config", config("trainer/wandb.yaml"),
                     "--trainer.max_epochs=2", f"--trainer.logger.init_args.save_dir={tmp_path}",
                     f"--trainer.default_root_dir={tmp_path}")
    # the whole config went to wandb (not only the module's hyperparameters) ...
    configs = [h for h in hyperparams if isinstance(h, dict) and "trainer" in h and "data" in h]
    assert configs and configs[0]["model"]["init_args"]["model"]["class_path"].endswith("MLP")
    # ... and so did the final results, which a sweep selects on
    assert metrics["best/test"] == pytest.approx(result["test"]) and metrics["best/val"] == pytest.approx(
        result["best_val"])
    assert list(tmp_path.glob("wandb/offline-run-*")), "no offline wandb run was written"


def test_sweep_parameters_are_cli_arguments(capsys):
    import yaml

    from graphdistill.cli import main

    sweep = yaml.safe_load(open(config("sweeps/kd_cora.yaml")))
    command = sweep["command"]
    configs = [command[i + 1] for i, a in enumerate(command) if a == "--config"]
    args = [f"--{name}={spec['values'][-1] if 'values' in spec else spec['value']}"
            for name, spec in sweep["parameters"].items()]
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", *(x for c in configs for x in ("--config", config(c.removeprefix("configs/")))), *args,
              "--print_config"])
    assert exit_info.value.code in (0, None)
    printed = yaml.safe_load(capsys.readouterr().out)
    kd = printed["model"]["init_args"]["components"][-1]["init_args"]
    assert kd["weight"] == 0.9 and kd["temperature"] == 5.0
    assert printed["trainer"]["logger"]["class_path"].endswith("WandbLogger")


def test_grid_command_runs_a_grid_with_a_users_own_config_from_any_folder(tmp_path, monkeypatch, capsys):
    """``graphdistill grid`` from a folder with no configs in it: packaged configs by name,
    the user's own student config by a path relative to the grid file."""
    from graphdistill.cli import main

    mine = tmp_path / "my_configs"
    mine.mkdir()
    student = yaml.safe_load(Path(config("synthetic/student_mlp.yaml")).read_text())
    student["model"]["init_args"]["model"]["init_args"]["hidden_channels"] = 8
    (mine / "tiny_mlp.yaml").write_text(yaml.safe_dump(student))
    (mine / "grid.yaml").write_text(yaml.safe_dump({
        "datasets": ["synthetic"], "teacher": "gcn", "students": ["tiny_mlp.yaml"], "methods": ["kd"], "seeds": 1,
        "extra": ["--trainer.max_epochs=2"]}))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    main(["grid", str(mine / "grid.yaml"), "--no-latency", "--no-analysis"])
    table = (elsewhere / "runs" / "experiments" / "grid" / "grid.md").read_text()
    assert "| synthetic | MLP | kd |" in table and "| synthetic | MLP | alone |" in table
    assert (elsewhere / "runs/experiments/grid/synthetic/seed0/tiny_mlp_kd/results.json").is_file()
    hidden = json.loads((elsewhere / "runs/experiments/grid/synthetic/seed0/tiny_mlp_alone/results.json").read_text())
    assert hidden["parameters"] < 500  # the user's 8-wide student, not the packaged 32-wide one
    out = elsewhere / "runs" / "experiments" / "grid" / "grid"
    with out.with_suffix(".csv").open(newline="") as f:  # each row's split per seed, which paired checks
        assert hidden["split"].startswith("random:0:") and {r["splits"] for r in csv.DictReader(f)} == {hidden["split"]}
    (tmp_path / "before.csv").write_bytes(out.with_suffix(".csv").read_bytes())
    capsys.readouterr()
    with pytest.raises(SystemExit):  # a wrong file is refused before any run
        main(["grid", str(mine / "grid.yaml"), "--no-latency", "--paired-with", str(mine / "grid.yaml")])
    assert "is not a grid's results CSV" in capsys.readouterr().err
    main(["grid", str(mine / "grid.yaml"), "--no-latency", "--no-analysis", "--paired-with",
          str(tmp_path / "before.csv")])
    paired = out.with_name("grid_paired.md").read_text()  # the same runs read back: every row level with itself
    assert paired.count("| +0.00 ± 0.00 | within 1 std | 0/1 |") == 3 and out.with_name("grid_paired.png").is_file()
    with pytest.raises(SystemExit):
        main(["grid", str(mine / "missing.yaml")])
    assert "Grid file not found" in capsys.readouterr().err


def test_a_grid_on_your_own_graph_file_trains_on_the_file_and_names_it(tmp_path, monkeypatch, capsys):
    """``datasets: [graph.pt]`` (relative to the grid file): every run reads the file (a graph
    unlike the synthetic default: other size, classes and features), the configs default to the
    synthetic graph's, and the table, the plot and the run folder name the file. Its finished runs
    are read back only while the file is unchanged. ``--datasets`` runs that one of the grid's
    datasets only."""
    from graphdistill.cli import main
    from graphdistill.data import CSBMConfig, make_csbm
    from graphdistill.data.files import content_sha256, save_graph

    mine = tmp_path / "mine"
    mine.mkdir()
    graph = make_csbm(CSBMConfig(num_nodes=300, num_classes=3, num_features=12, seed=1))
    save_graph(graph, mine / "my_graph.pt")
    (mine / "grid.yaml").write_text(yaml.safe_dump({
        "datasets": ["synthetic", "my_graph.pt"], "teacher": "gcn", "students": ["mlp"], "methods": ["kd"],
        "seeds": 1, "extra": ["--trainer.max_epochs=2"]}))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit):
        main(["grid", str(mine / "grid.yaml"), "--datasets", "cora"])
    assert capsys.readouterr().err.strip().endswith("The grid has no dataset cora: name some of synthetic, "
                                                     "my_graph.pt.")
    main(["grid", str(mine / "grid.yaml"), "--no-analysis", "--datasets", "my_graph.pt"])
    out = tmp_path / "runs" / "experiments" / "grid"
    assert not (out / "synthetic").exists()  # the grid's other dataset: not run
    path = str((mine / "my_graph.pt").resolve())
    table = (out / "grid.md").read_text()  # the file by its name, its run folder by the whole path's hash
    assert "| my_graph.pt | MLP | kd |" in table and "| my_graph.pt | GCN teacher | gcn |" in table
    assert "Experiment grid: my_graph.pt" in table and "synthetic" not in table.split("Runs:")[1]
    assert path in (out / "grid.csv").read_text()
    folder = f"my_graph-{hashlib.sha256(path.encode()).hexdigest()[:8]}"
    assert (out / f"grid_{folder}.png").is_file()
    for run in ("teacher", "mlp_alone", "mlp_kd"):
        results = json.loads((out / folder / "seed0" / run / "results.json").read_text())
        assert results["dataset"] == path
    hidden = 32  # configs/synthetic/student_mlp.yaml: 12 features and 3 classes in the file, not 32 and 5
    assert results["parameters"] == 12 * hidden + hidden + hidden * 3 + 3
    assert results["data_source"]["sha256"] == content_sha256(mine / "my_graph.pt")
    main(["grid", str(mine / "grid.yaml"), "--no-analysis", "--no-latency"])  # unchanged: read back
    save_graph(make_csbm(CSBMConfig(num_nodes=300, num_classes=3, num_features=12, seed=2)), mine / "my_graph.pt")
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["grid", str(mine / "grid.yaml"), "--no-analysis", "--no-latency"])
    err = capsys.readouterr().err
    assert f"teacher/results.json was trained on another version of {path}" in err and len(err.splitlines()) == 1


def test_config_paths_resolve_to_the_packaged_configs_and_the_wheel_ships_them(tmp_path):
    import subprocess
    import sys
    import zipfile

    from graphdistill.config_files import CONFIG_DIR, resolve_config, resolve_config_args

    assert resolve_config("configs/cora/gcn.yaml") == CONFIG_DIR / "cora" / "gcn.yaml"
    assert resolve_config("methods/kd.yaml") == CONFIG_DIR / "methods" / "kd.yaml"
    own = tmp_path / "configs" / "cora" / "gcn.yaml"
    own.parent.mkdir(parents=True)
    own.write_text("seed_everything: 1\n")
    assert resolve_config(str(own)) == own  # a file that exists always wins
    assert resolve_config_args(["fit", "-c", "cora/gcn.yaml", "--config=methods/kd.yaml", "--x=configs/y"]) == [
        "fit", "-c", str(CONFIG_DIR / "cora/gcn.yaml"), f"--config={CONFIG_DIR / 'methods/kd.yaml'}", "--x=configs/y"]
    repo = Path(__file__).resolve().parents[1]
    import importlib.util

    isolation = [] if importlib.util.find_spec("setuptools") is None else ["--no-build-isolation"]
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-q", "-w",
                    str(tmp_path / "wheel"), str(repo)], check=True, capture_output=True)
    names = zipfile.ZipFile(next((tmp_path / "wheel").glob("*.whl"))).namelist()
    packaged = {str(p.relative_to(CONFIG_DIR.parent.parent)) for p in CONFIG_DIR.rglob("*.yaml")}
    assert packaged and packaged <= set(names), sorted(packaged - set(names))[:5]


@pytest.mark.parametrize("options", [
    {"split": "glnn", "split_seed": 3},
    {"split": "glnn", "split_seed": 1, "inductive": 0.2, "positions": 8},
    {"split": "random", "split_seed": 2, "inductive": 0.3},
])
def test_analysis_rebuilds_the_graph_a_checkpoint_was_trained_on_from_its_fingerprint(options):
    trained = NodeDataModule("synthetic", **options)
    rebuilt = data_from_fingerprint(trained.fingerprint())  # refuses a graph whose content hash differs
    assert rebuilt.num_nodes == trained.data.num_nodes
    for key in ("train_mask", "val_mask", "test_mask"):
        assert torch.equal(rebuilt[key], trained.data[key])
    if "positions" in options:
        assert torch.equal(rebuilt.position, trained.data.position)


def test_a_tampered_data_record_gets_one_line_not_a_traceback():
    fingerprint = NodeDataModule("synthetic", split="glnn").fingerprint()
    with pytest.raises(ConfigError, match="names a split or inputs graphdistill does not write"):
        data_from_fingerprint({**fingerprint, "split": "glnn:x:20:30"})


def test_graph_files_are_named_by_file_name_unless_two_share_it(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "folder").mkdir()
    one, two, three = str(tmp_path / "a" / "g.pt"), str(tmp_path / "b" / "g.pt"), str(tmp_path / "c" / "h.csv")
    folder = str(tmp_path / "folder")
    assert experiments.dataset_names(["cora", three, folder]) == {"cora": "cora", three: "h.csv", folder: "folder/"}
    assert experiments.dataset_names([one, two, three]) == {one: one, two: two, three: "h.csv"}


def test_two_students_of_one_architecture_are_told_apart_in_the_table(tmp_path):
    grid = Grid(datasets=["cora"], teacher="gcn", students=["mlp", "mlp_wide"], methods=["kd"], seeds=1)
    runs = {("cora", "teacher", "gcn"): [{"model": "GCN", "parameters": 400, "test": 0.8}]}
    for student, test in (("mlp", 0.6), ("mlp_wide", 0.7)):
        for method in ("alone", "kd"):
            runs[("cora", student, method)] = [{"model": "MLP", "parameters": 100, "test": test}]
    rows = experiments._rows(grid, runs, {})
    assert experiments.model_names(rows) == ["GCN teacher", "MLP (mlp)", "MLP (mlp)", "MLP (mlp_wide)",
                                             "MLP (mlp_wide)"]
    experiments.write_tables(rows, tmp_path / "t", title="t")
    assert "| cora | MLP (mlp_wide) | kd |" in (tmp_path / "t.md").read_text()
    one = [r for r in rows if r["student"] in ("teacher", "mlp")]  # one student per architecture: no name needed
    assert experiments.model_names(one) == ["GCN teacher", "MLP", "MLP"]


def test_a_grid_on_a_multilabel_graph_file_reports_the_rocauc_it_trained_on(tmp_path, monkeypatch):
    from graphdistill.cli import main
    from graphdistill.data.files import save_graph

    from .test_own_data import _multilabel_graph

    save_graph(_multilabel_graph(n=160), tmp_path / "tasks.pt")
    (tmp_path / "grid.yaml").write_text(yaml.safe_dump({
        "datasets": ["tasks.pt"], "teacher": "gcn", "students": ["mlp"], "methods": ["kd"], "seeds": 1,
        "extra": ["--trainer.max_epochs=2", "--data.split=0.2,0.2,0.6"]}))
    monkeypatch.chdir(tmp_path)
    main(["grid", str(tmp_path / "grid.yaml"), "--no-analysis", "--no-latency"])
    table = (tmp_path / "runs" / "experiments" / "grid" / "grid.md").read_text()
    assert "| val ROC-AUC % | test ROC-AUC % |" in table and "Test ROC-AUC at the best validation epoch" in table
    assert "acc %" not in table


def test_edge_drop_keeps_or_drops_each_pair_of_opposite_edges_together_each_with_its_own_id():
    """A typed graph: u -> v of type 0 and v -> u of type 1 (writes / written_by). The kept edges are whole
    pairs, and each keeps its own id, hence its own type (a mirrored copy would give both type 0)."""
    from graphdistill.evaluation.analysis import drop_edge_pairs

    g = torch.Generator().manual_seed(0)
    forward = torch.randint(0, 50, (2, 300), generator=g)
    forward = forward[:, forward[0] < forward[1]].unique(dim=1)
    edge_index = torch.cat([forward, forward.flip(0)], 1)
    edge_type = torch.cat([torch.zeros(forward.size(1)), torch.ones(forward.size(1))]).long()
    torch.manual_seed(1)
    kept, ids = drop_edge_pairs(edge_index, 0.5)
    assert torch.equal(kept, edge_index[:, ids])
    pairs = {tuple(e) for e in kept.t().tolist()}
    assert all((v, u) in pairs for u, v in pairs)  # whole pairs only
    assert 0.3 < len(pairs) / edge_index.size(1) < 0.7
    types = edge_type[ids]
    assert torch.equal(types, (kept[0] > kept[1]).long())  # each edge its own type: reverse edges stay type 1
    assert drop_edge_pairs(edge_index, 0.0)[1].tolist() == list(range(edge_index.size(1)))


def test_robustness_drops_a_weighted_gcns_edge_weights_with_its_edges():
    from torch_geometric.data import Data
    from torch_geometric.utils import to_undirected

    from graphdistill.data.metrics import score
    from graphdistill.evaluation.analysis import drop_edge_pairs

    g = torch.Generator().manual_seed(0)
    edge_index, weight = to_undirected(torch.randint(0, 100, (2, 400), generator=g),
                                       torch.rand(400, generator=g) + 0.1, num_nodes=100)
    data = Data(x=torch.randn(100, 6, generator=g), edge_index=edge_index, edge_weight=weight,
                y=torch.randint(0, 3, (100,), generator=g), test_mask=torch.ones(100, dtype=torch.bool))
    gcn = GCN(6, 3, hidden_channels=16, edge_weight=True).eval()
    got = robustness(gcn, data, edge_drop=(0.5,), feature_noise=(), seeds=1)["edge_drop_0.5"]
    torch.manual_seed(0)  # the draw robustness makes for seed 0: each kept edge keeps its own weight
    kept, ids = drop_edge_pairs(edge_index, 0.5)
    with torch.no_grad():
        expected = score(gcn(data.x, kept, edge_weight=weight[ids]).logits, data.y)
    assert got == pytest.approx(expected, abs=1e-9)


def _grid_csv(path: Path, teacher: str, students: dict[str, list[str]], tests: dict[tuple[str, str], list[float]],
              split: str = "glnn:{}:20:30") -> Path:
    """A grid's results CSV written by the grid's own writer, from runs with these test scores
    (seed i's split: ``split`` formatted with i)."""
    grid = Grid(datasets=["cora"], teacher=teacher, students=list(students),
                methods=sorted({m for ms in students.values() for m in ms}), student_methods=students, seeds=1)
    runs = {("cora", s, m): [{"model": "GCN" if s == "teacher" else "MLP", "parameters": 100,
                                                      "test": t, "best_val": t + 0.1, "config_hash": f"{s}{m}{i}",
                                                      "code": {"commit": "abcdef0123"}, "split": split.format(i)}
                                     for i, t in enumerate(v)]
            for (s, m), v in tests.items()}
    experiments.write_tables(experiments._rows(grid, runs, {}), path, title="t")
    return path.with_suffix(".csv")


def test_paired_sets_two_grids_rows_against_each_other_by_seed(tmp_path, capsys):
    from graphdistill.cli import main

    base = _grid_csv(tmp_path / "base", "gcn", {"mlp": ["kd"], "mlp_positions": ["glnn"]}, {
        ("teacher", "gcn"): [0.80, 0.81, 0.79], ("mlp", "alone"): [0.6] * 3, ("mlp", "kd"): [0.70, 0.72, 0.71],
        ("mlp_positions", "alone"): [0.65, 0.66, 0.67], ("mlp_positions", "glnn"): [0.74, 0.75, 0.76]})
    new = _grid_csv(tmp_path / "new", "gcnii", {"mlp_wide": ["kd"], "mlp_positions": ["glnn"]}, {  # 2 seeds of 3
        ("teacher", "gcnii"): [0.82, 0.84], ("mlp_wide", "alone"): [0.62, 0.63], ("mlp_wide", "kd"): [0.73, 0.71],
        ("mlp_positions", "alone"): [0.65, 0.66], ("mlp_positions", "glnn"): [0.76, 0.77]})
    main(["paired", str(new), str(base), "--out", str(tmp_path / "paired")])
    text = capsys.readouterr().out
    assert text == (tmp_path / "paired.md").read_text() + "\n"  # printed and written, the same table
    assert (tmp_path / "paired.png").read_bytes()[:4] == b"\x89PNG"
    # teacher with teacher (other config): per seed +2, +3 points; test and validation over the 2 seeds both ran
    assert ("| cora | GCN teacher (gcnii) | GCN teacher (gcn) | 83.00 ± 1.41 | 80.50 ± 0.71 | +2.50 ± 0.71 | better | "
            "2/2 | 93.00 | 90.50 |") in text
    # another student's name: the one base row of its method (+3, -1)
    assert ("| cora | MLP (mlp_wide) kd | MLP (mlp) kd | 72.00 ± 1.41 | 71.00 ± 1.41 | +1.00 ± 2.83 | within 1 std | "
            "1/2 |") in text
    # the same student and method: that row, even where the method has several
    assert ("| MLP (mlp_positions) alone | MLP (mlp_positions) alone | 65.50 ± 0.71 | 65.50 ± 0.71 | +0.00 ± 0.00 "
            "|") in text
    assert ("| MLP (mlp_positions) glnn | MLP (mlp_positions) glnn | 76.50 ± 0.71 | 74.50 ± 0.71 | +2.00 ± 0.00 "
            "|") in text
    assert ("Unpaired: MLP (mlp_wide) alone (cora): 2 rows of its method (students mlp, mlp_positions), none of its "
            "student's name.") in text
    with base.open(newline="") as f:  # a table from before per-seed validation: its mean over all seeds, marked
        rows = list(csv.DictReader(f))
    with (tmp_path / "older.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[k for k in rows[0] if k not in ("vals", "splits")],
                                extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    main(["paired", str(new), str(tmp_path / "older.csv")])
    assert "| +2.50 ± 0.71 | better | 2/2 | 93.00 | 90.00* |" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["paired", str(tmp_path / "missing.csv"), str(base)])
    assert capsys.readouterr().err.strip().endswith("missing.csv: no such file; give a grid's results CSV "
                                                     "(graphdistill grid writes OUT.csv).")
    inductive = _grid_csv(tmp_path / "inductive", "gcnii", {"mlp_wide": ["kd"]}, {  # another grid's data options
        ("teacher", "gcnii"): [0.82, 0.84], ("mlp_wide", "alone"): [0.62, 0.63], ("mlp_wide", "kd"): [0.73, 0.71]},
        split="glnn:{}:20:30:inductive:0.2")
    with pytest.raises(SystemExit):
        main(["paired", str(inductive), str(base)])
    assert capsys.readouterr().err.strip().endswith(
        "GCN teacher (gcnii) seed 0 was trained on split glnn:0:20:30:inductive:0.2, its counterpart GCN teacher (gcn) "
        "on glnn:0:20:30: pair grids run with the same data options (--data.split, --data.inductive).")
    main(["paired", str(inductive), str(tmp_path / "older.csv")])  # a CSV without splits: the user's to check
    assert "| +2.50 ± 0.71 | better | 2/2 |" in capsys.readouterr().out
    (tmp_path / "cut.csv").write_text(base.read_text()[:300])  # a copy cut short mid-row: one line, no traceback
    with pytest.raises(SystemExit):
        main(["paired", str(tmp_path / "cut.csv"), str(base)])
    assert capsys.readouterr().err.strip().endswith("cut.csv: line 2 has another number of columns than the header (a "
                                                     "file cut short or edited); give the OUT.csv that graphdistill "
                                                     "grid writes, unedited.")
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(SystemExit):
        main(["paired", str(new), str(tmp_path / "other.csv")])
    assert "is not a grid's results CSV" in capsys.readouterr().err
