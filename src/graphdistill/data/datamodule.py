"""The node-classification LightningDataModule."""

from __future__ import annotations

import copy
from dataclasses import asdict, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import lightning as L
import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader
from torch_geometric.data import Data
from torchmetrics import Metric

from ..errors import ConfigError
from ..models.base import is_sparse, take_rows, to_csr
from .datasets import DatasetInfo, dataset_info, default_root, graph_sha256, load_graph
from .files import content_sha256, read_graph_file
from .metrics import make_metric
from .positions import POSITION_KINDS, extend_to_unseen, make_positions
from .splits import (
    check_class_sizes,
    class_name,
    largest_component,
    parse_ratios,
    per_class_split,
    ratio_split,
    unseen_test_nodes,
)
from .synthetic import CSBMConfig, make_csbm


def _single(batch: list[Data]) -> Data:
    return batch[0]


def sampled(batch: Data) -> bool:
    """Whether ``batch`` is a neighbor-sampled mini-batch (it then says how many seed nodes it
    holds) rather than the whole graph."""
    return getattr(batch, "batch_size", None) is not None


def seed_nodes(batch: Data) -> slice:
    """Rows of a batch whose predictions count: the seed nodes of a sampled batch (they come
    first), every node of a full-graph batch."""
    size = getattr(batch, "batch_size", None)
    return slice(0, int(size)) if size is not None else slice(None)


def seed_mask(batch: Data) -> Tensor:
    """Boolean mask of the batch's seed nodes (:func:`seed_nodes`) of the classified type: on
    a typed graph (ogbn-mag) only nodes of that type have a class."""
    mask = torch.zeros(batch.num_nodes, dtype=torch.bool, device=batch.y.device)
    mask[seed_nodes(batch)] = True
    target = getattr(batch, "target_mask", None)
    return mask & target if target is not None else mask


def num_seeds(batch: Data) -> int:
    """Number of seed nodes of a batch (the nodes its losses average over)."""
    size = getattr(batch, "batch_size", None)
    return int(size) if size is not None else int(batch.num_nodes)


class _FeatureRows:
    """Batch transform: ``batch.x`` = the batch nodes' rows of a sparse CSR feature matrix."""

    def __init__(self, features: Tensor) -> None:
        self.features = features

    def __call__(self, batch: Data) -> Data:
        batch.x = take_rows(self.features, batch.n_id)
        return batch


def require_neighbor_sampling() -> None:
    """Fail with the install command if PyG has no neighbor-sampling backend."""
    import torch_geometric.typing as pyg_typing

    if not (pyg_typing.WITH_PYG_LIB or pyg_typing.WITH_TORCH_SPARSE):
        raise ConfigError(
            "loader: neighbor needs a neighbor-sampling backend for PyTorch Geometric. Install pyg-lib where "
            "your platform has wheels (pip install pyg-lib -f https://data.pyg.org/whl/torch-<version>+<cuda>.html) "
            "or build torch-sparse: pip install --no-build-isolation torch-scatter torch-sparse.")


#: fingerprint keys that must agree between two models' data, for fingerprints without a
#: content hash (checkpoints written before it was recorded)
_SAME_DATA_KEYS = ("dataset", "num_nodes", "num_features", "num_classes", "split", "normalize_features", "synthetic")
#: with a content hash on both sides: the graph itself (features as trained on, edges,
#: labels, split), wherever it was read from
_SAME_CONTENT_KEYS = ("graph", "num_nodes", "num_features", "num_classes")


def fingerprint_differences(mine: dict[str, Any], theirs: dict[str, Any], keys: tuple[str, ...] | None = None,
                            names: tuple[str, str] = ("teacher", "data")) -> list[str]:
    """``key: <names[0]> a vs <names[1]> b`` for each key on which two data fingerprints
    (:meth:`NodeDataModule.fingerprint`) disagree. Where both carry the graph's content hash,
    the content decides (the same graph from a built-in loader or a file is the same graph);
    else ``keys`` (default: dataset, counts, split, normalisation)."""
    if mine.get("graph") and theirs.get("graph"):
        keys = _SAME_CONTENT_KEYS
    short = (lambda v: v[:12] + "…" if isinstance(v, str) and len(v) == 64 else v)  # noqa: E731
    return [f"{k}: {names[0]} {short(mine.get(k))!r} vs {names[1]} {short(theirs.get(k))!r}"
            for k in (keys or _SAME_DATA_KEYS) if mine.get(k) != theirs.get(k)]


