"""Your own graph and your own teacher, end to end.

1. build a small graph in plain PyG (a stochastic block model whose features are noisy,
   so the structure matters) and save it as a ``.pt`` file with its split;
2. train a GCN in plain PyG, outside graphdistill, and save its ``state_dict`` with a
   small spec (``teacher.yaml``) naming its class, init args and hidden layer;
3. distil a graph-free MLP from it with ``graphdistill fit`` and compare with the MLP
   trained alone.

    python scripts/examples/own_graph_and_teacher.py --out runs/own_graph

The graphdistill commands it runs are printed; run them yourself with your files.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
import yaml
from torch_geometric.data import Data
from torch_geometric.nn.models import GCN
from torch_geometric.utils import stochastic_blockmodel_graph


def build_graph(num_classes: int = 4, per_class: int = 250, features: int = 32, seed: int = 0) -> Data:
    """A homophilous graph whose features alone separate the classes poorly."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    probs = torch.full((num_classes, num_classes), 0.002) + torch.eye(num_classes) * 0.02
    edge_index = stochastic_blockmodel_graph([per_class] * num_classes, probs)
    y = torch.arange(num_classes).repeat_interleave(per_class)
    centers = torch.randn(num_classes, features, generator=gen)
    x = 0.35 * centers[y] + torch.randn(y.numel(), features, generator=gen)
    perm = torch.randperm(y.numel(), generator=gen)
    train, val = torch.zeros(y.numel(), dtype=torch.bool), torch.zeros(y.numel(), dtype=torch.bool)
    train[perm[:80]], val[perm[80:280]] = True, True
    return Data(x=x, edge_index=edge_index, y=y, train_mask=train, val_mask=val, test_mask=~(train | val))


def train_gcn(data: Data, epochs: int = 200) -> GCN:
    """A plain PyG training loop: what a user's own script looks like."""
    torch.manual_seed(0)
    model = GCN(data.num_features, 64, num_layers=2, out_channels=int(data.y.max()) + 1, dropout=0.5)
    opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    for _ in range(epochs):
        model.train()
        opt.zero_grad()
        F.cross_entropy(model(data.x, data.edge_index)[data.train_mask], data.y[data.train_mask]).backward()
        opt.step()
    return model.eval()


def fit(out: Path, name: str, *configs: Path) -> dict:
    command = ["graphdistill", "fit", *(a for c in configs for a in ("--config", str(c))),
               f"--trainer.default_root_dir={out / 'runs' / name}"]
    print("$", shlex.join(command), flush=True)
    exe = Path(sys.executable).with_name("graphdistill")
    subprocess.run([str(exe) if exe.exists() else "graphdistill", *command[1:]], check=True)
    results = sorted((out / "runs" / name).rglob("results.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(results[-1].read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/own_graph"), help="folder for every file written")
    parser.add_argument("--epochs", type=int, default=200, help="training epochs of each student")
    args = parser.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)

    # 1. the graph, saved as a PyG Data
    data = build_graph()
    torch.save(data, out / "graph.pt")

    # 2. a teacher trained in plain PyG, saved as its state dict plus a spec
    teacher = train_gcn(data)
    with torch.no_grad():
        acc = (teacher(data.x, data.edge_index).argmax(-1) == data.y)[data.test_mask].float().mean()
    print(f"GCN teacher trained in plain PyG: test accuracy {acc:.2%}")
    torch.save(teacher.state_dict(), out / "gcn_weights.pt")
    (out / "teacher.yaml").write_text(yaml.safe_dump({
        "class_path": "torch_geometric.nn.models.GCN",
        "init_args": {"in_channels": data.num_features, "hidden_channels": 64, "num_layers": 2,
                      "out_channels": int(data.y.max()) + 1, "dropout": 0.5},
        "state_dict": "gcn_weights.pt",  # relative to this file
        "hidden_layers": ["convs.0"],  # the first layer's output, for feature methods
    }, sort_keys=False))

    # 3. an MLP student: alone, then distilled from the GCN (logit KD)
    (out / "student_mlp.yaml").write_text(yaml.safe_dump({
        "seed_everything": 0,
        "trainer": {"max_epochs": args.epochs, "enable_progress_bar": False, "enable_model_summary": False},
        "model": {"class_path": "graphdistill.training.NodeClassificationModule", "init_args": {
            "lr": 0.01, "weight_decay": 5e-4, "model": {"class_path": "graphdistill.models.MLP", "init_args": {
                "hidden_channels": 64, "num_layers": 2, "dropout": 0.5}}}},
        "data": {"dataset": str(out / "graph.pt")},
    }, sort_keys=False))
    (out / "kd.yaml").write_text(yaml.safe_dump({
        "model": {"class_path": "graphdistill.training.DistillationModule", "init_args": {
            "teacher": str(out / "teacher.yaml"), "task_weight": 0.1, "components": [
                {"class_path": "graphdistill.distill.LogitKD", "init_args": {"weight": 0.9, "temperature": 4.0}}]}},
    }, sort_keys=False))
    alone = fit(out, "mlp_alone", out / "student_mlp.yaml")
    distilled = fit(out, "mlp_kd", out / "student_mlp.yaml", out / "kd.yaml")
    print()
    print(f"GCN teacher (plain PyG)          test {acc:.2%}")
    print(f"MLP alone                        test {alone['test']:.2%}")
    print(f"MLP distilled from your GCN      test {distilled['test']:.2%}  ({distilled['best_checkpoint']})")


if __name__ == "__main__":
    main()
