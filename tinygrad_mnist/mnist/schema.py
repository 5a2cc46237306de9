"""The schema of checkpoint metadata: every field's type and range, checked before anything is built.

A checkpoint written by ``tinygrad-mnist train`` holds these fields in its
``metadata.json``; each is optional here (a checkpoint of `save_checkpoint` may
hold any metadata), but when present it must have the right type and range:

* ``format``: ``"tinygrad_mnist.mnist.checkpoint/1"``.
* ``architecture``: the model, for every command (see
  [`validate_architecture`][tinygrad_mnist.mnist.models.validate_architecture]).
* ``config``: the run's settings (epochs, batch size, learning rate, ...).
* ``state``: where the run is (epoch, batch, step, history, ...).
* ``rng_state``: the random generator's state; ``scheduler``: the learning-rate schedule's.
* ``blas_threads``: null or the number of BLAS threads the run used.

A field that does not fit raises [`SchemaError`][tinygrad_mnist.mnist.schema.SchemaError]
naming the field, the value received and what was expected.

Examples:
    >>> validate_metadata({"state": {"epoch": 2, "batch": 0, "step": 22}})
    >>> validate_metadata({"state": {"epoch": "x", "batch": 0, "step": 22}})
    Traceback (most recent call last):
        ...
    tinygrad_mnist.mnist.schema.SchemaError: field state.epoch is 'x' (a str); expected a non-negative int
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

FORMAT = "tinygrad_mnist.mnist.checkpoint/1"
OPTIMIZER_NAMES, MODEL_KINDS, SCHEDULER_NAMES = ("adam", "adamw", "sgd"), ("cnn", "mlp"), ("cosine", "none")


class SchemaError(ValueError):
    """A metadata field of the wrong type or out of range; ``field``, ``value`` and ``expected`` say which."""

    def __init__(self, field: str, value: Any, expected: str, *, unknown: bool = False) -> None:
        self.field, self.value, self.expected, self.unknown = field, value, expected, unknown
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        if isinstance(value, (str, bool)):
            shown += f" (a {type(value).__name__})"
        if unknown:
            super().__init__(f"unknown field {field} (holding {shown}); {expected}")
        else:
            super().__init__(f"field {field} is {shown}; expected {expected}")

    def within(self, parent: str) -> SchemaError:
        """The same error for the field inside ``parent`` (``hidden[0]`` in ``architecture``)."""
        return SchemaError(f"{parent}.{self.field}", self.value, self.expected, unknown=self.unknown)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _range(low: float | None, high: float | None, low_open: bool = False) -> str:
    if low is not None and high is not None:
        return f"from {low} to {high}"
    if low is not None:
        return f"{'above' if low_open else 'at least'} {low}"
    return f"at most {high}" if high is not None else ""


def check_int(value: Any, field: str, low: int | None = 0, high: int | None = None) -> int:
    """``value`` if it is an int (not a bool) within ``[low, high]``, else `SchemaError`.

    Examples:
        >>> check_int(3, "epoch")
        3
        >>> check_int(True, "epoch")
        Traceback (most recent call last):
            ...
        tinygrad_mnist.mnist.schema.SchemaError: field epoch is True (a bool); expected a non-negative int
    """
    if low == 0 and high is None:
        expected = "a non-negative int"
    elif low == 1 and high is None:
        expected = "a positive int"
    else:
        expected = f"an int {_range(low, high)}"
    if not _is_int(value) or (low is not None and value < low) or (high is not None and value > high):
        raise SchemaError(field, value, expected)
    return int(value)


def check_number(value: Any, field: str, low: float | None = None, high: float | None = None, *,
                 low_open: bool = False, nan: bool = False) -> float:
    """``value`` as a float if it is a finite number (not a bool) within the range (NaN if ``nan``).

    Examples:
        >>> check_number(2, "lr", 0.0, low_open=True)
        2.0
        >>> check_number(float("inf"), "lr", 0.0, low_open=True)
        Traceback (most recent call last):
            ...
        tinygrad_mnist.mnist.schema.SchemaError: field lr is inf; expected a finite number above 0.0
    """
    expected = f"a finite number {_range(low, high, low_open)}".rstrip() + (" or NaN" if nan else "")
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise SchemaError(field, value, expected)
    number = float(value)
    if math.isnan(number) and nan:
        return number
    if not math.isfinite(number) or (low is not None and (number <= low if low_open else number < low)) \
            or (high is not None and number > high):
        raise SchemaError(field, value, expected)
    return number


def check_string(value: Any, field: str, choices: Sequence[str] | None = None) -> str:
    """``value`` if it is a string (one of ``choices`` when given)."""
    if not isinstance(value, str) or (choices is not None and value not in choices):
        raise SchemaError(field, value, f"one of {list(choices)}" if choices is not None else "a string")
    return value


def check_int_list(value: Any, field: str, low: int, high: int, max_length: int) -> list[int]:
    """``value`` as a list if it is a list of at most ``max_length`` ints within ``[low, high]``."""
    if not isinstance(value, (list, tuple)) or len(value) > max_length:
        raise SchemaError(field, value, f"a list of at most {max_length} ints")
    return [check_int(item, f"{field}[{i}]", low, high) for i, item in enumerate(value)]


def check_object(value: Any, field: str) -> dict[str, Any]:
    """``value`` if it is a JSON object (a dict)."""
    if not isinstance(value, dict):
        raise SchemaError(field, value, "a JSON object")
    return value


def _optional(section: dict[str, Any], name: str, check: Any, *args: Any, **kwargs: Any) -> None:
    if name in section:
        check(section[name], name, *args, **kwargs)


def validate_config(config: Any) -> None:
    """The ``config`` field: the settings of ``tinygrad-mnist train`` (other fields are left alone)."""
    config = check_object(config, "config")
    _optional(config, "epochs", check_int, 1)
    _optional(config, "batch_size", check_int, 1)
    _optional(config, "lr", check_number, 0.0, low_open=True)
    _optional(config, "optimizer", check_string, OPTIMIZER_NAMES)
    _optional(config, "momentum", check_number, 0.0)
    _optional(config, "model", check_string, MODEL_KINDS)
    _optional(config, "hidden", check_int_list, 1, 1 << 16, 64)
    _optional(config, "channels", check_int_list, 1, 1 << 16, 64)
    _optional(config, "activation", check_string)
    _optional(config, "dropout", check_number, 0.0, 1.0)
    _optional(config, "weight_decay", check_number, 0.0)
    _optional(config, "scheduler", check_string, SCHEDULER_NAMES)
    _optional(config, "seed", check_int)
    _optional(config, "val_size", check_int)
    if config.get("data") is not None:
        check_string(config["data"], "data")
    if config.get("max_steps") is not None:
        check_int(config["max_steps"], "max_steps", 1)


def validate_state(state: Any) -> None:
    """The ``state`` field: where a run is (epoch, batch and step are required)."""
    state = check_object(state, "state")
    for name in ("epoch", "batch", "step"):
        if name not in state:
            raise SchemaError(name, None, "a non-negative int (the field is missing)")
        check_int(state[name], name)
    for name in ("epoch_correct", "epoch_seen"):
        _optional(state, name, check_int)
    _optional(state, "best_val_accuracy", check_number, -1.0, 1.0, nan=True)
    _optional(state, "epoch_loss_sum", check_number, 0.0, nan=True)
    history = state.get("history", [])
    if not isinstance(history, list):
        raise SchemaError("history", history, "a list of one record per completed epoch")
    for i, record in enumerate(history):
        for name, value in check_object(record, f"history[{i}]").items():
            if name == "epoch":
                check_int(value, f"history[{i}].epoch", 1)
            else:
                check_number(value, f"history[{i}].{name}", nan=True)


def validate_rng_state(rng_state: Any) -> None:
    """The ``rng_state`` field: a PCG64 generator state as ``numpy`` gives it."""
    rng_state = check_object(rng_state, "rng_state")
    check_string(rng_state.get("bit_generator"), "bit_generator", ["PCG64"])
    inner = check_object(rng_state.get("state"), "state")
    for name in ("state", "inc"):
        check_int(inner.get(name), f"state.{name}", 0, 2**128 - 1)
    check_int(rng_state.get("has_uint32"), "has_uint32", 0, 1)
    check_int(rng_state.get("uinteger"), "uinteger", 0, 2**32 - 1)


def validate_scheduler(scheduler: Any) -> None:
    """The ``scheduler`` field: null, or the state of the cosine learning-rate schedule."""
    if scheduler is None:
        return
    scheduler = check_object(scheduler, "scheduler")
    _optional(scheduler, "T_max", check_int, 1)
    _optional(scheduler, "last_epoch", check_int, -1)
    _optional(scheduler, "eta_min", check_number, 0.0)
    for name in ("base_lrs", "_last_lr"):
        values = scheduler.get(name, [])
        if not isinstance(values, list):
            raise SchemaError(name, values, "a list of learning rates")
        for i, value in enumerate(values):
            check_number(value, f"{name}[{i}]", 0.0)


SECTIONS = {"config": validate_config, "state": validate_state, "rng_state": validate_rng_state,
            "scheduler": validate_scheduler}


def validate_metadata(metadata: dict[str, Any]) -> None:
    """Check the fields of a checkpoint's metadata that are present (see the module's description;
    ``architecture`` is checked by [`validate_architecture`][tinygrad_mnist.mnist.models.validate_architecture]).

    Raises:
        SchemaError: the first field that does not fit, named with its section (``state.epoch``).
    """
    if "format" in metadata:
        check_string(metadata["format"], "format", [FORMAT])
    if metadata.get("blas_threads") is not None:
        check_int(metadata["blas_threads"], "blas_threads", 1)
    for name, validate in SECTIONS.items():
        if name in metadata:
            try:
                validate(metadata[name])
            except SchemaError as exc:
                raise exc if exc.field == name else exc.within(name) from None