def data_from_fingerprint(fingerprint: dict[str, Any], root: str | Path | None = None) -> Data:
    """The graph, split and inputs (position features) a checkpoint was trained on, rebuilt
    from its data fingerprint; a graph whose content hash differs is refused in one line."""
    datamodule = NodeDataModule.from_fingerprint(fingerprint, root)
    if fingerprint.get("graph") and datamodule.fingerprint()["graph"] != fingerprint["graph"]:
        raise ConfigError(f"The graph at {fingerprint['dataset']} is no longer the one the checkpoint was trained on "
                          "(its content hash differs): restore the original data.")
    return datamodule.data


def check_split_covers(data: Data, num_classes: int, split: str, multilabel: bool = False) -> None:
    """Refuse a split that leaves a class without a training or validation node, or has no
    test node (a user's own graph: a small class, or a split column that marks too few). A
    multi-label split needs its nodes only (ROC-AUC skips a task with one kind of target)."""
    for name in ("train_mask", "val_mask", "test_mask"):
        if not bool(data[name].any()):
            raise ConfigError(f"The {split} split has no {name.split('_')[0]} node: mark some nodes "
                              f"{name.split('_')[0]} (split column or masks) or use a ratio split such as 0.6,0.2,0.2.")
    if multilabel:
        return
    for name in ("train_mask", "val_mask"):
        counts = torch.bincount(data.y[data[name]], minlength=num_classes)
        if bool((counts == 0).any()):
            c = int((counts == 0).nonzero()[0])
            raise ConfigError(f"{class_name(c, getattr(data, 'class_names', None))} has no {name.split('_')[0]} "
                              f"node in the {split} split (it has "
                              f"{int((data.y == c).sum())} labelled nodes): label more nodes of it, change the split, "
                              "or drop the class.")


