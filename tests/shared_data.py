"""The team's shared real data (``../shared/data/real`` beside the project): real Planetary
Computer STAC answers and real mining polygons. Tests that read it are skipped, saying where
they looked, on a checkout that has no such folder beside it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parents[1]
_CANDIDATES = [
    Path(os.environ["MINE_MONITOR_REAL_DATA"])
    if os.environ.get("MINE_MONITOR_REAL_DATA")
    else None,
    _ROOT.parent / "shared/data/real",
    Path("/work/shared/data/real"),
]


def find_real_data(name: str) -> Path | None:
    """The shared real-data file ``name`` (e.g. ``stac/x.json``), or None."""
    return next((f / name for f in filter(None, _CANDIDATES) if (f / name).exists()), None)


def real_data(name: str) -> Path:
    """The shared real-data file ``name``; skips the test, saying where it looked, if absent."""
    found = find_real_data(name)
    if found is not None:
        return found
    looked = ", ".join(str(f) for f in filter(None, _CANDIDATES))
    pytest.skip(f"real data {name} not found (looked in {looked}; set MINE_MONITOR_REAL_DATA)")
