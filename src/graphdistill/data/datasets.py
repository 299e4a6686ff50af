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
import pickle
import shutil
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch_geometric.data import Data

from ..errors import ConfigError, DatasetFileError, DatasetNotFoundError, GraphDistillError, GraphDistillWarning
from .files import looks_like_path, pyg_safe_globals
from .splits import index_to_mask

_PLANETOID_FILES = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")


@dataclass(frozen=True)
class DatasetInfo:
    """Where a dataset lives under ``root`` and how it is evaluated."""

    name: str  # canonical name, e.g. "cora", "ogbn-arxiv"
    family: str  # planetoid | amazon | coauthor | ogb | synthetic | file (a user's own graph)
    pyg_name: str  # name the PyG/OGB loader takes; for a file, its path
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
    """Look a dataset up by name, case- and punctuation-insensitively ("Cora", "amazon_photo"),
    or describe a user's graph file or folder (a path; see :mod:`graphdistill.data.files`)."""
    key = name.strip().lower().replace("_", "-").replace(" ", "-")
    squashed = key.replace("-", "")
    for candidate in (key, _ALIASES.get(squashed, ""), *(n for n in DATASETS if n.replace("-", "") == squashed)):
        if candidate in DATASETS:
            return DATASETS[candidate]
    if looks_like_path(name):
        path = Path(name).expanduser()
        if not path.exists():
            raise DatasetNotFoundError(f"Graph file {path} not found: give a .pt, .npz or a folder with "
                                       "nodes.csv|parquet and edges.csv|parquet, or a built-in dataset name.")
        return DatasetInfo(str(path.resolve()), "file", str(path.resolve()), has_split=False)
    raise ConfigError(f"Unknown dataset {name!r}. Known datasets: {', '.join(DATASETS)}; or give the path of your "
                      "own graph (.pt, .npz, or a folder with nodes and edges tables).")


def graph_sha256(data: Data) -> str:
    """SHA-256 of a graph's content: features, edges (coalesced, so edge order does not
    count), edge weights, labels and split masks (with the test nodes hidden in the
    inductive setting). Two loaders that give the same graph and split give the same hash;
    it is part of every data fingerprint."""
    from torch_geometric.utils import coalesce

    digest = hashlib.sha256()
    weight = getattr(data, "edge_weight", None)
    edge_index, weight = coalesce(data.edge_index.cpu(), None if weight is None else weight.cpu(),
                                  num_nodes=data.num_nodes)
    for name, t in (("x", data.x), ("edge_index", edge_index), ("edge_weight", weight), ("y", data.y),
                    *((m, getattr(data, m, None)) for m in ("train_mask", "val_mask", "test_mask", "unseen_mask"))):
        if t is None:
            continue
        t = t.detach().cpu().contiguous()
        digest.update(f"{name}{tuple(t.shape)}{t.dtype}".encode())
        if t.numel():
            digest.update(memoryview(t.view(torch.uint8).numpy()))
    return digest.hexdigest()


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
    """``root/<family>``, or a writable mirror of it holding a copy of this dataset's folder.

    The mirror records the size and modification time of every source file; when the
    source changes, the mirror (and the ``processed/`` files made from it) is rebuilt."""
    family_root = root / info.family
    dataset_dir = family_root / info.folder
    if _writable(dataset_dir):
        return family_root
    tag = hashlib.sha1(str(family_root.resolve()).encode()).hexdigest()[:10]
    mirror_root = cache_dir() / "mirrors" / tag / info.family
    mirror = mirror_root / info.folder
    manifest = _manifest(dataset_dir)
    stamp = mirror / _MIRROR_MANIFEST
    if mirror.exists() and stamp.is_file() and stamp.read_text() == manifest:
        return mirror_root
    try:
        mirror_root.mkdir(parents=True, exist_ok=True)
        tmp = mirror.with_name(mirror.name + f".tmp{os.getpid()}")
        shutil.copytree(dataset_dir, tmp, dirs_exist_ok=True)
        for sub in tmp.rglob("*"):
            sub.chmod(sub.stat().st_mode | 0o200)
        tmp.chmod(tmp.stat().st_mode | 0o200)
        (tmp / _MIRROR_MANIFEST).write_text(manifest)
    except OSError as err:
        raise ConfigError(f"Dataset folder {dataset_dir} is read-only and its writable copy under {mirror_root} "
                          f"could not be made ({err.strerror or err}): set GRAPHDISTILL_CACHE to a writable folder "
                          "with free space.") from None
    if mirror.exists():  # stale: the source changed since it was copied
        stale = mirror.with_name(mirror.name + f".stale{os.getpid()}")
        try:
            mirror.rename(stale)
            shutil.rmtree(stale, ignore_errors=True)
        except OSError:
            pass
    try:
        tmp.rename(mirror)
    except OSError:  # another process made it first
        shutil.rmtree(tmp, ignore_errors=True)
    return mirror_root


_MIRROR_MANIFEST = ".graphdistill-source"


