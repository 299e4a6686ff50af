"""Every distillation loss against a value computed by hand (explicit loops, plain math)."""

import math

import pytest
import torch
from torch_geometric.data import Data

from graphdistill.distill import (
    AdversarialFeatures,
    AttentionTransfer,
    CodebookKD,
    ContrastiveDistiller,
    FitNet,
    GlobalStructurePreserving,
    LocalStructurePreserving,
    LogitKD,
    NeighbourhoodContrast,
    PropagatedKD,
)
from graphdistill.distill.codebook import spherical_kmeans
from graphdistill.errors import ConfigError
from graphdistill.models import ModelOutput

from .conftest import config


def _batch(n=5, train=(0, 2)):
    mask = torch.zeros(n, dtype=torch.bool)
    mask[list(train)] = True
    edge_index = torch.tensor([[1, 2, 0, 3, 4, 0, 2], [0, 0, 1, 1, 1, 2, 3]])
    return Data(edge_index=edge_index, y=torch.zeros(n, dtype=torch.long), train_mask=mask, num_nodes=n)


def _outputs(seed, n=5, c=3, d=4):
    g = torch.Generator().manual_seed(seed)
    return ModelOutput(torch.randn(n, c, generator=g), [torch.randn(n, d, generator=g)])


def test_logit_kd_matches_hand_computation():
    s, t, batch = _outputs(0), _outputs(1), _batch()
    T = 2.0
    kd = LogitKD(temperature=T)
    expected = 0.0
    for i in range(5):
        zs = [v / T for v in s.logits[i].tolist()]
        zt = [v / T for v in t.logits[i].tolist()]
        ps = [math.exp(v) / sum(math.exp(u) for u in zs) for v in zs]
        pt = [math.exp(v) / sum(math.exp(u) for u in zt) for v in zt]
        expected += sum(p * math.log(p / q) for p, q in zip(pt, ps))
    expected = expected / 5 * T * T
    assert kd(s, t, batch).item() == pytest.approx(expected, rel=1e-5)
    # nodes="train" averages over the training nodes only
    kd_train = LogitKD(temperature=T, nodes="train")
    sub = LogitKD(temperature=T)(s[torch.tensor([0, 2])], t[torch.tensor([0, 2])], _batch(n=2, train=()))
    assert kd_train(s, t, batch).item() == pytest.approx(sub.item(), rel=1e-6)


def test_standardized_logit_kd_matches_hand_computation():
    """Logit standardisation: each node's logits z-scored over classes (population std), then
    KD; it ignores the teacher's logit scale, which plain KD does not."""
    s, t, batch = _outputs(0), _outputs(1), _batch()
    T = 4.0

    def zscore(row):
        mean = sum(row) / len(row)
        std = math.sqrt(sum((v - mean) ** 2 for v in row) / len(row))
        return [(v - mean) / std for v in row]

    expected = 0.0
    for i in range(5):
        zs = [v / T for v in zscore(s.logits[i].tolist())]
        zt = [v / T for v in zscore(t.logits[i].tolist())]
        ps = [math.exp(v) / sum(math.exp(u) for u in zs) for v in zs]
        pt = [math.exp(v) / sum(math.exp(u) for u in zt) for v in zt]
        expected += sum(p * math.log(p / q) for p, q in zip(pt, ps))
    expected = expected / 5 * T * T
    kd = LogitKD(temperature=T, standardize=True)
    assert kd(s, t, batch).item() == pytest.approx(expected, rel=1e-5)
    scaled_teacher = ModelOutput(0.1 * t.logits + 3.0, t.hiddens)  # smaller logits, shifted
    assert kd(s, scaled_teacher, batch).item() == pytest.approx(expected, rel=1e-4)
    assert LogitKD(temperature=T)(s, scaled_teacher, batch).item() != pytest.approx(expected, rel=1e-2)


