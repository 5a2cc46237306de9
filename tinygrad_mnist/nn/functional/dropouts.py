"""Dropout variants as functions: ``dropout2d``."""

from __future__ import annotations

__all__: list[str] = []
