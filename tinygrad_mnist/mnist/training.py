"""The training loop behind ``tinygrad-mnist train``: resumable, interruptible, reproducible.

Everything that decides the next step (weights, optimizer moments and step
count, scheduler, random generator, position in the epoch, history) goes into
the checkpoint, so a run stopped with Ctrl-C (or SIGTERM) and resumed ends with
exactly the weights of a run that was never stopped, provided the BLAS library
uses the same number of threads (`blas_threads`, recorded in the checkpoint).
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from .. import optim, random
from ..atomic import atomic_write
from ..core.grad_mode import no_grad
from ..core.tensor import Tensor
from ..datasets import DataLoader, load_mnist, train_val_split, validate_data_dir
from ..nn import functional as F
from ..nn.module import Module
from .checkpoint import CheckpointError, load_checkpoint, load_model, model_architecture, save_checkpoint
from .models import build_model, cnn_architecture, describe, mlp_architecture
from .threads import blas_threads

OPTIMIZERS = {"sgd": optim.SGD, "adam": optim.Adam, "adamw": optim.AdamW}
MODELS = ("cnn", "mlp")
# the CNN's own settings where they differ from TrainConfig's defaults, which are the MLP's
_CNN_DEFAULTS: dict[str, Any] = {"epochs": 5, "batch_size": 64, "lr": 2e-3, "hidden": [128], "dropout": 0.25}
# the checkpoints of a run directory, in the order ``tinygrad-mnist evaluate RUN_DIR`` looks for them
RUN_CHECKPOINTS = ("best.npz", "checkpoint.npz")


@dataclass
class TrainConfig:
    """Everything that defines a run (saved in every checkpoint)."""

    epochs: int = 10
    batch_size: int = 128
    lr: float = 2e-3
    optimizer: str = "adam"
    momentum: float = 0.9
    model: str = "mlp"  # or "cnn"
    hidden: list[int] = field(default_factory=lambda: [512])
    channels: list[int] = field(default_factory=lambda: [32, 64])  # CNN only: one conv block per entry
    activation: str = "relu"
    dropout: float = 0.0
    weight_decay: float = 0.0
    scheduler: str = "cosine"
    seed: int = 0
    val_size: int = 5000
    data: str | None = None
    allow_noncanonical_data: bool = False  # accept --data files whose digests are not MNIST's
    max_steps: int | None = None  # stop after this many steps (smoke tests)

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ConfigError(f"model must be one of {list(MODELS)}, got {self.model!r}")

    @classmethod
    def for_model(cls, model: str = "mlp", **settings: Any) -> TrainConfig:
        """A config for ``model`` ("mlp" or "cnn"): its defaults from `MODEL_DEFAULTS`, then ``settings``."""
        return cls(model=model, **{**MODEL_DEFAULTS.get(model, {}), **settings})

    def architecture(self) -> dict[str, Any]:
        if self.model == "cnn":
            return cnn_architecture(self.channels, self.hidden, activation=self.activation, dropout=self.dropout)
        return mlp_architecture(self.hidden, self.activation, self.dropout)


# the settings that differ between the models, for each model (the CLI's defaults when not given)
MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "mlp": {name: getattr(TrainConfig(), name) for name in _CNN_DEFAULTS},
    "cnn": _CNN_DEFAULTS,
}


class ConfigError(ValueError):
    """A setting that cannot work with the data (for example a validation split larger than the data)."""


class Interrupted(Exception):
    """Training stopped at a step boundary by SIGINT or SIGTERM; the checkpoint path is in ``args[0]``.

    ``signum`` is the signal that stopped it.
    """

    def __init__(self, checkpoint: Path, signum: int = signal.SIGINT) -> None:
        super().__init__(checkpoint)
        self.signum = signum


def load_split(split: str, data: str | None, canonical: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """MNIST from the bundled copy (its digests verified), or IDX files named like MNIST's in ``data``.

    ``data``'s files are checked in full by
    [`validate_data_dir`][tinygrad_mnist.datasets.validate_data_dir]: shapes,
    dtypes, label range and counts, and, with ``canonical``, MNIST's digests.
    """
    if data is None:
        return load_mnist(split)
    return validate_data_dir(data, canonical=canonical, splits=split)[split]


def load_both_splits(config: TrainConfig) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Both splits of the run's data, every file checked before any training: a bad test file must not cost
    a whole run. ``--data`` must hold MNIST's own files unless ``allow_noncanonical_data``."""
    if config.data is None:
        return {split: load_mnist(split) for split in ("train", "test")}
    return validate_data_dir(config.data, canonical=not config.allow_noncanonical_data)


