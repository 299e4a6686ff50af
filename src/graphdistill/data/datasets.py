"""Loading node-classification graphs from disk, with no network access by default.

Every dataset lives under one ``root`` in the layout PyG's and OGB's own loaders use
(the layout of ``shared/datasets``)::

    root/planetoid/{Cora,CiteSeer,PubMed}/raw/ind.<name>.{x,tx,allx,y,ty,ally,graph,test.index}
    root/amazon/{Computers,Photo}/raw/amazon_electronics_<name>.npz
    root/coauthor/{CS,Physics}/raw/ms_academic_<cs|phy>.npz
    root/ogb/ogbn_<name>/{raw,split,RELEASE_v1.txt}         (OGB's own download layout)

Loaders write ``processed/`` next to ``raw/``. If the dataset's folder is read-only, its
files are first copied into a writable mirror under the cache folder, so a shared,
read-only folder of raw files can be used as ``root`` directly.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

import torch
from torch_geometric.data import Data

from ..errors import ConfigError, DatasetNotFoundError
from .splits import index_to_mask

_PLANETOID_FILES = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")


@dataclass(frozen=True)
class DatasetInfo:
    """Where a dataset lives under ``root`` and how it is evaluated."""

    name: str  # canonical name, e.g. "cora", "ogbn-arxiv"
    family: str  # planetoid | amazon | coauthor | ogb | synthetic
    pyg_name: str  # name the PyG/OGB loader takes
    has_split: bool  # ships an official split
    metric: str = "acc"  # acc | rocauc (multi-label)

    @property
    def folder(self) -> str:
        """Sub-folder of ``root/<family>`` holding the dataset."""
        return self.pyg_name.replace("-", "_") if self.family == "ogb" else self.pyg_name

    def raw_files(self) -> list[str]:
        if self.family == "planetoid":
            return [f"ind.{self.pyg_name.lower()}.{s}" for s in _PLANETOID_FILES]
        if self.family == "amazon":
            return [f"amazon_electronics_{self.pyg_name.lower()}.npz"]
        if self.family == "coauthor":
            return [f"ms_academic_{'cs' if self.pyg_name == 'CS' else 'phy'}.npz"]
        if self.name == "ogbn-mag":  # heterogeneous: per-type and per-relation folders
            return ["num-node-dict.csv.gz", "triplet-type-list.csv.gz", "nodetype-has-label.csv.gz"]
        if self.family == "ogb":
            feats = [] if self.name == "ogbn-proteins" else ["node-feat.csv.gz"]
            return ["edge.csv.gz", *feats, "node-label.csv.gz", "num-node-list.csv.gz", "num-edge-list.csv.gz"]
        return []


DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in [
        DatasetInfo("synthetic", "synthetic", "synthetic", has_split=False),
        DatasetInfo("cora", "planetoid", "Cora", has_split=True),
        DatasetInfo("citeseer", "planetoid", "CiteSeer", has_split=True),
        DatasetInfo("pubmed", "planetoid", "PubMed", has_split=True),
        DatasetInfo("amazon-computers", "amazon", "Computers", has_split=False),
        DatasetInfo("amazon-photo", "amazon", "Photo", has_split=False),
        DatasetInfo("coauthor-cs", "coauthor", "CS", has_split=False),
        DatasetInfo("coauthor-physics", "coauthor", "Physics", has_split=False),
        DatasetInfo("ogbn-arxiv", "ogb", "ogbn-arxiv", has_split=True),
        DatasetInfo("ogbn-products", "ogb", "ogbn-products", has_split=True),
        DatasetInfo("ogbn-proteins", "ogb", "ogbn-proteins", has_split=True, metric="rocauc"),
        DatasetInfo("ogbn-mag", "ogb", "ogbn-mag", has_split=True),
    ]
}

_ALIASES = {
    "amazonphoto": "amazon-photo", "photo": "amazon-photo",
    "amazoncomputers": "amazon-computers", "computers": "amazon-computers",
    "coauthorcs": "coauthor-cs", "cs": "coauthor-cs",
    "coauthorphysics": "coauthor-physics", "physics": "coauthor-physics",
    "csbm": "synthetic",
}


def dataset_info(name: str) -> DatasetInfo:
    """Look a dataset up by name, case- and punctuation-insensitively ("Cora", "amazon_photo")."""
    key = name.strip().lower().replace("_", "-").replace(" ", "-")
    squashed = key.replace("-", "")
    for candidate in (key, _ALIASES.get(squashed, ""), *(n for n in DATASETS if n.replace("-", "") == squashed)):
        if candidate in DATASETS:
            return DATASETS[candidate]
    raise ConfigError(f"Unknown dataset {name!r}. Known datasets: {', '.join(DATASETS)}.")


def cache_dir() -> Path:
    """graphdistill's writable cache: ``$GRAPHDISTILL_CACHE`` or the user cache folder."""
    env = os.environ.get("GRAPHDISTILL_CACHE")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("graphdistill"))


