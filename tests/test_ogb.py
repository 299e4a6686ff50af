import pytest
import torch

from graphdistill.data import NodeDataModule
from graphdistill.data.metrics import OGBEvaluatorMetric

from .conftest import config
from .ogb_fixture import write_tiny_ogbn_arxiv


def test_tiny_ogb_dataset_loads_through_the_ogb_loader_and_split(tmp_path):
    written = write_tiny_ogbn_arxiv(tmp_path)
    dm = NodeDataModule("ogbn-arxiv", root=str(tmp_path))
    data = dm.data
    # the class count is OGB's official one (its metadata), not the labels this tiny file uses
    assert (dm.num_nodes, dm.num_features, dm.num_classes) == (120, 8, 40)
    assert torch.equal(data.y, written["y"])
    for mask, key in ((data.train_mask, "train"), (data.val_mask, "valid"), (data.test_mask, "test")):
        assert sorted(mask.nonzero().view(-1).tolist()) == sorted(written["split"][key])
    assert (tmp_path / "ogb" / "ogbn_arxiv" / "processed").is_dir()  # OGB's own processing ran
    assert dm.fingerprint()["split"] == "official"


def test_ogb_metric_is_the_ogb_evaluator_accuracy(tmp_path):
    write_tiny_ogbn_arxiv(tmp_path)
    metric = NodeDataModule("ogbn-arxiv", root=str(tmp_path)).make_metric()
    assert isinstance(metric, OGBEvaluatorMetric)
    logits = torch.tensor([[2.0, 0, 0, 0], [0, 3.0, 0, 0], [0, 0, 0, 1.0], [1.0, 0, 0, 0]])
    metric.update(logits[:2], torch.tensor([0, 1]))
    metric.update(logits[2:], torch.tensor([2, 0]))  # third prediction (class 3) is wrong
    assert metric.compute().item() == 0.75


def test_fit_on_tiny_ogb_dataset_through_the_cli(tmp_path, fit):
    write_tiny_ogbn_arxiv(tmp_path)
    result = fit("--config", config("ogbn-arxiv/gcn.yaml"), f"--data.root={tmp_path}",
                 "--trainer.max_epochs=30", "--model.init_args.model.init_args.hidden_channels=16")
    assert result["dataset"] == "ogbn-arxiv" and result["metric"] == "acc"
    assert result["test"] > 0.6  # features and graph both carry the class; chance is 0.25


def test_tiny_ogbn_mag_loads_as_one_typed_graph(tmp_path):
    from .ogb_fixture import write_tiny_ogbn_mag

    written = write_tiny_ogbn_mag(tmp_path)
    dm = NodeDataModule("ogbn-mag", root=str(tmp_path))
    data = dm.data
    # papers first, then the other types by name
    assert torch.bincount(data.node_type).tolist() == [150, 60, 8, 5]
    assert (dm.num_features, dm.num_classes) == (8, 349)
    papers = data.node_type == 0
    assert torch.equal(data.target_mask, papers)
    assert torch.allclose(data.x[papers], written["x"], atol=1e-5) and not data.x[~papers].any()
    assert torch.equal(data.y[papers], written["y"]) and bool((data.y[~papers] == -1).all())
    assert sorted(data.train_mask.nonzero().view(-1).tolist()) == sorted(written["split"]["train"])
    assert not (data.val_mask | data.test_mask)[~papers].any()
    # four relations and their reverses; an author->paper edge keeps its endpoints' global ids
    assert data.edge_type.max().item() == 7 and data.edge_index.size(1) == 2 * 910
    writes = data.edge_index[:, data.edge_type == 1]  # relations sorted: affiliated, writes, cites, has_topic
    expected = written["relations"][("author", "writes", "paper")]
    assert torch.equal(writes, torch.stack([expected[0] + 150, expected[1]]))
    assert torch.equal(data.edge_index[:, data.edge_type == 5], writes.flip(0))


MAG_SMALL = ["--model.init_args.model.init_args.num_nodes_per_type=[150, 60, 8, 5]", "--data.num_workers=0",
             "--data.batch_size=32", "--trainer.max_epochs=25"]


def test_rgcn_teacher_and_student_on_tiny_ogbn_mag_with_sampling(tmp_path, fit):
    """The seed papers' ogbn-mag setting (R-GCN 3x512 teacher, 2x32 student, sampled) at
    toy widths: both learn (chance is 1/4 on the tiny labels), KD runs on the sampled typed
    graph, and a model built for other node counts is a clear error."""
    pytest.importorskip("torch_sparse", reason="neighbor sampling needs torch-sparse or pyg-lib")
    from graphdistill.errors import ConfigError
    from graphdistill.evaluation.analysis import analyze

    from .ogb_fixture import write_tiny_ogbn_mag

    write_tiny_ogbn_mag(tmp_path)
    root = f"--data.root={tmp_path}"
    teacher = fit("--config", config("ogbn-mag/rgcn.yaml"), root, *MAG_SMALL,
                  "--model.init_args.model.init_args.hidden_channels=32")
    assert teacher["model"] == "RGCN" and teacher["test"] > 0.5
    student = fit("--config", config("ogbn-mag/student_rgcn.yaml"), "--config", config("methods/kd.yaml"), root,
                  *MAG_SMALL, f"--model.init_args.teacher={teacher['best_checkpoint']}",
                  "--model.init_args.model.init_args.hidden_channels=8")
    assert student["test"] > 0.5
    # the analysis runs on the typed graph; dropping edges keeps each kept edge's own relation type
    # (mirroring forward edges gave reverse edges the wrong type: the teacher fell to chance, 0.23)
    teacher_row, student_row = analyze(teacher["best_checkpoint"], [student["best_checkpoint"]], str(tmp_path))
    assert teacher_row["edge_drop_0.2"] > 0.6 and student_row["cka_logits"] > 0.5
    with pytest.raises(ConfigError, match=r"set num_nodes_per_type: \[150, 60, 8, 5\]"):
        fit("--config", config("ogbn-mag/student_rgcn.yaml"), root, "--trainer.max_epochs=1")


def test_latency_of_a_typed_model_on_tiny_ogbn_mag(tmp_path):
    """The deployment numbers work for R-GCN too: its type vectors follow the nodes and
    edges of the extracted neighbourhood."""
    from graphdistill.evaluation.latency import inference_latency
    from graphdistill.models import RGCN

    from .ogb_fixture import write_tiny_ogbn_mag

    write_tiny_ogbn_mag(tmp_path)
    dm = NodeDataModule("ogbn-mag", root=str(tmp_path))
    model = RGCN(8, dm.num_classes, 16, 2, num_relations=8, num_nodes_per_type=[150, 60, 8, 5])
    result = inference_latency(model, dm.data, "cpu", repeats=2, warmup=1, batch_size=20)
    assert result["full_ms"] > 0 and result["batch_ms"] > 0 and result["batch_size"] == 20
