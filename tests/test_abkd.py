"""ABKD (LayerAttentionDistiller): attention, dissimilarity and loss against hand computations;
gradients; deep teachers end to end with the attention map logged and drawn."""

import csv
import json
import math
from pathlib import Path

import lightning as L
import pytest
import torch
from torch_geometric.data import Data

from graphdistill.distill import LayerAttentionDistiller
from graphdistill.errors import ConfigError
from graphdistill.lightning_cli import run_fit
from graphdistill.models import GCN, ModelOutput

from .conftest import config

TEACHER_WIDTHS, STUDENT_WIDTHS, N = [3, 5], [2, 4, 3], 4  # a 2 (teacher) × 3 (student) layer example


def _layers(widths, seed):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(N, w, generator=g) for w in widths]


def _component(**kwargs):
    torch.manual_seed(0)
    c = LayerAttentionDistiller(dim=6, include_logits=False, **kwargs)
    c.bind(STUDENT_WIDTHS, TEACHER_WIDTHS, num_classes=2)
    return c


def _apply(linear, vec):
    w, b = linear.weight.tolist(), linear.bias.tolist()
    return [sum(w[o][i] * vec[i] for i in range(len(vec))) + b[o] for o in range(len(b))]


def _mean_rows(rows):
    return [sum(r[k] for r in rows) / len(rows) for k in range(len(rows[0]))]


def _unit(v):
    norm = math.sqrt(sum(x * x for x in v))
    return [x / norm for x in v]


def _standardized(rows):
    n, d = len(rows), len(rows[0])
    mean = [sum(r[k] for r in rows) / n for k in range(d)]
    std = [math.sqrt(sum((r[k] - mean[k]) ** 2 for r in rows) / n + 1e-5) for k in range(d)]
    return [[(r[k] - mean[k]) / std[k] for k in range(d)] for r in rows]


def _sq_dist(a, b):
    return sum((x - y) ** 2 for x, y in zip(a, b))


def _hand(c, hs, ht, axis="student", pooled=False, temperature=1.0, entropy_weight=0.0, standardize=True):
    """ABKD's loss with plain Python loops, following methods.md."""
    L, M, d = len(ht), len(hs), c.dim
    q = [_apply(c.teacher_query[i], _mean_rows(ht[i].tolist())) for i in range(L)]
    k = [_apply(c.student_key[j], _mean_rows(hs[j].tolist())) for j in range(M)]
    score = [[sum(a * b for a, b in zip(q[i], k[j])) / math.sqrt(d) / temperature for j in range(M)] for i in range(L)]
    A = [[0.0] * M for _ in range(L)]
    if axis == "student":
        for i in range(L):
            z = sum(math.exp(score[i][j]) for j in range(M))
            for j in range(M):
                A[i][j] = math.exp(score[i][j]) / z
    else:
        for j in range(M):
            z = sum(math.exp(score[i][j]) for i in range(L))
            for i in range(L):
                A[i][j] = math.exp(score[i][j]) / z
    t = [[_apply(c.teacher_proj[i], row) for row in ht[i].tolist()] for i in range(L)]
    s = [[_apply(c.student_proj[j], row) for row in hs[j].tolist()] for j in range(M)]
    if standardize and not pooled:
        t, s = [_standardized(x) for x in t], [_standardized(x) for x in s]
    D = [[0.0] * M for _ in range(L)]
    for i in range(L):
        for j in range(M):
            if pooled:
                D[i][j] = _sq_dist(_unit(_mean_rows(t[i])), _unit(_mean_rows(s[j])))
            else:
                D[i][j] = sum(_sq_dist(_unit(t[i][n]), _unit(s[j][n])) for n in range(N)) / N
    count = L if axis == "student" else M
    loss = sum(A[i][j] * D[i][j] for i in range(L) for j in range(M)) / count
    entropy = -sum(A[i][j] * math.log(A[i][j]) for i in range(L) for j in range(M)) / count
    return loss - entropy_weight * entropy, A


@pytest.mark.parametrize("options", [
    {},
    {"softmax_over": "teacher"},
    {"dissimilarity": "pooled"},
    {"temperature": 0.5, "entropy_weight": 0.3},
    {"standardize": False},
])
def test_abkd_loss_matches_hand_computation_on_2x3_layers(options):
    c = _component(**options)
    hs, ht = _layers(STUDENT_WIDTHS, 1), _layers(TEACHER_WIDTHS, 2)
    batch = Data(y=torch.zeros(N, dtype=torch.long), num_nodes=N)
    loss, logs = c.terms(ModelOutput(torch.zeros(N, 2), hs), ModelOutput(torch.zeros(N, 2), ht), batch)
    expected, A = _hand(c, hs, ht, axis=options.get("softmax_over", "student"),
                        pooled=options.get("dissimilarity") == "pooled",
                        temperature=options.get("temperature", 1.0), entropy_weight=options.get("entropy_weight", 0.0),
                        standardize=options.get("standardize", True))
    assert loss.item() == pytest.approx(expected, rel=1e-5, abs=1e-6)
    torch.testing.assert_close(logs["attention_map"], torch.tensor(A), rtol=1e-5, atol=1e-6)


def test_attention_rows_sum_to_one_or_columns_with_the_teacher_axis():
    hs, ht = _layers(STUDENT_WIDTHS, 1), _layers(TEACHER_WIDTHS, 2)
    by_student = _component().attention(hs, ht)
    assert by_student.shape == (2, 3)
    torch.testing.assert_close(by_student.sum(1), torch.ones(2))
    by_teacher = _component(softmax_over="teacher").attention(hs, ht)
    torch.testing.assert_close(by_teacher.sum(0), torch.ones(3))
    assert not torch.allclose(by_student.sum(0), torch.ones(3))  # the two options differ


