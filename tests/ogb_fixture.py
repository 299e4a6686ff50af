"""Writes a tiny node-property dataset in OGB's on-disk layout (as OGB's download unpacks it)."""

from __future__ import annotations

import gzip
from pathlib import Path

import torch


def _write_csv_gz(path: Path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt") as f:
        for row in rows:
            f.write(",".join(str(v) for v in (row if isinstance(row, (list, tuple)) else [row])) + "\n")


#: per OGB dataset: folder, split folder, and what its raw files hold
_LAYOUTS = {
    "ogbn-arxiv": ("ogbn_arxiv", "time", "features"),
    "ogbn-products": ("ogbn_products", "sales_ranking", "features"),
    "ogbn-proteins": ("ogbn_proteins", "species", "edge_features"),
}


def write_tiny_ogbn_arxiv(root: Path, num_nodes: int = 120, num_classes: int = 4, seed: int = 0) -> dict:
    """``root/ogb/ogbn_arxiv`` with a homophilous random graph; returns what was written."""
    return write_tiny_ogbn(root, "ogbn-arxiv", num_nodes, num_classes, seed)


def write_tiny_ogbn(root: Path, name: str, num_nodes: int = 120, num_classes: int = 4, seed: int = 0,
                    num_tasks: int = 112) -> dict:
    """``root/ogb/<folder>`` for ``name`` (arxiv, products: node features and one label;
    proteins: edge features and ``num_tasks`` binary labels per node, where a node's tasks
    follow its community), a homophilous random graph; returns what was written."""
    folder, split_name, kind = _LAYOUTS[name]
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, num_classes, (num_nodes,), generator=g)
    x = torch.nn.functional.one_hot(y, num_classes).float() + 0.5 * torch.randn(num_nodes, num_classes, generator=g)
    x = torch.cat([x, torch.randn(num_nodes, 4, generator=g)], dim=1)
    src = torch.randint(0, num_nodes, (4 * num_nodes,), generator=g)
    same = [int(j) for j in torch.randint(0, num_nodes, (4 * num_nodes,), generator=g)]
    dst = []
    for s, candidate in zip(src.tolist(), same):
        members = (y == y[s]).nonzero().view(-1)
        dst.append(int(members[candidate % members.numel()]))
    edges = [(s, d) for s, d in zip(src.tolist(), dst) if s != d]
    base = root / "ogb" / folder
    raw = base / "raw"
    _write_csv_gz(raw / "edge.csv.gz", edges)
    if kind == "features":
        _write_csv_gz(raw / "node-feat.csv.gz", [[f"{v:.6f}" for v in row] for row in x.tolist()])
        labels = y
        _write_csv_gz(raw / "node-label.csv.gz", y.tolist())
    else:  # proteins: edge features carry the endpoints' community, labels are per-community task profiles
        profile = (torch.rand(num_classes, num_tasks, generator=g) < 0.5).long()
        labels = profile[y]
        flip = torch.rand(num_nodes, num_tasks, generator=g) < 0.1
        labels = torch.where(flip, 1 - labels, labels)
        edge_x = [[f"{v:.6f}" for v in (x[s] + x[d]).tolist()[:8]] for s, d in edges]
        _write_csv_gz(raw / "edge-feat.csv.gz", edge_x)
        _write_csv_gz(raw / "node-label.csv.gz", labels.tolist())
        _write_csv_gz(raw / "node_species.csv.gz", [3702] * num_nodes)
    _write_csv_gz(raw / "num-node-list.csv.gz", [num_nodes])
    _write_csv_gz(raw / "num-edge-list.csv.gz", [len(edges)])
    if name == "ogbn-arxiv":
        _write_csv_gz(raw / "node_year.csv.gz", [2000 + i % 20 for i in range(num_nodes)])
    perm = torch.randperm(num_nodes, generator=g).tolist()
    n_train, n_val = num_nodes // 2, num_nodes // 4
    split = {"train": perm[:n_train], "valid": perm[n_train:n_train + n_val], "test": perm[n_train + n_val:]}
    for part, idx in split.items():
        _write_csv_gz(base / "split" / split_name / f"{part}.csv.gz", sorted(idx))
    (base / "RELEASE_v1.txt").write_text("tiny test dataset\n")
    return {"num_nodes": num_nodes, "num_features": x.size(1), "num_classes": num_classes, "split": split,
            "y": labels}