def default_root() -> Path:
    """Default dataset root: ``$GRAPHDISTILL_DATA`` or ``<cache>/datasets``."""
    env = os.environ.get("GRAPHDISTILL_DATA")
    return Path(env).expanduser() if env else cache_dir() / "datasets"


def _writable(path: Path) -> bool:
    """Whether ``path`` (or its nearest existing parent) may be written. A folder whose
    permission bits deny writing counts as read-only even for root, who could write anyway."""
    while not path.exists():
        path = path.parent
    return os.access(path, os.W_OK) and bool(path.stat().st_mode & stat.S_IWUSR)


def _family_root(info: DatasetInfo, root: Path) -> Path:
    """``root/<family>``, or a writable mirror of it holding a copy of this dataset's folder."""
    family_root = root / info.family
    dataset_dir = family_root / info.folder
    if _writable(dataset_dir):
        return family_root
    tag = hashlib.sha1(str(family_root.resolve()).encode()).hexdigest()[:10]
    mirror_root = cache_dir() / "mirrors" / tag / info.family
    mirror = mirror_root / info.folder
    if not mirror.exists():
        tmp = mirror.with_name(mirror.name + f".tmp{os.getpid()}")
        shutil.copytree(dataset_dir, tmp, dirs_exist_ok=True)
        for sub in tmp.rglob("*"):
            sub.chmod(sub.stat().st_mode | 0o200)
        tmp.chmod(tmp.stat().st_mode | 0o200)
        try:
            tmp.rename(mirror)
        except OSError:  # another process made it first
            shutil.rmtree(tmp, ignore_errors=True)
    return mirror_root


def _check_raw(info: DatasetInfo, root: Path, download: bool) -> None:
    raw_dir = root / info.family / info.folder / "raw"
    missing = [f for f in info.raw_files() if not (raw_dir / f).exists()]
    if missing and not download:
        raise DatasetNotFoundError(
            f"Dataset {info.name!r} not found: expected {', '.join(info.raw_files())} in {raw_dir} "
            f"(missing: {', '.join(missing)}). Copy the raw files there, point --data.root at a folder "
            "that has them, or pass --data.download true on a machine with internet access."
        )


@dataclass
class LoadedGraph:
    data: Data  # x, edge_index, y ([N] long, or [N, T] float for multi-label), train/val/test_mask
    num_classes: int
    info: DatasetInfo


def load_graph(info: DatasetInfo, root: Path, download: bool = False) -> LoadedGraph:
    """Load a real dataset (everything but ``synthetic``) from ``root``; see the module docstring."""
    root = Path(root).expanduser()
    _check_raw(info, root, download)
    family_root = _family_root(info, root)
    if info.family == "planetoid":
        from torch_geometric.datasets import Planetoid

        ds = Planetoid(str(family_root), info.pyg_name)
        return LoadedGraph(ds[0], ds.num_classes, info)
    if info.family in ("amazon", "coauthor"):
        from torch_geometric.datasets import Amazon, Coauthor

        cls = Amazon if info.family == "amazon" else Coauthor
        ds = cls(str(family_root), info.pyg_name)
        return LoadedGraph(ds[0], ds.num_classes, info)
    if info.family == "ogb":
        return _load_ogb(info, family_root)
    raise ValueError(f"{info.name} is not loaded from disk.")


