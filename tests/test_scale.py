"""Neighbor-sampled training and layer-wise inference."""

import pytest
import torch
from torch_geometric.data import Data

from graphdistill.data import NodeDataModule
from graphdistill.data.synthetic import CSBMConfig, make_csbm
from graphdistill.distill import LogitKD
from graphdistill.errors import ConfigError
from graphdistill.models import GAT, GCN, GIN, MLP, GraphSAGE
from graphdistill.models.layerwise import TargetChunks
from graphdistill.training import DistillationModule, NodeClassificationModule

from .conftest import config

needs_sampling = pytest.mark.skipif(
    not __import__("torch_geometric.typing").typing.WITH_TORCH_SPARSE
    and not __import__("torch_geometric.typing").typing.WITH_PYG_LIB,
    reason="neighbor sampling needs torch-sparse or pyg-lib (.ci/run installs torch-sparse)",
)
NEIGHBOR = config("data/neighbor.yaml")


@pytest.fixture(scope="module")
def graph() -> Data:
    return make_csbm(CSBMConfig(num_nodes=400, avg_degree=8, seed=3))


def test_target_chunks_hold_each_in_edge_once_with_targets_first(graph):
    chunks = TargetChunks(graph.edge_index, graph.num_nodes, batch_size=57)
    assert len(chunks) == 8
    seen = []
    for chunk in chunks:
        assert torch.equal(chunk.nodes[: chunk.num_targets], torch.arange(chunk.start, chunk.stop))
        assert chunk.nodes.unique().numel() == chunk.nodes.numel()
        src, dst = chunk.edge_index
        assert int(dst.max()) < chunk.num_targets
        seen.append(torch.stack([chunk.nodes[src], dst + chunk.start]))
    seen = torch.cat(seen, 1)
    key = lambda e: (e[0] * graph.num_nodes + e[1]).sort().values  # noqa: E731
    assert torch.equal(key(seen), key(graph.edge_index))


@pytest.mark.parametrize("features", ["dense", "sparse"])
@pytest.mark.parametrize("cls,kwargs", [(GCN, {}), (GraphSAGE, {}), (GraphSAGE, {"aggr": "gcn"}), (GAT, {"heads": 4}),
                                       (GIN, {}), (MLP, {})])
def test_layerwise_inference_equals_the_full_forward_pass(graph, cls, kwargs, features):
    torch.manual_seed(0)
    x = graph.x if features == "dense" else graph.x * (torch.rand_like(graph.x) < 0.05)  # bag-of-words-like
    model = cls(32, 5, hidden_channels=16, num_layers=3, norm="batch", residual=True, **kwargs)
    model.train()
    model(x, graph.edge_index)  # a training step moves the batch-norm statistics off their init
    model.eval()
    with torch.no_grad():
        full = model(x, graph.edge_index)
    chunked = model.inference(x, graph.edge_index, batch_size=37)
    assert len(chunked.hiddens) == len(full.hiddens) == 2
    for a, b in zip([full.logits, *full.hiddens], [chunked.logits, *chunked.hiddens]):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-5)
    # a GCN must use the whole graph's degrees, not the chunk's: off by far more than rounding otherwise
    assert not torch.allclose(full.logits, torch.zeros_like(full.logits))


def test_neighbor_options_are_checked():
    with pytest.raises(ConfigError, match="Unknown loader"):
        NodeDataModule(loader="sampled")
    with pytest.raises(ConfigError, match="one fan-out per layer"):
        NodeDataModule(loader="neighbor", num_neighbors=[10, 0])


