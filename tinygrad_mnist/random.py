"""The framework's random generator: parameter initialisation, dropout and the random factories
(``rand``, ``randn``, ``randint``, ``rand_like``, ``randn_like``) draw from it.

Examples:
    >>> import tinygrad_mnist as tm
    >>> _ = tm.manual_seed(0); a = tm.random.generator().random()
    >>> _ = tm.manual_seed(0); b = tm.random.generator().random()
    >>> a == b
    True
"""

from __future__ import annotations

from typing import Any

import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the generator (a numpy ``Generator`` on PCG64) and return it."""
    global _generator
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"manual_seed: seed must be a non-negative integer, got {seed!r}")
    _generator = np.random.default_rng(int(seed))
    return _generator


def generator() -> np.random.Generator:
    """The current generator."""
    return _generator


def get_rng_state() -> dict[str, Any]:
    """The generator's state as a JSON-serialisable dict (for checkpoints)."""
    return dict(_generator.bit_generator.state)


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore a state returned by [`get_rng_state`][tinygrad_mnist.random.get_rng_state]."""
    _generator.bit_generator.state = state
