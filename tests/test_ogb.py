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
