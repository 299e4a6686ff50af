import copy
import weakref

import pytest
import torch
from torch_geometric.nn import GCN2Conv

from graphdistill.errors import ConfigError
from graphdistill.models import GAT, GCN, GCNII, GIN, MLP, GraphSAGE, ModelOutput, PropagatedMLP, build_model
from graphdistill.models.base import FeatureDropout, InputCache


def _graph(n=30, f=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(n, f, generator=g) < 0.3).float() * torch.rand(n, f, generator=g)
    edge_index = torch.randint(0, n, (2, 4 * n), generator=g)
    return x, edge_index


MODELS = [
    (GCN, {}), (GraphSAGE, {}), (GAT, {"heads": 4}), (GIN, {}), (MLP, {}), (GCNII, {}),
    (PropagatedMLP, {"propagation_order": 3}),
]


@pytest.mark.parametrize("cls,kwargs", MODELS, ids=[m[0].__name__ for m in MODELS])
def test_every_model_returns_logits_and_every_hidden_layer(cls, kwargs):
    x, ei = _graph()
    model = cls(12, 5, hidden_channels=16, num_layers=4, **kwargs).eval()
    out = model(x, ei)
    assert isinstance(out, ModelOutput)
    assert out.logits.shape == (30, 5)
    assert [h.shape for h in out.hiddens] == [torch.Size([30, w]) for w in model.hidden_widths]
    expected_hiddens = 5 if cls is GCNII else 3  # GCNII: input projection + 4 convolutions
    assert len(out.hiddens) == expected_hiddens


def test_last_hidden_is_exactly_the_input_of_the_last_layer():
    x, ei = _graph()
    gcn = GCN(12, 5, hidden_channels=16, num_layers=3).eval()
    out = gcn(x, ei)
    torch.testing.assert_close(gcn.layers[-1](out.hiddens[-1], ei), out.logits)
    gcnii = GCNII(12, 5, hidden_channels=16, num_layers=3).eval()
    out = gcnii(x, ei)
    torch.testing.assert_close(gcnii.lin_out(out.hiddens[-1]), out.logits)


def test_parameter_count_matches_hand_count():
    # 2-layer GCN 5 -> 4 -> 3: (5*4 + 4) + (4*3 + 3) = 39; MLP has the same shapes.
    assert GCN(5, 3, hidden_channels=4, num_layers=2).num_parameters == 39
    assert MLP(5, 3, hidden_channels=4, num_layers=2).num_parameters == 39


@pytest.mark.parametrize("cls,kwargs", MODELS, ids=[m[0].__name__ for m in MODELS])
def test_spec_rebuilds_the_same_model(cls, kwargs):
    x, ei = _graph()
    model = cls(12, 5, hidden_channels=16, num_layers=3, **kwargs).eval()
    clone = build_model(model.spec()).eval()
    clone.load_state_dict(model.state_dict())
    torch.testing.assert_close(clone(x, ei).logits, model(x, ei).logits)


@pytest.mark.parametrize("shared_weights", [True, False])
def test_gcnii_layers_match_pyg_gcn2conv(shared_weights):
    x, ei = _graph()
    model = GCNII(12, 5, hidden_channels=8, num_layers=3, dropout=0.0, theta=0.6, shared_weights=shared_weights)
    model.eval()
    h = h0 = torch.relu(model.lin_in(x))
    for i, layer in enumerate(model.convs):
        ref = GCN2Conv(8, alpha=0.1, theta=0.6, layer=i + 1, shared_weights=shared_weights)
        ref.weight1.data.copy_(layer.weight1)
        if not shared_weights:
            ref.weight2.data.copy_(layer.weight2)
        h = torch.relu(ref(h, h0, ei))
    torch.testing.assert_close(model(x, ei).logits, model.lin_out(h), rtol=1e-5, atol=1e-5)


def test_deep_gcnii_runs_with_64_layers():
    x, ei = _graph()
    out = GCNII(12, 5, hidden_channels=8, num_layers=64)(x, ei)
    assert len(out.hiddens) == 65
    out.logits.sum().backward()


def _mlp_by_hand(model: PropagatedMLP, x: torch.Tensor) -> torch.Tensor:
    for i, lin in enumerate(model.lins):
        x = lin(x) if i == len(model.lins) - 1 else torch.relu(lin(x))
    return x


