"""Exporting a trained student for deployment: ONNX (checked with onnxruntime) and TorchScript.

``graphdistill export CKPT --format onnx|torchscript`` (``graphdistill compress`` does it
too) writes the network of a graphdistill checkpoint as a file that runs without
graphdistill: its input is the node feature matrix ``x`` ``[N, F]`` (an MLP) or ``x`` and
``edge_index`` ``[2, E]`` (a GNN; a GCN that reads edge weights also takes ``edge_weight``
``[E]``), its output the logits ``[N, C]``; the node count (and edge count) may vary. An MLP
that reads position features (``position_channels``) takes
them as the last columns of ``x`` (``[N, F + P]``: each node's stored position row
appended to its features); its export writes those stored rows beside the file,
``<name>.positions.npy`` (``[num_nodes, P]`` float32, plain NumPy, rows in the order of the
graph it was trained on: with ``--data.split glnn`` the nodes of the largest connected
component, in their original order), rebuilt from the checkpoint's data record. A node
that is not in that graph gets the mean of its neighbours' rows, zeros if it has none:
the rule graphdistill applies to nodes unseen in training (NOSMOG's). Input dropout and the
sparse feature path are training-time details and are left out; the exported model
computes what the checkpoint computes in eval mode. Before it is written, the file (ONNX in
onnxruntime, TorchScript in its loader) is run on the inputs it was exported with (random
ones, or for an MLP with position features the graph's own first rows) and on a random graph
of another size: its predictions must equal PyTorch's and its logits agree to float32
rounding, so a file that only runs at one graph size is never shipped.
A GNN layer that does not export is named in a one-line error.
"""

from __future__ import annotations

import copy
import io
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from .console import quiet
from .data.datamodule import data_from_fingerprint
from .errors import ConfigError, GraphDistillError
from .models import NodeClassifier
from .training.checkpoint import atomic_write, load_model

FORMATS = {"onnx": ".onnx", "torchscript": ".pt"}
FORMAT_NAMES = {"onnx": "ONNX", "torchscript": "TorchScript"}

#: rows of the graph an MLP with position features is checked on when exported
CHECK_ROWS = 512


class Logits(nn.Module):
    """A node classifier as ``forward(x[, edge_index]) -> logits``: what an exported file holds."""

    def __init__(self, model: NodeClassifier) -> None:
        super().__init__()
        self.model = copy.deepcopy(model).eval()
        self.model.input_dropout = nn.Identity()  # eval-time identity; its sparse path does not export
        self.uses_graph = model.uses_graph
        self.features = model.in_channels

    def forward(self, x: Tensor, edge_index: Tensor | None = None, edge_weight: Tensor | None = None) -> Tensor:
        if getattr(self.model, "position_channels", 0):
            return self.model(x[:, :self.features], None, position=x[:, self.features:]).logits
        if edge_weight is not None:
            return self.model(x, edge_index, edge_weight=edge_weight).logits
        return self.model(x, edge_index).logits

    @staticmethod
    def inputs(model: NodeClassifier, data: Any) -> tuple[Tensor, ...]:
        """What the exported file reads for ``data``: the features, with the position features
        appended for an MLP that reads them (the columns ``forward`` splits off), and the edges
        for a GNN."""
        x = data.x.float()
        if getattr(model, "position_channels", 0):
            x = model.encode(x, position=data.position)  # the MLP's own concatenation
        if not model.uses_graph:
            return (x,)
        return (x, data.edge_index, *(data[name].float() for name in model.graph_attributes))


