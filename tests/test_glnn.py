"""The GNN-to-MLP protocol: the ``glnn`` split, the inductive setting (no hidden node or edge
reaches training), position features and the MLP that reads them."""

from __future__ import annotations

import pytest
import scipy.sparse as sp
import torch
from lightning.pytorch.callbacks import Callback
from torch_geometric.data import Data

from graphdistill.data import NodeDataModule
from graphdistill.data.files import save_graph
from graphdistill.data.positions import deepwalk_positions, extend_to_unseen, spectral_positions
from graphdistill.errors import ConfigError, TeacherCheckpointError
from graphdistill.lightning_cli import run_fit
from graphdistill.models import MLP
from graphdistill.training.teacher import FrozenTeacher

from .conftest import config


def _two_components(path) -> str:
    """A 180-node component (3 classes × 60, a ring plus chords) and a 20-node one."""
    gen = torch.Generator().manual_seed(0)
    big, small = 180, 20
    ring = torch.arange(big)
    edges = [torch.stack([ring, (ring + 1) % big]), torch.randint(0, big, (2, 200), generator=gen)]
    tail = torch.arange(big, big + small - 1)
    edges.append(torch.stack([tail, tail + 1]))
    y = torch.cat([torch.arange(big) % 3, torch.arange(small) % 3])
    data = Data(x=torch.randn(big + small, 8, generator=gen), edge_index=torch.cat(edges, 1), y=y)
    return str(save_graph(data, path / "graph.pt"))


def test_glnn_split_is_the_largest_component_with_20_30_per_class(tmp_path):
    path = _two_components(tmp_path)
    data = NodeDataModule(path, split="glnn", split_seed=0).data
    assert data.num_nodes == 180  # the 20-node component is gone
    adj = sp.coo_matrix((torch.ones(data.edge_index.size(1)).numpy(), data.edge_index.numpy()),
                        shape=(data.num_nodes, data.num_nodes))
    assert sp.csgraph.connected_components(adj, connection="weak")[0] == 1
    for c in range(3):
        of_class = data.y == c
        assert int((data.train_mask & of_class).sum()) == 20
        assert int((data.val_mask & of_class).sum()) == 30
        assert int((data.test_mask & of_class).sum()) == 10
    assert not bool((data.train_mask & data.val_mask).any() or (data.val_mask & data.test_mask).any())
    assert bool((data.train_mask | data.val_mask | data.test_mask).all())  # every other node is a test node
    again = NodeDataModule(path, split="glnn", split_seed=0).data
    other = NodeDataModule(path, split="glnn", split_seed=1).data
    assert torch.equal(again.train_mask, data.train_mask)
    assert not torch.equal(other.train_mask, data.train_mask)


def test_glnn_split_on_cora_keeps_its_largest_component(datasets_root):
    dm = NodeDataModule("cora", root=str(datasets_root), split="glnn", split_seed=3)
    assert dm.num_nodes == 2485  # Cora's largest connected component, as in GLNN's data
    assert int(dm.data.train_mask.sum()) == 140 and int(dm.data.val_mask.sum()) == 210
    assert dm.fingerprint()["split"] == "glnn:3:20:30"


def test_inductive_training_graph_has_no_hidden_node_or_edge():
    dm = NodeDataModule("synthetic", inductive=0.2, split_seed=0)
    data, observed = dm.data, dm.training_graph
    unseen = data.unseen_mask
    assert int(unseen.sum()) == round(0.2 * int(data.test_mask.sum()))
    assert not bool((unseen & ~data.test_mask).any())  # only test nodes are hidden
    assert not bool(unseen[observed.n_id].any())
    kept = ~unseen[data.edge_index].any(0)
    assert observed.edge_index.size(1) == int(kept.sum())  # exactly the edges between observed nodes
    assert torch.equal(observed.x, data.x[~unseen])
    seen_ids = observed.n_id[torch.randperm(observed.num_nodes)[:50]]
    assert torch.equal(observed.n_id[dm.training_rows(seen_ids)], seen_ids)  # global id -> observed row
    assert dm.fingerprint()["split"].endswith(":inductive:0.2")
    with pytest.raises(ConfigError, match="inductive"):
        NodeDataModule("synthetic", inductive=1.5)