def write_tiny_ogbn_mag(root: Path, seed: int = 0) -> dict:
    """``root/ogb/ogbn_mag``: a tiny heterogeneous graph in OGB's layout for ogbn-mag (papers
    with features and labels; authors, institutions and fields of study without features;
    the four ogbn-mag relations). A paper's label is carried by its features (weakly) and by
    its field of study (each field belongs to one class), so the graph helps."""
    g = torch.Generator().manual_seed(seed)
    counts = {"author": 60, "field_of_study": 8, "institution": 5, "paper": 150}
    num_classes, num_features = 4, 8
    y = torch.randint(0, num_classes, (counts["paper"],), generator=g)
    x = 0.6 * torch.nn.functional.one_hot(y, num_features).float() + torch.randn(counts["paper"], num_features,
                                                                                 generator=g)
    field_class = torch.arange(counts["field_of_study"]) % num_classes
    papers = torch.arange(counts["paper"])
    topic = torch.stack([papers, field_class.new_tensor(
        [int((field_class == y[p]).nonzero()[torch.randint(0, 2, (1,), generator=g)]) for p in papers.tolist()])])
    writes = torch.stack([torch.randint(0, counts["author"], (300,), generator=g),
                          torch.randint(0, counts["paper"], (300,), generator=g)])
    cites = torch.stack([torch.randint(0, counts["paper"], (400,), generator=g),
                         torch.randint(0, counts["paper"], (400,), generator=g)])
    affiliated = torch.stack([torch.arange(counts["author"]), torch.randint(0, counts["institution"],
                                                                             (counts["author"],), generator=g)])
    relations = {("author", "affiliated_with", "institution"): affiliated, ("author", "writes", "paper"): writes,
                 ("paper", "cites", "paper"): cites, ("paper", "has_topic", "field_of_study"): topic}
    base = root / "ogb" / "ogbn_mag"
    raw = base / "raw"
    types = sorted(counts)
    _write_csv_gz(raw / "num-node-dict.csv.gz", [types, [counts[t] for t in types]])
    _write_csv_gz(raw / "triplet-type-list.csv.gz", [list(r) for r in sorted(relations)])
    for r, (triplet, ei) in enumerate(sorted(relations.items())):
        folder = raw / "relations" / "___".join(triplet)
        _write_csv_gz(folder / "edge.csv.gz", ei.t().tolist())
        _write_csv_gz(folder / "num-edge-list.csv.gz", [ei.size(1)])
        _write_csv_gz(folder / "edge_reltype.csv.gz", [r] * ei.size(1))
    _write_csv_gz(raw / "node-feat" / "paper" / "node-feat.csv.gz", [[f"{v:.6f}" for v in row] for row in x.tolist()])
    _write_csv_gz(raw / "node-feat" / "paper" / "node_year.csv.gz", [2010 + i % 10 for i in range(counts["paper"])])
    _write_csv_gz(raw / "nodetype-has-label.csv.gz", [types, [t == "paper" for t in types]])
    _write_csv_gz(raw / "node-label" / "paper" / "node-label.csv.gz", y.tolist())
    perm = torch.randperm(counts["paper"], generator=g).tolist()
    split = {"train": perm[:90], "valid": perm[90:120], "test": perm[120:]}
    _write_csv_gz(base / "split" / "time" / "nodetype-has-split.csv.gz", [types, [t == "paper" for t in types]])
    for name, idx in split.items():
        _write_csv_gz(base / "split" / "time" / "paper" / f"{name}.csv.gz", sorted(idx))
    (base / "RELEASE_v2.txt").write_text("tiny test dataset\n")
    return {"counts": counts, "relations": relations, "y": y, "x": x, "split": split}
