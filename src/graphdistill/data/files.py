"""Your own graph: node-classification graphs read from a user's files.

``--data.dataset`` takes a path to one of:

* a ``.pt`` file holding a PyG ``Data`` (or a dict of tensors) saved with ``torch.save``:
  ``x``, ``edge_index``, ``y``; optional ``train_mask``/``val_mask``/``test_mask`` and
  ``edge_weight``. It is read weights-only (PyG's data classes allowed): a file that
  would build anything else is refused;
* an ``.npz`` in the layout of the Shchur et al. (2018) / CPF benchmark files, the format
  GLNN and CPF ship their data in: ``adj_data, adj_indices, adj_indptr, adj_shape`` (the
  adjacency as CSR), ``attr_data, attr_indices, attr_indptr, attr_shape`` (sparse features)
  or ``attr_matrix`` (dense), and ``labels``. Read without pickles;
* a folder with ``nodes.csv`` or ``nodes.parquet`` and ``edges.csv`` or ``edges.parquet``.
  Nodes: an ``id`` column (any values, unique: they need not be ``0..N-1``), a ``label``
  column (integer classes, or class names; empty or ``-1``: unlabelled) or, multi-label, a list-valued
  ``labels`` column (0/1 per task; empty: unlabelled), an optional ``split`` column
  (``train``/``val``/``test``, empty for none) and the features: every other column, or one
  list-valued column named ``features`` (in CSV, numbers separated by spaces or commas,
  brackets optional). Edges: ``source`` and ``target`` (node ids) and an optional
  ``weight``. Node order is the order of the rows.

Labels are integers ``0..C-1`` (``C`` = the largest label + 1); ``-1`` marks an unlabelled
node, which is never in a split but is seen by the teacher and by distillation. A ``label``
column that holds names (``Theory``, ``Neural_Networks``) numbers the classes in the sorted
order of the names, and the graph keeps them as ``data.class_names`` (class ``k`` is the
``k``-th name; a ``.pt`` file may carry the same list as ``class_names``); ``compress``
writes them beside the exported student. A graph may
instead hold **multi-label** targets, ``y`` (``labels``; a ``labels`` column in node tables) of
shape ``[N, T]`` with 0/1 entries: the task becomes T binary ones, trained with binary
cross-entropy and scored by the ROC-AUC averaged over the tasks (as on ogbn-proteins). A node
may be labelled in some tasks only: ``-1`` (or NaN) marks a task whose target is unknown
there, kept as ``-1`` in ``y``, left out of the loss and the score; a row of ``-1`` (an empty
``labels`` cell) is an unlabelled node, never in a split. Such a graph has no
per-class split: give masks, or a ratio split (``--data.split 0.6,0.2,0.2``, drawn over the
labelled nodes, not stratified). Unless
``undirected=False``, every edge is made to go both ways; duplicate edges are merged
(weights summed). Edges already undirected and unique keep the file's order. Every
problem with a file is one :class:`~graphdistill.errors.DatasetFileError` line that
names the file and what to fix; nothing is written while reading.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data

from ..errors import ConfigError, DatasetFileError, DatasetNotFoundError

GRAPH_FILE_SUFFIXES = (".pt", ".pth", ".npz")
_TABLE_SUFFIXES = (".csv", ".parquet")
_SPLIT_VALUES = {"train": "train_mask", "val": "val_mask", "valid": "val_mask", "validation": "val_mask",
                 "test": "test_mask"}


def looks_like_path(name: str) -> bool:
    """Whether a ``--data.dataset`` value names a file or folder rather than a built-in dataset."""
    path = Path(name).expanduser()
    return "/" in name or "\\" in name or path.suffix.lower() in GRAPH_FILE_SUFFIXES or path.exists()


def graph_files(path: Path) -> list[Path]:
    """The files a graph is read from: the file itself, or a folder's node and edge tables."""
    if path.is_dir():
        return [_table(path, "nodes"), _table(path, "edges")]
    return [path]


