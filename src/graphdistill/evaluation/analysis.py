"""What a student kept of its teacher, and how it holds up: the analyses the seed papers
report, on trained checkpoints.

* :func:`linear_cka`: linear centred kernel alignment between two embeddings of the same
  nodes (1 = identical up to rotation and scale, 0 = unrelated).
* :func:`local_structure_agreement`: Pearson correlation, over the graph's edges, of the
  cosine similarity of each edge's endpoints in the teacher and in the student (does the
  student see the same neighbours as alike?).
* :func:`global_structure_agreement`: Pearson correlation of all pairwise Euclidean
  distances among (up to) ``max_nodes`` sampled nodes.
* :func:`robustness`: test accuracy when a fraction of edges is dropped, or Gaussian noise
  of a fraction of each feature's standard deviation is added, at test time (seeded).

Embeddings compared are the last hidden layers (``hiddens[-1]``) and the logits, in eval
mode; widths may differ (CKA and the similarity structures do not need them equal).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import Data

from ..data.metrics import score
from ..errors import ConfigError
from ..models import ModelOutput, NodeClassifier, count_parameters


def linear_cka(x: Tensor, y: Tensor) -> float:
    """``‖Yᶜᵀ Xᶜ‖²_F / (‖Xᶜᵀ Xᶜ‖_F · ‖Yᶜᵀ Yᶜ‖_F)`` with column-centred ``Xᶜ``, ``Yᶜ`` (Kornblith et al., 2019)."""
    x = (x - x.mean(0)).double()
    y = (y - y.mean(0)).double()
    cross = (y.t() @ x).pow(2).sum()
    return float(cross / ((x.t() @ x).norm() * (y.t() @ y).norm()))


def _pearson(a: Tensor, b: Tensor) -> float:
    a, b = a.double() - a.double().mean(), b.double() - b.double().mean()
    return float((a * b).sum() / (a.norm() * b.norm()))


def local_structure_agreement(student: Tensor, teacher: Tensor, edge_index: Tensor) -> float:
    """Correlation over edges of the endpoints' cosine similarity, teacher vs student."""
    src, dst = edge_index

    def sims(h: Tensor) -> Tensor:
        h = torch.nn.functional.normalize(h, dim=-1)
        return (h[src] * h[dst]).sum(-1)

    return _pearson(sims(student), sims(teacher))


def global_structure_agreement(student: Tensor, teacher: Tensor, max_nodes: int = 1000, seed: int = 0) -> float:
    """Correlation of all pairwise distances among up to ``max_nodes`` sampled nodes."""
    n = student.size(0)
    idx = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:max_nodes]
    iu = torch.triu_indices(idx.numel(), idx.numel(), offset=1)

    def dists(h: Tensor) -> Tensor:
        return torch.cdist(h[idx].double(), h[idx].double())[iu[0], iu[1]]

    return _pearson(dists(student), dists(teacher))


@torch.no_grad()
def _outputs(model: NodeClassifier, data: Data, x: Tensor | None = None,
             edges: tuple[Tensor, Tensor] | None = None) -> ModelOutput:
    """``model``'s outputs on ``data`` (with what else it reads: a position-reading MLP its stored
    positions), in eval mode; ``x`` replaces the graph's features and ``edges``, ``(edge_index, ids)``, its edges
    for a perturbed run: edge ``i`` of ``edge_index`` is the graph's edge ``ids[i]``, whose per-edge inputs (a
    GCN's weights, R-GCN's relation types) it takes."""
    model.eval()
    inputs = model.inputs(data)
    if x is not None:
        inputs["x"] = x
    if edges is not None and model.uses_graph:
        edge_index, ids = edges
        inputs.update(model.part_of(inputs, edges=ids), edge_index=edge_index)
    return model(**inputs)


def _accuracy(logits: Tensor, data: Data) -> float:
    """The test score (accuracy; the ROC-AUC averaged over tasks for multi-label targets)."""
    return score(logits[data.test_mask], data.y[data.test_mask])


@torch.no_grad()
def similarity(student: NodeClassifier, teacher: NodeClassifier, data: Data, max_nodes: int = 1000) -> dict[str, float]:
    """CKA (last hidden layer and logits) and local/global structure agreement."""
    s, t = _outputs(student, data), _outputs(teacher, data)
    result = {"cka_logits": linear_cka(s.logits, t.logits),
              "local_logits": local_structure_agreement(s.logits, t.logits, data.edge_index),
              "global_logits": global_structure_agreement(s.logits, t.logits, max_nodes)}
    if s.hiddens and t.hiddens:
        hs, ht = s.hiddens[-1], t.hiddens[-1]
        result.update(cka_hidden=linear_cka(hs, ht), local_hidden=local_structure_agreement(hs, ht, data.edge_index),
                      global_hidden=global_structure_agreement(hs, ht, max_nodes))
    return result


def drop_edge_pairs(edge_index: Tensor, p: float) -> tuple[Tensor, Tensor]:
    """``(kept edges, their ids in edge_index)``: each pair of opposite edges ``u -> v`` and
    ``v -> u`` (or a lone edge) dropped together with probability ``p`` (from torch's global
    random stream). Each kept edge keeps its own id, so its own per-edge inputs: in a typed
    graph the reverse of an edge has a relation type of its own (``writes`` /
    ``written_by``), which copying the forward edge's would corrupt."""
    lo, hi = torch.minimum(edge_index[0], edge_index[1]), torch.maximum(edge_index[0], edge_index[1])
    pairs, pair_of_edge = torch.unique(torch.stack([lo, hi]), dim=1, return_inverse=True)
    keep = (torch.rand(pairs.size(1)) >= p)[pair_of_edge]
    ids = keep.nonzero().view(-1)
    return edge_index[:, ids], ids


