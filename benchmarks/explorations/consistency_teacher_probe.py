"""Exploration, not a packaged method: does a teacher trained with consistency regularisation teach a better MLP?

GRAND (Feng et al., 2020) lifts GNNs on sparsely labelled citation graphs with two ingredients: random
propagation (DropNode: whole feature rows dropped and the rest rescaled) and a consistency loss on *every* node,
the predictions of ``S`` random views pulled toward their sharpened mean. Here the headline's teacher
architecture (GraphSAGE, DGL's gcn aggregator, 2 layers 128 wide) is trained full-graph three ways on each split
of the GLNN protocol, paired:

* ``plain``: cross-entropy on the training nodes, dropout 0 (the headline's teacher settings, full-graph);
* ``dropout``: plus DropNode 0.5 on the input and dropout 0.5 (the stochasticity alone);
* ``consistency``: ``dropout`` plus the consistency term, ``λ · mean_s ||p_s - sharpen(mean_s p_s)||²`` over all
  nodes, ``S`` views, sharpening temperature 0.5 (GRAND's form).

Each teacher is taken at its best validation epoch; then the position-reading MLP student of
``mlp_student_probes.py`` (its ``base`` loop: KL to the teacher's soft labels on every node) is distilled from
each. Reported: validation and test accuracy of teachers and students, paired differences against ``plain``::

    python benchmarks/explorations/consistency_teacher_probe.py --root DATA --dataset citeseer --seeds 10
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from graphdistill.data import NodeDataModule
from graphdistill.models import GraphSAGE
from graphdistill.provenance import code_provenance, describe

_spec = importlib.util.spec_from_file_location("mlp_student_probes", Path(__file__).with_name("mlp_student_probes.py"))
probes = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(probes)
spread, report = probes.spread, probes.report


def accuracy(logits: Tensor, data, mask: Tensor) -> float:
    return 100 * (logits[mask].argmax(-1) == data.y[mask]).float().mean().item()


def train_teacher(variant: str, data, seed: int, epochs: int, views: int, weight: float) -> tuple[Tensor, float, float]:
    """The teacher's eval-mode logits at its best validation epoch, with its (validation, test) accuracy %."""
    torch.manual_seed(seed)
    stochastic = variant != "plain"
    model = GraphSAGE(data.x.size(1), int(data.y.max()) + 1, hidden_channels=128, num_layers=2, aggr="gcn",
                      dropout=0.5 if stochastic else 0.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    x, edge_index = data.x.float(), data.edge_index
    best, state = (-1.0, 0.0), None
    for _ in range(epochs):
        model.train()
        optimizer.zero_grad()
        outs = []
        for _ in range(views if variant == "consistency" else 1):
            view = x
            if stochastic:  # DropNode: whole rows dropped, the rest rescaled
                keep = torch.bernoulli(torch.full((x.size(0), 1), 0.5))
                view = x * keep / 0.5
            outs.append(model(view, edge_index).logits)
        loss = sum(F.cross_entropy(o[data.train_mask], data.y[data.train_mask]) for o in outs) / len(outs)
        if variant == "consistency":
            probs = [F.softmax(o, -1) for o in outs]
            mean = torch.stack(probs).mean(0)
            sharp = mean ** 2  # temperature 0.5
            sharp = (sharp / sharp.sum(1, keepdim=True)).detach()
            loss = loss + weight * sum(((p - sharp) ** 2).sum(1).mean() for p in probs) / len(probs)
        loss.backward()
        optimizer.step()
        model.eval()
        with torch.no_grad():
            logits = model(x, edge_index).logits
        val = accuracy(logits, data, data.val_mask)
        if val > best[0]:
            best, state = (val, accuracy(logits, data, data.test_mask)), copy.deepcopy(model.state_dict())
    model.load_state_dict(state)
    model.eval()
    with torch.no_grad():
        return model(x, edge_index).logits, *best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--views", type=int, default=2)
    parser.add_argument("--weight", type=float, default=1.0, help="λ of the consistency term")
    parser.add_argument("--variants", default="plain,dropout,consistency")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    code = describe(code_provenance())
    variants = args.variants.split(",")
    rows: dict[str, dict[str, list[float]]] = {v: {k: [] for k in ("tv", "tt", "sv", "st")} for v in variants}
    width, dropout = probes.packaged_student(args.dataset)
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        data = NodeDataModule(args.dataset, root=args.root, split="glnn", split_seed=seed, positions=32).data
        x = data.x.float()
        if (x != 0).float().mean() < 0.25:
            x = x.to_sparse_csr()
        for v in variants:
            logits, tv, tt = train_teacher(v, data, seed, args.epochs, args.views, args.weight)
            sv, st = probes.train_one("base", x, data.position.float(), logits, data, seed, width, dropout)
            for key, value in zip(("tv", "tt", "sv", "st"), (tv, tt, sv, st)):
                rows[v][key].append(value)
        print(f"{args.dataset} seed {seed}: " + " | ".join(
            f"{v} teacher {rows[v]['tt'][-1]:.2f} student {rows[v]['st'][-1]:.2f}" for v in variants),
            file=sys.stderr, flush=True)

    command = " ".join(argv if argv is not None else sys.argv[1:])
    lines = [f"{args.dataset}, {args.seeds} seeds (accuracy % at the best validation epoch; paired Δ: minus "
             f"{variants[0]}'s on the same split)", "",
             f"`python benchmarks/explorations/consistency_teacher_probe.py {command}`, {code}", "",
             "| teacher | teacher val | teacher test | student val | student test | paired Δ teacher test | "
             "paired Δ student test |", "| --- | --- | --- | --- | --- | --- | --- |"]
    first = rows[variants[0]]
    for v in variants:
        r = rows[v]
        dt = "" if v == variants[0] else spread([a - b for a, b in zip(r["tt"], first["tt"])], "+")
        ds = "" if v == variants[0] else spread([a - b for a, b in zip(r["st"], first["st"])], "+")
        lines.append(f"| {v} | {spread(r['tv'])} | {spread(r['tt'])} | {spread(r['sv'])} | {spread(r['st'])} | "
                     f"{dt} | {ds} |")
    report(lines, args.out)


if __name__ == "__main__":
    main()