def content_sha256(path: Path) -> str:
    """SHA-256 over the content of every file the graph is read from (names included)."""
    digest = hashlib.sha256()
    for file in graph_files(path):
        digest.update(file.name.encode())
        with open(file, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def read_graph_file(path: str | Path, undirected: bool = True) -> tuple[Data, int]:
    """The graph in ``path`` (see the module docstring) and its number of classes."""
    path = Path(path).expanduser()
    if not path.exists():
        raise DatasetNotFoundError(f"Graph file {path} not found: give a .pt, .npz or a folder with nodes.csv|parquet "
                                   "and edges.csv|parquet, or a built-in dataset name.")
    suffix = path.suffix.lower()
    if path.is_dir():
        raw = _read_tables(path)
    elif suffix in (".pt", ".pth"):
        raw = _read_pt(path)
    elif suffix == ".npz":
        raw = _read_npz(path)
    elif path.stem in ("nodes", "edges") and path.suffix.lower() in _TABLE_SUFFIXES:
        raise ConfigError(f"{path} is one of the graph's two tables: give the folder that holds nodes and edges, "
                          f"--data.dataset {path.parent}/")
    else:
        raise ConfigError(f"Cannot read a graph from {path}: use a .pt file (PyG Data), an .npz (Shchur/CPF layout) "
                          "or a folder with nodes.csv|parquet and edges.csv|parquet.")
    return _assemble(path, undirected=undirected, **raw)


# ---------------------------------------------------------------------------- readers
def pyg_safe_globals() -> list:
    """The classes a PyG or OGB processed file (or a saved ``Data``) may name: PyG's data and
    storage classes; anything else is refused by ``torch.load(weights_only=True)``."""
    from torch_geometric.data import HeteroData
    from torch_geometric.data.data import DataEdgeAttr, DataTensorAttr
    from torch_geometric.data.storage import BaseStorage, EdgeStorage, GlobalStorage, NodeStorage

    return [Data, HeteroData, DataEdgeAttr, DataTensorAttr, BaseStorage, EdgeStorage, GlobalStorage, NodeStorage]


def _read_pt(path: Path) -> dict[str, Any]:
    try:
        with torch.serialization.safe_globals(pyg_safe_globals()):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - refused or unreadable: one line
        raise DatasetFileError(f"{path} does not load as plain data ({type(err).__name__}: "
                               f"{_first_line(err)}): save a torch_geometric Data or a dict of tensors with "
                               "torch.save.") from None
    if isinstance(obj, Data):
        obj = {key: obj[key] for key in obj.keys()}
    if not isinstance(obj, dict):
        raise DatasetFileError(f"{path} holds a {type(obj).__name__}: save a torch_geometric Data (or a dict) with "
                               "x, edge_index and y.")
    missing = [k for k in ("x", "edge_index", "y") if obj.get(k) is None]
    if missing:
        raise DatasetFileError(f"{path} has no {', '.join(missing)}: a graph needs x (features), edge_index and y "
                               f"(labels); found {', '.join(map(str, obj)) or 'nothing'}.")
    masks = {k: obj[k] for k in ("train_mask", "val_mask", "test_mask") if obj.get(k) is not None}
    if masks and len(masks) < 3:
        raise DatasetFileError(f"{path} has {', '.join(masks)} but not all of train_mask, val_mask and test_mask: "
                               "give all three or none (a seeded split is drawn then).")
    edge_index = torch.as_tensor(obj["edge_index"])
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise DatasetFileError(f"{path}: edge_index must have shape [2, num_edges], got {list(edge_index.shape)}.")
    return {"x": torch.as_tensor(obj["x"]), "source": edge_index[0], "target": edge_index[1],
            "labels": torch.as_tensor(obj["y"]), "masks": masks,
            "edge_weight": None if obj.get("edge_weight") is None else torch.as_tensor(obj["edge_weight"]),
            "class_names": obj.get("class_names")}


def _read_npz(path: Path) -> dict[str, Any]:
    try:
        arrays = np.load(path, allow_pickle=False)
        keys = set(arrays.files)
    except Exception as err:  # noqa: BLE001
        raise DatasetFileError(f"{path} is not a readable .npz ({type(err).__name__}: {_first_line(err)}).") from None
    adjacency = ("adj_data", "adj_indices", "adj_indptr", "adj_shape")
    missing = [k for k in (*adjacency, "labels") if k not in keys]
    if not {"attr_matrix", "attr_data"} & keys:
        missing.append("attr_data/attr_indices/attr_indptr/attr_shape or attr_matrix")
    if missing:
        raise DatasetFileError(f"{path} lacks {', '.join(missing)} (the Shchur et al. / CPF layout); it has "
                               f"{', '.join(sorted(keys)) or 'no arrays'}.")
    try:
        import scipy.sparse as sp

        adj = sp.csr_matrix((arrays["adj_data"], arrays["adj_indices"], arrays["adj_indptr"]),
                            shape=tuple(arrays["adj_shape"])).tocoo()
        if "attr_matrix" in keys:
            x = np.asarray(arrays["attr_matrix"])
        else:
            x = sp.csr_matrix((arrays["attr_data"], arrays["attr_indices"], arrays["attr_indptr"]),
                              shape=tuple(arrays["attr_shape"])).toarray()
        labels = np.asarray(arrays["labels"])
    except ValueError as err:  # pickled object arrays, inconsistent CSR arrays
        raise DatasetFileError(f"{path}: the arrays do not form a graph ({_first_line(err)}).") from None
    weights = torch.as_tensor(adj.data, dtype=torch.float)
    return {"x": torch.as_tensor(x), "source": torch.as_tensor(adj.row, dtype=torch.long),
            "target": torch.as_tensor(adj.col, dtype=torch.long), "labels": torch.as_tensor(labels), "masks": {},
            "edge_weight": None if bool((weights == 1).all()) else weights}


def _table(folder: Path, stem: str) -> Path:
    found = [folder / f"{stem}{s}" for s in _TABLE_SUFFIXES if (folder / f"{stem}{s}").is_file()]
    if not found:
        raise DatasetFileError(f"{folder} has no {stem}.csv or {stem}.parquet: a graph folder holds nodes.csv|parquet "
                               "(id, label, features) and edges.csv|parquet (source, target).")
    return found[0]


def _read_table(path: Path):
    import pandas as pd

    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, skipinitialspace=True)
    except ImportError as err:
        raise ConfigError(f"Reading {path} needs pyarrow ({_first_line(err)}): pip install pyarrow.") from None
    except Exception as err:  # noqa: BLE001 - a malformed table: one line naming it
        raise DatasetFileError(f"{path} cannot be read as a table ({type(err).__name__}: "
                               f"{_first_line(err)}).") from None


