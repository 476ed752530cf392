from pathlib import Path

import pytest

from monitor.config import last_complete_year, load_config
from monitor.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_embedded_default_config_loads_and_resolves_paths():
    cfg = load_config(ROOT / "config.yaml")
    assert cfg.source.kind == "local"
    assert Path(cfg.source.catalog) == ROOT / "data/demo/catalog.json"
    assert cfg.store == ROOT / "data/monitor.gpkg"
    assert cfg.model is None
    assert cfg.year_range == (2016, last_complete_year())
    assert cfg.uses_demo_catalog
    with pytest.raises(AttributeError):
        cfg.store = Path("x")  # frozen


def test_unknown_key_is_named(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("source: {kind: local}\nstorre: x.gpkg\n")
    with pytest.raises(ConfigError, match="storre"):
        load_config(p)
    p.write_text("composite: {season_month: [5]}\n")
    with pytest.raises(ConfigError, match="composite.season_month"):
        load_config(p)


def test_bad_values_are_reported(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("source: {kind: ftp}\n")
    with pytest.raises(ConfigError, match="source.kind"):
        load_config(p)
    p.write_text("detection: {threshold: high}\n")
    with pytest.raises(ConfigError, match="detection.threshold"):
        load_config(p)
    p.write_text("years: {first: 2020, last: 2018}\n")
    with pytest.raises(ConfigError, match="gives 2020-2018"):
        load_config(p)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_relative_paths_resolve_against_config_folder(tmp_path):
    sub = tmp_path / "proj"
    sub.mkdir()
    (sub / "c.yaml").write_text(
        "store: out/h.gpkg\nsource: {kind: local, catalog: cat/catalog.json}\n"
    )
    cfg = load_config(sub / "c.yaml")
    assert cfg.store == sub / "out/h.gpkg"
    assert Path(cfg.source.catalog) == sub / "cat/catalog.json"
