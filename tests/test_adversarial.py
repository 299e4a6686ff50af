"""GraphAKD (adversarial component, frozen teacher) and OAD (online group of students)."""

import copy
import math

import lightning as L
import pandas as pd
import pytest
import torch
from torch import nn
from torch_geometric.data import Data

from graphdistill.cli import main
from graphdistill.distill import AdversarialDistiller, DistillationComponent
from graphdistill.distill.online import group_kl, peer_mean_logits, ring_discriminator_losses, ring_fooling_losses
from graphdistill.errors import ConfigError
from graphdistill.lightning_cli import run_fit
from graphdistill.models import GCN, MLP, ModelOutput
from graphdistill.training import OnlineDistillationModule
from graphdistill.training.checkpoint import load_model

from .conftest import config

STUDENT = config("synthetic/student_gcn.yaml")


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _bce(score: float, real: bool) -> float:
    return -math.log(_sigmoid(score) if real else 1.0 - _sigmoid(score))


# ---------------------------------------------------------------- GraphAKD: losses by hand
def _tiny_graphakd():
    """3 nodes, 2 classes, edges 0-1 and 1-2 (both directions), node 0 labelled 1, node 1 labelled 0."""
    component = AdversarialDistiller(weight=1.0, representation="logits")
    component.bind([4], [8], num_classes=2)
    with torch.no_grad():
        # logit identifier: residual branch off, so h = ReLU(z); out = W2 h
        component.logit_identifier.residual.weight.zero_()
        component.logit_identifier.residual.bias.zero_()
        component.logit_identifier.out.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, -1.0]]))
        component.logit_identifier.out.bias.zero_()
        component.representation_identifier.diagonal.copy_(torch.tensor([1.0, 2.0]))
        component.representation_identifier.bilinear.copy_(torch.eye(2))
    batch = Data(edge_index=torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]), y=torch.tensor([1, 0, 1]),
                 train_mask=torch.tensor([True, True, False]), num_nodes=3)
    zs = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 4.0]])   # student logits (ReLU leaves them)
    zt = torch.tensor([[0.0, 3.0], [4.0, 0.0], [0.0, 0.0]])   # teacher logits
    return component, batch, ModelOutput(zs), ModelOutput(zt)


def _ce(z: list[float], label: int) -> float:
    return -z[label] + math.log(sum(math.exp(v) for v in z))


def _unit(v: list[float]) -> list[float]:
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v] if n else [0.0 for _ in v]


def test_graphakd_student_term_by_hand():
    component, batch, student, teacher = _tiny_graphakd()
    loss, parts = component.terms(student, teacher, batch)
    assert component(student, teacher, batch).item() == loss.item()  # forward is the loss of terms()
    zs = [[2.0, 0.0], [0.0, 1.0], [3.0, 4.0]]
    zt = [[0.0, 3.0], [4.0, 0.0], [0.0, 0.0]]
    # logit identifier on the student: real unit = z0 - z1; class units = z; CE on nodes 0 (y=1), 1 (y=0)
    logit = sum(_bce(z[0] - z[1], True) for z in zs) / 3 + (_ce(zs[0], 1) + _ce(zs[1], 0)) / 2
    es, et = [_unit(z) for z in zs], [_unit(z) for z in zt]
    d = [1.0, 2.0]
    edges = [(0, 1), (1, 0), (1, 2), (2, 1)]
    edge = sum(_bce(sum(es[u][i] * d[i] * es[v][i] for i in range(2)), True) for u, v in edges) / 4
    summary_t = [_sigmoid(sum(e[i] for e in et) / 3) for i in range(2)]
    summary_s = [_sigmoid(sum(e[i] for e in es) / 3) for i in range(2)]
    summary = sum(_bce(sum(e[i] * s[i] for i in range(2)), True) for s in (summary_t, summary_s) for e in es) / 6
    l1 = sum(abs(a - b) for zs_i, zt_i in zip(zs, zt) for a, b in zip(zs_i, zt_i)) / 3
    assert parts["logit"].item() == pytest.approx(logit, rel=1e-5)
    assert parts["edge"].item() == pytest.approx(edge, rel=1e-5)
    assert parts["summary"].item() == pytest.approx(summary, rel=1e-5)
    assert parts["l1"].item() == pytest.approx(l1, rel=1e-6)
    assert loss.item() == pytest.approx(logit + edge + 0.1 * summary + l1, rel=1e-5)  # summary_weight 0.1
    # representation "probabilities" (the default) scores normalised softmax vectors instead
    component.representation = "probabilities"
    _, parts = component.terms(student, teacher, batch)
    ps = [_unit([math.exp(v) / sum(math.exp(w) for w in z) for v in z]) for z in zs]
    edge_p = sum(_bce(sum(ps[u][i] * d[i] * ps[v][i] for i in range(2)), True) for u, v in edges) / 4
    assert parts["edge"].item() == pytest.approx(edge_p, rel=1e-5)
    component.representation = "logits"
    component.weights["edge"] = 0.0  # a part weighted 0 leaves the term
    assert component(student, teacher, batch).item() == pytest.approx(logit + 0.1 * summary + l1, rel=1e-5)