@pytest.mark.parametrize("feature_dropout", [0.0, 0.5])
def test_propagated_mlp_is_an_mlp_on_the_mean_over_propagation_orders(feature_dropout):
    """GRAND's classifier by hand on a path 0-1-2-3 and an edge 4-5: A + I, D^-1/2 (A + I) D^-1/2,
    x̄ = (x + Âx + Â²x + Â³x) / 4, then the MLP; in training, dropout on x̄ from the model's own draws
    (the path that propagates x W instead of x gives the same function)."""
    x = torch.rand(6, 5, generator=torch.Generator().manual_seed(0))
    edges = [(0, 1), (1, 2), (2, 3), (4, 5)]
    ei = torch.tensor([[a for a, b in edges] + [b for a, b in edges], [b for a, b in edges] + [a for a, b in edges]])
    a = torch.eye(6)
    for i, j in edges:
        a[i, j] = a[j, i] = 1.0
    d = a.sum(1).rsqrt()
    a_hat = d[:, None] * a * d[None, :]
    x_bar = (x + a_hat @ x + a_hat @ a_hat @ x + a_hat @ a_hat @ a_hat @ x) / 4
    model = PropagatedMLP(5, 3, hidden_channels=4, num_layers=3, dropout=0.0, propagation_order=3,
                          feature_dropout=feature_dropout)
    torch.testing.assert_close(model.eval()(x, ei).logits, _mlp_by_hand(model, x_bar))
    torch.manual_seed(1)
    trained = model.train()(x, ei)
    torch.manual_seed(1)
    keep = torch.rand(6, 5) >= feature_dropout if feature_dropout else torch.ones(6, 5, dtype=torch.bool)
    torch.testing.assert_close(trained.logits, _mlp_by_hand(model, x_bar * keep / (1 - feature_dropout)))
    assert model.num_parameters == MLP(5, 3, hidden_channels=4, num_layers=3).num_parameters  # no graph weights


def test_propagated_mlp_rebuilds_its_adjacency_for_the_same_edges_on_more_nodes():
    """The adjacency is cached on the edge tensor; the same edges with two more (isolated) nodes' features are
    another graph: the first six nodes' outputs are unchanged and the isolated nodes (Â = 1 there) read only
    their own features, as the MLP on them."""
    x = torch.rand(8, 5, generator=torch.Generator().manual_seed(0))
    ei = torch.tensor([[0, 1, 2, 4], [1, 2, 3, 5]])
    ei = torch.cat([ei, ei.flip(0)], dim=1)
    model = PropagatedMLP(5, 3, hidden_channels=4, num_layers=2, dropout=0.0, propagation_order=2).eval()
    six = model(x[:6], ei).logits
    eight = model(x, ei).logits
    torch.testing.assert_close(eight[:6], six)
    torch.testing.assert_close(eight[6:], _mlp_by_hand(model, x[6:]))
    torch.testing.assert_close(model(x[:6], ei).logits, six)


def test_receptive_field_is_what_sampling_and_the_latency_protocol_fetch():
    """Hops a node's output reads: one per layer for message passing, none for the MLP, K for PropagatedMLP
    (whatever its depth); neighbor sampling refuses fewer fan-outs than that."""
    from graphdistill.training.plain import check_sampling

    assert GCN(5, 3, num_layers=3).receptive_field == 3 and MLP(5, 3, num_layers=3).receptive_field == 0
    model = PropagatedMLP(5, 3, num_layers=2, propagation_order=8)
    assert model.receptive_field == 8
    check_sampling(model, [10] * 8)
    with pytest.raises(ConfigError, match="reads 8 hops of neighbours"):
        check_sampling(model, [10, 10])


def test_gat_rejects_width_not_divisible_by_heads():
    with pytest.raises(ValueError, match="divisible by heads"):
        GAT(12, 5, hidden_channels=10, heads=4)


@pytest.mark.parametrize("sparse_output", [True, False])
def test_feature_dropout_drops_only_nonzeros_and_rescales(sparse_output):
    x, _ = _graph(n=400, f=50)
    drop = FeatureDropout(0.5, sparse_output=sparse_output).train()
    torch.manual_seed(0)
    out = drop(x)
    out = out.to_dense() if out.layout != torch.strided else out
    nonzero = x != 0
    assert (out[~nonzero] == 0).all()
    kept = out[nonzero] != 0
    torch.testing.assert_close(out[nonzero][kept], 2 * x[nonzero][kept])
    assert 0.45 < kept.float().mean() < 0.55
    drop.eval()
    evaluated = drop(x)
    evaluated = evaluated.to_dense() if evaluated.layout != torch.strided else evaluated
    torch.testing.assert_close(evaluated, x)


def test_feature_dropout_in_eval_keeps_a_few_rows_dense_and_a_graph_sparse():
    x = (torch.rand(400, 50, generator=torch.Generator().manual_seed(0)) < 0.05).float()
    drop = FeatureDropout(0.5, sparse_output=True).eval()
    few = drop(x[:10])
    assert few.layout == torch.strided and torch.equal(few, x[:10])
    whole = drop(x)
    assert whole.layout == torch.sparse_csr
    torch.testing.assert_close(whole.to_dense(), x)