@needs_sampling
def test_sampled_batches_put_seeds_first_with_global_ids():
    dm = NodeDataModule(loader="neighbor", num_neighbors=[5, 5], batch_size=64, train_seeds="train")
    batches = list(dm.train_dataloader())
    train = dm.data.train_mask.nonzero().view(-1)
    seeds = torch.cat([b.n_id[: b.batch_size] for b in batches])
    assert torch.equal(seeds.sort().values, train)  # every labelled node once per epoch
    b = batches[0]
    assert torch.equal(b.x, dm.data.x[b.n_id]) and torch.equal(b.y, dm.data.y[b.n_id])
    assert bool(b.train_mask[: b.batch_size].all())
    # every edge of the batch is an edge of the graph
    n = dm.num_nodes
    graph_edges = set((dm.data.edge_index[0] * n + dm.data.edge_index[1]).tolist())
    assert set((b.n_id[b.edge_index[0]] * n + b.n_id[b.edge_index[1]]).tolist()) <= graph_edges


@needs_sampling
def test_sparse_features_reach_sampled_batches_as_csr_rows(tmp_path):
    """Bag-of-words features are not copied densely per batch: each batch gets its rows of a
    sparse CSR matrix, equal to the dense rows."""
    dm = NodeDataModule(loader="neighbor", num_neighbors=[4, 4], batch_size=50, train_seeds="all")
    dm.data.x = dm.data.x * (torch.rand_like(dm.data.x) < 0.05)
    batch = next(iter(dm.train_dataloader()))
    assert batch.x.layout == torch.sparse_csr
    assert torch.equal(batch.x.to_dense(), dm.data.x[batch.n_id])
    model = GCN(32, 5, 16).eval()
    dense = batch.clone()
    dense.x = batch.x.to_dense()
    torch.testing.assert_close(model(**model.inputs(batch)).logits, model(**model.inputs(dense)).logits)


@needs_sampling
def test_too_few_fanouts_cached_gcn_and_sampled_oad_are_clear_errors(fit):
    with pytest.raises(ConfigError, match="one fan-out per hop"):
        fit("--config", config("synthetic/gcn.yaml"), "--config", NEIGHBOR, "--trainer.max_epochs=1")
    with pytest.raises(ConfigError, match="OnlineDistillationModule trains full-batch"):
        fit("--config", config("synthetic/student_gcn.yaml"), "--config", config("methods/oad.yaml"), "--config",
            NEIGHBOR, "--trainer.max_epochs=1")
    with pytest.raises(ConfigError, match="cached: false"):
        fit("--config", config("synthetic/student_gcn.yaml"), "--config", NEIGHBOR, "--trainer.max_epochs=1",
            "--model.init_args.model.init_args.cached=true")


@needs_sampling
def test_teacher_rows_are_looked_up_by_global_id(tmp_path):
    from graphdistill.lightning_cli import run_fit

    teacher = run_fit("--config", config("synthetic/student_gcn.yaml"), "--trainer.max_epochs=3",
                      f"--trainer.default_root_dir={tmp_path}", "--trainer.logger=false")["best_checkpoint"]
    dm = NodeDataModule(loader="neighbor", num_neighbors=[5, 5], batch_size=32, train_seeds="all")
    module = DistillationModule(MLP(32, 5, 16), teacher, components=[LogitKD()])
    full = module.teacher.outputs(dm.data, torch.device("cpu"), use_cache=False)
    module.teacher_outputs = full
    batch = next(iter(dm.train_dataloader()))
    rows = module.teacher_batch(batch)
    assert torch.equal(rows.logits, full.logits[batch.n_id])
    assert torch.equal(rows.hiddens[0], full.hiddens[0][batch.n_id])
    assert module.uses_unlabelled_nodes and not NodeClassificationModule(MLP(32, 5)).uses_unlabelled_nodes
    assert not DistillationModule(MLP(32, 5, 16), teacher, components=[LogitKD(nodes="train")]).uses_unlabelled_nodes
    # layer-wise teacher outputs (what the module computes under sampling) are the same
    chunked = module.teacher.outputs(dm.data, torch.device("cpu"), use_cache=False, batch_size=50)
    torch.testing.assert_close(chunked.logits, full.logits, rtol=1e-5, atol=1e-5)


