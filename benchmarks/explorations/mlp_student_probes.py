"""Exploration, not a packaged method: quick probes of training tricks for the position-reading MLP student.

Each probe changes one thing in GLNN + positions (KL to the teacher's soft labels on every node, no label term,
the MLP reading features and 32 Laplacian-eigenmap coordinates, the packaged student's width and dropout, Adam
lr 0.01, 200 epochs, test at the best validation epoch) and is compared, split by split, with the same loop
unchanged (``base``):

* ``ema<d>``: the student evaluated with an exponential moving average of its weights (decay ``d``);
* ``mixup<a>``: a second KL term on mixed node pairs, inputs and soft labels mixed with Beta(a, a) weights;
* ``width<w>``: a hidden layer ``w`` wide instead of the packaged student's (larger than the teacher: this only
  asks whether width is what the student lacks);
* ``smooth``: the targets of ``propagated_kd`` (the training labels written into the teacher's probabilities,
  then 10 rounds of label propagation, alpha 0.8);
* ``cs``: Correct & Smooth's targets (Huang et al., 2021): the teacher's errors on the training nodes spread
  over the graph (50 rounds, alpha 0.8, autoscaled) and added to its probabilities, then smoothed as ``smooth``;
* ``prop<k>``: 32 more stored columns beside the positions: the features propagated ``k`` hops,
  ``(D^-1/2 (A + I) D^-1/2)^k X``, reduced to their 32 principal components and standardised (read like the
  positions, from a table computed once; the hidden layer keeps its width, so this student is slightly larger);
* ``conf``: each node's KL term weighted by the teacher's confidence there (its largest probability, the weights
  scaled to mean 1), so the nodes the teacher is unsure of teach less;
* ``drop<q>``: the share ``q`` of non-training nodes where the teacher is least confident left out of the loss
  (a simple form of reliable-node distillation);
* ``temp<t>``: KD at temperature ``t`` (both the teacher's logits and the student's divided by ``t``, the term
  multiplied by ``t^2``);
* ``mse``: the student's logits matched to the teacher's by mean squared error instead of the KL (logit matching,
  Kim et al., 2021);
* ``sharpen<g>``: the teacher's probabilities pushed away from their neighbourhood mean,
  ``Y0 + g (Y0 - D^-1/2 (A + I) D^-1/2 Y0)``, clipped at 0 and renormalised: the opposite of ``smooth``, after
  the inverse propagation of Propagate & Distill (Shin and Shin, 2023);
* ``restarts<k>``: ``k`` students per split from different initialisations, the one with the best validation
  accuracy kept (selection on validation; the kept student is the packaged size).

It is a plain PyTorch loop (the packaged loop is graphdistill fit), so ``base`` is not the headline's run of
GLNN + positions: only the paired differences mean anything. It reads the teachers a grid trained (the headline's
teacher, split and seeds), e.g. ``graphdistill grid benchmarks/grids/glnn_adversarial_citation.yaml --root DATA
--workdir WORK``, then::

    python benchmarks/explorations/mlp_student_probes.py --root DATA --workdir WORK --dataset citeseer \\
        --seeds 10 --variants base,ema0.9,ema0.99,mixup0.4,width512,width1024 --out benchmarks/results/NAME.md
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
import yaml
from torch import Tensor, nn

from graphdistill.config_files import CONFIG_DIR
from graphdistill.data import NodeDataModule
from graphdistill.distill.propagated import label_propagation
from graphdistill.provenance import code_provenance, describe
from graphdistill.training.checkpoint import load_model


def packaged_student(dataset: str) -> tuple[int, float]:
    """``(width, dropout)`` of the packaged position-reading student (configs/<dataset>/student_mlp_positions.yaml),
    so that ``base`` trains the headline's student."""
    config = yaml.safe_load((CONFIG_DIR / dataset / "student_mlp_positions.yaml").read_text())
    model = config["model"]["init_args"]["model"]["init_args"]
    return int(model["hidden_channels"]), float(model["dropout"])


class Student(nn.Module):
    """A 2-layer MLP on ``[features | positions]`` whose first layer takes sparse features as a sparse product
    (dropout on their non-zeros only, which is dropout on the whole row)."""

    def __init__(self, features: int, positions: int, hidden: int, classes: int, dropout: float) -> None:
        super().__init__()
        self.first = nn.Linear(features + positions, hidden)  # one matrix, initialised as the packaged MLP's
        self.out = nn.Linear(hidden, classes)
        self.features = features
        self.dropout = dropout

    def forward(self, x: Tensor, position: Tensor) -> Tensor:
        weight = self.first.weight
        if x.layout == torch.sparse_csr:
            values = F.dropout(x.values(), self.dropout, self.training)
            x = torch.sparse_csr_tensor(x.crow_indices(), x.col_indices(), values, x.shape)
            h = torch.sparse.mm(x, weight[:, :self.features].t())
        else:
            h = F.dropout(x, self.dropout, self.training) @ weight[:, :self.features].t()
        h = h + F.dropout(position, self.dropout, self.training) @ weight[:, self.features:].t() + self.first.bias
        h = F.relu(h)
        return self.out(F.dropout(h, self.dropout, self.training))


