"""Classification metrics: accuracy, confusion matrix, per-class precision / recall / F1.

Examples:
    >>> import numpy as np
    >>> y_true = np.array([0, 0, 1, 1, 2])
    >>> y_pred = np.array([0, 1, 1, 1, 0])
    >>> accuracy(y_true, y_pred)
    0.6
    >>> confusion_matrix(y_true, y_pred, num_classes=3)
    array([[1, 1, 0],
           [0, 2, 0],
           [1, 0, 0]])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _labels(name: str, values: np.ndarray) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1 or array.dtype.kind not in "iu":
        raise ValueError(f"{name} must be a 1-d array of integer class labels, "
                         f"got shape {array.shape} dtype {array.dtype}")
    return array


def _pair(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t, p = _labels("y_true", y_true), _labels("y_pred", y_pred)
    if t.shape != p.shape:
        raise ValueError(f"y_true has {len(t)} labels but y_pred has {len(p)}")
    return t, p


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of predictions equal to the true label."""
    t, p = _pair(y_true, y_pred)
    if len(t) == 0:
        raise ValueError("accuracy: no labels given")
    return float(np.mean(t == p))


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int | None = None) -> np.ndarray:
    """``C[i, j]`` = number of samples of true class i predicted as class j."""
    t, p = _pair(y_true, y_pred)
    k = num_classes if num_classes is not None else int(max(t.max(initial=-1), p.max(initial=-1))) + 1
    if len(t) and (min(t.min(), p.min()) < 0 or max(t.max(), p.max()) >= k):
        raise ValueError(f"confusion_matrix: labels must be in [0, {k - 1}]")
    # widen first: t * k + p overflows narrow label dtypes such as uint8
    return np.bincount(t.astype(np.int64) * k + p.astype(np.int64), minlength=k * k).reshape(k, k)


@dataclass
class ClassificationReport:
    """Per-class precision, recall, F1 and support, with macro averages."""

    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray

    @property
    def macro(self) -> tuple[float, float, float]:
        return float(self.precision.mean()), float(self.recall.mean()), float(self.f1.mean())

    def __str__(self) -> str:
        lines = [f"{'class':>7} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>8}"]
        for k in range(len(self.support)):
            lines.append(
                f"{k:>7} {self.precision[k]:9.4f} {self.recall[k]:9.4f} {self.f1[k]:9.4f} {self.support[k]:8d}"
            )
        p, r, f = self.macro
        lines.append(f"{'macro':>7} {p:9.4f} {r:9.4f} {f:9.4f} {int(self.support.sum()):8d}")
        return "\n".join(lines)


def classification_report(
    y_true: np.ndarray, y_pred: np.ndarray, num_classes: int | None = None
) -> ClassificationReport:
    """Precision = TP / predicted, recall = TP / actual, F1 their harmonic mean (0 where undefined).

    Examples:
        >>> report = classification_report(np.array([0, 0, 1]), np.array([0, 1, 1]))
        >>> report.precision.tolist(), report.recall.tolist()
        ([1.0, 0.5], [0.5, 1.0])
    """
    matrix = confusion_matrix(y_true, y_pred, num_classes)
    tp = np.diag(matrix).astype(np.float64)
    predicted, actual = matrix.sum(axis=0), matrix.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    both = precision + recall
    f1 = np.divide(2 * precision * recall, both, out=np.zeros_like(tp), where=both > 0)
    return ClassificationReport(precision, recall, f1, actual)