class NodeDataModule(L.LightningDataModule):
    """One graph for transductive node classification.

    Every batch is a PyG ``Data`` with ``x``, ``edge_index``, ``y``, ``train_mask``,
    ``val_mask``, ``test_mask`` and ``n_id`` (the global id of each node in the batch). In
    full-batch mode the batch is the whole graph and ``n_id`` is ``arange(num_nodes)``.
    Training samples from the training graph (:attr:`training_graph`): under ``inductive``,
    the observed subgraph, whose rows :meth:`training_rows` finds from the global ids.

    Args:
        dataset: ``synthetic`` (default; no download), ``cora``, ``citeseer``, ``pubmed``,
            ``amazon-computers``, ``amazon-photo``, ``coauthor-cs``, ``coauthor-physics``,
            ``ogbn-arxiv``, ``ogbn-products``, ``ogbn-proteins``, ``ogbn-mag``; or the path of
            your own graph: a ``.pt`` (PyG ``Data``), an ``.npz`` (Shchur et al. / CPF layout)
            or a folder with ``nodes.csv|parquet`` and ``edges.csv|parquet`` (see
            :mod:`graphdistill.data.files`).
        root: folder holding the datasets in PyG/OGB layout (see
            :mod:`graphdistill.data.datasets`). Default: ``$GRAPHDISTILL_DATA``, else the
            user cache folder. A read-only folder works: it is mirrored into the cache.
        download: let PyG/OGB download a missing dataset. Off by default, so that a missing
            dataset fails at once with the folder and files it expected.
        split: ``auto`` uses the official split where the dataset ships one (Planetoid's
            public split, OGB's, the masks or split column of your own file), else
            ``random``; ``random`` draws ``train_per_class`` and ``val_per_class`` nodes per
            class with ``split_seed``, the rest is test (Shchur et al. 2018); ``public``
            insists on the official split; three fractions such as ``0.6,0.2,0.2`` draw a
            split stratified by class with ``split_seed`` (:func:`ratio_split`); ``glnn`` is
            the protocol of the GNN-to-MLP papers (GLNN, NOSMOG, VQGraph): the graph is cut
            to its largest connected component, then split as ``random``. Unlabelled
            nodes (label ``-1``) are never in a split. On your own graph a class too small
            for the split is refused.
        split_seed: seed of the ``random``, ratio and ``glnn`` splits and of the unseen
            nodes of ``inductive``.
        inductive: share of the test nodes hidden during training (GLNN's "production"
            setting uses 0.2; 0 is transductive). Hidden nodes and every edge touching them
            are removed from the graph that training and validation see
            (:attr:`training_graph`): teacher and student train and select on the
            observed graph, and a teacher's outputs are computed on it, so no hidden node
            reaches training. Test runs on the whole graph and logs ``test/<metric>`` (all
            test nodes), ``test/<metric>_observed`` and ``test/<metric>_unseen``. Either
            loader (``neighbor`` samples from the observed graph).
        positions: width of the position features (Laplacian eigenmaps of the training
            graph, :mod:`graphdistill.data.positions`) stored as ``data.position`` for
            models that read them (``MLP(position_channels=...)``, same width); 0: none.
            Unseen nodes of ``inductive`` get the mean of their observed neighbours'.
        position_kind: how the position features are made: ``spectral`` (Laplacian
            eigenmaps; ``None`` means it, and keeps the config hash of runs stored before
            this option) or ``deepwalk`` (DeepWalk embeddings, NOSMOG's choice).
        normalize_features: row-normalize node features (each row sums to 1). ``None``
            means: yes for Planetoid and Coauthor, no for Amazon, synthetic and OGB (on
            Amazon Photo, row-normalising the bag-of-words counts made a 2-layer GCN
            underfit; the README's Data section has the numbers).
        undirected: make the edges of your own graph undirected (each edge both ways);
            built-in datasets come as their loaders give them.
        synthetic: parameters of the ``synthetic`` dataset.
        loader: ``full`` (every training step sees the whole graph) or ``neighbor``
            (mini-batches of seed nodes with sampled neighbourhoods, PyG's
            ``NeighborLoader``; needs ``pyg-lib`` or ``torch-sparse``). Under ``neighbor``,
            validation, test and the teacher's outputs use layer-wise full-neighbourhood
            inference (:meth:`NodeClassifier.inference`) on the whole graph instead.
        num_neighbors: fan-out per layer for ``neighbor`` (``-1``: every neighbour), outermost
            hop last; give at least one per layer of the trained model.
        batch_size: seed nodes per training batch for ``neighbor``.
        num_workers: sampling worker processes for ``neighbor`` (0: sample in the training
            process).
        train_seeds: the seed nodes of the training batches under ``neighbor``: ``train``
            (the labelled training nodes), ``all`` (every node: distillation losses with
            ``nodes: all`` cover unlabelled nodes too) or ``auto`` (``all`` when the
            training module asks for unlabelled nodes, as distillation does, else
            ``train``).
        inference_batch_size: target nodes per chunk of layer-wise inference under
            ``neighbor`` (memory grows with it; the result does not change).
    """

    def __init__(
        self,
        dataset: str = "synthetic",
        root: str | None = None,
        download: bool = False,
        split: str = "auto",
        split_seed: int = 0,
        train_per_class: int = 20,
        val_per_class: int = 30,
        normalize_features: bool | None = None,
        undirected: bool = True,
        inductive: float = 0.0,
        positions: int = 0,
        position_kind: str | None = None,
        synthetic: CSBMConfig | None = None,
        loader: Literal["full", "neighbor"] = "full",
        num_neighbors: list[int] | None = None,
        batch_size: int = 1024,
        num_workers: int = 0,
        train_seeds: Literal["auto", "train", "all"] = "auto",
        inference_batch_size: int = 16384,
    ) -> None:
        super().__init__()
        self.info: DatasetInfo = dataset_info(dataset)  # fails fast on an unknown name
        if loader not in ("full", "neighbor"):
            raise ConfigError(f"Unknown loader {loader!r}: use 'full' (whole graph per step) or 'neighbor' "
                              "(neighbor-sampled mini-batches).")
        if train_seeds not in ("auto", "train", "all"):
            raise ConfigError(f"train_seeds must be 'auto', 'train' or 'all', got {train_seeds!r}.")
        num_neighbors = list(num_neighbors) if num_neighbors is not None else [15, 10]
        if loader == "neighbor":
            if not num_neighbors or any(k == 0 or k < -1 for k in num_neighbors):
                raise ConfigError(f"num_neighbors must list one fan-out per layer, each >= 1 or -1 (all "
                                  f"neighbours), got {num_neighbors}.")
            if batch_size < 1 or inference_batch_size < 1:
                raise ConfigError("batch_size and inference_batch_size must be >= 1.")
            require_neighbor_sampling()
        self.loader = loader
        self.num_neighbors = num_neighbors
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.train_seeds = train_seeds
        self.inference_batch_size = inference_batch_size
        self.ratios = parse_ratios(split)
        if self.ratios is None and split not in ("auto", "public", "random", "glnn"):
            raise ConfigError(f"split must be auto, public, random, glnn or three fractions such as 0.6,0.2,0.2, got "
                              f"{split!r}.")
        if not 0.0 <= inductive < 1.0:
            raise ConfigError(f"inductive is the share of test nodes hidden during training, in [0, 1) (GLNN: 0.2), "
                              f"got {inductive}.")
        if positions < 0:
            raise ConfigError(f"positions is a width (0: none), got {positions}.")
        self.inductive = inductive
        if position_kind not in (None, *POSITION_KINDS):
            raise ConfigError(f"position_kind must be {' or '.join(POSITION_KINDS)}, got {position_kind!r}.")
        self.positions = positions
        self.position_kind = position_kind or POSITION_KINDS[0]
        if split == "public" and not self.info.has_split and self.info.family != "file":
            raise ConfigError(f"Dataset {self.info.name!r} ships no official split: use split 'random' or 'auto'.")
        self.root = Path(root).expanduser() if root else default_root()
        self.download = download
        self.split = split
        self.split_seed = split_seed
        self.train_per_class = train_per_class
        self.val_per_class = val_per_class
        self.normalize_features = normalize_features
        self.undirected = undirected
        self.synthetic = synthetic or CSBMConfig()
        self._num_classes: int | None = None
        self._file_read = False
        self._device_graphs: dict[tuple[int, torch.device], Data] = {}
        self._rows: Tensor | None = None  # training_rows' lookup
        self._node_ids: np.ndarray | None = None  # a node table's id column (node_names)
        self._node_rows: Tensor | None = None  # each node's row in the file or dataset, where the LCC was taken

    # ------------------------------------------------------------------ the graph
    @cached_property
    def data(self) -> Data:
        """The whole graph with its split masks (loaded on first use)."""
        if self.info.family == "synthetic":
            data = make_csbm(self.synthetic)
            num_classes = self.synthetic.num_classes
        elif self.info.family == "file":
            data, num_classes = read_graph_file(self.info.pyg_name, undirected=self.undirected)
            if "node_id" in data:  # kept aside: not a tensor, so not for batches and loaders
                self._node_ids = data.node_id
                del data.node_id
            has_masks = "train_mask" in data
            metric = "rocauc" if data.y.dim() == 2 else "acc"  # multi-label: T binary tasks
            self.info, self._file_read = replace(self.info, has_split=has_masks, metric=metric), True
            if self.split == "public" and not has_masks:
                raise ConfigError(f"{self.info.name} has no split (train_mask/val_mask/test_mask or a split column): "
                                  "use split 'random' or 'auto', or a ratio split such as 0.6,0.2,0.2.")
            if metric == "rocauc" and self.ratios is None and not (has_masks and self.split in ("auto", "public")):
                raise ConfigError(f"{self.info.name} is multi-label ([N, T] targets), which has no per-class split: "
                                  "give it masks, or use a ratio split such as --data.split 0.6,0.2,0.2.")
        else:
            loaded = load_graph(self.info, self.root, self.download)
            data, num_classes = loaded.data, loaded.num_classes
        self._num_classes = num_classes
        if self.split == "glnn":
            data.node_row = torch.arange(data.num_nodes)
            data = largest_component(data)
            self._node_rows = data.node_row
            del data.node_row
        if self.ratios is not None:
            data.train_mask, data.val_mask, data.test_mask = ratio_split(data.y, num_classes, self.ratios,
                                                                         self.split_seed)
        elif not self._uses_official():
            if self.info.family == "file":
                check_class_sizes(data.y, num_classes, (self.train_per_class, self.val_per_class), "random",
                                  getattr(data, "class_names", None))
            data.train_mask, data.val_mask, data.test_mask = per_class_split(
                data.y, num_classes, self.train_per_class, self.val_per_class, self.split_seed
            )
        if self.info.family == "file":
            check_split_covers(data, num_classes, self._split_name(), multilabel=self.info.metric == "rocauc")
        if self._normalize():
            data.x = data.x / data.x.sum(dim=1, keepdim=True).clamp(min=1e-12)
        data.x = data.x.float()
        data.n_id = torch.arange(data.num_nodes)
        if self.inductive:
            data.unseen_mask = unseen_test_nodes(data.test_mask, self.inductive, self.split_seed)
        if self.positions:
            seen = ~data.unseen_mask if self.inductive else None
            data.position = make_positions(self.position_kind, data.edge_index, data.num_nodes, self.positions, seen)
            if self.inductive:
                data.position = extend_to_unseen(data.position, data.edge_index, data.unseen_mask)
        return data

    @cached_property
    def training_graph(self) -> Data:
        """The graph training and validation see: the whole graph, or under ``inductive``
        the subgraph of the observed nodes (every hidden test node and its edges removed;
        ``n_id`` keeps each node's id in the whole graph)."""
        if not self.inductive:
            return self.data
        observed = self.data.subgraph(~self.data.unseen_mask)
        observed.unseen_mask = torch.zeros(observed.num_nodes, dtype=torch.bool)
        return observed

    def training_rows(self, n_id: Tensor) -> Tensor:
        """The rows of :attr:`training_graph` (and of what is computed on it, such as the
        teacher's outputs) of the nodes with global ids ``n_id``: ``n_id`` itself but under
        ``inductive``, where the training graph is the observed subgraph."""
        if not self.inductive:
            return n_id
        if self._rows is None or self._rows.device != n_id.device:
            rows = torch.full((self.num_nodes,), -1, dtype=torch.long)
            rows[self.training_graph.n_id] = torch.arange(self.training_graph.num_nodes)
            self._rows = rows.to(n_id.device)
        return self._rows[n_id]

    @property
    def num_features(self) -> int:
        return int(self.data.num_features)

    @property
    def num_classes(self) -> int:
        self.data  # noqa: B018  (loads the graph, which sets the class count)
        assert self._num_classes is not None
        return self._num_classes

    @property
    def num_nodes(self) -> int:
        return int(self.data.num_nodes)

    def node_names(self) -> list:
        """How predictions name each node of :attr:`data`, in its order: a node table's ``id``,
        else the node's row in the file or dataset (under ``split: glnn``, which keeps the
        largest connected component, its row before that)."""
        self.data  # noqa: B018  (reads the ids and rows)
        rows = self._node_rows.numpy() if self._node_rows is not None else np.arange(self.data.num_nodes)
        return (self._node_ids[rows] if self._node_ids is not None else rows).tolist()

    @property
    def multilabel(self) -> bool:
        return self.metric_name == "rocauc"

    @property
    def metric_name(self) -> str:
        """Name of the evaluation metric (``acc``, or ``rocauc`` for multi-label graphs: ogbn-proteins and
        graph files with ``[N, T]`` targets)."""
        if self.info.family == "file" and not self._file_read:
            self.data  # noqa: B018  (whether a file is multi-label is known once it is read)
        return self.info.metric

    def make_metric(self) -> Metric:
        return make_metric(self.info.name, self.num_classes, multilabel=self.multilabel)

    def fingerprint(self) -> dict[str, Any]:
        """What identifies this graph and split; stored in checkpoints to catch a teacher
        trained on other data. ``graph`` is the hash of the content as trained on (features
        after normalisation, edges, labels, split masks: :func:`graph_sha256`), so the same
        graph read from a built-in loader or from a file has the same ``graph``; a file's
        fingerprint also names the file and the hash of its bytes (``source``)."""
        return dict(self._fingerprint)

    @cached_property
    def _fingerprint(self) -> dict[str, Any]:
        fp: dict[str, Any] = {
            "dataset": self.info.name,
            "num_nodes": self.num_nodes,
            "num_features": self.num_features,
            "num_classes": self.num_classes,
            "split": self._split_name(),
            "normalize_features": self._normalize(),
            "graph": graph_sha256(self.data),
        }
        if self.positions:
            fp["positions"] = f"{self.position_kind}:{self.positions}"
        if self.info.family == "synthetic":
            fp["synthetic"] = asdict(self.synthetic)
        if self.info.family == "file":
            fp["source"] = {"path": self.info.pyg_name, "sha256": content_sha256(Path(self.info.pyg_name)),
                            "undirected": self.undirected}
        if getattr(self.data, "class_names", None) is not None:  # a file that names its classes
            fp["class_names"] = list(self.data.class_names)
        return fp

    @classmethod
    def from_fingerprint(cls, fingerprint: dict[str, Any], root: str | Path | None = None) -> NodeDataModule:
        """The data module of the graph, split and inputs a :meth:`fingerprint` names (the
        reader of what :meth:`_split_name` and :meth:`_fingerprint` write)."""
        split, _, inductive = fingerprint.get("split", "official").partition(":inductive:")
        kwargs: dict[str, Any] = {"dataset": fingerprint["dataset"], "root": root,
                                  "normalize_features": fingerprint.get("normalize_features")}
        try:
            if split.startswith(("random:", "glnn:")):
                name, seed, train, val = split.split(":")
                kwargs.update(split=name, split_seed=int(seed), train_per_class=int(train), val_per_class=int(val))
            elif split.startswith("ratio:"):
                _, seed, ratios = split.split(":")
                kwargs.update(split=ratios, split_seed=int(seed))
            if inductive:
                kwargs["inductive"] = float(inductive)
            if fingerprint.get("positions"):
                kind, dims = str(fingerprint["positions"]).split(":")
                if kind not in POSITION_KINDS:
                    raise ValueError(kind)
                kwargs.update(positions=int(dims), position_kind=kind)
        except ValueError:
            raise ConfigError(f"A checkpoint's data record names a split or inputs graphdistill does not write "
                              f"(split {fingerprint.get('split')!r:.80}, "
                              f"positions {fingerprint.get('positions')!r:.40}): train it again with graphdistill "
                              "fit.") from None
        if "synthetic" in fingerprint:
            kwargs["synthetic"] = CSBMConfig(**fingerprint["synthetic"])
        if "source" in fingerprint:  # a user's own graph file
            kwargs["undirected"] = fingerprint["source"].get("undirected", True)
        return cls(**kwargs)

    def _split_name(self) -> str:
        inductive = f":inductive:{self.inductive:g}" if self.inductive else ""
        if self.ratios is not None:
            return f"ratio:{self.split_seed}:{','.join(f'{r:g}' for r in self.ratios)}{inductive}"
        if self.split == "glnn":
            return f"glnn:{self.split_seed}:{self.train_per_class}:{self.val_per_class}{inductive}"
        if self._uses_official():
            return "official" + inductive
        return f"random:{self.split_seed}:{self.train_per_class}:{self.val_per_class}{inductive}"

    def _normalize(self) -> bool:
        if self.normalize_features is None:
            return self.info.family in ("planetoid", "coauthor")
        return self.normalize_features

    def _uses_official(self) -> bool:
        if self.info.family == "file" and not self._file_read:
            self.data  # noqa: B018  (whether a file has a split is known once it is read)
        return self.split == "public" or (self.split == "auto" and self.info.has_split)

    # ------------------------------------------------------------------ loaders
    @property
    def sampled(self) -> bool:
        """Whether training batches are neighbor-sampled subgraphs."""
        return self.loader == "neighbor"

    @property
    def inference_chunk(self) -> int | None:
        """Targets per chunk of layer-wise inference; ``None`` (``loader: full``): one
        forward pass over the whole graph."""
        return self.inference_batch_size if self.sampled else None

    def prepare_data(self) -> None:
        self.data  # noqa: B018  (load / process once before any worker starts)

    def _full_graph_loader(self, graph: Data | None = None) -> DataLoader:
        return DataLoader([self.data if graph is None else graph], batch_size=1, collate_fn=_single)

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        """The whole graph goes to the device once and stays there: every full-graph step,
        validation and test reuses that copy (so :class:`FeatureDropout`'s cache of the
        feature matrix holds too). Sampled batches move as usual."""
        if batch is self.data or batch is self.training_graph:
            key = (id(batch), device)
            cached = self._device_graphs.get(key)
            if cached is None:
                cached = self._device_graphs[key] = copy.copy(batch).to(device)  # Data.to moves in place
            return cached
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    def training_seeds(self) -> Tensor:
        """Ids of the seed nodes of the training batches under ``neighbor``, in the training
        graph (the whole graph but under ``inductive``)."""
        graph = self.training_graph
        seeds = self.train_seeds
        if seeds == "auto":
            module = self.trainer.lightning_module if self.trainer is not None else None
            seeds = "all" if getattr(module, "uses_unlabelled_nodes", False) else "train"
        if seeds == "all":  # every node of the classified type (all nodes but on typed graphs)
            target = getattr(graph, "target_mask", None)
            return torch.arange(graph.num_nodes) if target is None else target.nonzero().view(-1)
        return graph.train_mask.nonzero().view(-1)

    def train_dataloader(self) -> DataLoader:
        if not self.sampled:
            return self._full_graph_loader(self.training_graph)
        from torch_geometric.loader import NeighborLoader

        graph, transform = self.training_graph, None
        if self.sparse_features is not None:
            # sparse features (bag of words): the sampler copies everything but x; each batch
            # gets its feature rows as a sparse CSR matrix, moving only the non-zeros
            num_nodes = graph.num_nodes
            graph = copy.copy(graph)
            del graph.x
            graph.num_nodes = num_nodes
            transform = _FeatureRows(self.sparse_features)  # by global id (n_id)
        # Under DDP, Lightning swaps the shuffling sampler for a DistributedSampler over
        # the seed nodes, so each rank draws its own share of seeds every epoch.
        return NeighborLoader(
            graph, num_neighbors=self.num_neighbors, input_nodes=self.training_seeds(),
            batch_size=self.batch_size, shuffle=True, num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0, transform=transform,
        )

    @cached_property
    def sparse_features(self) -> Tensor | None:
        """The node features as a sparse CSR matrix where at most a quarter of the entries are
        non-zero (the bag-of-words datasets), else ``None``."""
        x = self.data.x
        if not is_sparse(int(torch.count_nonzero(x)), x.numel()):
            return None
        return to_csr(x)

    def val_dataloader(self) -> DataLoader:
        return self._full_graph_loader(self.training_graph)

    def test_dataloader(self) -> DataLoader:
        return self._full_graph_loader()

    def predict_dataloader(self) -> DataLoader:
        """The whole graph, on every process: under DDP each rank predicts it (Lightning's
        predict sampler would hand the one graph to rank 0 and nothing to the others) and
        rank 0 writes the predictions."""
        trainer = self.trainer
        if trainer is None or trainer.world_size <= 1:
            return self._full_graph_loader()
        from torch.utils.data.distributed import DistributedSampler

        graphs = [self.data]
        sampler = DistributedSampler(graphs, num_replicas=trainer.world_size, rank=trainer.global_rank, shuffle=False)
        return DataLoader(graphs, batch_size=1, sampler=sampler, collate_fn=_single)