@pytest.mark.parametrize("aggr", ["mean", "sum", "max"])
def test_graphsage_projecting_before_aggregating_is_sageconv(aggr):
    from torch_geometric.nn import SAGEConv

    x = (torch.rand(300, 200, generator=torch.Generator().manual_seed(1)) < 0.02).float()
    edge_index = torch.randint(0, 300, (2, 1500), generator=torch.Generator().manual_seed(2))
    model = GraphSAGE(200, 5, hidden_channels=16, aggr=aggr).eval()
    assert model.input_dropout.sparse_output == (aggr != "max")  # the wide first layer takes a sparse product
    hidden = torch.relu(SAGEConv.forward(model.layers[0], x, edge_index))
    expected = SAGEConv.forward(model.layers[1], hidden, edge_index)
    torch.testing.assert_close(model(x, edge_index).logits, expected)
    torch.testing.assert_close(model.inference(x, edge_index, batch_size=64).logits, expected)


def test_graphsage_gcn_aggregator_is_the_mean_over_the_node_and_its_neighbours_through_one_weight():
    # a path 0 - 1 - 2 plus the edge 3 -> 2: node 2 averages itself with 1 and 3, node 3 has no in-edges
    x = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 1.0], [1.0, 1.0]])
    edge_index = torch.tensor([[0, 1, 1, 2, 3], [1, 0, 2, 1, 2]])
    model = GraphSAGE(2, 3, num_layers=1, aggr="gcn").eval()
    layer = model.layers[0]
    assert not hasattr(layer, "lin_r") or layer.lin_r is None  # one weight matrix, not SAGEConv's two
    assert sum(p.numel() for p in model.parameters()) == 2 * 3 + 3
    mean = torch.stack([(x[0] + x[1]) / 2, (x[1] + x[0] + x[2]) / 3, (x[2] + x[1] + x[3]) / 3, x[3]])
    expected = mean @ layer.lin_l.weight.T + layer.lin_l.bias
    torch.testing.assert_close(model(x, edge_index).logits, expected)
    torch.testing.assert_close(model.inference(x, edge_index, batch_size=2).logits, expected)
    with pytest.raises(ConfigError, match="unknown aggr 'gcnn': use mean, sum, max or gcn"):
        GraphSAGE(2, 3, aggr="gcnn")


def test_feature_dropout_on_dense_features_is_plain_dropout():
    x = torch.rand(100, 20) + 0.1  # no zeros
    drop = FeatureDropout(0.3, sparse_output=True).train()
    out = drop(x)
    assert out.layout == torch.strided
    assert 0.2 < (out == 0).float().mean() < 0.4


def test_sparse_and_dense_first_layer_agree():
    x, ei = _graph()
    model = GCN(12, 5, hidden_channels=16, num_layers=2).eval()
    sparse = model(x, ei).logits
    model.input_dropout.sparse_output = False
    torch.testing.assert_close(model(x, ei).logits, sparse)


def test_mlp_reading_positions_finds_the_feature_pattern_once_and_follows_changed_inputs():
    # bag-of-words features and dense positions: the concatenation is about 6 % non-zero, so FeatureDropout
    # takes a sparse product; the same inputs again must reuse its non-zero pattern, not rescan N x (F + P)
    generator = torch.Generator().manual_seed(0)
    x = (torch.rand(300, 200, generator=generator) < 0.02).float()
    position = torch.randn(300, 8, generator=generator)
    model = MLP(200, 4, hidden_channels=16, position_channels=8).train()

    def expected(seed: int) -> torch.Tensor:  # what a fresh model with these weights computes
        fresh = MLP(200, 4, hidden_channels=16, position_channels=8).train()
        fresh.load_state_dict(model.state_dict())
        torch.manual_seed(seed)
        return fresh(x, None, position=position).logits

    torch.manual_seed(1)
    first = model(x, None, position=position).logits
    pattern = model.input_dropout._pattern.value
    torch.manual_seed(2)
    second = model(x, None, position=position).logits
    assert pattern is not None and model.input_dropout._pattern.value is pattern  # the same encoded tensor: found once
    torch.testing.assert_close(first, expected(1), rtol=0, atol=0)
    torch.testing.assert_close(second, expected(2), rtol=0, atol=0)
    position.mul_(2)  # changed in place: the cached concatenation must not be served
    torch.manual_seed(3)
    torch.testing.assert_close(model(x, None, position=position).logits, expected(3), rtol=0, atol=0)
    other = position.clone() + 1  # another tensor
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(x, None, position=other).logits,
                                   model.layers[1](torch.relu(model.layers[0](torch.cat([x, other], 1)))))
    assert copy.deepcopy(model)._encoded.value is None  # a copy (export) does not carry the cached input


