"""Offline distillation: a frozen teacher, a student, and a weighted list of components."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.data import Data

from ..data import num_seeds, sampled
from ..data.metrics import split_scores
from ..distill.adversarial import AdversarialComponent
from ..distill.augmentation import AdversarialFeatures
from ..distill.base import DistillationComponent
from ..distill.consistency import ConsistencyRegularization
from ..errors import ConfigError, TeacherCheckpointError
from ..models import ModelOutput, NodeClassifier
from .checkpoint import CHECKPOINT_KEY
from .plain import NodeClassificationModule
from .teacher import load_teacher


class DistillationModule(NodeClassificationModule):
    """Trains the student ``model`` on ``task_weight · CE + Σ_i weight_i · component_i``.

    The teacher is a checkpoint written by :class:`NodeClassificationModule` (its
    architecture comes from the checkpoint itself), a file of its precomputed outputs, or
    any ``nn.Module`` given by a spec file (:mod:`graphdistill.training.teacher`); it is
    frozen and run once per run over the full graph in eval mode; its logits and hidden
    layers are then looked up by node id every step. Every term is logged on its own:
    ``train/task`` (the cross-entropy, also ``train/loss`` as in plain training), ``train/<component>`` (unweighted) and
    ``train/total`` (the weighted sum that is minimised), and each component's scalar logs
    (:meth:`~graphdistill.distill.DistillationComponent.terms`) as ``train/<component>/<key>``.

    With an adversarial component (GraphAKD), the module optimizes by hand with one Adam for
    the student and one per adversarial component's discriminators: each training step the
    discriminators step first (every ``d_critic`` steps, on the student's detached
    outputs, logged as ``train/disc/<name>`` and ``train/disc/<name>/<part>``), then the student (every
    ``g_critic`` steps) against the updated discriminators. A NaN or infinite term stops the
    run before the step is applied, naming the term and step (:meth:`check_finite`).

    The student checkpoint holds the student and the components' trainable parts (heads),
    never the teacher: it records the teacher's path and SHA-256, and resuming from it
    fails if the teacher file has changed.

    Args:
        model: the student network.
        teacher: path of the teacher: a graphdistill checkpoint, a ``.pt``/``.npy`` of its
            outputs, a ``.yaml``/``.json`` module spec, or a ``.yaml``/``.json`` file listing
            the ``members`` of an ensemble (:func:`load_teacher`).
        components: distillation components (``class_path``/``init_args`` in configs).
        task_weight: weight of the student's own cross-entropy.
        lr: Adam learning rate (student and component heads).
        weight_decay: Adam weight decay.
        cache_teacher_outputs: keep the teacher's outputs on disk (keyed by the teacher's
            hash and the data), so a later run with the same teacher skips it entirely.
        consistency: GRAND's consistency regularisation of the student (as in
            :class:`NodeClassificationModule`: the task loss averaged over the views); the
            components read the first view.
    """

    def __init__(
        self,
        model: NodeClassifier,
        teacher: str,
        components: list[DistillationComponent] | None = None,
        task_weight: float = 1.0,
        lr: float = 0.01,
        weight_decay: float = 5e-4,
        cache_teacher_outputs: bool = True,
        consistency: ConsistencyRegularization | None = None,
    ) -> None:
        super().__init__(model, lr=lr, weight_decay=weight_decay, consistency=consistency)
        self.teacher = load_teacher(teacher)  # a plain attribute: not a submodule, never in state_dict
        if self.teacher.num_classes != model.out_channels:
            raise TeacherCheckpointError(
                f"Teacher {self.teacher.path} predicts {self.teacher.num_classes} classes but "
                f"the student {model.out_channels}: distil on the dataset the teacher was trained on."
            )
        components = list(components or [])
        for component in components:
            if not isinstance(component, DistillationComponent):
                raise ConfigError(f"components must be DistillationComponent modules, got {type(component).__name__}.")
            try:
                component.bind(model.hidden_widths, self.teacher.hidden_widths, model.out_channels)
            except ConfigError:
                if self.teacher.form == "ensemble":
                    raise ConfigError(f"{type(component).__name__} aligns hidden layers, but the teacher ensemble "
                                      f"{self.teacher.path} gives class probabilities only: use a logit method "
                                      "(LogitKD), or one of its members as the teacher.") from None
                if self.teacher.form != "outputs" or self.teacher.hidden_widths:
                    raise
                raise ConfigError(
                    f"{type(component).__name__} aligns hidden layers, but the teacher outputs file "
                    f"{self.teacher.path} holds logits only (no hidden layers). Save them too, as "
                    "{'logits': ..., 'hiddens': [h1, ...]}, "
                    "give the teacher as a module spec naming its hidden_layers, or use a logit method (LogitKD)."
                ) from None
        self.components = nn.ModuleList(components)
        self.component_names = _unique_names(components)
        self.adversarial = [(n, c) for n, c in zip(self.component_names, components)
                            if isinstance(c, AdversarialComponent)]
        if self.adversarial:
            g_critics = {c.g_critic for _, c in self.adversarial}
            if len(g_critics) > 1:
                raise ConfigError(f"Adversarial components disagree on g_critic ({sorted(g_critics)}): the student "
                                  "has one update schedule; give them the same g_critic.")
            self.g_critic = g_critics.pop()
            # several optimizers (student, then one per adversarial component): stepped by hand
            self.automatic_optimization = False
        self.task_weight = task_weight
        self.cache_teacher_outputs = cache_teacher_outputs
        self.teacher_outputs: ModelOutput | None = None
        #: the last training step's logs of each component, by name (detached; e.g. ABKD's
        #: ``attention_map``), for callbacks such as :class:`~graphdistill.callbacks.AttentionMapReport`
        self.diagnostics: dict[str, dict[str, Tensor]] = {}

    # ------------------------------------------------------------------ set-up
    def setup(self, stage: str) -> None:
        super().setup(stage)
        self.teacher.check_data(self.data_fingerprint or {})
        if self.multilabel and self.teacher.form == "ensemble":
            raise ConfigError(f"The teacher ensemble {self.teacher.path} averages class probabilities (softmax), "
                              "which a multi-label task does not have: distil from one of its members.")
        for component in self.components:
            component.set_multilabel(self.multilabel)

    @property
    def uses_unlabelled_nodes(self) -> bool:  # type: ignore[override]
        """Whether a component covers unlabelled nodes (``nodes: all``) or consistency
        regularisation does: the data module then seeds sampled training batches at every node
        (``train_seeds: auto``)."""
        return any(c.nodes == "all" for c in self.components) or super().uses_unlabelled_nodes

    def on_fit_start(self) -> None:
        self._ensure_teacher_outputs()

    def _ensure_teacher_outputs(self) -> ModelOutput:
        """The teacher's outputs for every node of the training graph (the observed graph
        in the inductive setting: a hidden node's outputs never exist here), computed once
        per run (layer-wise under neighbor sampling). Under DDP only local rank 0 of each machine runs the teacher; it
        writes the on-disk cache (used under DDP even with ``cache_teacher_outputs: false``)
        and the other ranks wait for it and read it."""
        if self.teacher_outputs is None or self.teacher_outputs.logits.device != self.device:
            trainer = self.trainer
            data = trainer.datamodule.training_graph
            distributed = trainer.world_size > 1
            kwargs = dict(use_cache=self.cache_teacher_outputs or distributed, batch_size=self.inference_batch_size,
                          graph=(self.data_fingerprint or {}).get("graph"))
            if distributed and trainer.local_rank != 0:
                trainer.strategy.barrier("graphdistill-teacher-outputs")
                self.teacher_outputs = self.teacher.outputs(data, self.device, **kwargs)
            else:
                self.teacher_outputs = self.teacher.outputs(data, self.device, **kwargs)
                if distributed:
                    trainer.strategy.barrier("graphdistill-teacher-outputs")
        return self.teacher_outputs

    def teacher_scores(self) -> dict[str, float]:
        """The teacher's own scores on this run's split, from the outputs the student learns: on
        the validation nodes, and on the test nodes where training saw the whole graph (under
        ``inductive`` the hidden test nodes have no teacher outputs here). Recorded in the run's
        results beside the student's, so a teacher given as a file or an ensemble is scored too."""
        datamodule = self.trainer.datamodule
        data = datamodule.training_graph
        logits = self._ensure_teacher_outputs().logits.cpu()
        return split_scores(logits, data, ("val",) if datamodule.inductive else ("val", "test"))

    # ------------------------------------------------------------------ optimization
    def trainable_parameters(self) -> list[nn.Parameter]:
        """The student's and the (non-adversarial) components' heads: not the discriminators."""
        discriminator = {id(p) for _, c in self.adversarial for p in c.discriminator_parameters()}
        return [p for p in super().trainable_parameters() if id(p) not in discriminator]

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        student = super().configure_optimizers()
        if not self.adversarial:
            return student
        return [student, *(torch.optim.Adam(c.discriminator_parameters(), lr=c.lr, weight_decay=c.weight_decay)
                           for _, c in self.adversarial)]

    def training_step(self, batch: Data, batch_idx: int) -> Tensor | None:
        if self.automatic_optimization:
            return super().training_step(batch, batch_idx)
        # adversarial: discriminators first (on the student's detached outputs), then the
        # student against the updated discriminators
        student_opt, *discriminator_opts = self.optimizers()
        step = self.training_step_index(batch_idx)
        out, teacher = self.training_forward(batch), self.teacher_batch(batch)
        for (name, component), opt in zip(self.adversarial, discriminator_opts):
            if step % component.d_critic or not covers_enough(component, batch):
                continue
            with self.toggled_optimizer(opt):
                loss, logs = component.discriminator_loss(out.detach(), teacher, batch)
                self.check_finite({f"disc/{name}": loss})
                opt.zero_grad()
                self.manual_backward(loss)
                opt.step()
            self.log_terms({f"disc/{name}": loss.detach()}, {f"disc/{name}": logs}, num_seeds(batch))
        if step % self.g_critic:
            return None
        with self.toggled_optimizer(student_opt):
            loss = self.training_loss(out, batch)
            student_opt.zero_grad()
            self.manual_backward(loss)
            student_opt.step()
        return loss.detach()

    # ------------------------------------------------------------------ loss
    def teacher_batch(self, batch: Data) -> ModelOutput:
        """The teacher's outputs for the batch's nodes (by global id; the outputs are rows of
        the training graph)."""
        outputs = self._ensure_teacher_outputs()
        if not sampled(batch) and batch.num_nodes == outputs.logits.size(0):
            return outputs  # the whole graph
        datamodule = getattr(self._trainer, "datamodule", None)  # none: not attached to a trainer
        return outputs[batch.n_id if datamodule is None else datamodule.training_rows(batch.n_id)]

    def distillation_loss(self, out: ModelOutput, batch: Data, task_loss: Tensor,
                          views: list[ModelOutput]) -> Tensor:
        teacher = self.teacher_batch(batch)
        terms = {"task": task_loss}
        weights = {"task": self.task_weight}
        logs: dict[str, dict[str, Tensor]] = {}
        for name, component in zip(self.component_names, self.components):
            if not covers_enough(component, batch):
                continue  # a sampled batch with (almost) no node this component covers: no term this step
            student = self.perturbed_output(component, batch, teacher) if isinstance(component, AdversarialFeatures) \
                else out
            terms[name], logs[name] = component.terms(student, teacher, batch)
            weights[name] = component.weight
        if self.consistency is not None:
            terms["consistency"], weights["consistency"] = self.consistency_term(views, batch), self.consistency.weight
        total = self.combine_terms(terms, weights, num_seeds(batch))
        self.log_terms({}, logs, num_seeds(batch))
        return total

    def perturbed_output(self, component: AdversarialFeatures, batch: Data, teacher: ModelOutput) -> ModelOutput:
        """The student's outputs on the batch with node features that ``component`` perturbs
        (its other inputs, positions and graph, as they are)."""
        inputs = self.model.inputs(batch)
        return component.perturbed_output(lambda x: self.model(**{**inputs, "x": x}), inputs["x"], teacher, batch)

    def log_terms(self, terms: dict[str, Tensor], logs: dict[str, dict[str, Tensor]], batch_size: int) -> None:
        """Log ``terms`` as ``train/<name>`` and each component's scalar logs as
        ``train/<name>/<key>``; keep every log (an attention map too) in :attr:`diagnostics`
        for callbacks."""
        for name, value in terms.items():
            self.log(f"train/{name}", value, batch_size=batch_size)
        for name, entries in logs.items():
            self.diagnostics[name] = entries
            for key, value in entries.items():
                if value.numel() == 1:
                    self.log(f"train/{name}/{key}", value, batch_size=batch_size)

    # ------------------------------------------------------------------ checkpoints
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint[CHECKPOINT_KEY]["teacher"] = self.teacher.record()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        recorded = (checkpoint.get(CHECKPOINT_KEY) or {}).get("teacher") or {}
        if recorded.get("sha256") and recorded["sha256"] != self.teacher.sha256:
            raise TeacherCheckpointError(
                f"This checkpoint was distilled from teacher {recorded.get('path')} (sha256 "
                f"{recorded['sha256'][:12]}…), but teacher {self.teacher.path} has sha256 {self.teacher.sha256[:12]}…. "
                "Resume with the original teacher file, or start a new run."
            )


def covers_enough(component: DistillationComponent, batch: Data) -> bool:
    """Whether ``component`` covers at least its ``min_nodes`` nodes of ``batch``. Always on
    the whole graph; on a sampled batch with ``nodes: train`` a batch can hold no labelled
    seed, where a mean over no node would be NaN (and a BatchNorm head fails on one)."""
    if not sampled(batch) and component.nodes == "all":
        return True
    return int(component.node_mask(batch).sum()) >= component.min_nodes


def _unique_names(components: list[DistillationComponent]) -> list[str]:
    names: list[str] = []
    for component in components:
        name, k = component.name, 2
        while name in names:
            name, k = f"{component.name}{k}", k + 1
        names.append(name)
    return names