class _SeenNodes(Callback):
    """Records the global ids of every node in a training or validation batch."""

    def __init__(self) -> None:
        self.ids: list[torch.Tensor] = []
        self.unseen: torch.Tensor | None = None

    def on_fit_start(self, trainer, pl_module) -> None:
        self.unseen = trainer.datamodule.data.unseen_mask.cpu()
        self.sampled_batches = 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        ids = batch.n_id.cpu()
        if getattr(batch, "batch_size", None) is not None:  # sampled from the observed graph
            self.sampled_batches += 1
        self.ids.append(ids[batch.edge_index.reshape(-1).cpu()])
        self.ids.append(ids)

    def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0) -> None:
        self.on_train_batch_start(trainer, pl_module, batch, batch_idx)

    def check(self) -> None:
        assert self.ids and self.unseen is not None and bool(self.unseen.any())
        assert not any(bool(self.unseen[ids].any()) for ids in self.ids)


@pytest.mark.parametrize("loader", ["full", "neighbor"])
def test_inductive_no_hidden_node_reaches_teacher_or_student_training(tmp_path, monkeypatch, loader):
    common = ["--data.inductive=0.2", "--trainer.max_epochs=30", "--trainer.logger=false"]
    sampling = ["--data.loader=neighbor", "--data.num_neighbors=[5,5,5]", "--data.batch_size=64"]
    if loader == "neighbor":
        pytest.importorskip("torch_sparse", reason="neighbor sampling needs torch-sparse or pyg-lib")
    teacher_spy, student_spy = _SeenNodes(), _SeenNodes()
    teacher = run_fit("--config", config("synthetic/gcn.yaml"), *common, *(sampling if loader == "neighbor"
                      else []), f"--trainer.default_root_dir={tmp_path / 't'}", callbacks=[teacher_spy])
    teacher_spy.check()
    assert (teacher_spy.sampled_batches > 0) == (loader == "neighbor")

    computed_on: list[torch.Tensor] = []
    original = FrozenTeacher._compute

    def recording(self, data, device, batch_size):
        computed_on.append(data.n_id.cpu())
        return original(self, data, device, batch_size)

    monkeypatch.setattr(FrozenTeacher, "_compute", recording)
    student = run_fit("--config", config("synthetic/student_mlp.yaml"), "--config", config("methods/glnn.yaml"),
                      f"--model.init_args.teacher={teacher['best_checkpoint']}", *common,
                      *(sampling if loader == "neighbor" else []),
                      "--model.init_args.cache_teacher_outputs=false", f"--trainer.default_root_dir={tmp_path / 's'}",
                      callbacks=[student_spy])
    student_spy.check()
    assert (student_spy.sampled_batches > 0) == (loader == "neighbor")
    unseen = teacher_spy.unseen
    assert unseen is not None and torch.equal(unseen, student_spy.unseen)
    assert computed_on and not any(bool(unseen[ids].any()) for ids in computed_on)
    # test on all test nodes = observed and unseen, weighted by their counts
    n_unseen = int(unseen.sum())
    n_test = round(n_unseen / 0.2)
    for result in (teacher, student):
        combined = (result["test_observed"] * (n_test - n_unseen) + result["test_unseen"] * n_unseen) / n_test
        assert combined == pytest.approx(result["test"], abs=1e-4)


def test_teacher_trained_transductively_is_refused_for_an_inductive_student(fit, synthetic_teacher):
    with pytest.raises(TeacherCheckpointError, match="graph"):
        fit("--config", config("synthetic/student_mlp.yaml"), "--config", config("methods/glnn.yaml"),
            f"--model.init_args.teacher={synthetic_teacher}", "--data.inductive=0.2", "--trainer.max_epochs=1")


def test_spectral_positions_by_hand():
    n = 12
    ring = torch.arange(n)
    cycle = torch.stack([ring, (ring + 1) % n])
    pos = spectral_positions(cycle, n, 3)
    # the smoothest signal on a cycle is constant: unit RMS, positive
    assert torch.allclose(pos[:, 0], torch.ones(n), atol=1e-5)
    assert torch.allclose(pos.pow(2).mean(0), torch.ones(3), atol=1e-4)
    assert torch.equal(pos, spectral_positions(cycle, n, 3))  # the same on every run
    # nodes left out get zeros, and their edges do not move the others' positions
    seen = torch.ones(n, dtype=torch.bool)
    seen[[3, 7]] = False
    without = spectral_positions(cycle, n, 3, seen)
    extra = torch.cat([cycle, torch.tensor([[3, 7], [0, 5]])], 1)  # more edges at the hidden nodes
    assert torch.equal(without, spectral_positions(extra, n, 3, seen))
    assert torch.equal(without[~seen], torch.zeros(2, 3))


