import os
import stat
import time

import pytest
import torch

from graphdistill.data import CSBMConfig, NodeDataModule, dataset_info, make_csbm, per_class_split
from graphdistill.errors import ConfigError, DatasetNotFoundError


def test_unknown_dataset_names_the_known_ones():
    with pytest.raises(ConfigError, match=r"Unknown dataset 'coraa'\. Known datasets: synthetic, cora"):
        NodeDataModule("coraa")


@pytest.mark.parametrize("alias,name", [("Cora", "cora"), ("amazon_photo", "amazon-photo"),
                                        ("CoauthorCS", "coauthor-cs"), ("ogbn_arxiv", "ogbn-arxiv")])
def test_dataset_names_are_case_and_punctuation_insensitive(alias, name):
    assert dataset_info(alias).name == name


def test_missing_dataset_fails_fast_naming_folder_and_files(tmp_path):
    start = time.perf_counter()
    with pytest.raises(DatasetNotFoundError) as err:
        NodeDataModule("coauthor-cs", root=str(tmp_path)).data  # noqa: B018
    assert time.perf_counter() - start < 5
    message = str(err.value)
    assert str(tmp_path / "coauthor" / "CS" / "raw") in message
    assert "ms_academic_cs.npz" in message
    assert "\n" not in message


def test_public_split_requires_a_dataset_that_ships_one():
    with pytest.raises(ConfigError, match="ships no official split"):
        NodeDataModule("amazon-photo", split="public")


def test_per_class_split_sizes_disjointness_and_seed():
    y = torch.arange(500) % 5
    train, val, test = per_class_split(y, 5, 20, 30, seed=1)
    for c in range(5):
        assert int(train[y == c].sum()) == 20 and int(val[y == c].sum()) == 30
    assert not (train & val).any() and not (train & test).any() and not (val & test).any()
    assert bool((train | val | test).all())
    again = per_class_split(y, 5, 20, 30, seed=1)
    other = per_class_split(y, 5, 20, 30, seed=2)
    assert torch.equal(again[0], train) and not torch.equal(other[0], train)


def test_synthetic_graph_is_seeded_and_has_the_requested_homophily():
    cfg = CSBMConfig(num_nodes=2000, homophily=0.7, seed=3)
    a, b = make_csbm(cfg), make_csbm(cfg)
    assert torch.equal(a.edge_index, b.edge_index) and torch.equal(a.x, b.x)
    src, dst = a.edge_index
    measured = (a.y[src] == a.y[dst]).float().mean().item()
    assert abs(measured - 0.7) < 0.03
    assert not torch.equal(make_csbm(CSBMConfig(num_nodes=2000, seed=4)).y, a.y)


def test_synthetic_default_datamodule_has_a_seeded_per_class_split():
    dm = NodeDataModule()
    assert (dm.num_features, dm.num_classes, dm.num_nodes) == (32, 5, 3000)
    assert int(dm.data.train_mask.sum()) == 100 and int(dm.data.val_mask.sum()) == 150
    assert dm.fingerprint()["split"] == "random:0:20:30"


@pytest.mark.parametrize(
    "name,nodes,features,classes,train,val,test",
    [
        ("cora", 2708, 1433, 7, 140, 500, 1000),
        ("citeseer", 3327, 3703, 6, 120, 500, 1000),
        ("amazon-photo", 7650, 745, 8, 160, 240, 7650 - 400),
        ("coauthor-cs", 18333, 6805, 15, 300, 450, 18333 - 750),
    ],
)
def test_real_datasets_load_with_their_splits(datasets_root, name, nodes, features, classes, train, val, test):
    dm = NodeDataModule(name, root=str(datasets_root))
    data = dm.data
    assert (dm.num_nodes, dm.num_features, dm.num_classes) == (nodes, features, classes)
    assert [int(m.sum()) for m in (data.train_mask, data.val_mask, data.test_mask)] == [train, val, test]
    row_sums = data.x.sum(1)[data.x.sum(1) > 0]
    if name == "amazon-photo":  # raw counts by default
        assert row_sums.max() > 1
    else:
        torch.testing.assert_close(row_sums, torch.ones_like(row_sums))


def test_read_only_root_is_mirrored_not_written(datasets_root, tmp_path):
    import shutil

    ro = tmp_path / "ro"
    shutil.copytree(datasets_root / "planetoid" / "Cora" / "raw", ro / "planetoid" / "Cora" / "raw")
    for path in [ro, *ro.rglob("*")]:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        dm = NodeDataModule("cora", root=str(ro))
        assert dm.num_nodes == 2708
        assert sorted(os.listdir(ro / "planetoid" / "Cora")) == ["raw"]
    finally:
        for path in [ro, *ro.rglob("*")]:
            path.chmod(path.stat().st_mode | stat.S_IWUSR)


def test_split_scores_score_each_named_mask_and_skip_an_empty_one():
    from torch_geometric.data import Data

    from graphdistill.data.metrics import split_scores

    y = torch.tensor([0, 1, 1, 0, 1])
    logits = torch.nn.functional.one_hot(torch.tensor([0, 1, 0, 0, 0]), 2).float()  # right on nodes 0, 1, 3
    data = Data(y=y, val_mask=torch.tensor([1, 1, 1, 0, 0], dtype=torch.bool),
                test_mask=torch.tensor([0, 0, 0, 1, 1], dtype=torch.bool),
                train_mask=torch.zeros(5, dtype=torch.bool))
    assert split_scores(logits, data) == pytest.approx({"val": 2 / 3, "test": 1 / 2})
    assert split_scores(logits, data, ("val", "train")) == pytest.approx({"val": 2 / 3})  # no training node: left out
