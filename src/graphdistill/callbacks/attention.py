"""The ABKD attention map made visible: logged per epoch, drawn as a heatmap at the end."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import torch


class AttentionMapReport(L.Callback):
    """For every distillation component whose logs hold an ``attention_map`` (teacher layers ×
    student layers, e.g. :class:`~graphdistill.distill.LayerAttentionDistiller`; read from the
    distillation module's ``diagnostics``):

    - every training epoch, logs each entry as ``attention/<component>/t<i>_s<j>`` to the
      run's logger (none without one: a 65 × 5 map is 325 values a step, and the JSON below
      keeps them all; the entropy is logged by training as ``train/<component>/entropy``);
    - at the end of training, writes ``<log_dir>/attention_<component>.png`` (a heatmap with
      the values written in the cells) and ``attention_<component>.json`` (the final map and
      its per-epoch history), and prints where they are.

    Args:
        log_values: log every entry of the map each epoch (off: only the entropy).
        annotate_max_cells: write values into the cells up to this many cells.
    """

    def __init__(self, log_values: bool = True, annotate_max_cells: int = 400) -> None:
        self.log_values = log_values
        self.annotate_max_cells = annotate_max_cells
        self.history: dict[str, list[list[list[float]]]] = {}
        self.paths: dict[str, str] = {}

    @staticmethod
    def _maps(pl_module) -> list[tuple[str, torch.Tensor, bool]]:
        """``(component name, its last attention map, whether its last row is the logits)``."""
        components = dict(zip(getattr(pl_module, "component_names", []), getattr(pl_module, "components", [])))
        return [(name, logs["attention_map"].float().cpu(),
                 bool(getattr(components.get(name), "include_logits", False)))
                for name, logs in getattr(pl_module, "diagnostics", {}).items() if "attention_map" in logs]

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        for name, a, _ in self._maps(pl_module):
            self.history.setdefault(name, []).append(a.tolist())
            if self.log_values and trainer.loggers:  # without a logger the history (JSON) is the record
                for i in range(a.size(0)):
                    for j in range(a.size(1)):
                        pl_module.log(f"attention/{name}/t{i}_s{j}", a[i, j])

    def on_fit_end(self, trainer, pl_module) -> None:
        out_dir = Path(trainer.log_dir or trainer.default_root_dir)  # a collective call under DDP: every rank
        if not trainer.is_global_zero:
            return
        for name, a, last_is_logits in self._maps(pl_module):
            out_dir.mkdir(parents=True, exist_ok=True)
            png = out_dir / f"attention_{name}.png"
            draw_attention(a, png, title=f"{name}: attention (teacher layer × student layer), final epoch",
                           annotate=a.numel() <= self.annotate_max_cells,
                           last_is_logits=last_is_logits)
            (out_dir / f"attention_{name}.json").write_text(json.dumps(
                {"final": a.tolist(), "rows": "teacher layers", "columns": "student layers",
                 "history": self.history.get(name, [])}))
            self.paths[name] = str(png)
            print(f"Attention map of {name} written to {png} (values and history in {png.with_suffix('.json')})",
                  flush=True)

    def artifacts(self) -> dict[str, str]:
        """Files this callback wrote, by name (listed in the run's ``results.json``)."""
        return {f"attention_{name}": path for name, path in self.paths.items()}


def draw_attention(a: torch.Tensor, path: Path, title: str = "attention", annotate: bool = True,
                   last_is_logits: bool = False) -> None:
    """A teacher-layers × student-layers heatmap of ``a``, with the values in the cells (layers
    numbered from 1; the last one labelled ``logits`` where it is the model's output)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, cols = a.shape
    fig, ax = plt.subplots(figsize=(2.2 + 1.1 * cols, 1.6 + 0.3 * rows), constrained_layout=True)
    image = ax.imshow(a.numpy(), aspect="auto", cmap="viridis", vmin=0.0, vmax=max(float(a.max()), 1e-6))
    ax.set_xlabel("student layer")
    ax.set_ylabel("teacher layer")
    def label(k: int, n: int) -> str:
        return "logits" if last_is_logits and k == n - 1 else str(k + 1)

    ax.set_xticks(range(cols), [label(j, cols) for j in range(cols)])
    step = max(1, rows // 20)
    ticks = sorted({*range(0, rows, step), rows - 1})
    ax.set_yticks(ticks, [label(i, rows) for i in ticks])
    ax.set_title(title, fontsize=9)
    if annotate:
        for i in range(rows):
            for j in range(cols):
                v = float(a[i, j])
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7,
                        color="black" if v > 0.6 * float(a.max()) else "white")
    fig.colorbar(image, ax=ax)
    fig.savefig(path, dpi=110)
    plt.close(fig)