def _read_tables(folder: Path) -> dict[str, Any]:
    import pandas as pd

    nodes_path, edges_path = _table(folder, "nodes"), _table(folder, "edges")
    nodes, edges = _read_table(nodes_path), _read_table(edges_path)
    nodes.columns = [str(c).strip() for c in nodes.columns]
    edges.columns = [str(c).strip() for c in edges.columns]
    label = "labels" if "labels" in nodes.columns and "label" not in nodes.columns else "label"
    _require_columns(nodes_path, nodes, ["id", label], "an id column, a label column (or a list-valued labels "
                     "column: multi-label) and feature columns")
    _require_columns(edges_path, edges, ["source", "target"], "source and target node ids, optional weight")
    if len(nodes) == 0:
        raise DatasetFileError(f"{nodes_path} has no rows: the graph is empty.")
    ids = pd.Index(nodes["id"])
    if ids.has_duplicates:
        duplicate = _plain(ids[ids.duplicated()][0])
        raise DatasetFileError(f"{nodes_path}: node id {duplicate!r} appears more than once; node ids must be unique.")
    rows = {}
    for column in ("source", "target"):
        rows[column] = ids.get_indexer(edges[column])
        unknown = rows[column] < 0
        if unknown.any():
            first = _plain(edges[column][unknown].iloc[0])
            raise DatasetFileError(f"{edges_path}: {int(unknown.sum())} edges name nodes that are not in "
                                   f"{nodes_path.name} (first: {column} {first!r}); every edge end must be a node id.")
    class_names = None
    if label == "label":
        labels, class_names = _labels(nodes_path, nodes["label"])
    else:
        labels = _vectors(nodes_path, nodes["labels"], "target", empty=-1.0)
    x = _features(nodes_path, nodes.drop(columns=[c for c in ("id", label, "split") if c in nodes.columns]))
    masks = _split_column(nodes_path, nodes["split"]) if "split" in nodes.columns else {}
    weight = None
    if "weight" in edges.columns:
        weight = _numeric(edges_path, edges["weight"], "weight")
    return {"x": x, "source": torch.as_tensor(rows["source"], dtype=torch.long),
            "target": torch.as_tensor(rows["target"], dtype=torch.long), "labels": labels, "masks": masks,
            "edge_weight": weight, "class_names": class_names, "node_ids": ids.to_numpy()}