def make_optimizer(config: TrainConfig, model: Module) -> optim.Optimizer:
    params = model.parameters()
    if config.optimizer == "sgd":
        return optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    return OPTIMIZERS[config.optimizer](params, lr=config.lr, weight_decay=config.weight_decay)


def predict_logits(model: Module, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """Logits for uint8 images (N, 28, 28), in evaluation mode and without a graph."""
    was_training = model.training
    model.eval()
    out = []
    with no_grad():
        for x, _ in DataLoader(images, np.zeros(len(images), dtype=np.int64), batch_size=batch_size):
            out.append(model(Tensor(x)).data)
    model.train(was_training)
    return np.concatenate(out) if out else np.zeros((0, 10), dtype=np.float32)


def model_accuracy(model: Module, images: np.ndarray, labels: np.ndarray) -> float:
    """The fraction of uint8 images (N, 28, 28) that ``model`` classifies as ``labels``; nan for no images."""
    if len(images) == 0:
        return float("nan")
    return float(np.mean(predict_logits(model, images).argmax(axis=1) == labels))


def run_checkpoint(run_dir: str | Path) -> Path | None:
    """The checkpoint that stands for a run directory: ``best.npz``, else ``checkpoint.npz``; None without either.

    ``best.npz`` holds the weights of the best validation epoch; a run stopped
    before its first epoch ended has only ``checkpoint.npz``.

    Examples:
        >>> import tempfile
        >>> run = Path(tempfile.mkdtemp())
        >>> run_checkpoint(run) is None
        True
        >>> (run / "checkpoint.npz").touch()
        >>> run_checkpoint(run).name
        'checkpoint.npz'
        >>> (run / "best.npz").touch()
        >>> run_checkpoint(run).name
        'best.npz'
    """
    for name in RUN_CHECKPOINTS:
        path = Path(run_dir) / name
        if path.is_file():
            return path
    return None


def checkpoint_progress(metadata: dict[str, Any]) -> dict[str, Any]:
    """How far training had gone when a checkpoint was saved, from its metadata; {} when it does not say.

    Returns ``epoch`` (completed epochs), ``step``, ``mid_epoch`` (saved inside
    an epoch) and ``val_accuracy`` (of the saved weights; None when they were
    not validated, NaN when the run had no validation split).

    Examples:
        >>> state = {"epoch": 2, "batch": 0, "step": 22,
        ...          "history": [{"epoch": 1, "val_accuracy": 0.9}, {"epoch": 2, "val_accuracy": 0.95}]}
        >>> checkpoint_progress({"state": state})
        {'epoch': 2, 'step': 22, 'mid_epoch': False, 'val_accuracy': 0.95}
        >>> checkpoint_progress({"state": dict(state, batch=3, step=25)})["val_accuracy"] is None
        True
        >>> checkpoint_progress({})
        {}
    """
    state: Any = metadata.get("state")
    try:
        epoch, step, mid_epoch = int(state["epoch"]), int(state["step"]), bool(state.get("batch", 0))
        history = state.get("history") or []
        last = history[-1] if history else {}
        validated = not mid_epoch and last.get("epoch") == epoch and last.get("val_accuracy") is not None
        val_accuracy = float(last["val_accuracy"]) if validated else None
    except (KeyError, TypeError, ValueError, AttributeError):  # not a training checkpoint's state
        return {}
    return {"epoch": epoch, "step": step, "mid_epoch": mid_epoch, "val_accuracy": val_accuracy}


@dataclass
class RunState:
    """Where a run is: next epoch and batch, counts, history, best validation accuracy."""

    epoch: int = 0
    batch: int = 0
    step: int = 0
    best_val_accuracy: float = -1.0
    history: list[dict[str, float]] = field(default_factory=list)
    epoch_loss_sum: float = 0.0  # running totals of the current epoch, so a resumed epoch reports it whole
    epoch_correct: int = 0
    epoch_seen: int = 0


class Trainer:
    """Train an MLP or a CNN on MNIST, writing ``checkpoint.npz``, ``best.npz`` and ``metrics.json`` to ``out``."""

    def __init__(self, config: TrainConfig, out: str | Path, log: Callable[[str], None] = print,
                 progress: bool = True) -> None:
        self.config, self.out, self.log, self.progress = config, Path(out), log, progress
        random.manual_seed(config.seed)
        self.model = build_model(config.architecture())
        self.optimizer = make_optimizer(config, self.model)
        self.scheduler = optim.CosineAnnealingLR(self.optimizer, T_max=config.epochs) \
            if config.scheduler == "cosine" else None
        self.state = RunState()
        data = load_both_splits(config)
        (images, labels), (self.test_x, self.test_y) = data["train"], data["test"]
        if config.val_size >= len(images):
            raise ConfigError(f"val_size must be below the {len(images)} training samples, got {config.val_size}")
        (xt, yt), (self.val_x, self.val_y) = train_val_split(images, labels, config.val_size, seed=config.seed)
        self.loader = DataLoader(xt, yt, batch_size=config.batch_size, shuffle=True, seed=config.seed)
        self._stop_signal: int | None = None
        self.checkpoint_blas_threads: int | None = None  # recorded in the checkpoint resumed from, if any

    # ---- checkpoints -------------------------------------------------------------
    def _metadata(self) -> dict[str, Any]:
        return {
            "format": "tinygrad_mnist.mnist.checkpoint/1",
            "architecture": self.config.architecture(),
            "config": asdict(self.config),
            "state": asdict(self.state),
            "rng_state": random.get_rng_state(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "blas_threads": blas_threads(),
        }

    def save(self, name: str) -> Path:
        path = self.out / name
        save_checkpoint(path, self.model, self.optimizer, self._metadata())
        return path

    @classmethod
    def resume(cls, path: str | Path, out: str | Path | None = None, **kwargs: Any) -> Trainer:
        """A trainer continuing exactly where the checkpoint at ``path`` left off."""
        ckpt = load_checkpoint(path)
        meta = ckpt.metadata
        if "config" not in meta or "state" not in meta or ckpt.optimizer_state is None:
            raise CheckpointError(f"checkpoint {path}: not a training checkpoint (no config, state or optimizer)")
        try:
            config = TrainConfig(**meta["config"])
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"checkpoint {path}: cannot resume from it ({type(exc).__name__}: {exc})") from None
        architecture = model_architecture(meta, path)  # the one field that describes the model, for every command
        if config.architecture() != architecture:
            raise CheckpointError(f"checkpoint {path}: its config describes {describe(config.architecture())}, "
                                  f"its architecture {describe(architecture)}")
        try:
            trainer = cls(config, out if out is not None else Path(path).parent, **kwargs)
            trainer.model.load_state_dict(ckpt.model_state)
            trainer.optimizer.load_state_dict(ckpt.optimizer_state)
            if trainer.scheduler is not None and meta.get("scheduler"):
                trainer.scheduler.load_state_dict(meta["scheduler"])
            trainer.state = RunState(**meta["state"])
            random.set_rng_state(meta["rng_state"])
            threads = meta.get("blas_threads")
            trainer.checkpoint_blas_threads = threads if isinstance(threads, int) else None
        except (TypeError, KeyError, ValueError) as exc:
            raise CheckpointError(f"checkpoint {path}: cannot resume from it ({type(exc).__name__}: {exc})") from None
        return trainer

    def write_metrics(self, extra: dict[str, Any] | None = None) -> None:
        record = {"config": asdict(self.config), "history": self.state.history, **(extra or {})}
        with atomic_write(self.out / "metrics.json") as f:
            f.write(json.dumps(record, indent=2).encode())

    # ---- the loop ----------------------------------------------------------------
    def _on_stop_signal(self, signum: int, frame: Any) -> None:
        self._stop_signal = signum

    def evaluate(self, images: np.ndarray, labels: np.ndarray) -> float:
        return model_accuracy(self.model, images, labels)

    def _score_run_checkpoint(self, images: np.ndarray, labels: np.ndarray) -> dict[str, Any] | None:
        """The checkpoint that stands for the run directory (see `run_checkpoint`), scored on ``images``.

        Returns its file name, `checkpoint_progress` and ``test_accuracy``
        (computed from the saved file, as ``tinygrad-mnist evaluate`` does), or
        None when the run directory holds no checkpoint.
        """
        path = run_checkpoint(self.out)
        if path is None:
            return None
        model, metadata = load_model(path)
        return {"checkpoint": path.name, **checkpoint_progress(metadata),
                "test_accuracy": model_accuracy(model, images, labels)}

    def fit(self) -> dict[str, Any]:
        """Train to the configured number of epochs; returns the final metrics record.

        The record holds ``test_accuracy`` (of the final weights), ``steps`` and
        ``best_checkpoint``: the checkpoint `run_checkpoint` picks in the run
        directory, with its file name, `checkpoint_progress` and its own test
        accuracy (None when the directory holds no checkpoint).
        """
        # Ctrl-C and SIGTERM only set a flag, checked between steps; after the last step
        # the run is complete, so a late signal lets the final evaluation and writes finish.
        previous = {signum: signal.signal(signum, self._on_stop_signal)
                    for signum in (signal.SIGINT, signal.SIGTERM)}
        try:
            while self.state.epoch < self.config.epochs:
                self._run_epoch()
                if self.config.max_steps is not None and self.state.step >= self.config.max_steps:
                    break
            if self.state.batch:  # stopped inside an epoch by max_steps: keep that position too
                self.save("checkpoint.npz")
            result = {"test_accuracy": self.evaluate(self.test_x, self.test_y), "steps": self.state.step,
                      "best_checkpoint": self._score_run_checkpoint(self.test_x, self.test_y)}
            self.write_metrics(result)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return result

    def _run_epoch(self) -> None:
        config, state = self.config, self.state
        started = time.perf_counter()
        self.model.train()
        batches = self.loader.batches(state.epoch, start=state.batch)
        bar = tqdm(batches, total=len(self.loader), initial=state.batch, disable=not self.progress,
                   desc=f"epoch {state.epoch + 1}/{config.epochs}", leave=False, unit="batch")
        for x, y in bar:
            logits = self.model(Tensor(x))
            loss = F.cross_entropy(logits, y)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            state.batch += 1
            state.step += 1
            state.epoch_loss_sum += loss.item() * len(y)
            state.epoch_correct += int((logits.data.argmax(axis=1) == y).sum())
            state.epoch_seen += len(y)
            bar.set_postfix(loss=f"{state.epoch_loss_sum / state.epoch_seen:.4f}",
                            acc=f"{state.epoch_correct / state.epoch_seen:.4f}", refresh=False)
            if self._stop_signal is not None:
                bar.close()
                raise Interrupted(self.save("checkpoint.npz"), self._stop_signal)
            if config.max_steps is not None and state.step >= config.max_steps:
                break
        bar.close()
        if state.batch < len(self.loader):
            return  # stopped by max_steps inside the epoch
        if self.scheduler is not None:
            self.scheduler.step()
        val_accuracy = self.evaluate(self.val_x, self.val_y)
        elapsed = time.perf_counter() - started
        train_loss = state.epoch_loss_sum / max(state.epoch_seen, 1)
        state.history.append({"epoch": state.epoch + 1, "train_loss": train_loss,
                              "train_accuracy": state.epoch_correct / max(state.epoch_seen, 1),
                              "val_accuracy": val_accuracy, "lr": self.optimizer.lr, "seconds": elapsed})
        state.epoch += 1
        state.batch = state.epoch_correct = state.epoch_seen = 0
        state.epoch_loss_sum = 0.0
        self.log(f"epoch {state.epoch}/{config.epochs}  train loss {train_loss:.4f}  "
                 f"val acc {val_accuracy:.4f}  elapsed {elapsed:.1f}s")
        if val_accuracy > state.best_val_accuracy or np.isnan(val_accuracy):  # no validation: keep the latest
            state.best_val_accuracy = val_accuracy
            self.save("best.npz")
        self.save("checkpoint.npz")
        self.write_metrics()
