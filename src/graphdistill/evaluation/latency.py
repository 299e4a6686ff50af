"""Inference latency and throughput of trained models: what a smaller student buys at
deployment.

Two measurements on the same graph, in eval mode without gradients, after ``warmup``
untimed repeats, as the median of ``repeats`` timed ones (CUDA synchronised when on GPU):

* ``full_ms``: one forward pass over the whole graph (transductive inference of every
  node); ``nodes_per_s`` is its throughput.
* ``batch_ms``: predicting ``batch_size`` random nodes from scratch (drawn from
  ``candidates`` where given, e.g. the unseen nodes of the inductive setting). A GNN needs
  their ``L``-hop neighbourhood (``L`` = its message-passing layers), extracted and run each
  time; a graph-free MLP reads the nodes' own rows only (features, and stored position
  features where it reads them). This is where an MLP student's advantage shows; with
  ``batch_size=10`` it is GLNN's latency protocol.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import torch
from torch_geometric.data import Data
from torch_geometric.utils import k_hop_subgraph

from ..models import NodeClassifier


def load_model(checkpoint: str | Path) -> NodeClassifier:
    """The network of any graphdistill checkpoint (teacher, student alone, distilled or OAD
    student), rebuilt from its own record, in eval mode."""
    from ..training.checkpoint import load_model as read_model  # the one checkpoint reader

    return read_model(checkpoint).model


def _timed(fn, device: torch.device, repeats: int, warmup: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def timed_nodes(num_nodes: int, batch_size: int, seed: int = 0, candidates: torch.Tensor | None = None
                ) -> torch.Tensor:
    """The ``batch_size`` nodes a batch timing predicts: drawn with ``seed`` from ``candidates``
    (a mask or an index; default every node), so two measurements can time the same nodes."""
    pool = torch.arange(num_nodes) if candidates is None else (
        candidates.nonzero().view(-1) if candidates.dtype == torch.bool else candidates).cpu()
    pick = torch.randperm(pool.numel(), generator=torch.Generator().manual_seed(seed))[:min(batch_size, pool.numel())]
    return pool[pick]


@torch.no_grad()
def inference_latency(model: NodeClassifier, data: Data, device: str | torch.device | None = None,
                      repeats: int = 10, warmup: int = 3, batch_size: int = 1024, seed: int = 0,
                      candidates: torch.Tensor | None = None) -> dict[str, Any]:
    """Median full-graph and per-batch inference time of ``model`` on ``data`` (see module doc)."""
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model = model.to(device).eval()
    inputs = model.inputs(data, device)
    x, edge_index = inputs["x"], inputs["edge_index"]
    n = data.num_nodes
    full = _timed(lambda: model(**inputs), device, repeats, warmup)
    nodes = timed_nodes(n, batch_size, seed, candidates).to(device)
    hops = model.receptive_field

    def one_batch() -> None:
        if edge_index is None:  # graph-free: the nodes' own rows (features, stored positions)
            model(x[nodes], None, **model.part_of(inputs, nodes=nodes))
            return
        subset, sub_edges, _, edge_mask = k_hop_subgraph(nodes, hops, edge_index, relabel_nodes=True, num_nodes=n)
        model(x[subset], sub_edges, **model.part_of(inputs, nodes=subset, edges=edge_mask))

    batch = _timed(one_batch, device, repeats, warmup)
    model.cpu()
    return {"device": str(device), "full_ms": 1000 * full, "nodes_per_s": n / full, "batch_ms": 1000 * batch,
            "batch_size": int(nodes.numel()), "parameters": sum(p.numel() for p in model.parameters())}


def latency_table(teacher_path: str, student_paths: list[str], root: str | None = None,
                  device: str | None = None, repeats: int = 10, warmup: int = 3, batch_size: int = 1024) -> str:
    """A Markdown table (with its provenance header) of :func:`inference_latency` for a
    teacher checkpoint and its students on the teacher's graph, with the speedup over the
    teacher beside the compression."""
    from ..reporting import markdown_table, run_header
    from .analysis import teacher_and_students

    teacher, students, data, graphs = teacher_and_students(teacher_path, student_paths, root)
    rows, first = [], None
    for i, (checkpoint, graph) in enumerate(zip([teacher, *students], [data, *graphs])):
        r = inference_latency(checkpoint.model, graph, device, repeats, warmup, batch_size)
        first = first or r
        rows.append([f"{type(checkpoint.model).__name__}{' teacher' if i == 0 else ''}", f"{r['parameters']:,}",
                     f"{first['parameters'] / r['parameters']:.1f}x", f"{r['full_ms']:.2f}", f"{r['nodes_per_s']:,.0f}",
                     f"{first['full_ms'] / r['full_ms']:.1f}x", f"{r['batch_ms']:.2f}",
                     f"{first['batch_ms'] / r['batch_ms']:.1f}x"])
    return (run_header(f"Inference latency on {data.num_nodes:,} nodes ({first['device']})") + "\n"
            + markdown_table(["model", "params", "compression", "full-graph ms", "nodes/s", "speedup",
                              f"{batch_size}-node batch ms", "speedup"], rows)
            + f"\n\nMedian of {repeats} timed inferences after {warmup} warm-up ones; the batch timing includes "
            "extracting a GNN's L-hop neighbourhood (an MLP reads the nodes' own rows).\n")