def _require_columns(path: Path, table, columns: list[str], layout: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        more = ", ..." if len(table.columns) > 12 else ""
        raise DatasetFileError(f"{path} has no column {', '.join(repr(c) for c in missing)} (it has "
                               f"{', '.join(map(repr, table.columns[:12]))}{more}): expected {layout}.")


def _labels(path: Path, column) -> tuple[Tensor, list[str] | None]:
    """Class numbers (``-1``: unlabelled) and, where the column holds names rather than numbers,
    the class names in sorted order (class ``k`` is the ``k``-th)."""
    import pandas as pd

    text = column.astype(str).str.strip()
    empty = column.isna() | (text == "")
    values = pd.to_numeric(column, errors="coerce")
    words = values.isna() & ~empty
    if words.any():  # names: every non-empty cell is one, -1 still means unlabelled
        named = ~empty & (text != "-1")
        numbers = named & ~words
        if numbers.any():
            raise DatasetFileError(f"{path}: the label column mixes class names ({_plain(column[words].iloc[0])!r}) "
                                   f"and numbers ({_plain(column[numbers].iloc[0])!r}); give every class by name or "
                                   "every class by number.")
        names = sorted(set(text[named]))
        number = {name: k for k, name in enumerate(names)}
        return torch.as_tensor(np.array([number[t] if n else -1 for t, n in zip(text, named)], dtype=np.int64)), names
    values = values.fillna(-1)
    bad = values != values.round()
    if bad.any():
        raise DatasetFileError(f"{path}: label {_plain(column[bad].iloc[0])!r} is not a whole number; labels are class "
                               "numbers 0..C-1 or class names (empty or -1 for an unlabelled node).")
    return torch.as_tensor(np.array(values, dtype=np.int64)), None


def _numeric(path: Path, column, name: str) -> Tensor:
    import pandas as pd

    values = pd.to_numeric(column, errors="coerce")
    if values.isna().any():
        raise DatasetFileError(f"{path}: column {name!r} has a value that is not a number "
                               f"({column[values.isna()].iloc[0]!r}).")
    return torch.as_tensor(np.array(values, dtype=np.float32))


def _features(path: Path, table) -> Tensor:
    if table.shape[1] == 0:
        raise DatasetFileError(f"{path} has no feature columns: give numeric columns besides id, label and split, "
                               "or one list-valued column named 'features'.")
    if "features" in table.columns and table.shape[1] == 1:
        return _vectors(path, table["features"], "feature")
    import pandas as pd

    numeric = table.apply(pd.to_numeric, errors="coerce")
    bad = numeric.isna() & table.notna()
    if bad.to_numpy().any():
        column = bad.any().idxmax()
        raise DatasetFileError(f"{path}: feature column {column!r} holds a value that is not a number "
                               f"({table[column][bad[column]].iloc[0]!r}); features must be numbers.")
    return torch.as_tensor(np.array(numeric, dtype=np.float32))


def _vectors(path: Path, column, what: str, empty: float | None = None) -> Tensor:
    """A list-valued column (``features``, multi-label ``labels``) as a ``[N, width]`` matrix: in CSV, numbers
    separated by spaces or commas, brackets optional. With ``empty``, an empty cell is a row of that value."""
    rows = [_vector(v) for v in column]
    if empty is not None:  # an empty cell reads as [] (Parquet) or [nan] (CSV)
        blank = [r is not None and (not r.size or bool(np.isnan(r).all())) for r in rows]
        width = next((len(r) for r, b in zip(rows, blank) if r is not None and not b), 1)
        rows = [np.full(width, empty, dtype=np.float32) if b else r for r, b in zip(rows, blank)]
    unread = next((i for i, r in enumerate(rows) if r is None), None)
    if unread is not None:
        raise DatasetFileError(f"{path}: row {unread} of column {column.name!r} is not a list of numbers "
                               f"({column.iloc[unread]!r}); give numbers separated by spaces or commas.")
    widths = [len(r) for r in rows]
    if min(widths) != max(widths):
        bad = next(i for i, w in enumerate(widths) if w != widths[0])
        raise DatasetFileError(f"{path}: the {what} count differs between rows (row 0 has {widths[0]}, row {bad} "
                               f"has {widths[bad]}); every node needs the same number of {what}s.")
    return torch.as_tensor(np.asarray(rows, dtype=np.float32).reshape(len(rows), widths[0]))


def _vector(value) -> np.ndarray | None:
    """One cell of a list-valued column as numbers (``None``: a text cell that does not read as numbers)."""
    if isinstance(value, str):
        parts = [p for p in re.split(r"[\s,;]+", value.strip().strip("[]()")) if p]
        try:
            return np.asarray([float(p) for p in parts], dtype=np.float32)
        except ValueError:
            return None
    return np.asarray(value if value is not None else [], dtype=np.float32).reshape(-1)


def _split_column(path: Path, column) -> dict[str, Tensor]:
    text = column.fillna("").astype(str).str.strip().str.lower()
    unknown = sorted(set(text) - set(_SPLIT_VALUES) - {""})
    if unknown:
        raise DatasetFileError(f"{path}: split value {unknown[0]!r} is not one of train, val, test (or empty).")
    return {mask: torch.as_tensor((text.isin([k for k, m in _SPLIT_VALUES.items() if m == mask])).to_numpy())
            for mask in ("train_mask", "val_mask", "test_mask")}


# ---------------------------------------------------------------------------- checks
def _assemble(path: Path, x: Tensor, source: Tensor, target: Tensor, labels: Tensor, masks: dict[str, Tensor],
              edge_weight: Tensor | None, undirected: bool, class_names: Any = None,
              node_ids: np.ndarray | None = None) -> tuple[Data, int]:
    if x.layout != torch.strided:  # a sparse feature matrix (COO or CSR)
        x = x.to_dense()
    num_nodes = int(labels.size(0)) if labels.dim() else 0
    if num_nodes == 0 or x.numel() == 0:
        raise DatasetFileError(f"{path} holds an empty graph (no nodes or no features).")
    if x.dim() != 2 or x.size(0) != num_nodes:
        raise DatasetFileError(f"{path}: features have shape {list(x.shape)} but there are {num_nodes} labels; give "
                               "one feature row per node.")
    if x.is_complex() or not (x.is_floating_point() or x.dtype in (torch.int64, torch.int32, torch.uint8, torch.bool)):
        raise DatasetFileError(f"{path}: features must be real numbers, got {x.dtype}.")
    x = x.float().contiguous()  # a table's columns come column-major; dropout masks follow memory order
    if not bool(x.isfinite().all()):
        row = int((~x.isfinite()).any(1).nonzero()[0])
        raise DatasetFileError(f"{path}: node {row} has a NaN or infinite feature; replace missing values first "
                               "(for example with 0 or the column mean).")
    if labels.dim() == 2:
        targets, labelled = _multilabel(path, labels)
        return _assemble_graph(path, x, source, target, targets, masks, edge_weight, undirected,
                               labelled), int(labels.size(1))
    if labels.dim() != 1:
        raise DatasetFileError(f"{path}: y must be one integer class per node (shape [N]) or 0/1 targets per task "
                               f"(shape [N, T], multi-label), got shape {list(labels.shape)}.")
    if labels.is_floating_point():
        if not bool((labels.isnan() | (labels == labels.round())).all()):
            raise DatasetFileError(f"{path}: labels must be integers 0..C-1 (-1: unlabelled), found "
                                   f"{float(labels[labels != labels.round()][0])}.")
        labels = labels.nan_to_num(-1)
    labels = labels.long()
    if bool((labels < -1).any()):
        raise DatasetFileError(f"{path}: label {int(labels.min())} is negative; classes are 0..C-1 and -1 marks an "
                               "unlabelled node.")
    labelled = labels >= 0
    if not bool(labelled.any()):
        raise DatasetFileError(f"{path}: no node has a label; give classes 0..C-1 in y / label.")
    num_classes = int(labels.max()) + 1
    data = _assemble_graph(path, x, source, target, labels, masks, edge_weight, undirected, labelled)
    if class_names is not None:
        if (not isinstance(class_names, (list, tuple)) or not all(isinstance(n, str) for n in class_names)
                or len(set(class_names)) != len(class_names) or len(class_names) != num_classes):
            raise DatasetFileError(f"{path}: class_names must be a list of distinct strings, one per class "
                                   f"({num_classes} classes), got {str(class_names)[:80]}.")
        data.class_names = list(class_names)
    if node_ids is not None:
        data.node_id = node_ids  # a node table's ids (the data module keeps them aside, for predictions)
    return data, num_classes


def _multilabel(path: Path, labels: Tensor) -> tuple[Tensor, Tensor]:
    """Multi-label targets ``[N, T]`` as float 0/1 with ``-1`` where a task's target is unknown (``-1`` or NaN in
    the file), and which nodes are labelled (in at least one task), or one line naming the problem."""
    if labels.size(1) == 0:
        raise DatasetFileError(f"{path}: multi-label y has no task (shape {list(labels.shape)}).")
    values = labels.float().nan_to_num(-1.0)
    missing = values == -1
    known = values[~missing]
    if not bool(((known == 0) | (known == 1)).all()):
        bad = known[(known != 0) & (known != 1)][0]
        raise DatasetFileError(f"{path}: multi-label targets must be 0 or 1 (or -1 where a task's target is "
                               f"unknown), found {float(bad)}.")
    labelled = ~missing.all(1)
    if not bool(labelled.any()):
        raise DatasetFileError(f"{path}: no node is labelled; give 0/1 targets for some nodes.")
    return values, labelled


def _assemble_graph(path: Path, x: Tensor, source: Tensor, target: Tensor, labels: Tensor,
                    masks: dict[str, Tensor], edge_weight: Tensor | None, undirected: bool, labelled: Tensor) -> Data:
    """The graph from checked features and labels: edges checked, made undirected, merged."""
    from torch_geometric.utils import coalesce, to_undirected

    num_nodes = int(labels.size(0))
    source, target = source.long().view(-1), target.long().view(-1)
    if source.numel() and (int(torch.minimum(source, target).min()) < 0
                           or int(torch.maximum(source, target).max()) >= num_nodes):
        raise DatasetFileError(f"{path}: an edge names node {int(torch.maximum(source, target).max())}, but the graph "
                               f"has nodes 0..{num_nodes - 1}; every edge end must be a node.")
    edge_index = torch.stack([source, target])
    if edge_weight is not None:
        edge_weight = edge_weight.float().view(-1)
        if edge_weight.numel() != edge_index.size(1) or not bool(edge_weight.isfinite().all()):
            raise DatasetFileError(f"{path}: edge weights must be one finite number per edge.")
    if undirected:
        merged, merged_weight = to_undirected(edge_index, edge_weight, num_nodes=num_nodes)
    else:
        merged, merged_weight = coalesce(edge_index, edge_weight, num_nodes=num_nodes)
    if merged.size(1) != edge_index.size(1) or coalesce(edge_index, num_nodes=num_nodes).size(1) != merged.size(1):
        # edges were added or merged; else the file's edges are kept in the file's order, so a
        # graph exported from a loader trains bit for bit as it did there
        edge_index, edge_weight = merged, merged_weight
    data = Data(x=x, edge_index=edge_index, y=labels, num_nodes=num_nodes)
    if edge_weight is not None:
        data.edge_weight = edge_weight
    for name, mask in masks.items():
        mask = torch.as_tensor(mask).view(-1)
        if mask.numel() != num_nodes:
            raise DatasetFileError(f"{path}: {name} has {mask.numel()} entries for {num_nodes} nodes.")
        data[name] = mask.bool() & labelled  # an unlabelled node is never in a split
    return data


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (so messages show 500, not np.int64(500))."""
    return value.item() if isinstance(value, np.generic) else value


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:200] if text else type(err).__name__


def save_graph(data: Data, path: str | Path, tables: str = "csv", ids: Any = None) -> Path:
    """Write ``data`` (``x``, ``edge_index``, ``y``, optional masks and ``edge_weight``) in
    the format ``path`` names: ``.pt``, ``.npz`` (Shchur/CPF layout; no split), else a folder
    of node and edge tables in the ``tables`` format (``csv``, or ``parquet`` with one
    list-valued ``features`` column), the masks as a ``split`` column and ``ids`` as the
    node ids (default ``0..N-1``). The inverse of :func:`read_graph_file`; written to a
    temporary name, then renamed into place."""
    import os
    import shutil

    import pandas as pd

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    x, y, ei = data.x.cpu(), data.y.cpu(), data.edge_index.cpu()
    masks = {k: data[k].cpu() for k in ("train_mask", "val_mask", "test_mask") if k in data}
    weight = data.edge_weight.cpu() if "edge_weight" in data else None
    if path.suffix in (".pt", ".pth"):
        names = getattr(data, "class_names", None)
        torch.save({"x": x, "edge_index": ei, "y": y, **masks, **({"edge_weight": weight} if weight is not None
                                                                   else {}),
                    **({"class_names": list(names)} if names is not None else {})}, tmp)
    elif path.suffix == ".npz":
        import scipy.sparse as sp

        n = int(data.num_nodes)
        values = weight.numpy() if weight is not None else np.ones(ei.size(1), dtype=np.float32)
        adj = sp.csr_matrix((values, (ei[0].numpy(), ei[1].numpy())), shape=(n, n))
        attr = sp.csr_matrix(x.numpy())
        with open(tmp, "wb") as f:
            np.savez(f, adj_data=adj.data, adj_indices=adj.indices, adj_indptr=adj.indptr, adj_shape=adj.shape,
                     attr_data=attr.data, attr_indices=attr.indices, attr_indptr=attr.indptr, attr_shape=attr.shape,
                     labels=y.numpy())
    elif tables in ("csv", "parquet"):
        ids = np.arange(int(data.num_nodes)) if ids is None else np.asarray(ids)
        if y.dim() == 2:  # multi-label: one list-valued labels column
            targets = [" ".join(f"{v:g}" for v in row) for row in y.tolist()] if tables == "csv" else list(y.numpy())
            nodes = pd.DataFrame({"id": ids, "labels": targets})
        else:
            names = getattr(data, "class_names", None)
            labels = y.numpy() if names is None else np.array([names[k] if k >= 0 else "" for k in y.tolist()],
                                                              dtype=object)
            nodes = pd.DataFrame({"id": ids, "label": labels})
        if masks:
            nodes["split"] = np.select([masks["train_mask"].numpy(), masks["val_mask"].numpy(),
                                        masks["test_mask"].numpy()], ["train", "val", "test"], "")
        if tables == "parquet":
            nodes["features"] = list(x.numpy())
        else:
            nodes = pd.concat([nodes, pd.DataFrame(x.numpy(), columns=[f"x{i}" for i in range(x.size(1))])], axis=1)
        edges = pd.DataFrame({"source": ids[ei[0].numpy()], "target": ids[ei[1].numpy()]})
        if weight is not None:
            edges["weight"] = weight.numpy()
        tmp.mkdir(parents=True)
        for name, table in (("nodes", nodes), ("edges", edges)):
            if tables == "parquet":
                table.to_parquet(tmp / f"{name}.parquet", index=False)
            else:
                table.to_csv(tmp / f"{name}.csv", index=False)
        if path.exists():
            shutil.rmtree(path)
    else:
        raise ConfigError(f"Cannot write graph tables as {tables!r}: use csv or parquet.")
    os.replace(tmp, path)
    return path
