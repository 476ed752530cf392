"""Accuracy figures as in seed 000 Table 2 and seed 001 Table 2."""

from __future__ import annotations

import numpy as np

__all__ = ["confusion", "scores"]


def confusion(pred: np.ndarray, ref: np.ndarray) -> dict[str, int]:
    """Pixel counts of a binary confusion matrix (mine = positive)."""
    pred, ref = np.asarray(pred, bool), np.asarray(ref, bool)
    return {
        "tp": int((pred & ref).sum()),
        "fp": int((pred & ~ref).sum()),
        "fn": int((~pred & ref).sum()),
        "tn": int((~pred & ~ref).sum()),
    }


def scores(c: dict[str, int]) -> dict[str, float]:
    """Overall accuracy, Cohen's kappa, producer's and user's accuracy of the mine class."""
    tp, fp, fn, tn = c["tp"], c["fp"], c["fn"], c["tn"]
    n = tp + fp + fn + tn
    if n == 0:
        return {
            "overall_accuracy": float("nan"),
            "kappa": float("nan"),
            "producers_accuracy": float("nan"),
            "users_accuracy": float("nan"),
        }
    oa = (tp + tn) / n
    pe = ((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)) / (n * n)
    kappa = (oa - pe) / (1 - pe) if pe < 1 else 1.0
    return {
        "overall_accuracy": round(oa, 5),
        "kappa": round(kappa, 5),
        "producers_accuracy": round(tp / (tp + fn), 5) if tp + fn else float("nan"),
        "users_accuracy": round(tp / (tp + fp), 5) if tp + fp else float("nan"),
    }