def propagated_columns(x: Tensor, edge_index: Tensor, hops: int, width: int = 32) -> Tensor:
    """The features propagated ``hops`` times over the normalised graph, as ``width`` standardised principal
    components."""
    h = label_propagation(x, edge_index, hops, 1.0)
    h = h - h.mean(0)
    _, _, v = torch.pca_lowrank(h, q=width, center=False, niter=4)
    z = h @ v
    return z / z.std(0).clamp(min=1e-12)


def targets(variant: str, soft: Tensor, data) -> Tensor:
    """The soft labels a variant distils toward (the teacher's probabilities, or their smoothed forms)."""
    if variant.startswith("sharpen"):
        sharp = soft + float(variant[7:]) * (soft - label_propagation(soft, data.edge_index, 1, 1.0))
        sharp = sharp.clamp(min=0)
        return sharp / sharp.sum(1, keepdim=True).clamp(min=1e-12)
    if variant not in ("smooth", "cs"):
        return soft
    train_mask, labels = data.train_mask, F.one_hot(data.y, soft.size(1)).float()
    start = soft.clone()
    if variant == "cs":
        error = torch.zeros_like(soft)
        error[train_mask] = labels[train_mask] - soft[train_mask]
        spread = label_propagation(error, data.edge_index, 50, 0.8)
        scale = error[train_mask].abs().sum(1).mean() / spread.abs().sum(1, keepdim=True).clamp(min=1e-12)
        start = (soft + scale * spread).clamp(min=0)
        start = start / start.sum(1, keepdim=True).clamp(min=1e-12)
    start[train_mask] = labels[train_mask]
    y = label_propagation(start, data.edge_index, 10, 0.8)
    return y / y.sum(1, keepdim=True).clamp(min=1e-12)


def node_weights(variant: str, soft: Tensor, train_mask: Tensor) -> Tensor | None:
    """Per-node weights of the KL term (``None``: every node alike)."""
    confidence = soft.max(1).values
    if variant == "conf":
        return confidence / confidence.mean()
    if variant.startswith("drop"):
        share = float(variant[4:])
        others = confidence[~train_mask]
        cut = others.kthvalue(max(1, int(share * others.numel()))).values
        keep = (confidence > cut) | train_mask
        return keep.float() * keep.numel() / keep.sum()
    return None


def train(variant: str, x: Tensor, position: Tensor, logits: Tensor, data, seed: int, hidden: int,
          dropout: float) -> tuple[float, float]:
    """(validation, test) accuracy % at the best validation epoch of one student (``restarts<k>``: of the
    student with the best validation accuracy among ``k``, the first of them ``base``'s)."""
    if variant.startswith("restarts"):
        runs = [train_one("base", x, position, logits, data, seed + 1000 * k, hidden, dropout)
                for k in range(int(variant[8:]))]
        return max(runs, key=lambda run: run[0])
    return train_one(variant, x, position, logits, data, seed, hidden, dropout)