@needs_sampling
@pytest.mark.parametrize("method", ["kd_gcrd", "lsp", "abkd", "graphakd"])
def test_every_method_trains_on_sampled_batches(tmp_path, method):
    """Methods that read edges or node sets run on the sampled subgraph, and distillation
    seeds batches at every node (``train_seeds: auto``)."""
    from graphdistill.lightning_cli import run_fit

    teacher = run_fit("--config", config("synthetic/gcn.yaml"), "--trainer.max_epochs=20",
                      f"--trainer.default_root_dir={tmp_path / 't'}", "--trainer.logger=false")
    seeds: list[int] = []
    original = NodeDataModule.training_seeds
    NodeDataModule.training_seeds = lambda self: seeds.append(len(s := original(self))) or s
    try:
        result = run_fit("--config", config("synthetic/student_gcn.yaml"), "--config", config(f"methods/{method}.yaml"),
                         "--config", NEIGHBOR, f"--model.init_args.teacher={teacher['best_checkpoint']}",
                         "--trainer.max_epochs=4", "--data.batch_size=512",
                         f"--trainer.default_root_dir={tmp_path / 's'}", "--trainer.logger=false")
    finally:
        NodeDataModule.training_seeds = original
    assert seeds and seeds[0] == 3000  # every node of the synthetic graph
    assert result["test"] > 0.6  # chance is 0.2; the teacher reaches about 0.85


def _fit_process(tmp_path, name, devices, *args):
    """``graphdistill fit`` in its own process (DDP launches one process per device)."""
    import json
    import os
    import subprocess
    import sys

    root = tmp_path / name
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GRAPHDISTILL_CACHE": str(tmp_path / f"cache-{name}")}
    cmd = [sys.executable, "-m", "graphdistill.cli", "fit", *args, "--trainer.accelerator=cpu",
           f"--trainer.devices={devices}", f"--trainer.default_root_dir={root}", "--trainer.logger=false",
           "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false"]
    if devices > 1:
        cmd.append("--trainer.strategy=ddp")
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((root / "results.json").read_text()), tmp_path / f"cache-{name}"


def test_two_process_ddp_matches_one_process(tmp_path):
    """Two CPU processes (gloo) train, validate and test the same model as one process.

    Dropout is off: Lightning re-seeds every rank when DDP starts, after the model is built,
    so with dropout the two runs draw different (equally valid) masks. Without it, DDP's
    averaged gradient of two identical full-graph batches is the one-process gradient, and
    the metrics, reduced across ranks, must agree."""
    teacher, _ = _fit_process(tmp_path, "teacher", 1, "--config", config("synthetic/gcn.yaml"),
                              "--trainer.max_epochs=15")
    args = ["--config", config("synthetic/student_gcn.yaml"), "--config", config("methods/kd.yaml"),
            f"--model.init_args.teacher={teacher['best_checkpoint']}", "--trainer.max_epochs=15",
            "--model.init_args.model.init_args.dropout=0"]
    one, _ = _fit_process(tmp_path, "one", 1, *args)
    two, cache = _fit_process(tmp_path, "two", 2, *args)
    assert abs(one["best_val"] - two["best_val"]) < 1e-6
    assert abs(one["test"] - two["test"]) < 1e-6
    assert one["best_checkpoint"].rsplit("/", 1)[-1] == two["best_checkpoint"].rsplit("/", 1)[-1]
    # the teacher ran once and shared its outputs through the on-disk cache
    assert len(list((cache / "teacher_outputs").glob("*.pt"))) == 1


@needs_sampling
def test_ddp_ranks_share_the_seed_nodes_of_sampled_training(tmp_path):
    """Under DDP each rank draws its own half of the seeds every epoch (Lightning's
    DistributedSampler over the NeighborLoader's seed nodes): 100 labelled nodes, 50 a rank."""
    timer = '--trainer.callbacks+={"class_path": "graphdistill.callbacks.EpochTimer", "init_args": {"warmup": 0}}'
    two, _ = _fit_process(tmp_path, "two", 2, "--config", config("synthetic/student_gcn.yaml"), "--config", NEIGHBOR,
                          "--data.batch_size=16", "--trainer.max_epochs=10", timer)
    assert two["timing"]["seeds_last_epoch"] == 50
    assert two["test"] > 0.6  # chance is 0.2


