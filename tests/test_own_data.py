"""Your own graph and your own teacher: graphs from .pt / .npz / CSV / Parquet, teachers as a
checkpoint, an outputs file or any nn.Module spec."""

from __future__ import annotations

import json
import math
import pickle
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from torch_geometric.utils import coalesce

from graphdistill.cli import main
from graphdistill.data import NodeDataModule
from graphdistill.data.files import save_graph
from graphdistill.errors import ConfigError, GraphDistillError, TeacherCheckpointError, user_error
from graphdistill.training.checkpoint import read_checkpoint
from graphdistill.training.teacher import load_teacher

from .conftest import REPO, config

FORMATS = ["pt", "npz", "csv", "parquet"]


def _export(data, folder: Path, fmt: str, ids=None) -> Path:
    if fmt in ("pt", "npz"):
        return save_graph(data, folder / f"graph.{fmt}")
    return save_graph(data, folder / f"graph-{fmt}", tables=fmt, ids=ids)


@pytest.fixture(scope="module")
def cora_raw(datasets_root):
    """Built-in Cora with raw (unnormalised) features, as a user would export it."""
    return NodeDataModule("cora", root=str(datasets_root), normalize_features=False).data


@pytest.mark.parametrize("fmt", FORMATS)
def test_cora_in_every_format_loads_like_the_builtin_loader(datasets_root, cora_raw, tmp_path, fmt):
    ids = np.arange(cora_raw.num_nodes) * 7 + 1000  # node ids need not be 0..N-1
    path = _export(cora_raw, tmp_path, fmt, ids=ids)
    # .npz carries no split: both sides draw the seeded per-class split
    split = "random" if fmt == "npz" else "auto"
    builtin = NodeDataModule("cora", root=str(datasets_root), split=split)
    mine = NodeDataModule(str(path), split=split, normalize_features=True)
    a, b = builtin.data, mine.data
    for key in ("x", "y", "train_mask", "val_mask", "test_mask"):
        assert torch.equal(a[key], b[key]), key
        # the same memory layout too: a dropout mask is drawn in memory order, so a column-major
        # feature matrix (as a table gives it) would train differently from the same values
        assert a[key].stride() == b[key].stride(), key
    # tables and .pt keep the edge order; a CSR adjacency (.npz) stores edges sorted by row
    edges = coalesce(a.edge_index) if fmt == "npz" else a.edge_index
    assert torch.equal(edges, b.edge_index)
    fa, fb = builtin.fingerprint(), mine.fingerprint()
    assert {k: v for k, v in fb.items() if k not in ("dataset", "source")} == {
        k: v for k, v in fa.items() if k != "dataset"}
    assert fb["source"]["sha256"] and fb["source"]["path"] == str(path.resolve())


def test_ratio_split_is_seeded_stratified_and_skips_unlabelled_nodes(tmp_path):
    data = _tiny_graph(n=200, classes=4)
    data.y[:20] = -1  # unlabelled
    path = save_graph(data, tmp_path / "g.pt")
    dm = NodeDataModule(str(path), split="0.6,0.2,0.2", split_seed=3)
    d = dm.data
    assert not (d.train_mask | d.val_mask | d.test_mask)[:20].any()
    assert int((d.train_mask | d.val_mask | d.test_mask).sum()) == 180
    assert abs(int(d.train_mask.sum()) - 108) <= 4 and abs(int(d.val_mask.sum()) - 36) <= 4
    assert set(d.y[d.train_mask].tolist()) == {0, 1, 2, 3}
    again = NodeDataModule(str(path), split="0.6,0.2,0.2", split_seed=3).data
    other = NodeDataModule(str(path), split="0.6,0.2,0.2", split_seed=4).data
    assert torch.equal(d.train_mask, again.train_mask) and not torch.equal(d.train_mask, other.train_mask)
    assert dm.fingerprint()["split"] == "ratio:3:0.6,0.2,0.2"


def test_unlabelled_nodes_are_in_no_split_and_undirected_is_a_choice(tmp_path, fit):
    data = _tiny_graph(n=240, classes=2)
    data.y[::10] = -1
    data.edge_index = torch.tensor([[0, 1, 2], [1, 2, 3]])
    folder = save_graph(data, tmp_path / "tables")
    nodes = pd.read_csv(folder / "nodes.csv")
    nodes.loc[nodes["label"] == -1, "label"] = None  # a missing label is unlabelled too
    nodes.to_csv(folder / "nodes.csv", index=False)
    d = NodeDataModule(str(folder), train_per_class=20, val_per_class=30).data
    assert not (d.train_mask | d.val_mask | d.test_mask)[::10].any()
    assert d.edge_index.size(1) == 6
    directed = NodeDataModule(str(folder), undirected=False).data
    assert directed.edge_index.tolist() == [[0, 1, 2], [1, 2, 3]]
    # plain training and distillation run on a graph with unlabelled nodes (KD covers them)
    np.save(tmp_path / "logits.npy", torch.randn(240, 2).numpy())
    student = ["--config", config("synthetic/student_mlp.yaml"), f"--data.dataset={folder}", "--trainer.max_epochs=2"]
    assert 0 <= fit(*student)["test"] <= 1
    assert 0 <= fit(*student, "--config", config("methods/kd.yaml"),
                    f"--model.init_args.teacher={tmp_path / 'logits.npy'}")["test"] <= 1


def _tiny_graph(n: int = 120, classes: int = 2, features: int = 3, seed: int = 0):
    from torch_geometric.data import Data

    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    x = torch.randn(n, features, generator=gen) + y[:, None].float()
    src = torch.randint(0, n, (3 * n,), generator=gen)
    dst = torch.randint(0, n, (3 * n,), generator=gen)
    return Data(x=x, edge_index=torch.stack([src, dst]), y=y, num_nodes=n)


def _tables(tmp_path: Path) -> tuple[Path, pd.DataFrame, pd.DataFrame]:
    folder = save_graph(_tiny_graph(), tmp_path / "g", ids=np.arange(120) + 500)
    return folder, pd.read_csv(folder / "nodes.csv"), pd.read_csv(folder / "edges.csv")


def _set(frame: pd.DataFrame, column: str, row: int, value) -> pd.DataFrame:
    frame[column] = frame[column].astype(object)
    frame.loc[row, column] = value
    return frame