def test_graphakd_discriminator_loss_by_hand():
    component, batch, student, teacher = _tiny_graphakd()
    loss, parts = component.discriminator_loss(student, teacher, batch)
    zs = [[2.0, 0.0], [0.0, 1.0], [3.0, 4.0]]
    zt = [[0.0, 3.0], [4.0, 0.0], [0.0, 0.0]]
    logit = (sum(_bce(z[0] - z[1], True) for z in zt) / 3 + sum(_bce(z[0] - z[1], False) for z in zs) / 3
             + (_ce(zt[0], 1) + _ce(zt[1], 0)) / 2 + (_ce(zs[0], 1) + _ce(zs[1], 0)) / 2)
    es, et = [_unit(z) for z in zs], [_unit(z) for z in zt]
    d = [1.0, 2.0]
    edges = [(0, 1), (1, 0), (1, 2), (2, 1)]

    def score(e, u, v):
        return sum(e[u][i] * d[i] * e[v][i] for i in range(2))

    edge = (sum(_bce(score(et, u, v), True) for u, v in edges) / 4
            + sum(_bce(score(es, u, v), False) for u, v in edges) / 4)
    summaries = [[_sigmoid(sum(e[i] for e in side) / 3) for i in range(2)] for side in (et, es)]
    summary = sum(sum(_bce(sum(e[i] * s[i] for i in range(2)), True) for e in et) / 3
                  + sum(_bce(sum(e[i] * s[i] for i in range(2)), False) for e in es) / 3 for s in summaries) / 2
    assert parts["logit"].item() == pytest.approx(logit, rel=1e-5)
    assert parts["edge"].item() == pytest.approx(edge, rel=1e-5)
    assert parts["summary"].item() == pytest.approx(summary, rel=1e-5)
    assert loss.item() == pytest.approx(logit + edge + summary, rel=1e-5)
    # real units: teacher z0-z1 = -3, 4, 0 (> 0 once); student 2, -1, -1 (< 0 twice)
    assert parts["acc"].item() == pytest.approx((1 / 3 + 2 / 3) / 2)


def test_graphakd_hidden_representation_needs_equal_widths():
    with pytest.raises(ConfigError, match="same hidden width"):
        AdversarialDistiller(representation="hidden").bind([16], [64], num_classes=3)
    AdversarialDistiller(representation="hidden").bind([16], [16], num_classes=3)
    with pytest.raises(ConfigError, match="d_critic"):
        AdversarialDistiller(d_critic=0)


