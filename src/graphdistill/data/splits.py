"""Seeded node splits for datasets that ship none.

Nodes without a label (``y == -1``, in a user's own graph) are never in a split."""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.data import Data

from ..errors import ConfigError


def per_class_split(
    y: Tensor, num_classes: int, train_per_class: int = 20, val_per_class: int = 30, seed: int = 0
) -> tuple[Tensor, Tensor, Tensor]:
    """The split of Shchur et al. (2018): per class, ``train_per_class`` training and
    ``val_per_class`` validation nodes drawn at random; every other labelled node is a test
    node.

    Returns three boolean masks (train, val, test). The same ``seed`` always gives the
    same split. A class with fewer than ``train_per_class + val_per_class`` nodes gives all
    its nodes to train and val in that order (none to test); :func:`check_class_sizes`
    refuses such a class where that must not pass silently (a user's own graph).
    """
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(y.numel(), generator=gen)
    train = torch.zeros(y.numel(), dtype=torch.bool)
    val = torch.zeros_like(train)
    for c in range(num_classes):
        idx = perm[y[perm] == c]
        train[idx[:train_per_class]] = True
        val[idx[train_per_class : train_per_class + val_per_class]] = True
    return train, val, ~(train | val) & (y >= 0)


def parse_ratios(split: str) -> tuple[float, float, float] | None:
    """``"0.6,0.2,0.2"`` as three fractions (train, val, test); ``None`` for a split name."""
    if "," not in split:
        return None
    try:
        ratios = tuple(float(part) for part in split.split(","))
    except ValueError:
        ratios = ()
    if len(ratios) != 3 or ratios[0] <= 0 or ratios[1] <= 0 or ratios[2] < 0 or sum(ratios) > 1 + 1e-9:
        raise ConfigError(f"split {split!r}: give three fractions train,val,test (train and val > 0, sum <= 1), "
                          "for example 0.6,0.2,0.2, or auto / public / random.")
    return ratios  # type: ignore[return-value]


def ratio_split(y: Tensor, num_classes: int, ratios: tuple[float, float, float], seed: int = 0
                ) -> tuple[Tensor, Tensor, Tensor]:
    """A seeded split stratified by class: each class's labelled nodes, shuffled, go
    ``round(n · train)`` to train, ``round(n · val)`` to val and ``round(n · test)`` to test
    (what rounding leaves over goes to test when the fractions sum to 1, else to none).
    Multi-label targets (``[N, T]``) have no class to stratify by: all labelled nodes (a row
    of ``-1`` is an unlabelled one; a node labelled in some tasks is labelled) are one group."""
    n = y.size(0)
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n, generator=gen)
    masks = [torch.zeros(n, dtype=torch.bool) for _ in range(3)]
    whole = abs(sum(ratios) - 1) < 1e-9
    groups = [perm[(y[perm] >= 0).any(1)]] if y.dim() == 2 else [perm[y[perm] == c] for c in range(num_classes)]
    for idx in groups:
        n_train, n_val = round(len(idx) * ratios[0]), round(len(idx) * ratios[1])
        n_test = len(idx) - n_train - n_val if whole else round(len(idx) * ratios[2])
        masks[0][idx[:n_train]] = True
        masks[1][idx[n_train:n_train + n_val]] = True
        masks[2][idx[n_train + n_val:n_train + n_val + n_test]] = True
    return masks[0], masks[1], masks[2]


def class_name(c: int, names: list[str] | None = None) -> str:
    """How a message names class ``c``: ``Class 2``, or ``Class 2 ('Theory')`` where the graph names its classes."""
    return f"Class {c}" + (f" ({names[c]!r})" if names else "")


def check_class_sizes(y: Tensor, num_classes: int, need: tuple[int, int], split: str,
                      names: list[str] | None = None) -> None:
    """Refuse a class with fewer labelled nodes than the split gives it (``need``: the least
    train and val nodes per class), naming the class and what to change."""
    counts = torch.bincount(y[y >= 0], minlength=num_classes)
    for c, n in enumerate(counts.tolist()):
        if n < sum(need) + 1:
            raise ConfigError(
                f"{class_name(c, names)} has {n} labelled nodes, too few for the {split} split (it needs at least "
                f"{need[0]} train + {need[1]} val + 1 test node per class): lower --data.train_per_class / "
                "--data.val_per_class, use a ratio split (--data.split 0.6,0.2,0.2), or label more nodes.")


def largest_component(data: Data) -> Data:
    """The subgraph induced by the largest connected component (edges taken as undirected),
    nodes in their original order: the graph of GLNN's protocol (``split: glnn``)."""
    from torch_geometric.transforms import LargestConnectedComponents

    return LargestConnectedComponents(num_components=1, connection="weak")(data)


def unseen_test_nodes(test_mask: Tensor, share: float, seed: int = 0) -> Tensor:
    """The test nodes hidden during training in the inductive setting: ``round(share · n)``
    of the ``n`` test nodes, drawn with ``seed`` (GLNN hides 20 %). Boolean mask."""
    gen = torch.Generator().manual_seed(seed)
    test = test_mask.nonzero().view(-1)
    chosen = test[torch.randperm(test.numel(), generator=gen)[:round(share * test.numel())]]
    return index_to_mask(chosen, test_mask.numel())


def index_to_mask(index: Tensor, size: int) -> Tensor:
    mask = torch.zeros(size, dtype=torch.bool)
    mask[index] = True
    return mask