@torch.no_grad()
def robustness(model: NodeClassifier, data: Data, edge_drop: tuple[float, ...] = (0.2, 0.5),
               feature_noise: tuple[float, ...] = (0.5, 1.0), seeds: int = 3) -> dict[str, Any]:
    """Test accuracy, clean and perturbed at test time (mean over ``seeds`` draws). Edge drop
    reaches models that read the graph; position features stay those of the training graph,
    computed once before deployment."""
    result: dict[str, Any] = {"clean": _accuracy(_outputs(model, data).logits, data)}
    scale = data.x.float().std(0, keepdim=True)
    for p in edge_drop:
        accs = []
        for seed in range(seeds):
            torch.manual_seed(seed)
            kept = drop_edge_pairs(data.edge_index, p)
            accs.append(_accuracy(_outputs(model, data, edges=kept).logits, data))
        result[f"edge_drop_{p:g}"] = sum(accs) / len(accs)
    for sigma in feature_noise:
        accs = []
        for seed in range(seeds):
            noise = torch.randn(data.x.shape, generator=torch.Generator().manual_seed(seed)) * scale * sigma
            accs.append(_accuracy(_outputs(model, data, x=data.x + noise).logits, data))
        result[f"feature_noise_{sigma:g}"] = sum(accs) / len(accs)
    return result


def teacher_and_students(teacher_path: str, student_paths: list[str], root: str | None = None
                         ) -> tuple[Any, list[Any], Data, list[Data]]:
    """The teacher checkpoint, the student checkpoints (read through the one checkpoint reader),
    the teacher's graph and split, and each student's: that graph with the position features the
    student was trained with where it reads them (built once per kind and width, so students of
    different positions are each measured on their own); a student trained on other data is
    refused in one line."""
    from ..data.datamodule import data_from_fingerprint, fingerprint_differences
    from ..training.checkpoint import load_model

    teacher = load_model(teacher_path, role="teacher checkpoint")
    teacher_data = teacher.record.get("data") or {}
    students = []
    for path in student_paths:
        student = load_model(path, role="student checkpoint")
        diffs = fingerprint_differences(teacher_data, student.record.get("data") or {}, names=("teacher", "student"))
        if diffs:
            raise ConfigError(f"Student {path} was trained on other data than teacher {teacher_path}: "
                              f"{'; '.join(diffs)}. Compare models of one dataset and split.")
        students.append(student)
    positions = [str((student.record.get("data") or {}).get("positions") or "") for student in students]
    graphs = {"": data_from_fingerprint(teacher_data, root)}
    for key in positions:
        if key not in graphs:
            graphs[key] = data_from_fingerprint({**teacher_data, "positions": key}, root)
    return teacher, students, graphs[""], [graphs[key] for key in positions]


def analyze(teacher_path: str, student_paths: list[str], root: str | None = None,
            edge_drop: tuple[float, ...] = (0.2, 0.5), feature_noise: tuple[float, ...] = (0.5, 1.0),
            seeds: int = 3) -> list[dict[str, Any]]:
    """Similarity to the teacher and robustness of each student checkpoint (and the
    teacher's own robustness, first row), all on the teacher's graph and split."""
    teacher, students, data, graphs = teacher_and_students(teacher_path, student_paths, root)
    rows = [{"checkpoint": str(teacher_path), "model": type(teacher.model).__name__,
             "parameters": count_parameters(teacher.model),
             **robustness(teacher.model, data, edge_drop, feature_noise, seeds)}]
    for path, student, graph in zip(student_paths, students, graphs):
        rows.append({"checkpoint": str(path), "model": type(student.model).__name__,
                     "parameters": count_parameters(student.model), **similarity(student.model, teacher.model, graph),
                     **robustness(student.model, graph, edge_drop, feature_noise, seeds)})
    return rows


ANALYSIS_NOTE = ("CKA, local and global structure agreement with the teacher (1 = same); accuracies in % on the test "
                 "nodes, clean and with a fraction of edges dropped (edge_drop_p) or Gaussian feature noise of a "
                 "fraction of each feature's std (feature_noise_s) at test time, mean over the draws.")


def analysis_cells(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """The columns and cells of an analysis table of :func:`analyze` rows (the teacher first)."""
    keys = measurement_columns(rows)
    cells = [[f"{row['model']} teacher" if i == 0 else row["model"], f"{row['parameters']:,}",
              *(format_measurement(k, row.get(k)) for k in keys)] for i, row in enumerate(rows)]
    return ["model", "params", *keys], cells


def measurement_columns(rows: list[dict[str, Any]]) -> list[str]:
    """The measurement keys of :func:`analyze` rows, in order (taken from a student's row,
    which has the similarity columns the teacher's lacks)."""
    return [k for k in rows[-1] if k not in ("checkpoint", "model", "parameters")]


def format_measurement(key: str, value: float | None) -> str:
    """A table cell: agreements (CKA, local, global) to 3 decimals, accuracies in %."""
    if value is None:
        return "-"
    return f"{value:.3f}" if key.startswith(("cka", "local", "global")) else f"{100 * value:.2f}"