# ---------------------------------------------------------------- optimizer steps, recorded
class RecordSteps(L.Callback):
    """Records, for every optimizer step, which optimizer stepped and which parameters it changed."""

    def __init__(self) -> None:
        self.events: list[tuple[int, int, set[str]]] = []  # (training step, optimizer index, changed names)
        self._before: dict[str, torch.Tensor] | None = None
        self._pending: tuple[int, int] | None = None
        self._step = -1

    def _snapshot(self, module) -> dict[str, torch.Tensor]:
        return {n: p.detach().clone() for n, p in module.named_parameters()}

    def _close(self, module) -> None:
        if self._pending is not None:
            after = self._snapshot(module)
            changed = {n for n in after if not torch.equal(after[n], self._before[n])}
            self.events.append((*self._pending, changed))
        self._pending = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._step += 1

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        self._close(pl_module)
        index = next(i for i, opt in enumerate(trainer.optimizers) if opt is optimizer)
        self._before, self._pending = self._snapshot(pl_module), (self._step, index)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self._close(pl_module)


def _graphakd_module(teacher, data, d_critic=1):
    from graphdistill.training import DistillationModule

    return DistillationModule(GCN(data.num_features, data.num_classes, hidden_channels=8), teacher,
                              components=[AdversarialDistiller(d_critic=d_critic)])


def _synthetic_data():
    from graphdistill.data import NodeDataModule

    return NodeDataModule(dataset="synthetic")


def _trainer(callback, epochs, root):
    return L.Trainer(max_epochs=epochs, callbacks=[callback], logger=False, enable_checkpointing=False,
                     default_root_dir=root,
                     enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0)


def test_graphakd_discriminator_steps_before_the_student_and_each_touches_only_its_own(tmp_path, synthetic_teacher):
    data = _synthetic_data()
    module = _graphakd_module(synthetic_teacher, data, d_critic=2)
    record = RecordSteps()
    _trainer(record, epochs=4, root=tmp_path).fit(module, datamodule=data)  # one full-graph step per epoch
    order = [(step, opt) for step, opt, _ in record.events]
    # the discriminator (optimizer 1) steps first, on steps 0 and 2 only (d_critic=2); the student every step
    assert order == [(0, 1), (0, 0), (1, 0), (2, 1), (2, 0), (3, 0)]
    for _, opt, changed in record.events:
        assert changed, "an optimizer step changed nothing"
        if opt == 1:
            assert all(n.startswith("components.0.") for n in changed), changed
        else:
            assert all(n.startswith("model.") for n in changed), changed
    # the student step went through the updated identifiers: GCN parameters all moved
    moved = {n for _, opt, ch in record.events if opt == 0 for n in ch}
    assert moved == {f"model.{n}" for n, _ in module.model.named_parameters()}


def test_oad_discriminators_step_before_the_students_and_touch_only_their_own(tmp_path):
    data = _synthetic_data()
    module = OnlineDistillationModule(GCN(data.num_features, data.num_classes, hidden_channels=8), num_students=3,
                                      warmup_epochs=1)
    record = RecordSteps()
    _trainer(record, epochs=3, root=tmp_path).fit(module, datamodule=data)
    order = [(step, opt) for step, opt, _ in record.events]
    # warm-up epoch 0: students only; then D_0, D_1, D_2 (optimizers 1-3) before the students (optimizer 0)
    assert order == [(0, 0), (1, 1), (1, 2), (1, 3), (1, 0), (2, 1), (2, 2), (2, 3), (2, 0)]
    for _, opt, changed in record.events:
        assert changed
        if opt == 0:
            assert all(n.startswith(("model.", "peers.")) for n in changed), changed
        else:
            assert all(n.startswith(f"discriminators.{opt - 1}.") for n in changed), changed
    # every student moved in the students' step
    student_steps = {n for _, opt, ch in record.events if opt == 0 for n in ch}
    assert any(n.startswith("peers.1.") for n in student_steps) and any(n.startswith("model.") for n in student_steps)


