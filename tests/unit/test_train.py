"""`monitor train`'s parts on small synthetic rasters: the split, the sampler, the augmentation,
threshold choice, the learned baseline, and the real negatives."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from monitor.baseline import PixelBaseline, fit_baseline, pixel_features
from monitor.errors import MonitorError
from monitor.labels import LABEL_IGNORE
from monitor.train import (
    GUARD,
    TEST,
    TRAIN,
    VAL,
    PatchSampler,
    TrainingTile,
    TrainSettings,
    assign_splits,
    augment,
    best_threshold,
    writable_output,
)


def _tile(seed: int, size: int = 480, mines: int = 14) -> TrainingTile:
    """Bright discs (mines) on darker ground, all labelled; a second background kind."""
    rng = np.random.default_rng(seed)
    refl = np.full((12, size, size), 0.1, np.float32) + rng.normal(0, 0.005, (12, size, size))
    y = np.zeros((size, size), np.uint8)
    yy, xx = np.mgrid[0:size, 0:size]
    for _ in range(mines):
        cx, cy = rng.uniform(20, size - 20, 2)
        y[np.hypot(xx - cx, yy - cy) < rng.uniform(4, 9)] = 1
    refl[:, y == 1] += 0.15
    kind = np.where(y == 1, 0, 1).astype(np.uint8)
    kind[:, : size // 3] = np.where(y[:, : size // 3] == 1, 0, 2)
    return TrainingTile(f"t{seed}", refl.astype(np.float32), np.ones((size, size), bool), y, kind)


def test_split_holds_out_whole_blocks_and_whole_mines_with_a_guard():
    tiles = [_tile(1), _tile(2)]
    val, test = assign_splits(tiles, TrainSettings(block=96, guard=12))
    assert (val, test) == (VAL, TEST)
    for t in tiles:
        assert set(np.unique(t.split)) <= {TRAIN, VAL, TEST, GUARD}
        clusters, n = ndimage.label(t.y == 1)
        for c in range(1, n + 1):  # no mine is cut between splits
            parts = set(np.unique(t.split[clusters == c])) - {GUARD}
            assert len(parts) == 1, parts
        # no training pixel touches a held-out one
        train = t.split == TRAIN
        held = (t.split == VAL) | (t.split == TEST)
        assert not (ndimage.binary_dilation(held, iterations=11) & train).any()
    for s in (VAL, TEST):
        assert sum(((t.split == s) & (t.y == 1)).sum() for t in tiles) > 0


def test_too_few_blocks_fall_back_to_training_figures():
    tile = _tile(3, size=96, mines=1)
    assert assign_splits([tile], TrainSettings(block=96)) == (TRAIN, TRAIN)


def test_sampler_draws_mines_and_every_background_kind_and_hides_held_out_labels():
    tiles = [_tile(4)]
    settings = TrainSettings(block=96, patch=64)
    assign_splits(tiles, settings)
    sampler = PatchSampler(tiles, settings, np.random.default_rng(0))
    xs, ys = sampler.batch(64)
    assert xs.shape == (64, 12, 64, 64) and ys.shape == (64, 64, 64, 1)
    assert ((ys == 1).mean(axis=(1, 2, 3)) > 0).mean() > 0.3  # mine-centred patches
    assert len(sampler.background) == 2  # both background kinds are drawn from
    probs = [np.where(tiles[0].y == 0, 0.9, 0.1).astype(np.float32)]
    sampler.refresh_hard(probs, 0.5)
    assert sampler.hard and all((tiles[0].y.ravel()[idx] == 0).all() for _, idx in sampler.hard)


def test_labels_outside_the_training_blocks_never_reach_the_loss():
    tile = _tile(7, size=192, mines=0)
    tile.y[:] = 1  # everything held out is "mine" ...
    tile.split = np.full(tile.y.shape, VAL, np.uint8)
    tile.split[48:144, 48:144] = TRAIN
    tile.y[48:144, 48:144] = 0  # ... and the training block is background but for one disc
    tile.y[90:96, 90:96] = 1
    sampler = PatchSampler([tile], TrainSettings(patch=64), np.random.default_rng(1))
    _, ys = sampler.batch(32)
    assert ((ys == 1).sum(axis=(1, 2, 3)) <= 36).all()
    assert ((ys >= 0).sum(axis=(1, 2, 3)) <= 96 * 96).all()


def test_augment_keeps_labels_on_their_pixels_and_gaps_as_gaps():
    rng = np.random.default_rng(0)
    xs = np.full((8, 12, 32, 32), 0.1, np.float32)
    ys = np.zeros((8, 32, 32, 1), np.float32)
    xs[:, :, 4:10, 20:28] = 0.3
    ys[:, 4:10, 20:28] = 1
    xs[:, :, 0, 0] = np.nan
    out, lab = augment(rng, xs.copy(), ys.copy(), strength=1.0)
    for k in range(8):
        bright = out[k, 7] > np.nanmedian(out[k, 7]) * 1.8
        assert (bright == (lab[k, :, :, 0] == 1)).mean() > 0.97
    assert np.isnan(out).any() and np.isfinite(out[~np.isnan(out)]).all()
    gentle, _ = augment(np.random.default_rng(0), xs.copy(), ys.copy(), strength=0.0)
    assert np.nanmax(np.abs(gentle - np.nanmean(gentle))) < 0.4


def test_best_threshold_is_chosen_on_validation_pixels_only():
    tile = _tile(5)
    tile.split = np.full(tile.y.shape, VAL, np.uint8)
    tile.split[:, :240] = TEST
    prob = np.where(tile.y == 1, 0.3, 0.1).astype(np.float32)
    prob[:, :240] = 0.95  # the test half would pull the threshold up: it must not count
    thr, kappa = best_threshold([tile], [prob], min_pixels=1)
    assert 0.1 <= thr < 0.3 and kappa > 0.99


def test_learned_baseline_fits_predicts_and_round_trips(tmp_path):
    tile = _tile(6)
    feats = pixel_features(tile.reflectance.reshape(12, -1))
    labels = tile.y.ravel()
    base = fit_baseline(feats[::3], labels[::3], feats[1::3], labels[1::3])
    prob = base.predict(tile.reflectance)
    assert prob.shape == tile.y.shape and ((prob > 0.5) == (tile.y == 1)).mean() > 0.99
    path = base.save(tmp_path / "b.txt")
    again = PixelBaseline.load(path, 0.4)
    np.testing.assert_allclose(again.predict(tile.reflectance), prob, atol=1e-6)


def test_real_negatives_are_twelve_band_l2a_at_10m():
    pytest.importorskip("bigearthnet_common")
    from monitor.realdata import bigearthnet_patches

    patches = bigearthnet_patches()
    assert len(patches) == 6
    for p in patches:
        assert p.reflectance.shape == (12, 120, 120) and p.crs.startswith("EPSG:326")
        ok = ~np.isnan(p.reflectance).any(axis=0)
        assert 0.0 < np.nanmedian(p.reflectance[7][ok]) < 0.8
    snow = next(p for p in patches if "20180204" in p.name)  # Finland in February
    assert np.isnan(snow.reflectance[0]).mean() > 0.5
    assert LABEL_IGNORE == 255


def test_output_folder_is_made_and_checked_before_training(tmp_path):
    out = writable_output(tmp_path / "models" / "za" / "m.keras")
    assert out.parent.is_dir() and list(out.parent.iterdir()) == []
    with pytest.raises(MonitorError, match=r"end in \.keras"):
        writable_output(tmp_path / "m.h5")
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(MonitorError, match="choose another --out"):
        writable_output(tmp_path / "file" / "m.keras")


def test_files_train_did_not_write_are_never_replaced(tmp_path):
    import shutil

    from monitor.model import SHIPPED_MODEL, metadata_path

    notes = tmp_path / "m.json"  # a user's file where the metadata would go
    notes.write_text('{"my": "notes"}')
    with pytest.raises(MonitorError, match=r"m\.json exists and is not part of a model"):
        writable_output(tmp_path / "m.keras")
    assert notes.read_text() == '{"my": "notes"}'
    (tmp_path / "b.baseline.txt").write_text("mine")  # a baseline with no model beside it
    with pytest.raises(MonitorError, match="move that file away"):
        writable_output(tmp_path / "b.keras")
    shutil.copy(metadata_path(SHIPPED_MODEL), tmp_path / "ours.json")  # a model train wrote
    (tmp_path / "ours.keras").write_bytes(b"weights")
    assert writable_output(tmp_path / "ours.keras") == tmp_path / "ours.keras"


def test_the_recorded_command_trains_the_model_again():
    from monitor.train import TrainSettings, _command

    settings = TrainSettings(real_negatives=True, augment=1.0, seed=3)
    assert _command("l.gpkg", 2021, "m.keras", settings) == (
        "monitor train --labels l.gpkg --year 2021 --out m.keras --seed 3 --real-negatives "
        "--augment 1"
    )
    assert _command("l.gpkg", 2021, "m.keras", TrainSettings()).endswith("--out m.keras")