def test_attention_transfer_matches_hand_computation():
    s, t, batch = _outputs(0), _outputs(1), _batch()
    es = [sum(v * v for v in row) for row in s.hiddens[0].tolist()]
    et = [sum(v * v for v in row) for row in t.hiddens[0].tolist()]
    ns, nt = math.sqrt(sum(e * e for e in es)), math.sqrt(sum(e * e for e in et))
    # unit vectors over the 5 nodes scaled by sqrt(5) (unit RMS per node), then the mean over nodes
    expected = sum((a / ns - b / nt) ** 2 for a, b in zip(es, et)) / 5 * 5
    at = AttentionTransfer()
    at.bind([4], [4], 3)
    assert at(s, t, batch).item() == pytest.approx(expected, rel=1e-5)


def test_attention_transfer_means_the_same_on_a_larger_graph():
    """The same graph twice over (two copies side by side): the loss must not shrink as 1/N."""
    s, t, batch = _outputs(0), _outputs(1), _batch()
    double = lambda o: ModelOutput(torch.cat([o.logits, o.logits]), [torch.cat([o.hiddens[0], o.hiddens[0]])])  # noqa: E731
    big = Data(edge_index=torch.cat([batch.edge_index, batch.edge_index + 5], 1), y=torch.zeros(10, dtype=torch.long),
               train_mask=torch.cat([batch.train_mask, batch.train_mask]), num_nodes=10)
    at = AttentionTransfer()
    at.bind([4], [4], 3)
    assert at(double(s), double(t), big).item() == pytest.approx(at(s, t, batch).item(), rel=1e-5)


@torch.no_grad()
def _head_by_hand(head, x):
    """Linear → BatchNorm1d (training: batch statistics, biased variance) → ReLU, by hand."""
    lin, bn = head[0], head[1]
    z = x @ lin.weight.t() + lin.bias
    mean, var = z.mean(0), z.var(0, unbiased=False)
    z = (z - mean) / torch.sqrt(var + bn.eps) * bn.weight + bn.bias
    return z.clamp(min=0)


def test_fitnet_matches_hand_computation_with_mismatched_widths():
    torch.manual_seed(0)
    s, t, batch = _outputs(0, d=4), _outputs(1, d=6), _batch()
    fit = FitNet(proj_dim=3)
    fit.bind([4], [6], 3)
    zs = _head_by_hand(fit.student_head, s.hiddens[0])
    zt = _head_by_hand(fit.teacher_head, t.hiddens[0])
    expected = 0.0
    for i in range(5):
        a, b = zs[i] / zs[i].norm().clamp(min=1e-12), zt[i] / zt[i].norm().clamp(min=1e-12)
        expected += float(((a - b) ** 2).sum())
    # mean squared error: over the 5 nodes and the 3 projected dimensions
    assert fit(s, t, batch).item() == pytest.approx(expected / (5 * 3), rel=1e-5)


@pytest.mark.parametrize("kernel", ["cosine", "poly", "l2", "neg_sq_l2", "rbf"])
def test_lsp_matches_explicit_loop_over_nodes(kernel):
    s, t, batch = _outputs(0), _outputs(1), _batch()

    def sim(a, b):
        if kernel in ("cosine", "poly"):
            c = float(a @ b / (a.norm() * b.norm()))
            return c if kernel == "cosine" else c * c
        d2 = float(((a - b) ** 2).sum())
        if kernel == "l2":  # the G-CRD reference code's: the Euclidean distance itself
            return math.sqrt(d2)
        return -d2 if kernel == "neg_sq_l2" else math.exp(-0.5 * d2)

    src, dst = batch.edge_index.tolist()
    per_node = []
    for i in range(5):
        nbrs = [j for j, k in zip(src, dst) if k == i and j != i]
        if not nbrs:
            continue
        ss = [sim(s.hiddens[0][j], s.hiddens[0][i]) for j in nbrs]
        st = [sim(t.hiddens[0][j], t.hiddens[0][i]) for j in nbrs]
        ps = [math.exp(v) / sum(math.exp(u) for u in ss) for v in ss]
        pt = [math.exp(v) / sum(math.exp(u) for u in st) for v in st]
        per_node.append(sum(p * math.log(p / q) for p, q in zip(pt, ps)))
    lsp = LocalStructurePreserving(kernel=kernel, gamma=0.5)
    lsp.bind([4], [4], 3)
    assert lsp(s, t, batch).item() == pytest.approx(sum(per_node) / len(per_node), rel=1e-4, abs=1e-7)