# ---------------------------------------------------------------- OAD: losses by hand
def test_peer_mean_excludes_the_student_itself():
    z = [torch.tensor([[1.0, 0.0]]), torch.tensor([[3.0, 6.0]]), torch.tensor([[5.0, 3.0]])]
    peers = peer_mean_logits(z)
    torch.testing.assert_close(peers[0], torch.tensor([[4.0, 4.5]]))
    torch.testing.assert_close(peers[1], torch.tensor([[3.0, 1.5]]))
    torch.testing.assert_close(peers[2], torch.tensor([[2.0, 3.0]]))
    with pytest.raises(ConfigError):
        peer_mean_logits(z[:1])


def test_group_kl_by_hand_and_only_the_student_itself_gets_its_gradient():
    z = [torch.tensor([[0.0, 0.0], [1.0, 0.0]], requires_grad=True), torch.tensor([[2.0, 0.0], [0.0, 0.0]],
                                                                                 requires_grad=True)]
    t = 2.0
    kl = group_kl(z, t)

    def softmax(v):
        e = [math.exp(x / t) for x in v]
        return [x / sum(e) for x in e]

    def kl_div(p, q):
        return sum(a * math.log(a / b) for a, b in zip(p, q))

    rows0 = [[0.0, 0.0], [1.0, 0.0]]
    rows1 = [[2.0, 0.0], [0.0, 0.0]]
    # student 0's teacher is student 1 (mean of the others) and vice versa; batchmean over 2 nodes, times T²
    expect0 = t * t * sum(kl_div(softmax(rows1[i]), softmax(rows0[i])) for i in range(2)) / 2
    expect1 = t * t * sum(kl_div(softmax(rows0[i]), softmax(rows1[i])) for i in range(2)) / 2
    assert kl[0].item() == pytest.approx(expect0, rel=1e-5)
    assert kl[1].item() == pytest.approx(expect1, rel=1e-5)
    kl[0].backward()
    assert z[1].grad is None and z[0].grad.abs().sum() > 0  # the peer mean is detached


class Scorer(nn.Module):
    """A stand-in discriminator: score = c · (first feature)."""

    def __init__(self, c: float) -> None:
        super().__init__()
        self.c = nn.Parameter(torch.tensor(c))

    def forward(self, h, edge_index):
        return self.c * h[:, 0]


def test_ring_losses_by_hand():
    hidden = [torch.tensor([[1.0], [2.0]]), torch.tensor([[-1.0], [0.0]]), torch.tensor([[3.0], [1.0]])]
    discs = [Scorer(1.0), Scorer(0.5), Scorer(-1.0)]
    results = ring_discriminator_losses(discs, hidden, torch.empty(2, 0, dtype=torch.long))
    c = [1.0, 0.5, -1.0]
    h = [[1.0, 2.0], [-1.0, 0.0], [3.0, 1.0]]
    for k, (loss, acc) in enumerate(results):
        real, fake = h[k], h[k - 1]  # D_k: student k real, student k-1 fake (D_0's fake is student 2)
        expect = (sum(_bce(c[k] * x, True) for x in real) / 2 + sum(_bce(c[k] * x, False) for x in fake) / 2)
        assert loss.item() == pytest.approx(expect, rel=1e-6), k
        right = (sum(c[k] * x > 0 for x in real) / 2 + sum(c[k] * x < 0 for x in fake) / 2) / 2
        assert acc.item() == pytest.approx(right)
    fooling = ring_fooling_losses(discs, hidden, torch.empty(2, 0, dtype=torch.long))
    for j, loss in enumerate(fooling):  # student j fools D_{j+1}
        expect = sum(_bce(c[(j + 1) % 3] * x, True) for x in h[j]) / 2
        assert loss.item() == pytest.approx(expect, rel=1e-6), j


def test_oad_predicts_with_the_student_best_on_validation(synthetic_teacher):  # noqa: F811
    """Student 2 is a trained GCN, the others untrained: predict_step returns student 2's logits."""
    from graphdistill.data import NodeDataModule

    trained = load_model(synthetic_teacher).model.eval()
    module = OnlineDistillationModule(copy.deepcopy(trained), num_students=3).eval()
    module.peers[1].load_state_dict(trained.state_dict())  # student 2
    for student in module.students[:2]:
        for p in student.parameters():
            torch.nn.init.normal_(p, std=0.01)
    data = NodeDataModule(dataset="synthetic").data
    with torch.no_grad():
        assert torch.equal(module.predict_step(data, 0), trained(data.x, data.edge_index).logits)


