"""The stac-api and planetary-computer paths against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from shapely.geometry import shape

from monitor.bands import BANDS
from monitor.config import SourceConfig
from monitor.imagery import Signer, site_composite
from monitor.imagery.source import LocalCatalog, SeasonQuery, item_baseline, open_source
from monitor.params import CompositeParams
from tests.shared_data import real_data
from tests.stac_server import ExpiringSigner, StacTestServer, demo_items_over_http

pytestmark = pytest.mark.slow

SEASON = (5, 6, 7, 8, 9)


def _site(tiny_demo: Path, k: int = 6):
    return shape(json.loads((tiny_demo / "sites.geojson").read_text())["features"][k]["geometry"])


def _real_items() -> list[dict]:
    return json.loads((real_data("stac/site2-2020_jun_jul-35MNM.geojson")).read_text())["features"]


def test_stac_api_search_pages_and_survives_429_and_503(tiny_demo):
    site = _site(tiny_demo)
    local = LocalCatalog(tiny_demo / "catalog.json", "sentinel-2-l2a")
    query = SeasonQuery(site.buffer(0.01).bounds, 2022, SEASON, 70.0)
    expected = sorted(it.id for it in local.search(query))
    with StacTestServer([], faults={1: 429, 2: 503, 4: 503}) as server:
        server.items = demo_items_over_http(tiny_demo, server.url)
        source = open_source(
            SourceConfig(kind="stac-api", catalog=server.url, headers={"X-Api-Key": "k"})
        )
        found = sorted(it.id for it in source.search(query))
    assert found == expected and len(found) > server.page_size  # several pages
    assert server.served.get(429) == 1 and server.served.get(503) == 2


def test_stac_api_composite_reads_cogs_over_http(tiny_demo):
    site = _site(tiny_demo)
    params = CompositeParams(SEASON, 70.0, 100.0)
    local = site_composite(
        LocalCatalog(tiny_demo / "catalog.json", "sentinel-2-l2a"), "S", site, 2021, params
    )
    with StacTestServer([], file_root=tiny_demo) as server:
        server.items = demo_items_over_http(tiny_demo, server.url)
        remote = site_composite(
            open_source(SourceConfig(kind="stac-api", catalog=server.url)), "S", site, 2021, params
        )
        assert server.file_requests > 13
    assert remote.items_used == local.items_used
    np.testing.assert_array_equal(remote.clear, local.clear)
    np.testing.assert_allclose(remote.reflectance, local.reflectance, equal_nan=True)


def test_planetary_computer_path_signs_late_and_resigns_on_expiry(tiny_demo):
    site = _site(tiny_demo)
    params = CompositeParams(SEASON, 70.0, 100.0)
    signer = ExpiringSigner(lifetime=0.2)
    with StacTestServer([], file_root=tiny_demo, require_token=True) as server:
        server.items = demo_items_over_http(tiny_demo, server.url)
        source = open_source(
            SourceConfig(kind="planetary-computer", catalog=server.url), signer=signer
        )
        items = source.search(SeasonQuery(site.buffer(0.01).bounds, 2023, SEASON, 70.0))
        # search results carry unsigned hrefs: signing happens at read time only
        assert all("sig=" not in a.href for it in items for a in it.assets.values())
        time.sleep(0.3)  # the token expires, as on a long run
        comp = site_composite(source, "S", site, 2023, params)
        assert server.refused > 0 and signer.refreshes == 1
    assert len(comp.items_used) == len(items) and not comp.items_skipped
    assert np.isfinite(comp.reflectance).mean() > 0.9


def test_the_real_planetary_computer_package_signs_again_when_its_token_stops_working(
    tiny_demo, monkeypatch
):
    """planetary_computer itself (sign_url, its token cache, SASToken) against a SAS token
    endpoint on 127.0.0.1 whose tokens stop working long before the expiry they state."""
    import planetary_computer
    from planetary_computer import sas, settings

    site = _site(tiny_demo)
    params = CompositeParams(SEASON, 70.0, 100.0)
    with StacTestServer([], file_root=tiny_demo, require_token=True, sas_lifetime=0.5) as server:
        port = server.httpd.server_address[1]
        blob = f"http://acct.localhost:{port}"  # *.localhost is loopback for curl and GDAL
        server.items = demo_items_over_http(tiny_demo, blob, prefix="container")
        monkeypatch.setenv("PC_SDK_SAS_URL", f"{server.url}/api/sas/v1/token")
        monkeypatch.setattr(sas, "BLOB_STORAGE_DOMAIN", f".localhost:{port}")
        settings.Settings.get.cache_clear()
        sas.TOKEN_CACHE.clear()
        source = open_source(SourceConfig(kind="planetary-computer", catalog=server.url))
        signed = planetary_computer.sign_url(f"{blob}/container/x.tif")
        assert signed.startswith(f"{blob}/container/x.tif?st=") and server.tokens_issued == 1
        time.sleep(0.6)  # the cached token stops working; the package still trusts it
        comp = site_composite(source, "S", site, 2023, params)
        assert server.refused > 0 and server.tokens_issued >= 2
    assert comp.items_used and not comp.items_skipped
    assert np.isfinite(comp.reflectance).mean() > 0.9
    settings.Settings.get.cache_clear()


def test_real_planetary_computer_answers_parse(tmp_path):
    real = _real_items()
    with StacTestServer(real) as server:
        source = open_source(
            SourceConfig(kind="planetary-computer", catalog=server.url), signer=Signer()
        )
        bbox = shape(real[0]["geometry"]).centroid.buffer(0.05).bounds
        june_july = source.search(SeasonQuery(bbox, 2020, (6, 7), 10.0))
    assert len(june_july) == sum(f["properties"]["eo:cloud_cover"] <= 10 for f in real) == 11
    assert all(item_baseline(it) < (4, 0) for it in june_july)
    assert set(BANDS) | {"SCL"} <= set(june_july[0].assets)


def test_demo_items_carry_the_fields_of_real_ones(tiny_demo):
    real = json.loads(
        (real_data("stac/S2B_MSIL2A_20190629T212529_R043_T06VVN_20201006T080531.json")).read_text()
    )
    demo_file = next((tiny_demo / "sentinel-2-l2a").glob("*/*.json"))
    demo = json.loads(demo_file.read_text())
    missing = set(real["properties"]) - set(demo["properties"])
    assert missing == set(), missing
    for band in (*BANDS, "SCL"):
        for key in ("type", "gsd", "proj:bbox", "proj:shape", "proj:transform", "roles"):
            assert key in demo["assets"][band], (band, key)
        assert demo["assets"][band]["type"] == real["assets"][band]["type"]
    assert demo["properties"]["proj:epsg"] in (32735, 32736)
