"""The annual run under stress: killed, locked, failing site-years, a Dask cluster."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.errors import LockedError
from monitor.store import StoreLock

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SUBSET = ["--site", "S05", "--site", "S07", "--site", "S11"]


def make_config(
    tiny_demo: Path, work: Path, name: str, cache: bool = True, compute: str = ""
) -> Path:
    """A config over the tiny world, with a composite cache of its own unless ``cache`` is
    false; ``compute`` adds keys to the compute section."""
    work.mkdir(parents=True, exist_ok=True)
    cfg = work / f"{name}.yaml"
    cache_dir = f"cache-{name}" if cache else "null"
    cfg.write_text(
        f"source: {{kind: local, catalog: {tiny_demo / 'catalog.json'}, collection: sentinel-2-l2a}}\n"
        f"sites: {tiny_demo / 'sites.geojson'}\nstore: {name}.gpkg\nreports: reports\n"
        f"years: {{first: 2020, last: 2023}}\ncomposite: {{cache: {cache_dir}}}\n"
        f"compute: {{threads: 1{compute}}}\n"
    )
    return cfg


def cli(cfg: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "--config", str(cfg), *args],
        capture_output=True,
        text=True,
        **kw,
    )


def contents(store: Path) -> list[tuple]:
    with sqlite3.connect(store) as c:
        rows = c.execute(
            "SELECT site_id, year, round(mined_area_ha, 4), round(mine_fraction, 6), clear_observations,"
            " round(ndvi, 5), model_version, items_used, items_skipped FROM site_years ORDER BY site_id, year"
        ).fetchall()
        feet = c.execute(
            "SELECT site_id, year, round(area_ha, 4) FROM footprints ORDER BY site_id, year"
        ).fetchall()
    return rows + feet


@pytest.fixture(scope="module")
def reference(tiny_demo, tmp_path_factory) -> list[tuple]:
    cfg = make_config(tiny_demo, tmp_path_factory.mktemp("ref"), "ref")
    proc = cli(cfg, "run", *SUBSET)
    assert proc.returncode == 0, proc.stderr
    return contents(cfg.parent / "ref.gpkg")


def test_sigkill_mid_run_then_resume_gives_the_same_store(tiny_demo, tmp_path, reference):
    cfg = make_config(tiny_demo, tmp_path, "killed")
    store = tmp_path / "killed.gpkg"
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "cli.py"), "--config", str(cfg), "run", *SUBSET],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 240
    done = 0
    while time.time() < deadline and proc.poll() is None:
        if store.exists():
            try:
                with sqlite3.connect(store, timeout=1) as c:
                    done = c.execute("SELECT count(*) FROM site_years").fetchone()[0]
            except sqlite3.OperationalError:
                pass
        if done >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with sqlite3.connect(store) as c:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        partial = c.execute("SELECT count(*) FROM site_years").fetchone()[0]
    assert 3 <= partial < 12
    resumed = cli(cfg, "run", *SUBSET)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{12 - partial} site-year(s) done, {partial} already stored" in resumed.stdout
    assert contents(store) == reference
    with sqlite3.connect(store) as c:
        outcomes = [r[0] for r in c.execute("SELECT outcome FROM runs ORDER BY fid")]
    assert outcomes == ["killed", "ok"]


def test_second_run_is_refused_while_one_holds_the_lock(tiny_demo, tmp_path):
    cfg = make_config(tiny_demo, tmp_path, "locked")
    with StoreLock(load_config(cfg).store):
        proc = cli(cfg, "run", *SUBSET)
        with pytest.raises(LockedError), StoreLock(load_config(cfg).store):
            pass
    assert proc.returncode == 1
    assert f"pid {os.getpid()}" in proc.stderr and "another run holds" in proc.stderr
    assert proc.stderr.strip().count("\n") == 0


def test_failed_site_years_are_recorded_and_retried(tiny_demo, tmp_path):
    cfg = make_config(tiny_demo, tmp_path, "failing")
    blocker = tmp_path / "cache-failing" / "S05"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("a file where the cache wants a folder")
    proc = cli(cfg, "run", *SUBSET)
    assert proc.returncode == 3, proc.stderr
    assert "8 site-year(s) done" in proc.stdout and "4 failed" in proc.stdout
    assert proc.stderr.count("failed S05") == 4
    with sqlite3.connect(tmp_path / "failing.gpkg") as c:
        assert c.execute("SELECT count(*) FROM failures WHERE site_id='S05'").fetchone()[0] == 4
    blocker.unlink()
    again = cli(cfg, "run", *SUBSET)
    assert again.returncode == 0, again.stderr
    assert "4 site-year(s) done, 8 already stored" in again.stdout
    with sqlite3.connect(tmp_path / "failing.gpkg") as c:
        assert c.execute("SELECT count(*) FROM failures").fetchone()[0] == 0


def test_dask_cluster_gives_the_same_results(tiny_demo, tmp_path, reference):
    from distributed import LocalCluster

    # no shared cache: each worker process reads the imagery itself
    cfg = make_config(tiny_demo, tmp_path, "dask", cache=False)
    with LocalCluster(
        n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None, processes=True
    ) as cluster:
        proc = cli(cfg, "run", *SUBSET, "--scheduler", cluster.scheduler_address)
    assert proc.returncode == 0, proc.stderr
    assert "12 site-year(s) done" in proc.stdout
    assert contents(tmp_path / "dask.gpkg") == reference


def test_sites_loaded_alone_give_the_rows_of_their_group(tiny_demo, tmp_path, reference):
    # max_group_px 1: every site is its own imagery group, the per-site path
    cfg = make_config(tiny_demo, tmp_path, "alone", compute=", max_group_px: 1")
    proc = cli(cfg, "run", *SUBSET)
    assert proc.returncode == 0, proc.stderr
    alone = contents(tmp_path / "alone.gpkg")
    assert len(alone) == len(reference)
    for mine, ours in zip(alone, reference, strict=True):
        assert mine[:2] == ours[:2]
        for a, b in zip(mine[2:], ours[2:], strict=True):
            if isinstance(a, float):
                assert a == pytest.approx(b, rel=1e-3, abs=1e-3), (mine, ours)
            else:
                assert a == b, (mine, ours)


def test_a_store_never_filtered_is_filtered_whole_by_a_run_with_nothing_to_do(
    tiny_demo, tmp_path, reference
):
    cfg = make_config(tiny_demo, tmp_path, "refilter")
    assert cli(cfg, "run", *SUBSET).returncode == 0
    store = tmp_path / "refilter.gpkg"
    with sqlite3.connect(store) as c:  # areas that no filter of this version wrote
        c.execute("UPDATE site_years SET mined_area_ha = detected_area_ha + 1")
        c.execute("DELETE FROM meta WHERE key = 'temporal_filter'")
    proc = cli(cfg, "run", *SUBSET)
    assert proc.returncode == 0 and " 0 site-year(s) done" in proc.stdout, proc.stdout
    assert contents(store) == reference
