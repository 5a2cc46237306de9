"""Distances and vector normalisation: ``normalize``, ``cosine_similarity``."""

from __future__ import annotations

__all__: list[str] = []