def _load_ogb(info: DatasetInfo, family_root: Path) -> LoadedGraph:
    from ogb.nodeproppred import PygNodePropPredDataset

    # OGB's loader saves and loads PyG objects with torch.load, which newer torch versions
    # restrict to plain tensors by default; these files are written locally by OGB itself.
    with _trusted_torch_load():
        ds = PygNodePropPredDataset(info.pyg_name, root=str(family_root))
        split = ds.get_idx_split()
    if ds.is_hetero:
        return LoadedGraph(flatten_heterograph(ds[0], split, target="paper"), int(ds.num_classes), info)
    data = ds[0]
    n = data.num_nodes
    if info.metric == "rocauc":
        # ogbn-proteins: multi-label targets and edge features only; node features are the
        # mean of the incident edges' features (the usual choice in OGB baselines).
        from torch_geometric.utils import scatter

        data.x = scatter(data.edge_attr, data.edge_index[0], dim=0, dim_size=n, reduce="mean")
        data.y = data.y.float()
        num_classes = data.y.size(1)
    else:
        data.y = data.y.view(-1)
        num_classes = int(ds.num_classes)
    if info.name == "ogbn-arxiv":  # the citation graph ships directed; train on it undirected
        from torch_geometric.utils import to_undirected

        data.edge_index = to_undirected(data.edge_index, num_nodes=n)
    data.edge_attr = None
    data.train_mask = index_to_mask(split["train"], n)
    data.val_mask = index_to_mask(split["valid"], n)
    data.test_mask = index_to_mask(split["test"], n)
    return LoadedGraph(data, num_classes, info)


class _trusted_torch_load:
    """Temporarily default ``torch.load`` to ``weights_only=False`` (OGB's own cache files)."""

    def __enter__(self) -> None:
        self._orig = torch.load

        def load(*args, **kwargs):
            kwargs.setdefault("weights_only", False)
            return self._orig(*args, **kwargs)

        torch.load = load

    def __exit__(self, *exc) -> None:
        torch.load = self._orig


def flatten_heterograph(hetero: Data, split: dict, target: str) -> Data:
    """OGB's heterogeneous graph (``x_dict``, ``edge_index_dict``, ``num_nodes_dict``,
    ``y_dict``) as one typed node and edge list for relational models (R-GCN).

    Node types are ordered ``target`` first, then the others by name; ``node_type`` and
    ``type_index`` (the index within the type) say where each node came from. ``x`` holds
    the target type's features and zeros elsewhere (featureless types get learnable
    embeddings in the model). Every relation ``r`` also gets its reverse as relation
    ``R + r``, so messages flow both ways (as in OGB's R-GCN baseline). Labels and split
    masks exist for the target type only; ``y`` is ``-1`` elsewhere, and ``target_mask``
    marks the target nodes (distillation losses cover those only).
    """
    counts = {t: int(n) for t, n in hetero.num_nodes_dict.items()}
    types = [target, *sorted(t for t in counts if t != target)]
    offsets, total = {}, 0
    for t in types:
        offsets[t], total = total, total + counts[t]
    features = hetero.x_dict[target]
    x = torch.zeros(total, features.size(1), dtype=torch.float)
    x[: counts[target]] = features.float()
    node_type = torch.cat([torch.full((counts[t],), i, dtype=torch.long) for i, t in enumerate(types)])
    type_index = torch.cat([torch.arange(counts[t]) for t in types])
    relations = sorted(hetero.edge_index_dict)
    edges, edge_types = [], []
    for r, (src_type, _, dst_type) in enumerate(relations):
        ei = hetero.edge_index_dict[(src_type, _, dst_type)]
        forward = torch.stack([ei[0] + offsets[src_type], ei[1] + offsets[dst_type]])
        edges += [forward, forward.flip(0)]
        edge_types += [torch.full((ei.size(1),), r), torch.full((ei.size(1),), len(relations) + r)]
    y = torch.full((total,), -1, dtype=torch.long)
    y[: counts[target]] = hetero.y_dict[target].view(-1)
    data = Data(x=x, edge_index=torch.cat(edges, 1), y=y, num_nodes=total, node_type=node_type,
                type_index=type_index, edge_type=torch.cat(edge_types))
    data.train_mask = index_to_mask(torch.as_tensor(split["train"][target]), total)
    data.val_mask = index_to_mask(torch.as_tensor(split["valid"][target]), total)
    data.test_mask = index_to_mask(torch.as_tensor(split["test"][target]), total)
    data.target_mask = node_type == 0
    return data
