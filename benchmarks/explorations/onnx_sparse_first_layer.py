"""Probe: can an exported ONNX MLP read sparse (bag-of-words) features faster than the dense matrix?

graphdistill's PyTorch MLP multiplies sparse features as a CSR matrix; its ONNX export multiplies the dense
``[N, F]`` matrix, which on the bag-of-words graphs makes a whole-graph pass in onnxruntime slower than in
PyTorch. ONNX has no sparse matrix product among its standard operators, so a sparse first layer has to be
built from gathers: this probe times the first layer (``F`` to the student's width) on each graph's real
features in onnxruntime, one thread, exported by ``torch.onnx.export`` (dynamo) as graphdistill exports:

* ``dense``: ``x @ W`` (what the export does now);
* ``csr``: the CSR arrays; each non-zero's weight row gathered and scaled, summed per node by an index-add
  (ScatterND); the rows of the non-zeros from ``indptr`` by a scatter and a cumulative sum;
* ``padded``: each node's non-zeros padded to the longest row (``[N, K]`` indices and values); the weight rows
  gathered to ``[N, K, H]`` and reduced by a batched matrix product ``[N, 1, K] @ [N, K, H]``;
* ``pytorch_csr``: PyTorch's own sparse CSR product, for reference.

Interleaved rounds (every variant once per round, the median of 5 runs after 1 warm-up); each column the
median over rounds::

    python benchmarks/explorations/onnx_sparse_first_layer.py --root ../shared/datasets
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from graphdistill.config_files import read_yaml, resolve_config
from graphdistill.data import NodeDataModule
from graphdistill.reporting.tables import markdown_table, run_header, write_report

REPO = Path(__file__).resolve().parents[2]


def _width(dataset: str) -> int:
    """The hidden width of ``configs/<dataset>/student_mlp_positions.yaml`` (the README's latency students)."""
    spec = read_yaml(resolve_config(f"configs/{dataset}/student_mlp_positions.yaml"), "student config")
    return int(spec["model"]["init_args"]["model"]["init_args"]["hidden_channels"])


class Dense(nn.Module):
    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("weight", weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weight


class Csr(Dense):
    def forward(self, indptr: torch.Tensor, indices: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        starts = indptr[1:-1]  # a 1 where each node's non-zeros start; their cumulative sum is each one's row
        marks = torch.zeros(indices.size(0) + 1, dtype=indptr.dtype).scatter_add(0, starts, torch.ones_like(starts))
        products = self.weight.index_select(0, indices) * values.unsqueeze(1)
        out = torch.zeros(indptr.size(0) - 1, self.weight.size(1))
        return out.index_add(0, marks[:-1].cumsum(0), products)


class Padded(Dense):
    def forward(self, indices: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        rows = self.weight.index_select(0, indices.reshape(-1)).reshape(indices.size(0), indices.size(1), -1)
        return (values.unsqueeze(1) @ rows).squeeze(1)


def _padded(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    counts = (x != 0).sum(1)
    rows, cols = x.nonzero(as_tuple=True)
    slot = torch.arange(rows.numel()) - (torch.cumsum(counts, 0) - counts)[rows]
    indices = torch.zeros(x.size(0), int(counts.max()), dtype=torch.long)
    values = torch.zeros(x.size(0), int(counts.max()))
    indices[rows, slot], values[rows, slot] = cols, x[rows, cols]
    return indices, values


def _session(module: nn.Module, inputs: tuple, names: list[str], dims: dict):
    import onnxruntime as ort

    program = torch.onnx.export(module, inputs, input_names=names, dynamic_shapes=dims, dynamo=True, verbose=False)
    buffer = io.BytesIO()
    program.save(buffer)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])
    feeds = {name: t.numpy() for name, t in zip(names, inputs)}
    return lambda: session.run(None, feeds)[0]


def _median_ms(fn, repeats: int = 5, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(REPO.parent / "shared" / "datasets"))
    parser.add_argument("--datasets", nargs="+", default=["cora", "citeseer", "amazon-photo", "coauthor-cs"])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "onnx_sparse_first_layer.md")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for dataset in args.datasets:
        x = NodeDataModule(dataset, root=args.root, split="glnn", split_seed=0).data.x.float()
        x = x.to_dense() if x.layout != torch.strided else x
        width = _width(dataset)
        weight = torch.randn(x.size(1), width, generator=torch.Generator().manual_seed(0)) * 0.05
        expected = x @ weight
        csr = x.to_sparse_csr()
        arrays = tuple(t.clone() for t in (csr.crow_indices(), csr.col_indices(), csr.values()))
        padded = _padded(x)
        nodes, nonzeros, longest = torch.export.Dim("n", min=2), torch.export.Dim("z", min=2), torch.export.Dim("k")
        variants = {
            "dense": _session(Dense(weight), (x,), ["x"], {"x": {0: nodes}}),
            "csr": _session(Csr(weight), arrays, ["indptr", "indices", "values"],
                            {"indptr": {0: nodes + 1}, "indices": {0: nonzeros}, "values": {0: nonzeros}}),
            "padded": _session(Padded(weight), padded, ["indices", "values"],
                               {"indices": {0: nodes, 1: longest}, "values": {0: nodes, 1: longest}}),
            "pytorch_csr": lambda csr=csr, weight=weight: (csr @ weight).numpy(),
        }
        for name, run in variants.items():  # each computes the same layer
            assert torch.allclose(torch.as_tensor(run()), expected, atol=1e-4), (dataset, name)
        times: dict[str, list[float]] = {name: [] for name in variants}
        for r in range(args.rounds):
            for name, run in variants.items():
                times[name].append(_median_ms(run))
            print(f"{dataset} round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in times.items()), flush=True)
        med = {k: statistics.median(v) for k, v in times.items()}
        rows.append([dataset, f"{x.size(0):,} x {x.size(1):,} -> {width}",
                     f"{100 * float((x != 0).float().mean()):.2f}", f"{int(padded[0].size(1))}",
                     *(f"{med[k]:.2f}" for k in variants),
                     *(f"{med['dense'] / med[k]:.2f}x" for k in ("csr", "padded"))])
    text = run_header("Probe: a sparse first layer in the exported ONNX MLP") + f"""
The first layer of the MLP student on each graph's real node features (glnn split's largest connected component,
random weights of the student's width: the cost does not depend on what they learned), exported with
`torch.onnx.export` (dynamo) and run in onnxruntime's CPU provider, 1 thread; `pytorch_csr` is PyTorch's
sparse CSR product. {args.rounds} interleaved rounds, each time the median of 5 runs after 1 warm-up, each
column the median over rounds (ms). Variants: see the script's docstring.

{markdown_table(["dataset", "nodes x features -> width", "non-zero %", "longest row", "dense ms", "csr ms",
                 "padded ms", "pytorch_csr ms", "csr speedup over dense", "padded speedup over dense"], rows)}
"""
    write_report(args.out, text)


if __name__ == "__main__":
    main()