def test_the_input_cache_serves_only_the_same_unchanged_tensors_and_pins_them_only_when_asked():
    import gc
    import pickle

    calls = []

    def compute(tag):
        return lambda: calls.append(tag) or tag

    cache = InputCache()
    a, b = torch.ones(3), torch.zeros(3)
    assert cache.get((a, b), compute(1)) == 1 and cache.get((a, b), compute(2)) == 1 and calls == [1]
    assert cache.get((b, a), compute(3)) == 3  # the same tensors in another order: another key
    a.add_(1)  # changed in place
    assert cache.get((b, a), compute(4)) == 4 and cache.get((a.clone(), b), compute(5)) == 5
    assert calls == [1, 3, 4, 5]
    alive = weakref.ref(b)
    del a, b
    gc.collect()
    assert alive() is None  # held weakly: the cache keeps no input alive
    pinned = InputCache(pin=True)
    c = torch.ones(2)
    alive = weakref.ref(c)
    pinned.get((c,), compute(6))
    del c
    gc.collect()
    assert alive() is not None
    copied = pickle.loads(pickle.dumps(pinned))  # per process: a copy arrives empty, and computes afresh
    assert copied.value is None and copied.pin and copied.get((alive(),), compute(7)) == 7
    with torch.inference_mode():
        frozen = torch.ones(2)
    assert cache.get((frozen,), compute(8)) == 8 and cache.get((frozen,), compute(9)) == 8


def test_feature_dropout_reads_another_tensor_afresh_even_at_the_same_address():
    # two tensors over one NumPy buffer: the same data pointer, shape and version, other values
    import numpy as np

    buffer = np.zeros((400, 50), dtype=np.float32)
    buffer[:, 0] = 1.0
    drop = FeatureDropout(0.5, sparse_output=True).eval()
    first = torch.from_numpy(buffer)
    torch.testing.assert_close(drop(first).to_dense(), first)
    buffer[:] = 0.0
    buffer[:, 1] = 2.0
    second = torch.from_numpy(buffer)
    assert second.data_ptr() == first.data_ptr() and second._version == first._version
    torch.testing.assert_close(drop(second).to_dense(), second.clone())


def test_a_model_whose_feature_dropout_has_cached_an_input_still_pickles_and_computes_the_same():
    import pickle

    x, ei = _graph()
    model = GCN(12, 5, hidden_channels=16, num_layers=2).train()
    model(x, ei)  # fills the non-zero cache
    copy = pickle.loads(pickle.dumps(model)).eval()
    torch.testing.assert_close(copy(x, ei).logits, model.eval()(x, ei).logits)


def test_gcn_reads_edge_weights_only_when_asked_and_its_layerwise_inference_agrees():
    from torch_geometric.data import Data

    x, edge_index = _graph(n=60)
    weight = torch.rand(edge_index.size(1), generator=torch.Generator().manual_seed(1)) + 0.1
    weighted = GCN(12, 5, hidden_channels=16, num_layers=2, edge_weight=True).eval()
    plain = GCN(12, 5, hidden_channels=16, num_layers=2).eval()
    plain.load_state_dict(weighted.state_dict())
    assert weighted.spec()["init_args"]["edge_weight"] and "edge_weight" not in plain.spec()["init_args"]
    data = Data(x=x, edge_index=edge_index, edge_weight=weight)
    with torch.no_grad():
        got = weighted(**weighted.inputs(data)).logits
        # by hand: PyG's GCNConv given the weights, layer by layer
        conv = weighted.layers
        expected = conv[1](torch.relu(conv[0](x, edge_index, weight)), edge_index, weight)
        torch.testing.assert_close(got, expected)
        assert not torch.allclose(got, plain(**plain.inputs(data)).logits)  # the weights count
        ones = Data(x=x, edge_index=edge_index, edge_weight=torch.ones_like(weight))
        torch.testing.assert_close(weighted(**weighted.inputs(ones)).logits, plain(x, edge_index).logits)
        torch.testing.assert_close(weighted.inference(**weighted.inputs(data), batch_size=7).logits, got)
    with pytest.raises(ConfigError, match="edge_weight: false"):
        weighted.check_graph(Data(x=x, edge_index=edge_index))
    with pytest.raises(ConfigError, match="non-negative"):
        weighted.check_graph(Data(x=x, edge_index=edge_index, edge_weight=weight - 1))