def train_one(variant: str, x: Tensor, position: Tensor, logits: Tensor, data, seed: int, hidden: int,
              dropout: float) -> tuple[float, float]:
    """(validation, test) accuracy % at the best validation epoch of one student."""
    torch.manual_seed(seed)
    temperature = float(variant[4:]) if variant.startswith("temp") else 1.0
    soft = targets(variant, F.softmax(logits / temperature, -1), data)
    weights = node_weights(variant, F.softmax(logits, -1), data.train_mask)
    width = int(variant[5:]) if variant.startswith("width") else hidden
    student = Student(x.size(1), position.size(1), width, soft.size(1), dropout)
    optimizer = torch.optim.Adam(student.parameters(), lr=0.01)
    average = copy.deepcopy(student) if variant.startswith("ema") else None
    decay = float(variant[3:]) if average is not None else 0.0
    dense = x.to_dense() if x.layout == torch.sparse_csr else x
    best = (-1.0, 0.0)
    for _ in range(200):
        student.train()
        optimizer.zero_grad()
        out = student(x, position)
        log_p = F.log_softmax(out / temperature, -1)
        if variant == "mse":
            loss = F.mse_loss(out, logits)
        elif weights is None:
            loss = F.kl_div(log_p, soft, reduction="batchmean") * temperature ** 2
        else:
            loss = (F.kl_div(log_p, soft, reduction="none").sum(1) * weights).mean()
        if variant.startswith("mixup"):
            a = float(variant[5:])
            other = torch.randperm(x.size(0))
            lam = torch.distributions.Beta(a, a).sample((x.size(0), 1))
            mixed = student(lam * dense + (1 - lam) * dense[other], lam * position + (1 - lam) * position[other])
            loss = loss + F.kl_div(F.log_softmax(mixed, -1), lam * soft + (1 - lam) * soft[other],
                                   reduction="batchmean")
        loss.backward()
        optimizer.step()
        evaluated = student
        if average is not None:
            with torch.no_grad():
                for a_, p in zip(average.parameters(), student.parameters()):
                    a_.mul_(decay).add_(p, alpha=1 - decay)
            evaluated = average
        evaluated.eval()
        with torch.no_grad():
            pred = evaluated(x, position).argmax(-1)
        val, test = (100 * (pred[m] == data.y[m]).float().mean().item() for m in (data.val_mask, data.test_mask))
        if val > best[0]:
            best = (val, test)
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", required=True)
    parser.add_argument("--workdir", required=True, help="the grid's workdir: WORK/<dataset>/seed<k>/teacher")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--variants", default="base,ema0.9,ema0.99,mixup0.4,width512,width1024")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    code = describe(code_provenance())  # the code that runs, not what the tree holds when it ends
    variants = args.variants.split(",")
    if variants[0] != "base":
        variants.insert(0, "base")
    results: dict[str, list[tuple[float, float]]] = {v: [] for v in variants}
    teachers = []
    student = packaged_student(args.dataset)
    for seed in range(args.seeds):
        data = NodeDataModule(args.dataset, root=args.root, split="glnn", split_seed=seed, positions=32).data
        run = Path(args.workdir) / args.dataset / f"seed{seed}" / "teacher"
        if not (run / "checkpoints" / "best.ckpt").is_file() or not (run / "results.json").is_file():
            parser.error(f"no trained teacher in {run}: run the grid that trains the headline's teachers with "
                         f"--workdir {args.workdir} first (see this script's docstring)")
        teacher = load_model(run / "checkpoints" / "best.ckpt").model.eval()
        teachers.append(json.loads((run / "results.json").read_text())["config_hash"][:16])
        with torch.no_grad():
            logits = teacher(**teacher.inputs(data)).logits
        x = data.x.float()
        if (x != 0).float().mean() < 0.25:
            x = x.to_sparse_csr()
        torch.manual_seed(seed)  # the principal components' randomised solver
        extra = {v: propagated_columns(data.x.float(), data.edge_index, int(v[4:])) for v in variants
                 if v.startswith("prop")}
        for v in variants:
            position = data.position.float()
            if v in extra:
                position = torch.cat([position, extra[v]], 1)
            results[v].append(train(v, x, position, logits, data, seed, *student))
        print(f"{args.dataset} seed {seed}: " + " | ".join(f"{v} {results[v][-1][0]:.2f}/{results[v][-1][1]:.2f}"
                                                         for v in variants), file=sys.stderr, flush=True)

    command = " ".join(argv if argv is not None else sys.argv[1:])
    seeds = f"{args.seeds} seed{'' if args.seeds == 1 else 's'}"
    lines = [f"{args.dataset}, {seeds} (validation / test accuracy % at the best validation epoch; paired Δ: test "
             "minus base's on the same split)", "",
             f"`python benchmarks/explorations/mlp_student_probes.py {command}`, {code}; "
             f"teachers' config hashes by seed: {', '.join(teachers)}", "",
             "| variant | validation | test | paired Δ test |", "| --- | --- | --- | --- |"]
    base = [t for _, t in results["base"]]
    for v in variants:
        vals, tests = [a for a, _ in results[v]], [t for _, t in results[v]]
        delta = "" if v == "base" else spread([t - b for t, b in zip(tests, base)], "+")
        lines.append(f"| {v} | {spread(vals)} | {spread(tests)} | {delta} |")
    report(lines, args.out)


def spread(xs: list[float], sign: str = "") -> str:
    """``mean ± std`` of ``xs`` to two decimals (``sign="+"``: signed, for differences)."""
    return f"{statistics.mean(xs):{sign}.2f} ± {statistics.stdev(xs) if len(xs) > 1 else 0.0:.2f}"


def report(lines: list[str], out: Path | None) -> None:
    """Print the table's lines and write them to ``out`` if given."""
    text = "\n".join(lines) + "\n"
    print(text)
    if out:
        out.write_text(text)


if __name__ == "__main__":
    main()