def test_lsp_on_train_nodes_uses_the_induced_subgraph():
    s, t, batch = _outputs(0), _outputs(1), _batch(train=(0, 1, 2))
    lsp = LocalStructurePreserving(kernel="cosine", nodes="train")
    lsp.bind([4], [4], 3)
    # edges among {0, 1, 2}: 1->0, 2->0, 0->1, 0->2
    sub = Data(edge_index=torch.tensor([[1, 2, 0, 0], [0, 0, 1, 2]]), y=batch.y, train_mask=batch.train_mask,
               num_nodes=5)
    full = LocalStructurePreserving(kernel="cosine")
    full.bind([4], [4], 3)
    assert lsp(s, t, batch).item() == pytest.approx(full(s, t, sub).item(), rel=1e-6)


def test_gsp_matches_explicit_loop_over_pairs():
    s, t, batch = _outputs(0), _outputs(1), _batch()
    hs, ht = s.hiddens[0], t.hiddens[0]
    expected = 0.0
    for i in range(5):
        for j in range(5):
            cs = float(hs[i] @ hs[j] / (hs[i].norm() * hs[j].norm()))
            ct = float(ht[i] @ ht[j] / (ht[i].norm() * ht[j].norm()))
            expected += (cs - ct) ** 2
    gsp = GlobalStructurePreserving(kernel="cosine", max_nodes=100)
    gsp.bind([4], [4], 3)
    assert gsp(s, t, batch).item() == pytest.approx(expected / 25, rel=1e-5)


def test_neighbourhood_contrast_matches_hand_computation():
    s, t, batch = _outputs(0), _outputs(1), _batch()
    n, tau = 5, 0.5
    src, dst = batch.edge_index.tolist()
    edges = list(zip(src, dst)) + [(i, i) for i in range(n)]  # A + I, as gcn_norm adds self-loops
    degree = [sum(1 for _, d in edges if d == i) for i in range(n)]  # in-degree with the self-loop
    a_hat = [[0.0] * n for _ in range(n)]
    for u, v in edges:
        a_hat[u][v] += 1 / math.sqrt(degree[u] * degree[v])
    gamma = [[sum(a_hat[i][k] * a_hat[k][j] for k in range(n)) for j in range(n)] for i in range(n)]  # Â², 2 hops
    h = s.hiddens[0]
    cos = [[float(h[i] @ h[j] / (h[i].norm() * h[j].norm())) for j in range(n)] for i in range(n)]
    per_node = []
    for i in range(n):
        others = [j for j in range(n) if j != i]
        close = sum(gamma[i][j] * math.exp(cos[i][j] / tau) for j in others)
        if close > 0:
            per_node.append(-math.log(close / sum(math.exp(cos[i][k] / tau) for k in others)))
    contrast = NeighbourhoodContrast(hops=2, temperature=tau, max_nodes=100)
    contrast.bind([4], [4], 3)
    assert contrast(s, t, batch).item() == pytest.approx(sum(per_node) / len(per_node), rel=1e-5)
    # the loss falls as the neighbours' representations move together
    pulled = ModelOutput(s.logits, [h * 0.01 + h.mean(0)])
    assert contrast(pulled, t, batch).item() < contrast(s, t, batch).item()


def test_neighbourhood_contrast_refuses_sampled_batches_and_bad_settings():
    s, t, batch = _outputs(0), _outputs(1), _batch()
    batch.batch_size = 3
    with pytest.raises(ConfigError, match="loader full"):
        NeighbourhoodContrast()(s, t, batch)
    for bad in ({"hops": 0}, {"temperature": 0.0}, {"max_nodes": 1}):
        with pytest.raises(ConfigError, match="NeighbourhoodContrast"):
            NeighbourhoodContrast(**bad)