def example_inputs(model: NodeClassifier, num_nodes: int = 64, seed: int = 0) -> tuple[Tensor, ...]:
    """Random features (and a random graph for a GNN) of the model's input width."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(num_nodes, model.input_width(), generator=gen)
    if not model.uses_graph:
        return (x,)
    edge_index = torch.randint(0, num_nodes, (2, 4 * num_nodes), generator=gen)
    weights = [torch.rand(edge_index.size(1), generator=gen) for _ in model.graph_attributes]  # edge_weight
    return x, edge_index, *weights


def export_model(model: NodeClassifier, path: str | Path, fmt: str,
                 inputs: tuple[Tensor, ...] | None = None) -> dict[str, Any]:
    """Write ``model`` to ``path`` as ``fmt`` (``onnx`` or ``torchscript``), atomically, once the
    file is checked against PyTorch (in onnxruntime, or TorchScript's loader) on ``inputs``
    (default: random inputs of the right width) and on a random graph of another size
    (:func:`_check_export`); a file that fails is not written. Returns what was written and
    checked."""
    if fmt not in FORMATS:
        raise ConfigError(f"Unknown export format {fmt!r}: use onnx or torchscript.")
    if model.uses_graph and set(model.graph_attributes) - {"edge_weight"}:
        raise ConfigError(f"{type(model).__name__} also reads {', '.join(model.graph_attributes)}; export supports "
                          "models of (x, edge_index[, edge_weight]) only (and MLPs with position features).")
    wrapper = Logits(model)
    inputs = inputs or example_inputs(model)
    with torch.no_grad():
        expected = wrapper(*inputs)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = ["x", "edge_index", "edge_weight"][: len(inputs)]
    buffer = io.BytesIO()
    if fmt == "torchscript":
        try:
            with torch.no_grad(), quiet():
                scripted = torch.jit.trace(wrapper, inputs, check_trace=False)
            torch.jit.save(scripted, buffer)  # a traced Python call fails only here
        except Exception as err:  # noqa: BLE001 - a layer that does not trace: one line
            raise ConfigError(_cannot(model, "TorchScript", err)) from None
    else:
        dims: dict[str, Any] = {"x": {0: torch.export.Dim("num_nodes", min=2)}}
        if len(inputs) > 1:
            edges = torch.export.Dim("num_edges", min=2)
            dims["edge_index"] = {1: edges}
            if len(inputs) > 2:
                dims["edge_weight"] = {0: edges}
        try:
            # the exporter's informational logging (missing torchvision ops, graph dumps) off
            with quiet("torch.onnx", "torch.export", "torch._dynamo", "onnxscript", "onnx_ir"):
                program = torch.onnx.export(wrapper, inputs, input_names=names, output_names=["logits"],
                                            dynamic_shapes=dims, dynamo=True, verbose=False)
        except Exception as err:  # noqa: BLE001 - a layer that does not export: one line
            raise ConfigError(_cannot(model, "ONNX", err)) from None
        program.save(buffer)
    # checked before it takes the name: on its own inputs, and on a graph of another size (a trace
    # that fixed the size is refused)
    checked = path.with_name(f".{path.name}.unchecked{os.getpid()}")
    atomic_write(checked, lambda f: f.write(buffer.getvalue()))
    other = example_inputs(model, num_nodes=int(inputs[0].size(0)) + 37, seed=1)
    try:
        result = _check_export(checked, fmt, model, [(inputs, expected), (other, None)], wrapper)
        os.replace(checked, path)
    finally:
        checked.unlink(missing_ok=True)
    return {"path": str(path), "format": fmt, **result}


def _check_export(path: Path, fmt: str, model: NodeClassifier, cases: list, wrapper: nn.Module) -> dict[str, Any]:
    """The exported file run (in onnxruntime, or TorchScript's loader) on each ``(inputs, expected logits)``
    (``None``: computed here): the same predictions as PyTorch and logits within float32 rounding, ``1e-5`` of
    the largest logit (at least ``1e-5``; sums over thousands of input features differ in their last bits
    between runtimes). Returns ``max_abs_diff`` and ``same_predictions`` on the first case; else one line."""
    loaded = torch.jit.load(str(path)) if fmt == "torchscript" else None
    found = []
    for i, (inputs, expected) in enumerate(cases):
        with torch.no_grad():
            expected = wrapper(*inputs) if expected is None else expected
            try:
                got = loaded(*inputs) if loaded is not None else torch.as_tensor(run_onnx(path, inputs))
            except Exception as err:  # noqa: BLE001 - e.g. a trace that fixed the graph's size
                lines = [line for line in str(err).splitlines() if line.strip()]
                got, failure = None, _first_words(lines[-1] if lines else err, 160)  # the error, not its trace
        if got is not None:
            diff, same = float((got - expected).abs().max()), bool(torch.equal(got.argmax(-1), expected.argmax(-1)))
            tolerance = 1e-5 * max(1.0, float(expected.abs().max()))
            failure = None if same and diff <= tolerance else (f"largest logit difference {diff:.2e}, allowed "
                                                               f"{tolerance:.1e}")
            found.append({"max_abs_diff": diff, "same_predictions": same})
        if failure:
            what = "the inputs it was exported with" if i == 0 else "a graph of another size"
            raise ConfigError(f"The {FORMAT_NAMES[fmt]} export of {type(model).__name__} does not reproduce PyTorch "
                              f"on {what} ({failure}); use the other format, or export an MLP student.")
    return found[0]


def _first_words(err: Exception | str, limit: int = 200) -> str:
    """An exception's message on one line, without the exporter's terminal colours."""
    return " ".join(re.sub(r"\x1b\[[0-9;]*m", "", str(err)).split())[:limit]


def run_onnx(path: str | Path, inputs: tuple[Tensor, ...]) -> Any:
    """The logits an ONNX file gives in onnxruntime (CPU) for ``inputs``."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {arg.name: t.numpy() for arg, t in zip(session.get_inputs(), inputs)}
    return session.run(None, feeds)[0]


def onnx_latency(path: str | Path, model: NodeClassifier, data: Any, repeats: int = 10, warmup: int = 3,
                 nodes: torch.Tensor | None = None) -> dict[str, float]:
    """Median inference time of an exported ONNX file in onnxruntime (CPU): on the whole graph, or
    for a graph-free model on the rows ``nodes`` only (what a deployed MLP reads)."""
    import statistics
    import time

    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inputs = Logits.inputs(model, data)
    if nodes is not None:
        if model.uses_graph:
            raise ValueError("onnx_latency: rows of nodes only for a graph-free model")
        inputs = (inputs[0][nodes],)
    feeds = {arg.name: t.cpu().numpy() for arg, t in zip(session.get_inputs(), inputs)}
    times = []
    for i in range(warmup + repeats):
        start = time.perf_counter()
        session.run(None, feeds)
        if i >= warmup:
            times.append(1000 * (time.perf_counter() - start))
    return {"full_ms" if nodes is None else "batch_ms": statistics.median(times), "device": "cpu (onnxruntime)"}


def export_checkpoint(ckpt: str | Path, fmt: str, out: str | Path | None = None, data: Any = None,
                      root: str | Path | None = None) -> dict[str, Any]:
    """Export the network of a graphdistill checkpoint (read weights-only, classes from the
    allow-list) as ``fmt``; ``out`` defaults to the checkpoint's path with the format's suffix.
    An MLP that reads position features is exported with them (see the module docstring):
    from ``data`` if given, else from the graph its checkpoint names (under ``root``), and the
    file is checked on that graph's own rows. The result names them (``positions``)."""
    loaded = load_model(ckpt, role="checkpoint to export")
    target = Path(out) if out else Path(ckpt).with_suffix(FORMATS.get(fmt, ".out"))
    if not getattr(loaded.model, "position_channels", 0):
        result = export_model(loaded.model, target, fmt)
    else:
        if data is None:
            fingerprint = loaded.record.get("data") or {}
            if not fingerprint.get("positions"):
                raise ConfigError(f"Checkpoint {ckpt} reads position features but does not record how they were "
                                  "made: train it again with graphdistill fit.")
            try:
                data = data_from_fingerprint(fingerprint, root)
            except GraphDistillError as err:  # the loaders name --data.root: the option of fit, not of export
                raise ConfigError(f"The position features of {ckpt} are rebuilt from its graph: {err} (graphdistill "
                                  "export takes the dataset root as --root.)") from None
        result = {**export_student(loaded.model, target, fmt, data), "positions": str(write_positions(target, data))}
    classes = write_class_names(target, loaded.record)
    return {**result, **({"classes": str(classes)} if classes else {})}


def export_student(model: NodeClassifier, target: str | Path, fmt: str, data: Any = None) -> dict[str, Any]:
    """:func:`export_model` for a trained model and its graph ``data``: an MLP that reads position features is
    checked on the graph's own rows (their positions written separately, by :func:`write_positions`)."""
    if not getattr(model, "position_channels", 0):
        return export_model(model, target, fmt)
    return export_model(model, target, fmt, (Logits.inputs(model, data)[0][:CHECK_ROWS],))


def write_positions(exported: str | Path, data: Any) -> Path:
    """Write the graph's stored position rows beside an exported MLP that reads them (see
    :func:`positions_path`), atomically; returns the path."""
    positions = positions_path(exported)
    table = data.position.detach().cpu().float().numpy()
    atomic_write(positions, lambda f: np.save(f, table, allow_pickle=False))
    return positions


def write_class_names(exported: str | Path, record: dict[str, Any]) -> Path | None:
    """For a checkpoint trained on a graph that names its classes (its ``record``'s data
    fingerprint has ``class_names``), write them beside the exported student,
    ``<name>.classes.json`` (a JSON list: logit column ``k`` is class ``names[k]``), atomically,
    and return the path; ``None`` where the graph names none."""
    names = (record.get("data") or {}).get("class_names")
    if not names:
        return None
    path = Path(exported).with_name(f"{Path(exported).stem}.classes.json")
    atomic_write(path, lambda f: f.write(json.dumps(list(names), ensure_ascii=False).encode()))
    return path


def positions_path(exported: str | Path) -> Path:
    """Where the position features of an exported MLP go: ``<name>.positions.npy`` beside it."""
    exported = Path(exported)
    return exported.with_name(f"{exported.stem}.positions.npy")


def _cannot(model: NodeClassifier, what: str, err: Exception) -> str:
    layers = sorted({type(m).__name__ for m in model.modules() if m.__module__.startswith("torch_geometric")})
    where = f" (its PyG layers: {', '.join(layers)})" if layers else ""
    first = _first_words(err)
    return (f"{type(model).__name__}{where} cannot be exported to {what}: {type(err).__name__}: {first}. Try the "
            "other format, or export an MLP student.")