# name, change to (nodes, edges), extra data-module arguments, what the one line must say
BAD_TABLES = [
    ("missing label column", lambda n, e: (n.drop(columns=["label"]), e), {}, "has no column 'label'"),
    ("misnamed edge column", lambda n, e: (n, e.rename(columns={"source": "src"})), {}, "has no column 'source'"),
    ("a class name among class numbers", lambda n, e: (_set(n, "label", 4, "cat"), e), {},
     "the label column mixes class names ('cat') and numbers ("),
    ("fractional label", lambda n, e: (_set(n, "label", 4, 1.5), e), {}, "label 1.5 is not a whole number"),
    ("edge to an unknown node", lambda n, e: (n, _set(e, "target", 3, 99999)), {}, "target 99999"),
    ("NaN feature", lambda n, e: (_set(n, "x1", 7, float("nan")), e), {}, "node 7 has a NaN or infinite feature"),
    ("infinite feature", lambda n, e: (_set(n, "x0", 9, float("inf")), e), {}, "node 9 has a NaN or infinite"),
    ("empty graph", lambda n, e: (n.iloc[:0], e.iloc[:0]), {}, "has no rows: the graph is empty"),
    ("class too small for the split", lambda n, e: (_set(n, "label", 0, 2), e), {},
     "Class 2 has 1 labelled nodes, too few for the random split"),
    ("duplicate node ids", lambda n, e: (_set(n, "id", 1, 500), e), {}, "node id 500 appears more than once"),
    ("feature count differs between rows",
     lambda n, e: (n[["id", "label"]].assign(features=["1 2 3"] * 119 + ["1 2"]), e), {},
     "feature count differs between rows (row 0 has 3, row 119 has 2)"),
    ("feature that is not a number", lambda n, e: (_set(n, "x2", 5, "high"), e), {}, "column 'x2' holds a value"),
    ("split column with an unknown value", lambda n, e: (n.assign(split=["train"] * 60 + ["dev"] * 60), e), {},
     "split value 'dev' is not one of"),
    ("split column without validation nodes", lambda n, e: (n.assign(split=["train"] * 60 + ["test"] * 60), e),
     {}, "has no val node"),
    ("ratio split leaving a class without val", lambda n, e: (_set(n, "label", 0, 2), e), {"split": "0.6,0.2,0.2"},
     "Class 2 has no val node"),
]


@pytest.mark.parametrize("name,change,kwargs,message", BAD_TABLES, ids=[c[0] for c in BAD_TABLES])
def test_bad_tables_give_one_line_naming_the_problem(tmp_path, capsys, name, change, kwargs, message):
    folder, nodes, edges = _tables(tmp_path)
    nodes, edges = change(nodes, edges)
    nodes.to_csv(folder / "nodes.csv", index=False)
    edges.to_csv(folder / "edges.csv", index=False)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises(GraphDistillError) as err:
        NodeDataModule(str(folder), **kwargs).fingerprint()
    assert message in str(err.value) and "\n" not in str(err.value)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written, nothing half-written
    # the command prints the same single line and no traceback
    args = [f"--data.{k}={v}" for k, v in kwargs.items()]
    with pytest.raises(SystemExit) as exc:
        main(["fit", "--config", config("synthetic/gcn.yaml"), f"--data.dataset={folder}", *args,
              f"--trainer.default_root_dir={tmp_path / 'run'}", "--trainer.max_epochs=1"])
    assert exc.value.code == 2
    out = capsys.readouterr().err.strip()
    assert out.count("\n") == 0 and message in out, out


def test_bad_graph_files_give_one_line(tmp_path):
    data = _tiny_graph()
    with pytest.raises(GraphDistillError, match="not found"):
        NodeDataModule(str(tmp_path / "nope.pt"))
    (tmp_path / "folder").mkdir()
    with pytest.raises(GraphDistillError, match="has no nodes.csv or nodes.parquet"):
        NodeDataModule(str(tmp_path / "folder")).data  # noqa: B018
    torch.save({"x": data.x, "edge_index": data.edge_index}, tmp_path / "noy.pt")
    with pytest.raises(GraphDistillError, match="has no y"):
        NodeDataModule(str(tmp_path / "noy.pt")).data  # noqa: B018
    np.savez(tmp_path / "bad.npz", adj_data=np.ones(1))
    with pytest.raises(GraphDistillError, match="lacks adj_indices, adj_indptr, adj_shape, labels"):
        NodeDataModule(str(tmp_path / "bad.npz")).data  # noqa: B018
    with pytest.raises(ConfigError, match="three fractions"):
        NodeDataModule(str(tmp_path / "noy.pt"), split="0.6,0.5,0.2")
    tables = save_graph(data, tmp_path / "tables")
    with pytest.raises(ConfigError, match=f"one of the graph's two tables: give the folder .*--data.dataset {tables}/"):
        NodeDataModule(str(tables / "nodes.csv")).data  # noqa: B018
    from graphdistill.experiments.compress import Compress

    with pytest.raises(ConfigError, match="No search space for method 'kdd'"):  # before anything trains
        Compress(out=tmp_path / "compress", methods=["kd", "kdd"])
    assert not (tmp_path / "compress").exists()


class _RunsCode:
    def __reduce__(self):
        return (Path.touch, (Path(__file__).parent / "_graph_file_ran_code",))


def test_a_graph_file_that_would_run_code_runs_nothing(tmp_path):
    marker = Path(__file__).parent / "_graph_file_ran_code"
    marker.unlink(missing_ok=True)
    data = _tiny_graph()
    torch.save({"x": data.x, "edge_index": data.edge_index, "y": data.y, "extra": _RunsCode()}, tmp_path / "evil.pt")
    with pytest.raises(GraphDistillError, match="does not load as plain data"):
        NodeDataModule(str(tmp_path / "evil.pt")).data  # noqa: B018
    assert not marker.exists()
    with open(tmp_path / "evil.npz", "wb") as f:  # an object array in an npz is a pickle
        np.savez(f, adj_data=np.array([_RunsCode()], dtype=object), adj_indices=np.zeros(1), adj_indptr=np.zeros(2),
                 adj_shape=np.array([1, 1]), attr_matrix=np.zeros((1, 1)), labels=np.zeros(1))
    with pytest.raises(GraphDistillError):
        NodeDataModule(str(tmp_path / "evil.npz")).data  # noqa: B018
    assert not marker.exists()