def test_oad_rejects_students_it_cannot_pair():
    with pytest.raises(ConfigError, match="same hidden_channels"):
        OnlineDistillationModule(GCN(16, 3, hidden_channels=8), num_students=2,
                                 peers=[{"class_path": "graphdistill.models.GCN", "init_args": {"hidden_channels": 4}}])
    with pytest.raises(ConfigError, match="needs 2"):
        OnlineDistillationModule(GCN(16, 3, hidden_channels=8), num_students=3, peers=[])
    with pytest.raises(ConfigError, match=">= 2"):
        OnlineDistillationModule(GCN(16, 3, hidden_channels=8), num_students=1)
    module = OnlineDistillationModule(GCN(16, 3, hidden_channels=8), num_students=2,
                                      peers=[{"class_path": "graphdistill.models.MLP",
                                              "init_args": {"hidden_channels": 8}}])
    assert isinstance(module.peers[0], MLP) and module.peers[0].in_channels == 16


# ---------------------------------------------------------------- OAD through the CLI
def test_oad_run_reports_each_student_and_saves_them_for_use_alone(tmp_path, capsys):
    result = run_fit("--config", config("synthetic/student_gcn.yaml"), "--config", config("methods/oad.yaml"),
                     "--trainer.max_epochs=12",
                     "--model.init_args.warmup_epochs=6", f"--trainer.default_root_dir={tmp_path}",
                     "--trainer.logger=false")
    online = result["online"]
    assert len(online["students"]) == 4 and online["ensemble"]["test"] is not None
    best = online["students"][online["best_student"]]
    assert result["test"] == best["test"] and result["best_val"] == max(s["val"] for s in online["students"])
    assert online["mean_student_test"] == pytest.approx(sum(s["test"] for s in online["students"]) / 4)
    assert "student 3: test acc" in capsys.readouterr().out
    from graphdistill.data import NodeDataModule

    data = NodeDataModule(dataset="synthetic").data
    for k, record in enumerate(online["students"]):
        # each saved student is a plain checkpoint: it loads alone and scores what the run reported
        student = load_model(record["checkpoint"])
        logits = student.model(data.x, data.edge_index).logits
        for split in ("val", "test"):
            mask = getattr(data, f"{split}_mask")
            acc = (logits[mask].argmax(-1) == data.y[mask]).float().mean().item()
            assert acc == pytest.approx(record[split], abs=1e-6), (k, split)
    # and it is usable as a distillation teacher
    distilled = run_fit("--config", config("synthetic/student_mlp.yaml"), "--config", config("methods/kd.yaml"),
                        f"--model.init_args.teacher={best['checkpoint']}", "--trainer.max_epochs=2",
                        f"--trainer.default_root_dir={tmp_path / 'kd'}", "--trainer.logger=false")
    assert distilled["teacher"]["model"] == "GCN"
    # predict on the run's checkpoint predicts with the student best on validation: its test accuracy
    main(["predict", "--config", config("synthetic/student_gcn.yaml"), "--config", config("methods/oad.yaml"),
          f"--ckpt_path={result['best_checkpoint']}", f"--trainer.default_root_dir={tmp_path / 'predicted'}",
          "--trainer.logger=false"])
    predicted = torch.tensor(pd.read_csv(tmp_path / "predicted" / "predictions.csv")["prediction"].to_numpy())
    mask = data.test_mask
    assert (predicted[mask] == data.y[mask]).float().mean().item() == pytest.approx(result["test"], abs=1e-6)