def _manifest(folder: Path) -> str:
    """Every file under ``folder`` (but ``processed/``) with its size and modification time."""
    rows = sorted(f"{f.relative_to(folder)}\t{f.stat().st_size}\t{f.stat().st_mtime_ns}" for f in folder.rglob("*")
                  if f.is_file() and "processed" not in f.relative_to(folder).parts)
    return "\n".join(rows)


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
    """Load a real dataset (everything but ``synthetic``) from ``root``; see the module docstring.

    Raw files are data: Planetoid's pickled raw files are read by an unpickler that builds
    arrays and sparse matrices only, and processed files are loaded weights-only. A
    processed file that does not load that way (corrupt, or from elsewhere) is removed and
    rebuilt from the raw files; a raw file that cannot be read is named in the error."""
    root = Path(root).expanduser()
    _check_raw(info, root, download)
    family_root = _family_root(info, root)
    dataset_dir = family_root / info.folder
    raw_dir = dataset_dir / "raw"
    if info.family == "planetoid" and raw_dir.is_dir():
        check_planetoid_raw(raw_dir, info.raw_files())
    _drop_unloadable_processed(dataset_dir / "processed")
    try:
        # PyG's and OGB's loaders read processed files weights-only given their data classes
        # (else PyG retries with an unrestricted load); checked above by _drop_unloadable_processed
        with torch.serialization.safe_globals(pyg_safe_globals()):
            return _load(info, family_root)
    except GraphDistillError:
        raise
    except Exception as err:  # noqa: BLE001 - a download or parse failure names the files
        first = str(err).splitlines()[0][:200] if str(err) else ""
        if download and any(not (raw_dir / f).exists() for f in info.raw_files()):
            raise DatasetNotFoundError(
                f"Could not download dataset {info.name!r} ({type(err).__name__}: {first}). Without network access, "
                f"copy its raw files ({', '.join(info.raw_files())}) into {raw_dir}.") from None
        raise DatasetFileError(
            f"Could not read dataset {info.name!r} from {raw_dir} ({type(err).__name__}: {first}): a raw file "
            f"({', '.join(info.raw_files()) or 'see the folder'}) is corrupt or truncated. Replace it with the "
            "original file.") from None


def _load(info: DatasetInfo, family_root: Path) -> LoadedGraph:
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


def _drop_unloadable_processed(folder: Path) -> None:
    """Remove ``folder`` (a loader's ``processed/``) unless every ``.pt`` file in it loads
    weights-only (with PyG's and OGB's data classes allowed); the loader then rebuilds it
    from the raw files. PyG would otherwise fall back to an unrestricted load."""
    for path in sorted(folder.glob("*.pt")) if folder.is_dir() else []:
        try:
            with torch.serialization.safe_globals(pyg_safe_globals()):
                torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001 - anything that does not load is rebuilt
            warnings.warn(f"{path} does not load as plain data ({type(err).__name__}): rebuilding "
                          f"{folder} from the raw files.", GraphDistillWarning, stacklevel=3)
            shutil.rmtree(folder, ignore_errors=True)
            return


class _DataOnlyUnpickler(pickle.Unpickler):
    """Builds numpy arrays, scipy sparse matrices and plain containers only: what
    Planetoid's raw files hold. Anything else (a function that would run) is refused."""

    ALLOWED = {
        ("collections", "defaultdict"), ("builtins", "list"), ("builtins", "dict"), ("builtins", "set"),
        ("__builtin__", "list"), ("__builtin__", "dict"), ("__builtin__", "set"),  # Python 2 pickles
        ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
    }

    def find_class(self, module: str, name: str):
        allowed = (module, name) in self.ALLOWED or (
            module.startswith("scipy.sparse") and name.endswith(("_matrix", "_array")))
        if not allowed:
            raise pickle.UnpicklingError(f"refused to build {module}.{name}")
        return super().find_class(module, name)


def check_planetoid_raw(raw_dir: Path, files: list[str]) -> None:
    """Read each of Planetoid's pickled raw files with :class:`_DataOnlyUnpickler` before
    PyG unpickles them: a file that would build anything but data, or is corrupt, is named
    in a :class:`DatasetFileError`."""
    for name in files:
        path = raw_dir / name
        if name.endswith(".test.index") or not path.exists():
            continue  # a text file of integers; a missing file is downloaded (or reported) by the loader
        try:
            with open(path, "rb") as f:
                _DataOnlyUnpickler(f, encoding="latin1").load()
        except Exception as err:  # noqa: BLE001 - any failure means the file cannot be used
            raise DatasetFileError(f"Raw file {path} cannot be read as data ({type(err).__name__}: "
                                   f"{str(err)[:160]}): it is corrupt or not an original Planetoid file. Replace "
                                   "it with the original.") from None


def _load_ogb(info: DatasetInfo, family_root: Path) -> LoadedGraph:
    from ogb.nodeproppred import PygNodePropPredDataset

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
