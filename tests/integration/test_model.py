"""The FCN: free input size, masks, metadata, the shipped model, and `monitor train` itself."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from monitor.classify import mask_from_probability
from monitor.errors import ModelError
from monitor.metrics import confusion, scores
from monitor.model import SHIPPED_MODEL, build_fcn, load_model, metadata_path
from tests.contract import BANDS as CONTRACT_BANDS

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def test_fcn_takes_any_size_and_returns_probabilities_at_10m():
    net = build_fcn(np.full(12, 0.15), np.full(12, 0.05))
    for h, w in ((64, 64), (56, 104)):
        x = np.full((1, 12, h, w), 0.1, np.float32)
        x[0, :, :5, :5] = np.nan  # never-clear pixels are filled inside the network
        out = net(x).numpy()
        assert out.shape == (1, h, w, 1) and 0 <= out.min() <= out.max() <= 1


def test_a_crop_on_the_network_lattice_sees_what_the_whole_saw():
    # what lets a site be measured from its group's mosaic: same pooling phase, same numbers
    from monitor.geo import NETWORK_ALIGN_M, RESOLUTION

    model = load_model(None)
    step = int(NETWORK_ALIGN_M / RESOLUTION)
    refl = np.random.default_rng(3).uniform(0.02, 0.4, (12, 256, 256)).astype(np.float32)
    whole = model.predict(refl)
    r0, c0 = 8 * step, 5 * step
    crop = model.predict(refl[:, r0 : r0 + 160, c0 : c0 + 160])
    inner = (slice(40, 120), slice(40, 120))  # away from the crop's own edges
    np.testing.assert_allclose(
        crop[inner], whole[r0 : r0 + 160, c0 : c0 + 160][inner], rtol=0, atol=1e-4
    )


def test_margins_without_data_are_not_run_and_the_data_sees_the_same():
    model = load_model(None)
    refl = np.full((12, 256, 320), np.nan, np.float32)
    refl[:, 130:230, 70:190] = np.random.default_rng(4).uniform(0.02, 0.4, (12, 100, 120))
    fast, whole = model.predict(refl), model._predict_tiled(refl, 1024)
    np.testing.assert_allclose(fast[130:230, 70:190], whole[130:230, 70:190], rtol=0, atol=1e-4)
    assert not fast[:64].any() and not fast[:, 256:].any()  # beyond the context: not run

    def never(_):
        raise AssertionError("the network ran on an image without data")

    model._infer = never
    assert not model.predict(np.full((12, 64, 64), np.nan, np.float32)).any()


def test_shipped_model_and_its_metadata():
    model = load_model(None)
    meta = json.loads(metadata_path(SHIPPED_MODEL).read_text())
    assert meta["bands"] == list(CONTRACT_BANDS)
    assert meta["training"]["simulated_imagery"] is True
    assert meta["training"]["real_negative_patches"] == 6
    assert 0 < meta["threshold"] < 1 and meta["threshold"] == model.threshold
    # held-out (test-block) figures of both, and the FCN earns its place
    assert meta["metrics"]["kappa"] > meta["baseline"]["metrics"]["kappa"]
    assert (SHIPPED_MODEL.parent / meta["baseline"]["file"]).is_file()
    prob = model.predict(
        np.full((12, 37, 45), 0.1, np.float32)
    )  # odd sizes are padded, not refused
    assert prob.shape == (37, 45)
    with pytest.raises(ModelError, match="not found"):
        load_model(Path("/nonexistent/model.keras"))


def test_shipped_model_finds_no_mine_in_real_european_scenes():
    """BigEarthNet L2A patches (farmland, pasture, forest, bog, lakes; no mines): at most
    0.1 % of their clear area may be flagged, after the minimum mapping unit as in a run."""
    pytest.importorskip("bigearthnet_common")
    from monitor.realdata import bigearthnet_patches

    model = load_model(None)
    flagged = total = 0
    for patch in bigearthnet_patches():
        valid = ~np.isnan(patch.reflectance).any(axis=0)
        prob = model.predict(patch.reflectance)
        flagged += int(mask_from_probability(prob, valid, model.threshold, 50).sum())
        total += int(valid.sum())
    assert total > 50_000
    assert flagged / total <= 0.001, f"{flagged} of {total} real pixels flagged as mine"


def test_minimum_mapping_unit_and_nodata():
    prob = np.zeros((40, 40), np.float32)
    prob[2:4, 2:4] = 0.9  # 4 px = 0.04 ha: dropped
    prob[10:30, 10:30] = 0.9  # 400 px = 4 ha: kept
    valid = np.ones_like(prob, bool)
    valid[25:30, 10:30] = False  # no clear look: never mine
    mask = mask_from_probability(prob, valid, 0.5, min_pixels=50)
    assert not mask[2:4, 2:4].any() and mask[10:25, 10:30].all() and not mask[25:30].any()


def test_kappa_matches_the_textbook():
    pred = np.array([1] * 45 + [0] * 5 + [1] * 10 + [0] * 40, bool)
    ref = np.array([1] * 50 + [0] * 50, bool)
    s = scores(confusion(pred, ref))
    assert s["overall_accuracy"] == 0.85 and abs(s["kappa"] - 0.7) < 1e-9
    assert abs(s["producers_accuracy"] - 0.9) < 1e-9 and abs(s["users_accuracy"] - 45 / 55) < 1e-5


def test_monitor_train_on_points_writes_model_and_metadata(tiny_config, tiny_demo, tmp_path):
    import geopandas as gpd

    labels = gpd.read_file(tiny_demo / "training/labels.geojson")
    utm = labels.estimate_utm_crs()
    # points sampled inside the polygons: the command must take points too
    pts = labels.to_crs(utm).sample_points(6, rng=0).explode().to_crs(4326)
    points = gpd.GeoDataFrame(
        {"label": labels.loc[pts.index, "label"].values}, geometry=pts.values, crs=4326
    )
    path = tmp_path / "points.gpkg"
    points.to_file(path)
    out = tmp_path / "new" / "m.keras"  # a folder that does not exist yet
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "cli.py"),
            "--config",
            str(tiny_config),
            "train",
            "--labels",
            str(path),
            "--year",
            "2021",
            "--out",
            str(out),
            "--epochs",
            "2",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "validation" in proc.stdout and out.exists()
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["training"]["year"] == 2021 and meta["training"]["labelled_pixels"]["mine"] > 0
    assert load_model(out).version == meta["version"]
    bad = tmp_path / "bad.geojson"
    bad.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"label": "quarry?"},
                        "geometry": {"type": "Point", "coordinates": [29, -26]},
                    }
                ],
            }
        )
    )
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "cli.py"),
            "--config",
            str(tiny_config),
            "train",
            "--labels",
            str(bad),
            "--year",
            "2021",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1 and "record 0 has label 'quarry?'" in proc.stderr