# ---------------------------------------------------------------- NaN stops the run
class ExplodingTerm(DistillationComponent):
    """A loss term that becomes NaN at training step ``at``."""

    name = "exploding"

    def __init__(self, weight: float = 1.0, at: int = 5) -> None:
        super().__init__(weight)
        self.at = at
        self.calls = 0

    def forward(self, student, teacher, batch):
        value = student.logits.sum() * 0.0 + (float("nan") if self.calls == self.at else 0.0)
        self.calls += 1
        return value


def test_nan_loss_stops_with_the_term_and_step_and_keeps_the_last_good_checkpoint(tmp_path, capsys,
                                                                                   synthetic_teacher):  # noqa: F811
    method = tmp_path / "exploding.yaml"
    method.write_text("model:\n  class_path: graphdistill.training.DistillationModule\n  init_args:\n"
                      "    components:\n      - class_path: tests.test_adversarial.ExplodingTerm\n"
                      "        init_args: {at: 5}\n")
    with pytest.raises(SystemExit):
        main(["fit", "--config", STUDENT, "--config", str(method), f"--model.init_args.teacher={synthetic_teacher}",
              "--trainer.max_epochs=10", f"--trainer.default_root_dir={tmp_path / 'run'}", "--trainer.logger=false",
              "--trainer.enable_progress_bar=false"])
    err = capsys.readouterr().err
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    assert "train/exploding became nan at training step 5 (epoch 5)" in err, err
    assert str(last) in err and "--ckpt_path" in err
    state = torch.load(last, weights_only=True)
    assert state["epoch"] == 4  # written after epoch 4, the last one without NaN
    assert all(torch.isfinite(v).all() for v in state["state_dict"].values())


def test_killed_oad_run_resumes_to_the_same_students(tmp_path):
    common = ["--config", config("synthetic/student_gcn.yaml"), "--config", config("methods/oad.yaml"),
              "--trainer.max_epochs=10", "--model.init_args.warmup_epochs=3", "--model.init_args.num_students=3",
              "--trainer.logger=false"]
    straight = run_fit(*common, f"--trainer.default_root_dir={tmp_path / 'straight'}")
    crash = ["--trainer.callbacks+=tests.test_distillation.CrashAtEpoch", "--trainer.callbacks.epoch=6"]
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_fit(*common, f"--trainer.default_root_dir={tmp_path / 'killed'}", *crash)
    last = tmp_path / "killed" / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=True)["epoch"] == 5
    resumed = run_fit(*common, f"--trainer.default_root_dir={tmp_path / 'killed'}", f"--ckpt_path={last}")
    a = torch.load(tmp_path / "straight" / "checkpoints" / "last.ckpt", weights_only=True)
    b = torch.load(last, weights_only=True)
    for key in a["state_dict"]:  # students and discriminators
        torch.testing.assert_close(a["state_dict"][key], b["state_dict"][key], rtol=0, atol=0, msg=key)
    assert len(a["optimizer_states"]) == 4  # one for the students, one per discriminator
    for x, y in zip(straight["online"]["students"], resumed["online"]["students"]):
        assert (x["val"], x["test"], x["epoch"]) == (y["val"], y["test"], y["epoch"])


def test_peer_discriminator_is_graphconv_with_mean_aggregation():
    from torch_geometric.nn import GraphConv

    from graphdistill.distill.online import PeerDiscriminator

    torch.manual_seed(0)
    h = torch.randn(6, 4)
    edges = torch.tensor([[0, 1, 2, 3, 4, 5, 0], [1, 2, 3, 4, 5, 0, 3]])
    disc = PeerDiscriminator(4, 8, spectral_norm=False)
    convs = [GraphConv(4, 8, aggr="mean"), GraphConv(8, 1, aggr="mean")]
    with torch.no_grad():
        for conv, root, rel in zip(convs, disc.root, disc.rel):
            conv.lin_root.weight.copy_(root.weight)
            conv.lin_rel.weight.copy_(rel.weight)
            conv.lin_rel.bias.copy_(root.bias)
    expected = convs[1](torch.relu(convs[0](h, edges)), edges).squeeze(-1)
    torch.testing.assert_close(disc(h, edges), expected)
