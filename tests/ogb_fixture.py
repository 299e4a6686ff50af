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


def write_tiny_ogbn_arxiv(root: Path, num_nodes: int = 120, num_classes: int = 4, seed: int = 0) -> dict:
    """``root/ogb/ogbn_arxiv`` with a homophilous random graph; returns what was written."""
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
    base = root / "ogb" / "ogbn_arxiv"
    raw = base / "raw"
    _write_csv_gz(raw / "edge.csv.gz", edges)
    _write_csv_gz(raw / "node-feat.csv.gz", [[f"{v:.6f}" for v in row] for row in x.tolist()])
    _write_csv_gz(raw / "node-label.csv.gz", y.tolist())
    _write_csv_gz(raw / "num-node-list.csv.gz", [num_nodes])
    _write_csv_gz(raw / "num-edge-list.csv.gz", [len(edges)])
    _write_csv_gz(raw / "node_year.csv.gz", [2000 + i % 20 for i in range(num_nodes)])
    perm = torch.randperm(num_nodes, generator=g).tolist()
    n_train, n_val = num_nodes // 2, num_nodes // 4
    split = {"train": perm[:n_train], "valid": perm[n_train:n_train + n_val], "test": perm[n_train + n_val:]}
    for name, idx in split.items():
        _write_csv_gz(base / "split" / "time" / f"{name}.csv.gz", sorted(idx))
    (base / "RELEASE_v1.txt").write_text("tiny test dataset\n")
    return {"num_nodes": num_nodes, "num_features": x.size(1), "num_classes": num_classes, "split": split, "y": y}