def test_gradients_reach_every_student_layer_and_every_projection():
    torch.manual_seed(0)
    n, edge_index = 30, torch.randint(0, 30, (2, 90))
    student = GCN(8, 3, hidden_channels=5, num_layers=3, dropout=0.0)  # widths 5, 5, then 3 logits
    teacher = ModelOutput(torch.randn(n, 3), [torch.randn(n, 16) for _ in range(6)])  # a deeper, wider teacher
    c = LayerAttentionDistiller(dim=8)
    c.bind(student.hidden_widths, [16] * 6, num_classes=3)
    loss, logs = c.terms(student(torch.randn(n, 8), edge_index), teacher,
                         Data(y=torch.zeros(n, dtype=torch.long), num_nodes=n))
    loss.backward()
    assert logs["attention_map"].shape == (7, 3)  # 6 hiddens + logits × 2 hiddens + logits
    for name, p in [*student.named_parameters(), *c.named_parameters()]:
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_a_student_without_layers_to_align_is_a_clear_error():
    c = LayerAttentionDistiller(include_logits=False)
    with pytest.raises(ConfigError, match="no hidden layer"):
        c.bind([], [16, 16], num_classes=3)
    with pytest.raises(ConfigError, match="softmax_over"):
        LayerAttentionDistiller(softmax_over="rows")


@pytest.fixture(scope="module")
def deep_teacher(tmp_path_factory):
    """A 64-layer GCNII teacher on the synthetic default (narrow, a few epochs: structure, not accuracy)."""
    out = tmp_path_factory.mktemp("gcnii")
    result = run_fit("--config", config("synthetic/gcn.yaml"), "--model.init_args.model=graphdistill.models.GCNII",
                     "--model.init_args.model.init_args.hidden_channels=8",
                     "--model.init_args.model.init_args.num_layers=64", "--trainer.max_epochs=3",
                     f"--trainer.default_root_dir={out}", "--trainer.logger=false")
    return result["best_checkpoint"]


def test_deep_teacher_to_two_layer_student_logs_and_draws_the_attention_map(tmp_path, deep_teacher):
    logs = tmp_path / "logs"
    result = run_fit("--config", config("synthetic/student_mlp.yaml"), "--config", config("methods/abkd.yaml"),
                     f"--model.init_args.teacher={deep_teacher}", "--trainer.max_epochs=4",
                     f"--trainer.default_root_dir={tmp_path}", "--trainer.logger=lightning.pytorch.loggers.CSVLogger",
                     f"--trainer.logger.save_dir={logs}")
    png = Path(result["artifacts"]["attention_abkd"])
    assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads(png.with_suffix(".json").read_text())
    final = torch.tensor(saved["final"])
    assert final.shape == (66, 2)  # GCNII: input projection + 64 convolutions + logits; MLP: 1 hidden + logits
    torch.testing.assert_close(final.sum(1), torch.ones(66))
    assert len(saved["history"]) == 4  # one map per epoch
    with open(next(logs.rglob("metrics.csv"))) as f:
        rows = list(csv.DictReader(f))
    logged = [float(r["attention/abkd/t65_s1"]) for r in rows if r.get("attention/abkd/t65_s1")]
    assert len(logged) == 4 and logged[-1] == pytest.approx(final[65, 1].item(), abs=1e-6)
    assert any(r.get("train/abkd") for r in rows) and any(r.get("train/abkd/entropy") for r in rows)


def test_without_a_logger_the_attention_map_is_kept_in_its_json_only(tmp_path, deep_teacher):
    from graphdistill.callbacks import AttentionMapReport

    class MetricNames(L.Callback):
        def on_fit_end(self, trainer, pl_module) -> None:
            self.names = set(trainer.callback_metrics)

    report, metrics = AttentionMapReport(), MetricNames()
    run_fit("--config", config("synthetic/student_mlp.yaml"), "--config", config("methods/abkd.yaml"),
            f"--model.init_args.teacher={deep_teacher}", "--trainer.max_epochs=2",
            f"--trainer.default_root_dir={tmp_path}", "--trainer.logger=false", callbacks=[report, metrics])
    assert "train/abkd/entropy" in metrics.names and not any(n.startswith("attention/") for n in metrics.names)
    assert len(report.history["abkd"]) == 2 and report.paths["abkd"]
    saved = json.loads(Path(report.paths["abkd"]).with_suffix(".json").read_text())
    assert len(saved["history"]) == 2  # every epoch's map, as with a logger


def test_abkd_with_standardised_kd_config_trains_and_logs_both_terms(tmp_path, deep_teacher):
    """``methods/abkd_kd_standardized.yaml``: ABKD plus standardised logit KD, each term logged
    on its own, attention map drawn."""
    logs = tmp_path / "logs"
    result = run_fit("--config", config("synthetic/student_gcn.yaml"), "--config",
                     config("methods/abkd_kd_standardized.yaml"), f"--model.init_args.teacher={deep_teacher}",
                     "--trainer.max_epochs=3", f"--trainer.default_root_dir={tmp_path}",
                     "--trainer.logger=lightning.pytorch.loggers.CSVLogger", f"--trainer.logger.save_dir={logs}")
    assert Path(result["artifacts"]["attention_abkd"]).exists()
    with open(next(logs.rglob("metrics.csv"))) as f:
        rows = list(csv.DictReader(f))
    kd = [float(r["train/kd"]) for r in rows if r.get("train/kd")]
    abkd = [float(r["train/abkd"]) for r in rows if r.get("train/abkd")]
    assert kd and abkd and len(kd) == len(abkd)
    assert all(v > 0 for v in kd + abkd)