def test_propagated_kd_refuses_sampled_batches():
    s, t, batch = _outputs(0), _outputs(1), _batch()
    batch.batch_size = 3
    with pytest.raises(ConfigError, match="PropagatedKD propagates over the whole graph: use --data.loader full"):
        PropagatedKD()(s, t, batch)


def test_propagated_kd_matches_hand_computation():
    """Path graph 0 - 1 - 2, node 0 a training node of class 1: two rounds of
    Y <- (1 - a) Y0 + a D^-1/2 (A + I) D^-1/2 Y written out entry by entry."""
    teacher = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    student = torch.tensor([[0.5, -0.5], [0.0, 0.0], [1.0, 2.0]])
    edge_index = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    batch = Data(edge_index=edge_index, y=torch.tensor([1, 0, 0]), train_mask=torch.tensor([True, False, False]),
                 num_nodes=3)
    a = 0.5
    y0 = [[0.0, 1.0]] + [[math.exp(v) / sum(math.exp(u) for u in row) for v in row] for row in teacher[1:].tolist()]
    degree = [2, 3, 2]  # with the self loop
    neighbours = {0: [0, 1], 1: [0, 1, 2], 2: [1, 2]}
    y = y0
    for _ in range(2):
        y = [[(1 - a) * y0[i][c] + a * sum(y[j][c] / math.sqrt(degree[i] * degree[j]) for j in neighbours[i])
              for c in range(2)] for i in range(3)]
    target = [[v / sum(row) for v in row] for row in y]
    expected = 0.0
    for i in range(3):
        log_q = [v - math.log(sum(math.exp(u) for u in student[i].tolist())) for v in student[i].tolist()]
        expected += sum(p * (math.log(p) - q) for p, q in zip(target[i], log_q))
    loss = PropagatedKD(steps=2, alpha=a)(ModelOutput(student, []), ModelOutput(teacher, []), batch)
    assert loss.item() == pytest.approx(expected / 3, rel=1e-5)


def test_spherical_kmeans_finds_two_clusters_by_hand():
    a = torch.tensor([[1.0, 0.1], [1.0, -0.1], [1.0, 0.0]])
    b = torch.tensor([[0.1, 1.0], [-0.2, 1.0]])
    points = torch.nn.functional.normalize(torch.cat([a, b]), dim=-1)
    codes = spherical_kmeans(points, 2, iterations=5)
    expected = [points[:3].sum(0), points[3:].sum(0)]
    expected = [e / e.norm() for e in expected]
    found = sorted(codes.tolist(), key=lambda c: -c[0])  # the cluster along the first axis first
    for c, e in zip(found, expected):
        assert c == pytest.approx(e.tolist(), abs=1e-6)
    with pytest.raises(ConfigError, match="more than the graph"):
        spherical_kmeans(points, 6, iterations=1)


def test_codebook_kd_matches_hand_computation():
    s, t, batch = _outputs(0), _outputs(1), _batch()
    k, T = 3, 0.5
    kd = CodebookKD(num_codes=k, temperature=T, iterations=4)
    kd.bind([4], [4], 3)
    points = torch.nn.functional.normalize(t.hiddens[0], dim=-1)
    codes = spherical_kmeans(points, k, iterations=4)
    expected = 0.0
    for i in range(5):
        sims = [float(points[i] @ codes[c]) / T for c in range(k)]
        p = [math.exp(v) / sum(math.exp(u) for u in sims) for v in sims]
        head = [float(kd.head.weight[c].detach() @ s.hiddens[0][i] + kd.head.bias[c].detach()) for c in range(k)]
        log_q = [v - math.log(sum(math.exp(u) for u in head)) for v in head]
        expected += sum(pc * (math.log(pc) - lq) for pc, lq in zip(p, log_q))
    assert kd(s, t, batch).item() == pytest.approx(expected / 5, rel=1e-5)
    batch.batch_size = 3
    with pytest.raises(ConfigError, match="loader full"):
        kd(s, t, batch)
    with pytest.raises(ConfigError, match="CodebookKD"):
        CodebookKD(num_codes=1)