def test_deepwalk_positions_place_a_node_near_its_own_community():
    """Two 8-node cliques joined by one edge, and an isolated node: each clique node's embedding is closer
    (cosine) to its clique's mean than to the other clique's; hidden nodes are zero; a graph without edges gives
    finite positions."""
    cliques = [torch.combinations(torch.arange(8) + 8 * c).t() for c in range(2)]
    edges = torch.cat([*cliques, torch.tensor([[7], [8]])], 1)
    n = 17  # node 16 has no edge
    pos = deepwalk_positions(edges, n, 4, steps=200, batch_size=512)
    assert pos.shape == (n, 4) and torch.allclose(pos.pow(2).mean(0), torch.ones(4), atol=1e-4)
    assert torch.equal(pos, deepwalk_positions(edges, n, 4, steps=200, batch_size=512))  # seeded
    unit = torch.nn.functional.normalize(pos, dim=1)
    means = torch.stack([unit[:8].mean(0), unit[8:16].mean(0)])
    similarity = unit[:16] @ torch.nn.functional.normalize(means, dim=1).t()
    assert torch.equal(similarity.argmax(1), torch.tensor([0] * 8 + [1] * 8)), similarity
    seen = torch.ones(n, dtype=torch.bool)
    seen[[3, 12]] = False
    hidden = deepwalk_positions(edges, n, 4, nodes=seen, steps=20, batch_size=64)
    assert torch.equal(hidden[~seen], torch.zeros(2, 4)) and hidden[seen].abs().sum(1).gt(0).all()
    assert deepwalk_positions(torch.empty(2, 0, dtype=torch.long), 5, 3, steps=3, batch_size=8).isfinite().all()


def test_a_datamodule_makes_the_positions_of_its_kind_and_records_it():
    dm = NodeDataModule("synthetic", positions=4, position_kind="deepwalk")
    assert dm.fingerprint()["positions"] == "deepwalk:4"
    again = NodeDataModule.from_fingerprint(dm.fingerprint())
    assert again.position_kind == "deepwalk" and torch.equal(again.data.position, dm.data.position)
    assert not torch.equal(dm.data.position, NodeDataModule("synthetic", positions=4).data.position)
    with pytest.raises(ConfigError, match="position_kind must be spectral or deepwalk, got 'node2vec'"):
        NodeDataModule("synthetic", positions=4, position_kind="node2vec")


def test_unseen_nodes_get_the_mean_of_their_seen_neighbours():
    pos = torch.tensor([[1.0, 0.0], [3.0, 2.0], [0.0, 0.0], [9.0, 9.0], [0.0, 0.0]])
    edges = torch.tensor([[0, 1, 2, 3], [2, 2, 3, 4]])  # 2 ~ 0, 1, 3; 3 ~ 2, 4; 4 ~ 3
    unseen = torch.tensor([False, False, True, False, True])
    out = extend_to_unseen(pos, edges, unseen)
    assert torch.equal(out[2], torch.tensor([13 / 3, 11 / 3]))  # mean of nodes 0, 1, 3 (seen)
    assert torch.equal(out[4], torch.tensor([9.0, 9.0]))  # node 3
    assert torch.equal(out[~unseen], pos[~unseen])


def test_mlp_reads_position_features_or_says_what_to_set():
    dm = NodeDataModule("synthetic", positions=4)
    mlp = MLP(dm.num_features, dm.num_classes, 16, position_channels=4)
    mlp.check_graph(dm.data)
    out = mlp(**mlp.inputs(dm.data))
    assert out.logits.shape == (dm.num_nodes, dm.num_classes)
    assert mlp.init_args["position_channels"] == 4 and mlp.layers[0].in_features == dm.num_features + 4
    with pytest.raises(ConfigError, match="--data.positions 8"):
        MLP(dm.num_features, dm.num_classes, 16, position_channels=8).check_graph(dm.data)