def test_only_local_rank_zero_runs_the_teacher_under_ddp(tmp_path, monkeypatch):
    """Rank 1 waits at the barrier until rank 0 has written the cache, then reads it."""
    from types import SimpleNamespace

    from graphdistill.lightning_cli import run_fit

    monkeypatch.setenv("GRAPHDISTILL_CACHE", str(tmp_path / "cache"))
    teacher = run_fit("--config", config("synthetic/student_gcn.yaml"), "--trainer.max_epochs=2",
                      f"--trainer.default_root_dir={tmp_path}", "--trainer.logger=false")["best_checkpoint"]
    dm = NodeDataModule()
    events = []

    def make(rank):
        module = DistillationModule(MLP(32, 5, 16), teacher, cache_teacher_outputs=False)
        forward = module.teacher.model.forward
        module.teacher.model.forward = lambda *a, **k: events.append(f"teacher on rank {rank}") or forward(*a, **k)
        strategy = SimpleNamespace(barrier=lambda name=None: events.append(f"barrier on rank {rank}"))
        trainer = SimpleNamespace(datamodule=dm, world_size=2, local_rank=rank, strategy=strategy)
        monkeypatch.setattr(DistillationModule, "trainer", property(lambda self: self._fake_trainer), raising=False)
        module._fake_trainer = trainer
        return module

    rank0 = make(0)._ensure_teacher_outputs()
    rank1 = make(1)._ensure_teacher_outputs()
    assert events == ["teacher on rank 0", "barrier on rank 0", "barrier on rank 1"]
    assert torch.equal(rank0.logits, rank1.logits)


@needs_sampling
def test_killed_sampled_run_resumes_to_the_same_result(tmp_path):
    """The sampler's shuffling and neighbour draws come from the checkpointed random streams,
    so a sampled distillation run killed mid-way ends exactly where the straight run does."""
    from graphdistill.lightning_cli import run_fit

    teacher = run_fit("--config", config("synthetic/student_gcn.yaml"), "--trainer.max_epochs=5",
                      f"--trainer.default_root_dir={tmp_path / 't'}", "--trainer.logger=false")["best_checkpoint"]

    def distil(name, *extra):
        return run_fit("--config", config("synthetic/student_gcn.yaml"), "--config", config("methods/kd_gcrd.yaml"),
                       "--config", NEIGHBOR, "--data.batch_size=500", f"--model.init_args.teacher={teacher}",
                       "--trainer.max_epochs=6", f"--trainer.default_root_dir={tmp_path / name}",
                       "--trainer.logger=false", *extra)

    straight = distil("straight")
    crash = ["--trainer.callbacks+=tests.test_distillation.CrashAtEpoch", "--trainer.callbacks.epoch=3"]
    with pytest.raises(RuntimeError, match="simulated crash"):
        distil("killed", *crash)
    last = tmp_path / "killed" / "checkpoints" / "last.ckpt"
    resumed = distil("killed", f"--ckpt_path={last}")
    a = torch.load(tmp_path / "straight" / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    b = torch.load(last, weights_only=True)["state_dict"]
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)
    assert resumed["best_val"] == straight["best_val"] and resumed["test"] == straight["test"]


@pytest.mark.parametrize("name", ["gpu", "ddp", "multinode"])
def test_trainer_configs_parse(name, capsys):
    """The GPU/DDP/multi-node trainer configs compose with a run config (checked without
    GPUs: --print_config parses and validates every key, then exits)."""
    from graphdistill.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config", config("ogbn-mag/student_rgcn.yaml"), "--config", config(f"trainer/{name}.yaml"),
              "--print_config"])
    assert exit_info.value.code in (0, None)
    printed = capsys.readouterr().out
    assert "accelerator: gpu" in printed and "loader: neighbor" in printed