def test_gcrd_matches_explicit_loop_over_nodes():
    torch.manual_seed(0)
    s, t, batch = _outputs(0, d=4), _outputs(1, d=6), _batch()
    tau = 0.5
    gcrd = ContrastiveDistiller(proj_dim=8, temperature=tau, max_nodes=100)
    gcrd.bind([4], [6], 3)
    zs = _head_by_hand(gcrd.student_head, s.hiddens[0])
    zt = _head_by_hand(gcrd.teacher_head, t.hiddens[0])
    zs = zs / zs.norm(dim=1, keepdim=True)
    zt = zt / zt.norm(dim=1, keepdim=True)
    expected = 0.0
    for i in range(5):
        scores = [float(zs[i] @ zt[j]) / tau for j in range(5)]
        expected += -(scores[i] - math.log(sum(math.exp(v) for v in scores)))
    assert gcrd(s, t, batch).item() == pytest.approx(expected / 5, rel=1e-5)


def test_gcrd_samples_at_most_max_nodes():
    torch.manual_seed(0)
    s, t = _outputs(0, n=50), _outputs(1, n=50)
    batch = Data(edge_index=torch.empty(2, 0, dtype=torch.long), y=torch.zeros(50, dtype=torch.long),
                 train_mask=torch.ones(50, dtype=torch.bool), num_nodes=50)
    gcrd = ContrastiveDistiller(proj_dim=8, max_nodes=10)
    gcrd.bind([4], [4], 3)
    rows = []
    gcrd.student_head.register_forward_hook(lambda module, inputs, output: rows.append(inputs[0].size(0)) and None)
    gcrd(s, t, batch)
    assert rows == [10]


def test_layer_out_of_range_is_a_clear_error():
    fit = FitNet(student_layer=3)
    with pytest.raises(ConfigError, match=r"student_layer=3 is out of range: the student has 1 hidden layers"):
        fit.bind([16], [64, 64], 3)
    with pytest.raises(ConfigError, match="has no hidden layer"):
        FitNet().bind([], [64], 3)
    with pytest.raises(ConfigError, match="unknown kernel"):
        LocalStructurePreserving(kernel="gauss")


def test_multilabel_kd_is_the_binary_kl_per_task():
    """On a multi-label task each of the C outputs is its own yes/no distribution."""
    s, t, batch = _outputs(0), _outputs(1), _batch()
    T = 2.0
    kd = LogitKD(temperature=T)
    kd.set_multilabel(True)
    expected = 0.0
    for i in range(5):
        for c in range(3):
            p = 1 / (1 + math.exp(-t.logits[i, c].item() / T))
            q = 1 / (1 + math.exp(-s.logits[i, c].item() / T))
            expected += p * math.log(p / q) + (1 - p) * math.log((1 - p) / (1 - q))
    assert kd(s, t, batch).item() == pytest.approx(expected / 15 * T * T, rel=1e-5)
    with pytest.raises(ConfigError, match="multi-label"):
        LogitKD(standardize=True).set_multilabel(True)


def test_softmax_only_components_refuse_a_multilabel_task():
    from graphdistill.distill import AdversarialDistiller

    with pytest.raises(ConfigError, match="multi-label"):
        AdversarialDistiller().set_multilabel(True)


@pytest.mark.parametrize("make", [lambda: LogitKD(temperature=0), lambda: ContrastiveDistiller(temperature=0.0)])
def test_a_zero_temperature_is_refused(make):
    with pytest.raises(ConfigError, match="temperature must be positive"):
        make()


