"""OAD: online adversarial distillation among a group of students, with no pre-trained teacher.

This module is the glue (the students, their optimizers, per-student selection and files);
the losses and discriminators are in :mod:`graphdistill.distill.online`.

Wang et al., "Online Adversarial Knowledge Distillation for Graph Neural Networks". K
students train together; for each student the mean of its peers' logits is the teacher
(global knowledge), and a ring of discriminators passes local knowledge: ``D_k`` learns
to tell student ``k``'s last hidden embeddings (real) from student ``k-1``'s (fake), and
student ``k-1`` then learns to fool the updated ``D_k``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import Data

from ..data.metrics import score as evaluation_score
from ..distill.online import PeerDiscriminator, group_kl, ring_discriminator_losses, ring_fooling_losses
from ..errors import ConfigError
from ..models import NodeClassifier, build_model
from .checkpoint import CHECKPOINT_KEY
from .plain import NodeClassificationModule


class OnlineDistillationModule(NodeClassificationModule):
    """OAD: K students and K cyclic discriminators trained together from scratch.

    Each training step (full graph) after ``warmup_epochs`` of cross-entropy only:

    1. every discriminator ``D_k`` takes one step of its own Adam on
       ``BCE(D_k(h_k) → real) + BCE(D_k(h_{k-1}) → fake)``, embeddings detached;
    2. all students take one step of one Adam on
       ``Σ_k CE_k + kl_weight · Σ_k T²·KL(z̄_{-k} || z_k) + adversarial_weight · Σ_k BCE(D_k(h_{k-1}) → real)``,
       where ``z̄_{-k}`` is the detached mean of the other students' logits and ``h`` is each
       student's last hidden layer (``hiddens[-1]``).

    Evaluation logs ``<split>/<metric>_s<k>`` per student, ``_mean`` and ``_ensemble`` (the
    mean of the students' logits), and ``<split>/<metric>``: the student best on validation
    (the checkpoint callback selects on it). Each student and the ensemble is also selected on
    its own (``selection``: its test at its own best validation epoch; :meth:`run_summary`);
    ``improved`` lists the students whose validation score rose at the last validation, which
    :class:`~graphdistill.callbacks.SaveStudents` (listed in ``methods/oad.yaml``) writes as
    plain single-model checkpoints ``students/student<k>.ckpt``.

    Not copied from the public code: a ReLU before the discriminator's sigmoid, a KL divided
    by ``N`` twice, model selection on the test set. Without the ReLU, plain discriminators
    win early and the students collapse; L2-normalised embeddings, mean aggregation and
    spectral normalisation (the defaults) keep the game bounded (``benchmarks/results/defaults.md``).

    Args:
        model: student 0 (its width and class count are linked from the data).
        num_students: K, the group size (default 4).
        peers: architectures of students 1..K-1 as ``{class_path, init_args}`` without
            ``in_channels``/``out_channels`` (taken from ``model``); default: copies of
            ``model``'s architecture, each from its own random draw.
        temperature: T of the group KL (reference 3).
        kl_weight / adversarial_weight: ``λ_kl`` and ``λ_adv`` (reference 1 and 1).
        warmup_epochs: epochs of cross-entropy only before distillation starts.
        discriminator_hidden / discriminator_aggr / discriminator_spectral_norm: each ``D_k``
            (:class:`~graphdistill.distill.online.PeerDiscriminator`).
        discriminator_lr / discriminator_weight_decay: each ``D_k``'s Adam.
        normalize_embeddings: L2-normalise each node's embedding before the discriminators.
        lr / weight_decay: the students' Adam (reference 5e-3, 5e-4).
    """

    def __init__(
        self,
        model: NodeClassifier,
        num_students: int = 4,
        peers: list[dict[str, Any]] | None = None,
        temperature: float = 3.0,
        kl_weight: float = 1.0,
        adversarial_weight: float = 1.0,
        warmup_epochs: int = 100,
        discriminator_hidden: int = 64,
        discriminator_lr: float = 5e-3,
        discriminator_weight_decay: float = 5e-4,
        lr: float = 5e-3,
        weight_decay: float = 5e-4,
        normalize_embeddings: bool = True,
        discriminator_aggr: str = "mean",
        discriminator_spectral_norm: bool = True,
    ) -> None:
        super().__init__(model, lr=lr, weight_decay=weight_decay)
        if num_students < 2:
            raise ConfigError(f"OnlineDistillationModule: num_students must be >= 2 (the group teaches itself), "
                              f"got {num_students}.")
        if peers is not None and len(peers) != num_students - 1:
            raise ConfigError(f"OnlineDistillationModule: peers lists {len(peers)} architectures but num_students="
                              f"{num_students} needs {num_students - 1} (students 1..K-1; student 0 is `model`).")
        specs = peers if peers is not None else [model.spec()] * (num_students - 1)
        self.peers = nn.ModuleList(_build_peer(spec, model) for spec in specs)
        widths = [s.hidden_widths[-1] if s.hidden_widths else None for s in self.students]
        if None in widths or len(set(widths)) > 1:
            raise ConfigError(
                "OnlineDistillationModule: discriminator D_k compares student k's last hidden layer with student "
                f"k-1's, so every student needs a hidden layer of one width; got last hidden widths {widths}. "
                "Give all students num_layers >= 2 and the same hidden_channels.")
        self.discriminators = nn.ModuleList(
            PeerDiscriminator(widths[0], discriminator_hidden, discriminator_aggr, discriminator_spectral_norm)
            for _ in range(num_students))
        self.num_students, self.temperature, self.warmup_epochs = num_students, temperature, warmup_epochs
        self.kl_weight, self.adversarial_weight = kl_weight, adversarial_weight
        self.discriminator_lr, self.discriminator_weight_decay = discriminator_lr, discriminator_weight_decay
        self.normalize_embeddings = normalize_embeddings
        self.automatic_optimization = False
        #: per student ("s<k>") and "ensemble": best validation score, its epoch, test there
        self.selection: dict[str, dict[str, Any]] = {}
        #: students whose validation score improved at the last validation epoch
        self.improved: list[int] = []
        self.scored = [*(f"s{k}" for k in range(num_students)), "ensemble"]

    @property
    def students(self) -> list[NodeClassifier]:
        return [self.model, *self.peers]

    def trained_models(self) -> list[NodeClassifier]:
        return self.students

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        students = [p for s in self.students for p in s.parameters() if p.requires_grad]
        return [torch.optim.Adam(students, lr=self.lr, weight_decay=self.weight_decay),
                *(torch.optim.Adam(d.parameters(), lr=self.discriminator_lr,
                                   weight_decay=self.discriminator_weight_decay) for d in self.discriminators)]

    def setup(self, stage: str) -> None:
        if getattr(self.trainer.datamodule, "sampled", False):
            raise ConfigError("OnlineDistillationModule trains full-batch (its discriminators are GNNs over the "
                              "whole graph): use --data.loader full.")
        super().setup(stage)
        if self.multilabel:
            raise ConfigError("OnlineDistillationModule teaches each student by a softmax over its peers' logits; this "
                              "dataset is multi-label (independent tasks). Use offline distillation (LogitKD).")
        for name in (f"{split}_{key}" for split in ("train", "val", "test") for key in self.scored):
            if name not in self.metrics:
                self.metrics[name] = self.trainer.datamodule.make_metric()

    # ------------------------------------------------------------------ training
    def training_step(self, batch: Data, batch_idx: int) -> Tensor:
        student_opt, *discriminator_opts = self.optimizers()
        outs = [s(**s.inputs(batch)) for s in self.students]
        mask, n = self.train_nodes(batch), batch.num_nodes
        terms = {f"ce/s{k}": self.task_loss(o.logits[mask], batch.y[mask]) for k, o in enumerate(outs)}
        weights = dict.fromkeys(terms, 1.0)
        distilling = self.current_epoch >= self.warmup_epochs
        if distilling:
            hidden = [F.normalize(o.hiddens[-1], dim=-1) if self.normalize_embeddings else o.hiddens[-1]
                      for o in outs]
            # the discriminators first: each D_k's loss depends on its own parameters only (the
            # embeddings are detached), so one backward pass fills every D_k's gradient
            results = ring_discriminator_losses(list(self.discriminators), hidden, batch.edge_index)
            losses = {f"disc/d{k}": loss for k, (loss, _) in enumerate(results)}
            self.check_finite(losses)
            for opt in discriminator_opts:
                opt.zero_grad()
            self.manual_backward(sum(losses.values()))
            for opt in discriminator_opts:
                opt.step()
            for k, (loss, acc) in enumerate(results):
                self.log_dict({f"train/disc/d{k}": loss, f"train/disc/d{k}/acc": acc}, batch_size=n)
            for k, kl in enumerate(group_kl([o.logits for o in outs], self.temperature)):
                terms[f"kl/s{k}"], weights[f"kl/s{k}"] = kl, self.kl_weight
        with self.toggled_optimizer(student_opt):  # the discriminators are frozen here
            if distilling:
                for k, fooling in enumerate(ring_fooling_losses(list(self.discriminators), hidden, batch.edge_index)):
                    terms[f"adv/s{k}"], weights[f"adv/s{k}"] = fooling, self.adversarial_weight
            total = self.combine_terms(terms, weights, n)
            student_opt.zero_grad()
            self.manual_backward(total)
            student_opt.step()
        for k, o in enumerate(outs):
            metric = self.metrics[f"train_s{k}"]
            metric(o.logits[mask].detach(), batch.y[mask])  # this step's score; Lightning resets it
            self.log(f"train/{self.metric_name}_s{k}", metric, batch_size=n)
        return total.detach()

    # ------------------------------------------------------------------ evaluation
    def validation_step(self, batch: Data, batch_idx: int) -> None:
        # test is scored alongside validation only to be reported at each model's best
        # validation epoch (see `selection`); it never chooses anything
        logits = [s(**s.inputs(batch)).logits for s in self.students]
        logits.append(torch.stack(logits).mean(0))  # the ensemble
        for split in ("val", "test"):
            mask = getattr(batch, f"{split}_mask")
            for key, z in zip(self.scored, logits):
                self.metrics[f"{split}_{key}"].update(z[mask].detach(), batch.y[mask])

    test_step = validation_step

    def predict_step(self, batch: Data, batch_idx: int) -> Tensor:
        """The predictions of the student best on validation at this checkpoint (the one
        ``<split>/<metric>`` reports and the checkpoint was selected on)."""
        logits = [s(**s.inputs(batch)).logits for s in self.students]
        mask = batch.val_mask
        best = max(range(len(logits)), key=lambda k: evaluation_score(logits[k][mask], batch.y[mask]))
        return logits[best]

    def _scores(self, split: str) -> dict[str, float]:
        scores = {}
        for key in self.scored:
            metric = self.metrics[f"{split}_{key}"]
            scores[key] = float(metric.compute())
            metric.reset()
        return scores

    def on_validation_epoch_end(self) -> None:
        val, test = self._scores("val"), self._scores("test")
        self._log_scores("val", val, val)
        self.improved = []
        if self.trainer.sanity_checking:
            return
        for key, score in val.items():
            if key not in self.selection or score > self.selection[key]["val"]:
                self.selection[key] = {"val": score, "test": test[key], "epoch": self.current_epoch}
                if key != "ensemble":
                    self.improved.append(int(key[1:]))

    def on_test_epoch_end(self) -> None:
        val, test = self._scores("val"), self._scores("test")
        self._log_scores("test", test, val)

    def _log_scores(self, split: str, scores: dict[str, float], val: dict[str, float]) -> None:
        students = [scores[f"s{k}"] for k in range(self.num_students)]
        best = max(range(self.num_students), key=lambda k: val[f"s{k}"])
        self.log_dict({f"{split}/{self.metric_name}_{key}": score for key, score in scores.items()})
        self.log(f"{split}/{self.metric_name}_mean", sum(students) / len(students))
        self.log(f"{split}/{self.metric_name}", students[best], prog_bar=split == "val")

    # ------------------------------------------------------------------ results
    def run_summary(self) -> dict[str, Any]:
        """Each student and the ensemble at its own best validation epoch; the best student
        (chosen on validation) and the students' mean."""
        students = [dict(self.selection[f"s{k}"]) for k in range(self.num_students) if f"s{k}" in self.selection]
        if not students:
            return {}
        best = max(range(len(students)), key=lambda k: students[k]["val"])
        tests = [s["test"] for s in students]
        return {"online": {"students": students, "best_student": best, "ensemble": self.selection.get("ensemble"),
                           "mean_student_test": sum(tests) / len(tests)},
                "best_val": students[best]["val"], "test": students[best]["test"]}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint[CHECKPOINT_KEY]["online"] = {"selection": self.selection,
                                                "peers": [p.spec() for p in self.peers]}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        if self._trainer is not None and self.trainer.state.fn != "fit":
            return  # testing a checkpoint: keep the selection of the whole run
        self.selection = ((checkpoint.get(CHECKPOINT_KEY) or {}).get("online") or {}).get("selection", {})


def _build_peer(spec: dict[str, Any], model: NodeClassifier) -> NodeClassifier:
    if not isinstance(spec, dict) or "class_path" not in spec:
        raise ConfigError(f"OnlineDistillationModule: each peer is {{class_path, init_args}}, got {spec!r}.")
    init_args = {**spec.get("init_args", {}), "in_channels": model.in_channels, "out_channels": model.out_channels}
    try:
        return build_model({"class_path": spec["class_path"], "init_args": init_args})
    except (ImportError, AttributeError, TypeError) as err:
        raise ConfigError(f"OnlineDistillationModule: cannot build peer {spec['class_path']}: {err}") from None