# ---------------------------------------------------------------------------- teachers
def _train_plain_pyg_gcn(data, epochs: int = 200):
    """A GCN 2×64 trained in plain PyG, outside graphdistill: the example script's own loop."""
    import importlib.util

    path = REPO / "scripts" / "examples" / "own_graph_and_teacher.py"
    spec = importlib.util.spec_from_file_location("own_graph_and_teacher", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    return example.train_gcn(data, epochs)


def _save_teacher_forms(model, data, folder: Path) -> tuple[Path, Path]:
    """The teacher as (a) a module spec with its state dict, (b) a file of its outputs."""
    torch.save(model.state_dict(), folder / "gcn_weights.pt")
    spec = {"class_path": "torch_geometric.nn.models.GCN", "init_args": {
        "in_channels": data.num_features, "hidden_channels": 64, "num_layers": 2,
        "out_channels": int(data.y.max()) + 1, "dropout": 0.5}, "state_dict": "gcn_weights.pt",
        "hidden_layers": ["convs.0"]}
    (folder / "teacher.yaml").write_text(yaml.safe_dump(spec))
    with torch.no_grad():
        torch.save({"logits": model(data.x, data.edge_index)}, folder / "teacher_outputs.pt")
    return folder / "teacher.yaml", folder / "teacher_outputs.pt"


@pytest.mark.slow
def test_plain_pyg_teacher_as_spec_or_outputs_distils_an_mlp_that_beats_the_mlp_alone(
        datasets_root, cora_raw, tmp_path, fit):
    graph = save_graph(cora_raw, tmp_path / "cora.pt")
    data = NodeDataModule(str(graph), normalize_features=True).data  # what the student sees
    teacher = _train_plain_pyg_gcn(data)
    spec, outputs = _save_teacher_forms(teacher, data, tmp_path)
    common = ["--config", config("cora/student_mlp.yaml"), f"--data.dataset={graph}",
              "--data.normalize_features=true"]
    kd = [*common, "--config", config("methods/kd.yaml")]
    alone, by_spec, by_outputs = [], [], []
    for seed in (0, 1, 2):
        alone.append(fit(*common, f"--seed_everything={seed}")["test"])
        a = fit(*kd, f"--seed_everything={seed}", f"--model.init_args.teacher={spec}")
        b = fit(*kd, f"--seed_everything={seed}", f"--model.init_args.teacher={outputs}")
        by_spec.append(a["test"])
        by_outputs.append(b["test"])
        assert a["best_val"] == b["best_val"] and a["test"] == b["test"]
        wa = read_checkpoint(a["best_checkpoint"])[0]["state_dict"]
        wb = read_checkpoint(b["best_checkpoint"])[0]["state_dict"]
        assert all(torch.equal(wa[k], wb[k]) for k in wa)  # the same student, bit for bit
        record = read_checkpoint(a["best_checkpoint"])[0]["graphdistill"]["teacher"]
        assert record["form"] == "module" and [Path(f["path"]).name for f in record["files"]] == [
            "teacher.yaml", "gcn_weights.pt"]
    print(f"MLP alone {np.mean(alone):.4f}, KD from a plain-PyG GCN {np.mean(by_spec):.4f}")
    assert np.mean(by_spec) > np.mean(alone) + 0.03


def _fit_error(fit, *args: str) -> str:
    """The user error a fit fails with (jsonargparse may wrap it while building the module)."""
    with pytest.raises(Exception) as err:  # noqa: PT011 - unwrapped below
        fit(*args)
    found = user_error(err.value)
    assert found is not None, err.value
    return str(found)


def test_teacher_forms_refuse_what_does_not_fit(tmp_path, fit):
    data = _tiny_graph(n=200, classes=2)
    graph = save_graph(data, tmp_path / "g.pt")
    dm_data = NodeDataModule(str(graph), train_per_class=20, val_per_class=30).data
    teacher = _train_plain_pyg_gcn(dm_data, epochs=5)
    spec, outputs = _save_teacher_forms(teacher, dm_data, tmp_path)
    student = ["--config", config("synthetic/student_mlp.yaml"), f"--data.dataset={graph}", "--trainer.max_epochs=2"]
    fitnet = ["--config", config("methods/fitnet.yaml")]
    # a feature method needs hidden layers: the spec names one, the logits-only file has none
    fit(*student, *fitnet, f"--model.init_args.teacher={spec}")
    assert "FitNet aligns hidden layers, but the teacher outputs file" in _fit_error(
        fit, *student, *fitnet, f"--model.init_args.teacher={outputs}")
    # logits with hidden layers: feature methods run
    with torch.no_grad():
        hidden = teacher.convs[0](dm_data.x, dm_data.edge_index)
        torch.save({"logits": teacher(dm_data.x, dm_data.edge_index), "hiddens": [hidden]}, tmp_path / "full.pt")
    fit(*student, *fitnet, f"--model.init_args.teacher={tmp_path / 'full.pt'}")
    np.save(tmp_path / "logits.npy", torch.randn(199, 2).numpy())  # another graph's node count
    kd = ["--config", config("methods/kd.yaml")]
    assert "num_nodes: teacher 199 vs data 200" in _fit_error(
        fit, *student, *kd, f"--model.init_args.teacher={tmp_path / 'logits.npy'}")
    np.save(tmp_path / "three.npy", torch.randn(200, 3).numpy())
    assert "predicts 3 classes but the student 2" in _fit_error(
        fit, *student, *kd, f"--model.init_args.teacher={tmp_path / 'three.npy'}")
    with pytest.raises(TeacherCheckpointError, match="hidden layer 'convs.7' is not a submodule"):
        bad = yaml.safe_load(spec.read_text()) | {"hidden_layers": ["convs.7"]}
        (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
        load_teacher(tmp_path / "bad.yaml")
    with pytest.raises(TeacherCheckpointError, match="do not fit torch_geometric.nn.models.GCN"):
        bad = yaml.safe_load(spec.read_text())
        bad["init_args"]["hidden_channels"] = 32
        (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
        load_teacher(tmp_path / "bad.yaml")


def test_an_ensemble_teacher_gives_the_mean_of_its_members_probabilities_and_refuses_what_does_not_fit(tmp_path, fit):
    data = _tiny_graph(n=200, classes=2)
    graph = save_graph(data, tmp_path / "g.pt")
    dm_data = NodeDataModule(str(graph), train_per_class=20, val_per_class=30).data
    spec, outputs = _save_teacher_forms(_train_plain_pyg_gcn(dm_data, epochs=5), dm_data, tmp_path)
    other = torch.tensor([[2.0, -1.0], [0.0, 30.0]]).repeat(100, 1)  # a confident member, logits far apart
    np.save(tmp_path / "other.npy", other.numpy())
    (tmp_path / "ensemble.yaml").write_text("members: [teacher.yaml, other.npy]\n")
    ensemble = load_teacher(tmp_path / "ensemble.yaml")
    logits = ensemble.outputs(dm_data, torch.device("cpu"), use_cache=False).logits
    with torch.no_grad():
        first = torch.load(outputs)["logits"]
    by_hand = (first.softmax(-1) + other.softmax(-1)) / 2  # the mean probabilities, computed directly
    assert torch.allclose(logits.exp(), by_hand, atol=1e-6) and logits.isfinite().all()
    assert ensemble.form == "ensemble" and ensemble.hidden_widths == [] and ensemble.num_parameters is None
    assert [p.name for p, _ in ensemble.files] == ["ensemble.yaml", "teacher.yaml", "gcn_weights.pt", "other.npy"]
    student = ["--config", config("synthetic/student_mlp.yaml"), f"--data.dataset={graph}", "--trainer.max_epochs=2"]
    kd = ["--config", config("methods/kd.yaml")]
    result = fit(*student, *kd, f"--model.init_args.teacher={tmp_path / 'ensemble.yaml'}")
    assert result["teacher"]["form"] == "ensemble" and result["teacher"]["model"] == "ensemble of GCN, outputs file"
    record = read_checkpoint(result["best_checkpoint"])[0]["graphdistill"]["teacher"]
    assert record["sha256"] == ensemble.sha256 and [m["form"] for m in record["model"]["members"]] == [
        "module", "outputs"]
    # the run scores its teacher on the run's split: members that know every label, and members that flip them
    right = 10 * torch.nn.functional.one_hot(data.y, 2).float()
    for name, logits in (("right", right), ("wrong", right.flip(1))):
        np.save(tmp_path / f"{name}.npy", logits.numpy())
        (tmp_path / f"{name}.yaml").write_text(f"members: [{name}.npy, {name}.npy]\n")
    scored = [fit(*student, *kd, f"--model.init_args.teacher={tmp_path / n}.yaml")["teacher"]
              for n in ("right", "wrong")]
    assert [(t["val"], t["test"]) for t in scored] == [(1.0, 1.0), (0.0, 0.0)]
    np.save(tmp_path / "other.npy", (other + 1).numpy())  # a changed member changes the ensemble's hash
    assert load_teacher(tmp_path / "ensemble.yaml").sha256 != ensemble.sha256
    assert "gives class probabilities only" in _fit_error(
        fit, *student, "--config", config("methods/fitnet.yaml"),
        f"--model.init_args.teacher={tmp_path / 'ensemble.yaml'}")
    np.save(tmp_path / "three.npy", torch.randn(200, 3).numpy())
    for members, message in [("[teacher.yaml]", "two or more teacher files"),
                             ("[teacher.yaml, three.npy]", "predict different numbers of classes"),
                             ("[teacher.yaml, ensemble.yaml]", "is an ensemble itself"),
                             ("[teacher.yaml, missing.npy]", "not found")]:
        (tmp_path / "bad.yaml").write_text(f"members: {members}\n")
        with pytest.raises(TeacherCheckpointError, match=message):
            load_teacher(tmp_path / "bad.yaml")


def test_a_teacher_spec_builds_only_allowed_classes_and_runs_nothing_else(tmp_path, monkeypatch):
    torch.save({}, tmp_path / "w.pt")
    marker = tmp_path / "ran"
    for class_path in ("subprocess.Popen", "os.system", "builtins.eval"):
        (tmp_path / "t.json").write_text(json.dumps({"class_path": class_path, "init_args": {"args": f"touch {marker}"},
                                                     "state_dict": "w.pt"}))
        with pytest.raises(TeacherCheckpointError, match=f"Refused to build '{class_path}'.*GRAPHDISTILL_ALLOWED"):
            load_teacher(tmp_path / "t.json")
    assert not marker.exists()
    (tmp_path / "t.json").write_text(json.dumps({"class_path": "torch.Tensor", "state_dict": "w.pt"}))
    with pytest.raises(TeacherCheckpointError, match="not a torch.nn.Module"):
        load_teacher(tmp_path / "t.json")
    # the state dict is data: a pickle that would run code is refused
    with open(tmp_path / "evil.pt", "wb") as f:
        pickle.dump(_RunsCode(), f)
    (tmp_path / "t.json").write_text(json.dumps({"class_path": "torch.nn.Linear", "init_args": {
        "in_features": 3, "out_features": 2}, "state_dict": "evil.pt"}))
    with pytest.raises(TeacherCheckpointError, match="Refused"):
        load_teacher(tmp_path / "t.json")
    assert not (Path(__file__).parent / "_graph_file_ran_code").exists()
    # a class the user allows explicitly is built
    monkeypatch.setenv("GRAPHDISTILL_ALLOWED_MODELS", "tests")
    torch.save(TinyTeacher().state_dict(), tmp_path / "w.pt")
    (tmp_path / "t.json").write_text(json.dumps({"class_path": "tests.test_own_data.TinyTeacher",
                                                 "state_dict": "w.pt", "num_classes": 2}))
    assert load_teacher(tmp_path / "t.json").num_classes == 2


class TinyTeacher(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(3, 2)

    def forward(self, x, edge_index):
        return self.lin(x)


def test_a_builtin_teacher_checkpoint_fits_the_same_graph_from_a_file(tmp_path, fit):
    """The content hash decides: a teacher trained on the built-in graph distils on the same
    graph read from a file, and a changed file is refused naming the graph hash."""
    teacher = fit("--config", config("synthetic/gcn.yaml"), "--trainer.max_epochs=3")
    data = NodeDataModule("synthetic").data
    graph = save_graph(data, tmp_path / "synthetic.pt")
    student = ["--config", config("synthetic/student_mlp.yaml"), f"--data.dataset={graph}",
               "--config", config("methods/kd.yaml"), f"--model.init_args.teacher={teacher['best_checkpoint']}",
               "--trainer.max_epochs=2"]
    result = fit(*student)
    assert result["teacher"]["form"] == "checkpoint"
    data.x[0, 0] += 1.0
    save_graph(data, graph)
    assert "graph: teacher" in _fit_error(fit, *student)


@pytest.mark.slow
def test_the_example_script_runs_end_to_end(tmp_path):
    import subprocess
    import sys

    script = REPO / "scripts" / "examples" / "own_graph_and_teacher.py"
    proc = subprocess.run([sys.executable, str(script), "--out", str(tmp_path), "--epochs", "30"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "MLP distilled from your GCN" in proc.stdout, proc.stdout[-2000:]


def test_resume_on_a_changed_graph_file_names_the_graph(tmp_path):
    from graphdistill.errors import ResumeError
    from graphdistill.lightning_cli import run_fit

    data = _tiny_graph(n=200, classes=2)
    graph = save_graph(data, tmp_path / "g.pt")
    args = ["--config", config("synthetic/student_mlp.yaml"), f"--data.dataset={graph}",
            f"--trainer.default_root_dir={tmp_path / 'run'}", "--trainer.logger=false", "--trainer.max_epochs=2"]
    run_fit(*args)
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    data.y[0] = 1 - data.y[0]
    save_graph(data, graph)
    with pytest.raises(ResumeError, match=r"data\.graph"):
        run_fit(*args, f"--ckpt_path={last}", "--trainer.max_epochs=3")
    data.y[0] = 1 - data.y[0]
    save_graph(data, graph)  # the same content again: the resume goes on
    run_fit(*args, f"--ckpt_path={last}", "--trainer.max_epochs=3")
    assert torch.load(last, weights_only=True)["epoch"] == 2


def _weighted_graph(n: int = 400, classes: int = 4):
    """The weights carry the signal: each node has 4 same-class edges of weight 1 and 12 others of weight 0.01,
    its features are its class blurred by noise; averaging over the weighted neighbourhood denoises them."""
    from torch_geometric.data import Data

    gen = torch.Generator().manual_seed(0)
    y = torch.arange(n) % classes
    x = 0.6 * torch.nn.functional.one_hot(y, classes).float() + torch.randn(n, classes, generator=gen)
    same = torch.stack([torch.randperm(n // classes, generator=gen)[:4] * classes + y[i] for i in range(n)])
    other = torch.randint(0, n, (n, 12), generator=gen)
    src = torch.arange(n).repeat_interleave(16)
    dst = torch.cat([same, other], 1).view(-1)
    weight = torch.cat([torch.ones(n, 4), torch.full((n, 12), 0.01)], 1).view(-1)
    keep = src != dst
    return Data(x=x, edge_index=torch.stack([src, dst])[:, keep], edge_weight=weight[keep], y=y)


@pytest.mark.parametrize("model_config,name", [("synthetic/gcn.yaml", "GCN"), ("cora/sage.yaml", "GraphSAGE"),
                                                ("cora/sage_sampled_gcn_aggregator.yaml", "GraphSAGE")])
def test_a_gnn_asked_to_read_edge_weights_learns_from_them_full_graph_and_sampled(tmp_path, fit, model_config, name):
    file = save_graph(_weighted_graph(), tmp_path / "weighted.pt")
    gcn = ["--config", config(model_config), f"--data.dataset={file}", "--trainer.max_epochs=100",
           "--model.init_args.model.init_args.num_layers=2", "--data.loader=full"]
    asked = "--model.init_args.model.init_args.edge_weight=true"
    sampled = ["--data.loader=neighbor", "--data.num_neighbors=[-1,-1]", "--data.batch_size=64",
               "--data.inference_batch_size=50"]  # layer-wise inference in chunks too
    with pytest.warns(UserWarning, match=f"{name} counts every edge once: {name} reads them with edge_weight: true"):
        unweighted = fit(*gcn)["test"]
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*counts every edge once")  # read: no such line
        weighted = fit(*gcn, asked)["test"]
    weighted_sampled = fit(*gcn, asked, *sampled)["test"]
    assert weighted > unweighted + 0.15 and weighted_sampled > unweighted + 0.15, (unweighted, weighted,
                                                                                   weighted_sampled)
    with pytest.raises(ConfigError, match="has none"):  # a graph without weights: one line, no training
        fit("--config", config(model_config), "--data.dataset=synthetic", asked, "--trainer.max_epochs=1")


def test_a_warning_for_the_user_is_one_line_from_the_command(tmp_path, capsys):
    file = save_graph(_weighted_graph(), tmp_path / "weighted.pt")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        main(["fit", "--config", config("synthetic/gcn.yaml"), f"--data.dataset={file}", "--trainer.max_epochs=1",
              f"--trainer.default_root_dir={tmp_path / 'run'}", "--trainer.logger=false"])
    err = capsys.readouterr().err
    assert "graphdistill: warning: The graph has edge weights, but GCN counts every edge once" in err, err
    assert "plain.py" not in err and "rank_zero_warn(" not in err  # no source location, no source line


def _multilabel_graph(n: int = 600, tasks: int = 4, seed: int = 0):
    """Nodes in 8 communities, each with its own 0/1 targets over ``tasks`` tasks; edges mostly within a
    community; features the community blurred by noise (the graph denoises them)."""
    from torch_geometric.data import Data

    gen = torch.Generator().manual_seed(seed)
    community = torch.arange(n) % 8
    targets = (torch.rand(8, tasks, generator=gen) < 0.5).float()
    x = torch.nn.functional.one_hot(community, 8).float() + 1.5 * torch.randn(n, 8, generator=gen)
    src = torch.arange(n).repeat_interleave(6)
    dst = torch.stack([torch.randperm(n // 8, generator=gen)[:6] * 8 + community[i] for i in range(n)]).view(-1)
    noise = torch.rand(src.numel(), generator=gen) < 0.2
    dst[noise] = torch.randint(0, n, (int(noise.sum()),), generator=gen)
    keep = src != dst
    return Data(x=x, edge_index=torch.stack([src, dst])[:, keep], y=targets[community], num_nodes=n)


@pytest.mark.parametrize("fmt", ["npz", "csv", "parquet"])
def test_a_multilabel_graph_reads_the_same_from_every_format(tmp_path, fmt):
    graph = _multilabel_graph(n=80)
    reference = NodeDataModule(str(save_graph(graph, tmp_path / "g.pt")), split="0.2,0.2,0.6").data
    data = NodeDataModule(str(_export(graph, tmp_path, fmt)), split="0.2,0.2,0.6").data
    assert data.y.shape == (80, 4) and torch.equal(data.y, reference.y) and torch.equal(data.x, reference.x)
    assert torch.equal(data.train_mask, reference.train_mask)
    if fmt == "csv":  # a cell that is not a list of numbers: one line naming the row and the value
        nodes = pd.read_csv(tmp_path / "graph-csv" / "nodes.csv")
        nodes.loc[1, "labels"] = "1 x 0 1"
        nodes.to_csv(tmp_path / "graph-csv" / "nodes.csv", index=False)
        with pytest.raises(GraphDistillError, match="row 1 of column 'labels' is not a list of numbers"):
            NodeDataModule(str(tmp_path / "graph-csv"), split="0.2,0.2,0.6").data  # noqa: B018


def test_unlabelled_nodes_of_a_multilabel_graph_are_never_in_a_split_and_read_alike_from_every_format(tmp_path,
                                                                                                       fit):
    graph = _multilabel_graph(n=80)
    graph.y[60:] = -1  # the last 20 nodes unlabelled
    pt = NodeDataModule(str(save_graph(graph, tmp_path / "g.pt")), split="0.25,0.25,0.5").data
    assert torch.equal(pt.y[60:], torch.full((20, 4), -1.0)) and torch.equal(pt.y[:60], graph.y[:60])
    for mask, count in (("train_mask", 15), ("val_mask", 15), ("test_mask", 30)):  # drawn over the 60 labelled
        assert int(pt[mask].sum()) == count and not bool(pt[mask][60:].any()), mask
    folder = _export(graph, tmp_path, "csv")
    nodes = pd.read_csv(folder / "nodes.csv")
    nodes.loc[60:, "labels"] = None  # an empty cell: an unlabelled node, as "-1 -1 -1 -1" is
    nodes.to_csv(folder / "nodes.csv", index=False)
    for path in (folder, _export(graph, tmp_path, "parquet")):
        data = NodeDataModule(str(path), split="0.25,0.25,0.5").data
        assert all(torch.equal(data[k], pt[k]) for k in ("y", "train_mask", "val_mask", "test_mask")), path
    teacher = fit("--config", config("synthetic/gcn.yaml"), "--data.dataset", str(tmp_path / "g.pt"),
                  "--data.split", "0.25,0.25,0.5", "--trainer.max_epochs=30")
    assert teacher["test"] > 0.8  # the -1 rows reach neither the loss nor the score


def test_a_multilabel_graph_may_leave_some_tasks_unknown_at_a_node(tmp_path, fit):
    """-1 in some tasks of a row: that target is unknown there. The node is labelled (in a split), and the
    unknown targets reach neither the loss nor the score: checked against both by hand."""
    from graphdistill.data.metrics import score
    from graphdistill.models import MLP
    from graphdistill.training import NodeClassificationModule

    graph = _multilabel_graph(n=200)
    unknown = torch.rand(graph.y.shape, generator=torch.Generator().manual_seed(0)) < 0.3
    unknown[:, 0] = False  # every node keeps a known task
    graph.y[unknown] = -1
    folder = _export(graph, tmp_path, "csv")  # "1 -1 0 1" cells
    for path in (save_graph(graph, tmp_path / "g.pt"), folder):
        data = NodeDataModule(str(path), split="0.25,0.25,0.5").data
        assert torch.equal(data.y, graph.y) and int((data.train_mask | data.val_mask | data.test_mask).sum()) == 200
    module = NodeClassificationModule(MLP(4, 4))
    module.multilabel = True
    logits = torch.randn(200, 4, generator=torch.Generator().manual_seed(1))
    known = ~unknown
    by_hand = sum(-(t * math.log(1 / (1 + math.exp(-z))) + (1 - t) * math.log(1 - 1 / (1 + math.exp(-z))))
                  for z, t in zip(logits[known].tolist(), graph.y[known].tolist())) / int(known.sum())
    assert float(module.task_loss(logits, graph.y)) == pytest.approx(by_hand, rel=1e-5)
    per_task = [score(logits[known[:, t], t:t + 1], graph.y[known[:, t], t:t + 1]) for t in range(4)]
    assert score(logits, graph.y) == pytest.approx(sum(per_task) / 4, abs=1e-6)  # each task over its known rows
    teacher = fit("--config", config("synthetic/gcn.yaml"), "--data.dataset", str(tmp_path / "g.pt"),
                  "--data.split", "0.25,0.25,0.5", "--trainer.max_epochs=30")
    assert teacher["test"] > 0.8
    # an ensemble averages softmax probabilities, which T binary tasks do not have: one line
    (tmp_path / "ensemble.yaml").write_text(f"members: [{teacher['best_checkpoint']}, {teacher['best_checkpoint']}]\n")
    assert "averages class probabilities (softmax), which a multi-label task does not have" in _fit_error(
        fit, "--config", config("synthetic/student_mlp.yaml"), "--config", config("methods/kd.yaml"),
        "--data.dataset", str(tmp_path / "g.pt"), "--data.split", "0.25,0.25,0.5", "--trainer.max_epochs=1",
        f"--model.init_args.teacher={tmp_path / 'ensemble.yaml'}")


def test_a_multilabel_graph_file_trains_on_rocauc_and_a_distilled_mlp_beats_the_mlp_alone(tmp_path, fit):
    file = save_graph(_multilabel_graph(), tmp_path / "multilabel.pt")
    dm = NodeDataModule(str(file), split="0.2,0.2,0.6")
    assert dm.multilabel and dm.metric_name == "rocauc" and dm.num_classes == 4
    assert int(dm.data.train_mask.sum()) == 120 and int(dm.data.val_mask.sum()) == 120  # all labelled
    data = ["--data.dataset", str(file), "--data.split", "0.2,0.2,0.6", "--trainer.max_epochs=100"]
    teacher = fit("--config", config("synthetic/gcn.yaml"), *data)
    alone = fit("--config", config("synthetic/student_mlp.yaml"), *data)
    kd = fit("--config", config("synthetic/student_mlp.yaml"), "--config", config("methods/kd.yaml"),
             f"--model.init_args.teacher={teacher['best_checkpoint']}", *data)
    assert teacher["test"] > 0.9 and kd["test"] > alone["test"] + 0.03, (teacher["test"], alone["test"], kd["test"])
    from graphdistill.evaluation.analysis import robustness
    from graphdistill.training.checkpoint import load_model

    scores = robustness(load_model(teacher["best_checkpoint"]).model, dm.data, edge_drop=(0.9,), feature_noise=(),
                        seeds=1)  # the analysis scores multi-label tasks as training does
    assert scores["clean"] == pytest.approx(teacher["test"], abs=1e-4)
    from graphdistill.experiments.compress import Compress

    summary = Compress(out=tmp_path / "compress", teacher=teacher["best_checkpoint"], methods=["kd"], trials=1,
                       seeds=1, epochs=20, data_args=data[:4]).run()
    assert summary["metric"] == "rocauc" and summary["teacher"]["test"] == pytest.approx(teacher["test"], abs=1e-4)
    assert "test ROC-AUC %" in (tmp_path / "compress" / "report.md").read_text()
    with pytest.raises(ConfigError, match="ratio split"):  # no per-class split of T binary tasks
        NodeDataModule(str(file)).data  # noqa: B018
    with pytest.raises(ConfigError, match="is multi-label"):  # a method that reads one softmax over classes
        fit("--config", config("synthetic/student_mlp.yaml"), "--config", config("methods/propagated_kd.yaml"),
            f"--model.init_args.teacher={teacher['best_checkpoint']}", *data)
    bad = _multilabel_graph()
    bad.y[0, 0] = 0.5
    with pytest.raises(GraphDistillError, match="must be 0 or 1"):
        NodeDataModule(str(save_graph(bad, tmp_path / "bad.pt")), split="0.2,0.2,0.6").data  # noqa: B018


def test_the_multilabel_rocauc_averages_the_tasks_that_have_both_kinds_of_target():
    from graphdistill.data.metrics import MultilabelROCAUC, score

    def by_hand(s, t):  # the probability that a positive outscores a negative (ties count half)
        pos, neg = s[t == 1], s[t == 0]
        diff = pos[:, None] - neg[None, :]
        return float(((diff > 0).float() + 0.5 * (diff == 0).float()).mean())

    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(50, 3, generator=gen)
    target = (torch.rand(50, 3, generator=gen) < 0.4).float()
    target[:, 2] = 0  # no positive: undefined, left out (as OGB's evaluator does)
    metric = MultilabelROCAUC(3)
    metric.update(logits[:20], target[:20])
    metric.update(logits[20:], target[20:])  # batches accumulate
    expected = (by_hand(logits[:, 0], target[:, 0]) + by_hand(logits[:, 1], target[:, 1])) / 2
    assert float(metric.compute()) == pytest.approx(expected, abs=1e-6)
    assert score(logits, target) == pytest.approx(expected, abs=1e-6)
    assert score(torch.randn(5, 2), torch.zeros(5, 2)) == 0.5  # nothing to score: chance


def test_compress_trains_its_default_teacher_on_the_edge_weights_of_a_weighted_graph(tmp_path):
    from graphdistill.experiments.compress import Compress

    graph = _weighted_graph()
    graph.class_names = ["ant", "bee", "cat", "dog"]  # a .pt file may name its classes too
    file = save_graph(graph, tmp_path / "weighted.pt")
    summary = Compress(out=tmp_path / "compress", methods=["kd"], trials=1, seeds=1, epochs=100,
                       data_args=["--data.dataset", str(file)], export=False).run()
    record = read_checkpoint(summary["teacher"]["path"])[0]["graphdistill"]
    assert record["model"]["init_args"]["edge_weight"] is True
    assert summary["teacher"]["test"] > 0.9  # unweighted, the same GCN reaches about 0.5 (the test above)
    # a GCN student reads them too, and is exported with them as an input
    gcn = Compress(out=tmp_path / "gcn", teacher=summary["teacher"]["path"], student="gcn", methods=["kd"],
                   trials=1, seeds=1, epochs=100, data_args=["--data.dataset", str(file)]).run()
    student = read_checkpoint(gcn["student_checkpoint"])[0]["graphdistill"]
    assert student["model"]["init_args"]["edge_weight"] is True and gcn["alone"]["test_mean"] > 0.9
    import onnxruntime as ort

    names = [i.name for i in ort.InferenceSession(gcn["exports"]["onnx"]["path"]).get_inputs()]
    assert names == ["x", "edge_index", "edge_weight"]
    classes = gcn["exports"]["onnx"]["classes"]
    assert classes == gcn["exports"]["torchscript"]["classes"] == str(tmp_path / "gcn" / "student.classes.json")
    assert json.loads(Path(classes).read_text()) == graph.class_names
    assert "student.classes.json" in (tmp_path / "gcn" / "report.md").read_text()


def test_class_names_in_the_label_column_number_the_classes_in_sorted_order(tmp_path, fit, capsys):
    """A label column of names: class k is the k-th name in sorted order, an empty cell is unlabelled; the
    names round-trip through every format and travel with the checkpoint to the exported student."""
    data = _tiny_graph(n=240, classes=3)
    names = ["Theory", "Neural_Networks", "Case_Based"]  # classes 0, 1, 2 in the file's own order
    folder = save_graph(data, tmp_path / "named")
    nodes = pd.read_csv(folder / "nodes.csv")
    nodes["label"] = [names[k] for k in nodes["label"]]
    nodes.loc[5, "label"] = None
    nodes.to_csv(folder / "nodes.csv", index=False)
    read = NodeDataModule(str(folder)).data
    assert read.class_names == ["Case_Based", "Neural_Networks", "Theory"]
    with pytest.raises(ConfigError, match=r"Class 0 \('Case_Based'\) has 79 labelled nodes, too few"):  # named
        NodeDataModule(str(folder), train_per_class=60, val_per_class=20).data  # noqa: B018
    expected = torch.tensor([2, 1, 0])[data.y]
    expected[5] = -1
    assert torch.equal(read.y, expected)
    for fmt in ("again", "named.pt"):  # save_graph writes the names back: tables and .pt read alike
        copy = NodeDataModule(str(save_graph(read, tmp_path / fmt))).data
        assert copy.class_names == read.class_names and torch.equal(copy.y, read.y)
    run = fit("--config", config("synthetic/student_mlp.yaml"), f"--data.dataset={folder}", "--trainer.max_epochs=2")
    ckpt = run["best_checkpoint"]
    assert read_checkpoint(ckpt)[0]["graphdistill"]["data"]["class_names"] == read.class_names
    main(["export", ckpt, "--out", str(tmp_path / "mlp.onnx")])
    assert json.loads((tmp_path / "mlp.classes.json").read_text()) == read.class_names
    assert "mlp.classes.json: the class names of its graph" in capsys.readouterr().out



def test_predict_writes_one_row_per_node_named_by_the_files_ids(tmp_path, fit, capsys):
    """``graphdistill predict`` writes predictions.csv: the node table's ids, the class and its name, the
    probabilities; scored on the file's test nodes it gives the test accuracy fit reported. Under the
    glnn split (largest connected component) the rows name the component's nodes by their ids."""
    data = _tiny_graph(n=240, classes=3, features=6)
    data.train_mask, data.val_mask, data.test_mask = (torch.arange(240) % 4 == k for k in (0, 1, 2))
    data.edge_index = data.edge_index[:, (data.edge_index != 239).all(0)]  # node 239: a component of its own
    data.class_names = ["blue", "green", "red"]  # sorted: a node table numbers its classes in the names' order
    ids = [f"n{i:03d}" for i in range(240)]
    folder = save_graph(data, tmp_path / "g", ids=ids)
    run = fit("--config", config("synthetic/student_mlp.yaml"), f"--data.dataset={folder}", "--trainer.max_epochs=30")
    out = tmp_path / "predicted"
    missing = tmp_path / "no_such_graph"  # the checkpoint is checked before the data are read: no wait for them
    for command in ("predict", "test", "validate"):  # without a checkpoint: one line, not an untrained model's scores
        with pytest.raises(SystemExit):
            main([command, "--config", config("synthetic/student_mlp.yaml"), f"--data.dataset={missing}",
                  f"--trainer.default_root_dir={out}", "--trainer.logger=false"])
        err = capsys.readouterr().err.strip()
        assert err == (f"graphdistill: error: graphdistill {command} runs a trained model: give --ckpt_path CKPT (a "
                       "checkpoint from graphdistill fit, such as checkpoints/best.ckpt in its run folder)."), err
        with pytest.raises(SystemExit):  # Lightning's name, which a new process resolves to no file: one line
            main([command, "--config", config("synthetic/student_mlp.yaml"), f"--data.dataset={missing}",
                  "--ckpt_path=last", f"--trainer.default_root_dir={out}", "--trainer.logger=false"])
        err = capsys.readouterr().err.strip()
        assert err == (f"graphdistill: error: graphdistill {command} reads a checkpoint file, not Lightning's name "
                       "'last': give --ckpt_path PATH, such as checkpoints/last.ckpt in the fit's run folder."), err
    assert not out.exists()
    for command in ("predict", "test", "validate"):  # a checkpoint without its config: the line names the run's
        with pytest.raises(SystemExit):
            main([command, f"--ckpt_path={run['best_checkpoint']}"])
        err = capsys.readouterr().err.strip()
        saved = Path(run["best_checkpoint"]).parent.parent / "config.yaml"
        assert err == (f"graphdistill: error: {command} needs the config {run['best_checkpoint']} was trained with (a "
                       f"checkpoint holds weights only): add --config {saved}."), err
    main(["predict", "--config", str(saved), f"--ckpt_path={run['best_checkpoint']}",  # what the line says works
          f"--trainer.default_root_dir={out}"])
    assert pd.read_csv(out / "predictions.csv")["node"].tolist() == ids
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        main(["predict", "--config", config("synthetic/student_mlp.yaml"), f"--data.dataset={folder}",
              f"--ckpt_path={run['best_checkpoint']}", f"--trainer.default_root_dir={out}", "--trainer.logger=false"])
    # nothing to save in predict: no warning that the checkpoint callback's folder changed
    assert not [w for w in caught if "dirpath has changed" in str(w.message)]
    assert f"Wrote {out / 'predictions.csv'}: one row per node, its prediction" in capsys.readouterr().out
    table = pd.read_csv(out / "predictions.csv")
    assert list(table.columns) == ["node", "prediction", "class", "confidence", "p_blue", "p_green", "p_red"]
    assert table["node"].tolist() == ids
    probabilities = table[["p_blue", "p_green", "p_red"]].to_numpy()
    assert np.allclose(probabilities.sum(1), 1, atol=1e-5)
    assert (probabilities.argmax(1) == table["prediction"]).all()
    assert table["class"].tolist() == [data.class_names[k] for k in table["prediction"]]
    test = data.test_mask.numpy()
    accuracy = (table["prediction"].to_numpy()[test] == data.y.numpy()[test]).mean()
    assert run["test"] > 0.5 and accuracy == pytest.approx(run["test"], abs=1e-6)
    main(["predict", "--config", config("synthetic/student_mlp.yaml"), f"--data.dataset={folder}", "--data.split=glnn",
          f"--ckpt_path={run['best_checkpoint']}", f"--trainer.default_root_dir={out}", "--trainer.logger=false"])
    assert pd.read_csv(out / "predictions.csv")["node"].tolist() == ids[:239]


def test_compress_gives_gcn_and_sage_students_the_edge_weights_of_a_weighted_graph(tmp_path):
    from graphdistill.experiments.compress import READ_EDGE_WEIGHTS, Compress

    weighted, plain = _weighted_graph(), _tiny_graph()
    for student, reads in (("gcn", True), ("sage", True), ("gat", False), ("mlp", False)):
        for graph, expected in ((weighted, reads), (plain, False)):
            run = Compress(out=tmp_path / student, student=student)
            run.read_weights(graph)
            assert run.student_weights == ([READ_EDGE_WEIGHTS] if expected else []), (student, expected)
