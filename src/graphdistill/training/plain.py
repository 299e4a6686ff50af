"""Training one model on its task loss alone: teachers, and students without distillation.

:class:`NodeClassificationModule` owns the one training/evaluation loop of graphdistill;
the distillation module extends its loss and nothing else.
"""

from __future__ import annotations

import inspect
import math
import random
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from lightning.pytorch.strategies import DDPStrategy
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor, nn
from torch_geometric.data import Data

from ..data import num_seeds, seed_mask, seed_nodes
from ..distill.consistency import ConsistencyRegularization
from ..errors import ConfigError, GraphDistillWarning, NonFiniteLossError
from ..models import ModelOutput, NodeClassifier
from .checkpoint import CHECKPOINT_KEY, model_record


class NodeClassificationModule(L.LightningModule):
    """Trains ``model`` on cross-entropy over the training nodes and evaluates it.

    Logs ``train/loss``, ``train/<metric>``, ``val/<metric>`` and ``test/<metric>``, where the
    metric is the dataset's (accuracy; OGB's Evaluator for OGB datasets). Select the model on
    ``val/<metric>`` (the CLI's checkpoint callback does) and report test at that epoch.

    Each checkpoint carries, under ``"graphdistill"``, the model's spec (class and
    constructor arguments) and the dataset's fingerprint, so a checkpoint alone rebuilds
    the model and says which data it was trained on.

    Args:
        model: the network to train (its ``in_channels``/``out_channels`` are linked from the
            data by the CLI).
        lr: Adam learning rate.
        weight_decay: Adam weight decay (L2).
        consistency: GRAND's consistency regularisation
            (:class:`~graphdistill.distill.ConsistencyRegularization`, injected): the model trains on
            random DropNode views, the first read by the task loss, all pulled toward their sharpened
            mean on every node (``train/consistency``). ``None`` (the default): plain training.
    """

    def __init__(self, model: NodeClassifier, lr: float = 0.01, weight_decay: float = 5e-4,
                 consistency: ConsistencyRegularization | None = None) -> None:
        super().__init__()
        if not isinstance(model, NodeClassifier):
            raise ConfigError(f"model must be a graphdistill NodeClassifier, got {type(model).__name__}.")
        if consistency is not None and not isinstance(consistency, ConsistencyRegularization):
            raise ConfigError(f"consistency must be a ConsistencyRegularization, got {type(consistency).__name__}.")
        if consistency is not None and not model.uses_graph:
            raise ConfigError(f"ConsistencyRegularization drops whole nodes' features, which a graph model recovers "
                              f"from their neighbours; {type(model).__name__} reads no graph: leave consistency out.")
        check_optimizer_settings(type(self).__name__, lr, weight_decay)
        self.model = model
        self.lr = lr
        self.weight_decay = weight_decay
        self.consistency = consistency
        self.metric_name = "acc"
        self.multilabel = False
        self.data_fingerprint: dict[str, Any] | None = None
        self.inference_batch_size: int | None = None
        self.metrics = nn.ModuleDict()
        #: the run's identity, ``{"hash", "values"}``: the resolved config's keys that define
        #: the run, flat, and their hash (set by the CLI, see
        #: :func:`~graphdistill.training.checkpoint.run_identity`); stored in every checkpoint
        #: so that a resume can refuse a changed run
        self.run_config: dict[str, Any] | None = None

    @property
    def uses_unlabelled_nodes(self) -> bool:
        """Whether training batches should be seeded at unlabelled nodes too (read by the data
        module's ``train_seeds: auto``): plain training learns from labelled nodes only, a
        consistency term from every node."""
        return self.consistency is not None

    # ------------------------------------------------------------------ set-up
    def setup(self, stage: str) -> None:
        datamodule = self.trainer.datamodule
        if datamodule is None:
            raise RuntimeError(f"{type(self).__name__} needs a NodeDataModule: pass datamodule= to the Trainer call.")
        self.metric_name = datamodule.metric_name
        self.multilabel = datamodule.multilabel
        if self.multilabel and self.consistency is not None:
            raise ConfigError("ConsistencyRegularization reads the logits as one softmax over classes, but this "
                              "dataset is multi-label (independent tasks): leave consistency out.")
        self.data_fingerprint = datamodule.fingerprint()
        self.inference_batch_size = datamodule.inference_chunk
        strategy = self.trainer.strategy
        if not self.automatic_optimization and isinstance(strategy, DDPStrategy):
            # several optimizers, each stepping on a loss that reaches part of the parameters
            # (discriminators, then the student): DDP must find the unused ones at every
            # backward pass, or it fails at the next step
            strategy._ddp_kwargs["find_unused_parameters"] = True
        if getattr(datamodule, "sampled", False):
            for model in self.trained_models():
                check_sampling(model, datamodule.num_neighbors)
        for model in self.trained_models():
            model.check_graph(datamodule.data)
            if ("edge_weight" in datamodule.data and model.uses_graph
                    and "edge_weight" not in model.graph_attributes):
                reads = "edge_weight" in inspect.signature(type(model)).parameters
                how = (f"{type(model).__name__} reads them with edge_weight: true" if reads
                       else "GCN and GraphSAGE read them with edge_weight: true")
                rank_zero_warn(f"The graph has edge weights, but {type(model).__name__} counts every edge once: "
                               f"{how}.", category=GraphDistillWarning)
        if not len(self.metrics):
            splits = ["train", "val", "test"] + (["test_observed", "test_unseen"] if datamodule.inductive else [])
            for split in splits:
                self.metrics[f"{split}_metric"] = datamodule.make_metric()

    def trained_models(self) -> list[NodeClassifier]:
        """The networks this module trains (one here; several in online distillation)."""
        return [self.model]

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.trainable_parameters(), lr=self.lr, weight_decay=self.weight_decay)

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    # ------------------------------------------------------------------ steps
    def forward(self, batch: Data) -> ModelOutput:
        return self.model(**self.model.inputs(batch))

    def task_loss(self, logits: Tensor, target: Tensor) -> Tensor:
        if self.multilabel:  # the known targets only (-1: a task's target unknown at that node)
            known = target >= 0
            return F.binary_cross_entropy_with_logits(logits[known], target[known].float())
        return F.cross_entropy(logits, target)

    def training_step(self, batch: Data, batch_idx: int) -> Tensor:
        return self.training_loss(self.training_forward(batch), batch)

    def training_forward(self, batch: Data) -> ModelOutput:
        """The model's outputs that a training step learns from: a forward pass, or under
        ``consistency`` the first of its random DropNode views."""
        return self(batch) if self.consistency is None else self.dropnode_view(batch)

    def dropnode_view(self, batch: Data) -> ModelOutput:
        """The model's outputs on one random DropNode view of the batch's features (its other
        inputs as they are)."""
        assert self.consistency is not None
        inputs = self.model.inputs(batch)
        return self.model(**{**inputs, "x": self.consistency.drop_nodes(inputs["x"])})

    def training_views(self, out: ModelOutput, batch: Data) -> list[ModelOutput]:
        """The step's outputs that the task loss averages over: ``[out]``, or under
        ``consistency`` its ``views`` random DropNode views (``out`` the first, the others run
        here)."""
        if self.consistency is None:
            return [out]
        return [out] + [self.dropnode_view(batch) for _ in range(self.consistency.views - 1)]

    def consistency_term(self, views: list[ModelOutput], batch: Data) -> Tensor:
        """The consistency term of the step's views over its seed nodes of the classified type."""
        assert self.consistency is not None
        nodes = seed_mask(batch)
        return self.consistency([v.logits[nodes] for v in views])

    def training_loss(self, out: ModelOutput, batch: Data) -> Tensor:
        """Task loss on the labelled training nodes (logged; under ``consistency`` the mean over
        the views, as GRAND's supervised loss), extended by :meth:`distillation_loss`."""
        views = self.training_views(out, batch)
        mask = self.train_nodes(batch)
        labelled = int(mask.sum())
        if labelled:
            loss = torch.stack([self.task_loss(v.logits[mask], batch.y[mask]) for v in views]).mean()
            self.log_metric("train", out.logits[mask], batch.y[mask])
            self.log("train/loss", loss, batch_size=labelled)
        else:  # a sampled batch seeded at unlabelled nodes only: no task term this step
            loss = out.logits.sum() * 0.0
        return self.distillation_loss(out, batch, loss, views)

    def distillation_loss(self, out: ModelOutput, batch: Data, task_loss: Tensor,
                          views: list[ModelOutput]) -> Tensor:
        """The loss to minimise; plain training minimises the task loss, plus the consistency
        term of ``views`` where one is given (extended by the distillation module)."""
        if self.consistency is None:
            self.check_finite({"loss": task_loss})
            return task_loss
        terms = {"task": task_loss, "consistency": self.consistency_term(views, batch)}
        return self.combine_terms(terms, {"task": 1.0, "consistency": self.consistency.weight}, num_seeds(batch))

    def check_finite(self, terms: dict[str, Tensor]) -> None:
        """Stop training with :class:`NonFiniteLossError` if a loss term is NaN or infinite.

        Called before the terms are backpropagated, so the weights never take a step from a
        bad loss. One device sync per step."""
        if not terms:
            return
        if bool(torch.stack([t.detach().float().sum() for t in terms.values()]).isfinite().all()):
            return
        name, value = next((n, t) for n, t in terms.items() if not bool(t.detach().isfinite().all()))
        trainer = self._trainer
        step = self.training_step_index(trainer.fit_loop.epoch_loop.batch_idx) if trainer is not None else "?"
        self.stop_nonfinite(f"loss term train/{name} became {value.detach().float().sum().item()} at training step "
                            f"{step} (epoch {self.current_epoch}); that step was not applied")

    def combine_terms(self, terms: dict[str, Tensor], weights: dict[str, float], batch_size: int) -> Tensor:
        """``Σ weight · term``, the loss to minimise: every term *and* the weighted total are
        checked (:meth:`check_finite`: a NaN or infinity stops the run before the step), then
        logged as ``train/<name>`` (unweighted) and ``train/total``. The one place where loss
        terms are weighted and checked."""
        total = sum(weights[name] * term for name, term in terms.items())
        self.check_finite({**terms, "total": total})
        for name, term in terms.items():
            self.log(f"train/{name}", term, batch_size=batch_size)
        self.log("train/total", total, batch_size=batch_size)
        return total

    def stop_nonfinite(self, what: str) -> None:
        """Raise :class:`NonFiniteLossError` saying ``what`` happened and how to go on: from
        the last checkpoint (never written with non-finite weights, see
        :class:`~graphdistill.training.checkpoint.SafeCheckpointIO`) with a lower learning
        rate, which a resume accepts, or a new run."""
        trainer = self._trainer
        last = getattr(trainer.checkpoint_callback, "last_model_path", "") if trainer is not None else ""
        lower = f"{self.lr / 10:g}"
        if last and Path(last).is_file():
            where = (f"The last good checkpoint is {last}: resume from it with a lower learning rate "
                     f"(--ckpt_path {last} --model.init_args.lr {lower}), or start again with a lower learning rate "
                     "or this term's weight.")
        else:
            where = ("No checkpoint was written before it. Start again with a lower learning rate (e.g. "
                     f"--model.init_args.lr {lower}) or a lower weight for this term.")
        raise NonFiniteLossError(f"Training stopped: {what}. {where} Check the inputs for NaN too.")

    def training_step_index(self, batch_idx: int) -> int:
        """Index of the current training step counted from the start of training (unlike
        Lightning's ``global_step``, which counts optimizer steps, several per step under
        manual optimization with several optimizers)."""
        return self.current_epoch * int(self.trainer.num_training_batches) + batch_idx

    @staticmethod
    def train_nodes(batch: Data) -> Tensor:
        """Boolean mask of the labelled training nodes among the batch's seed nodes."""
        mask = torch.zeros_like(batch.train_mask)
        mask[seed_nodes(batch)] = batch.train_mask[seed_nodes(batch)]
        return mask

    def evaluation_outputs(self, batch: Data) -> ModelOutput:
        """The model's outputs for evaluation: a forward pass, or layer-wise
        full-neighbourhood inference under neighbor sampling (``inference_batch_size``)."""
        return self.model.inference(**self.model.inputs(batch), batch_size=self.inference_batch_size)

    def _evaluate(self, batch: Data, split: str) -> None:
        out = self.evaluation_outputs(batch)
        seeds = seed_nodes(batch)
        mask = getattr(batch, f"{split}_mask")[seeds]
        logits, target = out.logits[seeds][mask], batch.y[seeds][mask]
        loss = self.task_loss(logits, target)
        if split == "val" and self._trainer is not None and self.trainer.state.fn == "fit" \
                and not bool(loss.isfinite()):
            self.stop_nonfinite(f"val/loss became {float(loss)} at epoch {self.current_epoch} (the weights diverged)")
        self.log(f"{split}/loss", loss, batch_size=int(mask.sum()), sync_dist=True)
        self.log_metric(split, logits, target)
        unseen = getattr(batch, "unseen_mask", None)
        if split == "test" and unseen is not None and "test_unseen_metric" in self.metrics:
            # the inductive setting: test nodes seen during training vs hidden from it
            unseen = unseen[seeds][mask]
            for part, nodes in (("observed", ~unseen), ("unseen", unseen)):
                if bool(nodes.any()):
                    self.log_metric(split, logits[nodes], target[nodes], suffix=f"_{part}")

    def log_metric(self, split: str, logits: Tensor, target: Tensor, suffix: str = "") -> None:
        metric = self.metrics[f"{split}{suffix}_metric"]
        metric.update(logits.detach(), target)
        self.log(f"{split}/{self.metric_name}{suffix}", metric, on_step=False, on_epoch=True,
                 prog_bar=split == "val", batch_size=target.size(0))

    def validation_step(self, batch: Data, batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: Data, batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def predict_step(self, batch: Data, batch_idx: int) -> Tensor:
        return self.evaluation_outputs(batch).logits[seed_nodes(batch)]

    # ------------------------------------------------------------------ checkpoints
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[CHECKPOINT_KEY] = {**model_record(self.model, self.data_fingerprint, self.metric_name),
                                      "rng": rng_states()}
        if self.run_config is not None:
            checkpoint[CHECKPOINT_KEY]["config"] = self.run_config

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Restore the random streams (dropout, node sampling), so that a resumed run goes on
        exactly as the uninterrupted run would have; the optimizers keep this run's learning
        rates (the one setting a resume may change, e.g. lowered after a divergence)."""
        states = (checkpoint.get(CHECKPOINT_KEY) or {}).get("rng")
        if states:
            set_rng_states(states)
        saved = checkpoint.get("optimizer_states")
        if saved:
            fresh = self.configure_optimizers()
            fresh = fresh if isinstance(fresh, (list, tuple)) else [fresh]
            for optimizer, state in zip(fresh, saved):
                for group, saved_group in zip(optimizer.param_groups, state.get("param_groups", [])):
                    saved_group["lr"] = group["lr"]


def check_optimizer_settings(owner: str, lr: float, weight_decay: float) -> None:
    """Fail with one line on a learning rate or weight decay no optimizer can use."""
    if not (lr > 0 and math.isfinite(lr)):
        raise ConfigError(f"{owner}: lr must be a positive number, got {lr}.")
    if not (weight_decay >= 0 and math.isfinite(weight_decay)):
        raise ConfigError(f"{owner}: weight_decay must be >= 0, got {weight_decay}.")


def check_sampling(model: NodeClassifier, num_neighbors: list[int]) -> None:
    """Fail early where a model cannot train on neighbor-sampled batches as configured."""
    if not model.uses_graph:
        return
    if getattr(model, "_cached", False):
        raise ConfigError(f"{type(model).__name__} with cached: true caches one graph's normalisation, but "
                          "loader: neighbor gives a new subgraph every step: set cached: false.")
    if len(num_neighbors) < model.receptive_field:
        raise ConfigError(
            f"num_neighbors {num_neighbors} samples {len(num_neighbors)} hop(s) but {type(model).__name__} reads "
            f"{model.receptive_field} hops of neighbours: give one fan-out per hop (e.g. --data.num_neighbors "
            f"'{[10] * model.receptive_field}').")


def rng_states() -> dict[str, Any]:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    # plain types and tensors only, so that checkpoints load with torch.load(weights_only=True)
    states: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate(),
                              "numpy": [name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss),
                                        float(cached)]}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    random.setstate(states["python"])
    name, keys, pos, has_gauss, cached = states["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
