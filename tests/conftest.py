"""Shared fixtures: a tiny demo world built once per test session (seeded, ~20 s)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

TINY_YEARS = (2020, 2023)


@pytest.fixture(scope="session")
def tiny_demo(tmp_path_factory) -> Path:
    """A small demo world: 5.76 km square, 2020-2023, seed 11."""
    from monitor.demo import build_demo

    out = tmp_path_factory.mktemp("demo") / "world"
    build_demo(
        out, seed=11, first_year=TINY_YEARS[0], last_year=TINY_YEARS[1], size=576, training_size=576
    )
    return out


@pytest.fixture()
def tiny_config(tiny_demo: Path, tmp_path: Path) -> Path:
    """A config file pointing at the tiny demo world, with its own store and cache."""
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        f"""
source:
  kind: local
  catalog: {tiny_demo / "catalog.json"}
  collection: sentinel-2-l2a
sites: {tiny_demo / "sites.geojson"}
store: store.gpkg
reports: reports
years: {{first: {TINY_YEARS[0]}, last: {TINY_YEARS[1]}}}
composite: {{cache: cache}}
demo: {{out: {tiny_demo}, seed: 11}}
"""
    )
    return cfg