def test_adversarial_features_matches_hand_computation():
    """One ascent step on a linear student, KD at T = 1: δ = clip(δ₀ + ε·sign(∂KL/∂x), ±ε),
    where for logits x·W the gradient of node i's KL is (softmax(x_i W) − p_t,i) Wᵀ / n, and ε
    is relative to the mean absolute non-zero feature."""
    n, d, c = 5, 4, 3
    g = torch.Generator().manual_seed(3)
    x = torch.rand(n, d, generator=g) * (torch.rand(n, d, generator=g) > 0.3)
    weight = torch.randn(d, c, generator=g)
    teacher, batch = _outputs(1, n=n, c=c), _batch(n=n)
    adversarial = AdversarialFeatures(LogitKD(temperature=1.0), eps=0.2)
    torch.manual_seed(0)
    out = adversarial.perturbed_output(lambda feats: ModelOutput(feats @ weight, []), x, teacher, batch)
    torch.manual_seed(0)
    scale = sum(abs(v) for v in x.flatten().tolist() if v != 0) / int((x != 0).sum())
    eps = 0.2 * scale
    start = torch.empty(n, d).uniform_(-eps, eps)
    expected = torch.empty(n, d)
    for i in range(n):
        z = [sum((x[i, k] + start[i, k]).item() * weight[k, j].item() for k in range(d)) for j in range(c)]
        ps = [math.exp(v) / sum(math.exp(u) for u in z) for v in z]
        zt = teacher.logits[i].tolist()
        pt = [math.exp(v) / sum(math.exp(u) for u in zt) for v in zt]
        for k in range(d):
            grad = sum((ps[j] - pt[j]) * weight[k, j].item() for j in range(c)) / n
            step = start[i, k].item() + eps * (1 if grad > 0 else -1)
            expected[i, k] = x[i, k].item() + max(-eps, min(eps, step))
    assert torch.allclose(out.logits, expected @ weight, atol=1e-5)
    assert adversarial(out, teacher, batch).item() == pytest.approx(LogitKD(temperature=1.0)(out, teacher,
                                                                                             batch).item())


def test_adversarial_features_ascent_raises_the_term_and_leaves_the_student_without_gradient():
    n, d, c = 40, 8, 3
    g = torch.Generator().manual_seed(0)
    x, teacher = torch.rand(n, d, generator=g), _outputs(1, n=n, c=c)
    batch = Data(y=torch.zeros(n, dtype=torch.long), num_nodes=n)
    student = torch.nn.Linear(d, c)
    kd = LogitKD(temperature=1.0)
    clean = kd(ModelOutput(student(x), []), teacher, batch).item()
    adversarial = AdversarialFeatures(LogitKD(temperature=1.0), eps=0.5, steps=5, step_size=0.2)
    out = adversarial.perturbed_output(lambda feats: ModelOutput(student(feats), []), x, teacher, batch)
    assert all(p.grad is None for p in student.parameters())  # the ascent trains nothing
    term = adversarial(out, teacher, batch)
    assert term.item() > clean
    term.backward()  # the term itself trains the student
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in student.parameters())


def test_adversarial_features_refuses_bad_settings():
    with pytest.raises(ConfigError, match="eps"):
        AdversarialFeatures(LogitKD(), eps=0.0)
    with pytest.raises(ConfigError, match="steps"):
        AdversarialFeatures(LogitKD(), steps=0)
    with pytest.raises(ConfigError, match="already"):
        AdversarialFeatures(AdversarialFeatures(LogitKD()))


@pytest.mark.parametrize("method", ["propagated_kd_positions_neighbourhood", "propagated_kd_positions_codebook"])
def test_once_per_run_values_are_computed_once_per_run(method, fit, synthetic_teacher, monkeypatch):
    """The propagated targets, Â^hops and the codebook are computed on the first training
    step and reused by every later one (5 epochs, validation in between), not recomputed
    because a batch or the teacher's outputs came as new tensors."""
    calls = {}

    def counted(cls, name):
        original = getattr(cls, name)

        def wrapper(self, *args):
            calls[name] = calls.get(name, 0) + 1
            return original(self, *args)
        monkeypatch.setattr(cls, name, wrapper)

    counted(PropagatedKD, "_propagate")
    counted(NeighbourhoodContrast, "_power")
    counted(CodebookKD, "_assignments")
    fit("--config", config("synthetic/student_mlp.yaml"), "--config", config(f"methods/{method}.yaml"),
        "--trainer.max_epochs=5", f"--model.init_args.teacher={synthetic_teacher}")
    second = "_assignments" if "codebook" in method else "_power"
    assert calls == {"_propagate": 1, second: 1}
