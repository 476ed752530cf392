"""The FCN: architecture, metadata that travels with it, loading and dense inference.

In the style of seeds 002 and 004 (fully convolutional, 12 bands in, free input size), with a
light three-level encoder-decoder so the output is a per-pixel probability at 10 m rather than
one per coarse cell: areas in hectares need the pixel, and the seeds' 7x7 "fully connected"
layer would blur footprints by ~60 m. Pooling to 80 m gives ~800 m of context (benches and
dumps beside pits, pond chains along a stream, beaches round a tailings pond), which is what
separates a mine from bare land, river sand or a clear-cut of the same colour.

The network takes raw surface reflectance, bands first, NaN where a pixel was never clear: the
first layer (:class:`SpectralInput`) fills gaps with the band mean, normalises the bands and
adds normalised-difference indices (NDVI, MNDWI, NDBI, BSI, NBR). Ratios do not move when a
sensor, an atmosphere or a season scales every band together, which is most of what differs
between the scenes a model is trained on and those it meets.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from monitor.bands import BANDS
from monitor.errors import ModelError

__all__ = [
    "ModelMeta",
    "MineModel",
    "build_fcn",
    "load_model",
    "model_meta",
    "SHIPPED_MODEL",
    "metadata_path",
    "INDICES",
]

log = logging.getLogger(__name__)
SHIPPED_MODEL = Path(__file__).parent / "assets" / "mine_fcn.keras"
#: Normalised differences the input layer adds: (name, band a, band b) -> (a - b) / (a + b).
INDICES = (
    ("ndvi", "B08", "B04"),
    ("mndwi", "B03", "B11"),
    ("ndbi", "B11", "B08"),
    ("nbr", "B08", "B12"),
    ("ndre", "B8A", "B05"),
)
_HALO = 32  # px of context added around each inference tile


def metadata_path(model_path: Path) -> Path:
    """The metadata JSON that sits beside a .keras model."""
    return Path(model_path).with_suffix(".json")


@dataclass(frozen=True)
class ModelMeta:
    """What travels with a model in the JSON beside its .keras file."""

    version: str
    """Unique version (name + weights hash); stored with every history row."""
    bands: tuple[str, ...]
    """Band order of the input."""
    mean: tuple[float, ...]
    """Per-band mean reflectance used to normalise."""
    std: tuple[float, ...]
    """Per-band standard deviation used to normalise."""
    patch_size: int
    """Training patch size (pixels at 10 m)."""
    threshold: float = 0.5
    """Decision threshold chosen on held-out data (inference uses it unless the config says)."""
    training: dict = field(default_factory=dict)
    """Training data: labels, year, source, pixel counts, what was held out, whether simulated."""
    metrics: dict = field(default_factory=dict)
    """Held-out (test split) figures of the FCN at its threshold."""
    baseline: dict = field(default_factory=dict)
    """The learned per-pixel baseline trained beside it: file, threshold, held-out figures."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def read(cls, path: Path) -> ModelMeta:
        try:
            raw = json.loads(Path(path).read_text())
            meta = cls(
                version=str(raw["version"]),
                bands=tuple(raw["bands"]),
                mean=tuple(float(v) for v in raw["mean"]),
                std=tuple(float(v) for v in raw["std"]),
                patch_size=int(raw["patch_size"]),
                threshold=float(raw.get("threshold", 0.5)),
                training=raw.get("training", {}),
                metrics=raw.get("metrics", {}),
                baseline=raw.get("baseline", {}),
            )
        except FileNotFoundError:
            raise ModelError(
                f"model metadata {path} not found; it must sit beside the .keras file "
                "(monitor train writes both)"
            ) from None
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise ModelError(
                f"model metadata {path} is incomplete or malformed ({exc}); retrain with "
                "monitor train"
            ) from None
        if len(meta.mean) != len(meta.bands) or len(meta.std) != len(meta.bands):
            raise ModelError(
                f"model metadata {path}: mean and std need one value per band "
                f"({len(meta.bands)}); retrain with monitor train"
            )
        if not 0.0 < meta.threshold < 1.0:
            raise ModelError(f"model metadata {path}: threshold {meta.threshold} is not in (0, 1)")
        return meta


@contextlib.contextmanager
def _quiet_stderr():
    """Silence file descriptor 2 for a moment: TensorFlow's C++ start-up lines (oneDNN, absl)
    ignore TF_CPP_MIN_LOG_LEVEL, and cron mails whatever lands on stderr. Kept with -v."""
    if log.isEnabledFor(logging.DEBUG):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _keras():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if "keras" not in sys.modules:
        with _quiet_stderr():
            import keras  # noqa: F401
    import keras

    return keras


_LAYERS: dict = {}


def _custom_layers() -> dict:
    """The project's Keras layers, defined and registered once (Keras is imported lazily)."""
    if _LAYERS:
        return _LAYERS
    keras = _keras()
    ops = keras.ops

    @keras.saving.register_keras_serializable(package="mine_monitor")
    class SpectralInput(keras.layers.Layer):
        """(B, 12, H, W) reflectance with NaN gaps -> (B, H, W, 12 + indices) network input."""

        def __init__(self, mean, std, indices, **kwargs):
            super().__init__(**kwargs)
            self.mean = [float(v) for v in mean]
            self.std = [float(v) for v in std]
            self.indices = [list(i) for i in indices]

        def call(self, x):
            x = ops.transpose(x, (0, 2, 3, 1))
            mean = ops.convert_to_tensor(np.asarray(self.mean, np.float32))
            std = ops.convert_to_tensor(np.asarray(self.std, np.float32))
            x = ops.where(ops.isnan(x), mean, x)
            feats = [(x - mean) / std]
            for _, a, b in self.indices:
                xa, xb = x[..., BANDS.index(a)], x[..., BANDS.index(b)]
                nd = (xa - xb) / ops.maximum(xa + xb, 1e-3)
                feats.append(ops.expand_dims(ops.clip(nd, -1.0, 1.0) * 2.0, -1))
            return ops.concatenate(feats, axis=-1)

        def get_config(self):
            return {
                **super().get_config(),
                "mean": self.mean,
                "std": self.std,
                "indices": self.indices,
            }

    _LAYERS["SpectralInput"] = SpectralInput
    return _LAYERS


def build_fcn(
    mean, std, channels: tuple[int, int, int] = (16, 32, 64), pixel: tuple[int, ...] = (16,)
):
    """Three-level encoder-decoder FCN: 10 m in, 10 m mine probability out; any size divisible
    by 8. The first layer is a learned space-to-depth (2x2, stride 2) and the last a 2x2
    transposed convolution, so every 3x3 convolution runs at 20, 40 or 80 m: the same 10 m
    output at a fraction of the cost of full-resolution convolutions (bench/fcn.py)."""
    keras = _keras()
    layers = keras.layers
    spectral = _custom_layers()["SpectralInput"]

    def conv(x, ch, name, k=3, dilation=1):
        return layers.Conv2D(
            ch, k, padding="same", dilation_rate=dilation, activation="relu", name=name
        )(x)

    inp = keras.Input(shape=(len(BANDS), None, None), name="reflectance")
    spectra = spectral(mean, std, INDICES, name="spectral_input")(inp)
    c20, c40, c80 = channels
    f1 = layers.Conv2D(c20, 2, strides=2, activation="relu", name="space_to_depth")(spectra)
    f2 = conv(conv(f1, c20, "conv_20m_a"), c20, "conv_20m_b")
    x = layers.MaxPooling2D(2)(f2)
    f3 = conv(conv(x, c40, "conv_40m_a"), c40, "conv_40m_b")
    x = layers.MaxPooling2D(2)(f3)
    x = conv(conv(x, c80, "conv_80m_a"), c80, "conv_80m_b", dilation=2)
    x = layers.Dropout(0.3)(x)
    x = layers.UpSampling2D(2)(x)
    x = conv(layers.Concatenate()([x, f3]), c40, "fuse_40m", k=1)
    x = layers.UpSampling2D(2)(x)
    x = conv(layers.Concatenate()([x, f2, f1]), c20, "fuse_20m", k=1)
    context = layers.Conv2DTranspose(8, 2, strides=2, activation="relu", name="context_10m")(x)
    # the pixel's own spectrum, as a per-pixel classifier sees it: 1x1 layers at 10 m
    px = spectra
    for k, width in enumerate(pixel):
        px = conv(px, width, "spectrum_10m" if k == 0 else f"spectrum_10m_{k}", k=1)
    x = conv(layers.Concatenate()([px, context]), 12, "fuse_10m", k=1)
    out = layers.Conv2D(1, 1, activation="sigmoid", name="mine_probability")(x)
    return keras.Model(inp, out, name="mine_fcn")


def _data_span(has_data: np.ndarray) -> tuple[slice, slice]:
    """Rows and columns of the smallest window holding every pixel with data plus the
    network's context around it, its start on the 64-px lattice the tiles use (the same
    pooling phase as the whole image: the same numbers)."""
    from monitor.geo import mask_window

    rows, cols = mask_window(has_data)
    if rows.stop == rows.start:
        return rows, cols

    def widened(s: slice, n: int) -> slice:
        return slice(max(0, s.start - _HALO) // 64 * 64, min(n, s.stop + _HALO))

    return widened(rows, has_data.shape[0]), widened(cols, has_data.shape[1])


def _tiles(n: int, tile: int) -> tuple[list[tuple[int, int]], int]:
    """Split ``n`` pixels into equal tiles of at most ~``tile`` (multiples of 64, as the
    network needs multiples of 8), and the padded side of every block read for them (the
    tile plus a halo of context on each side, or the whole side when one tile does)."""
    k = math.ceil(n / tile)
    if k == 1:
        return [(0, n)], math.ceil(n / 64) * 64
    step = math.ceil(math.ceil(n / k) / 64) * 64
    return [(s, min(n, s + step)) for s in range(0, n, step)], step + 2 * _HALO


class MineModel:
    """A loaded model with its metadata; ``predict`` maps a composite to probabilities."""

    def __init__(self, keras_model, meta: ModelMeta, path: Path | None = None):
        self.keras_model = keras_model
        self.meta = meta
        self.path = path
        import tensorflow as tf

        # a traced graph is ~2x faster than eager calls on CPU; no XLA: its compile of every
        # new shape (0.5-0.8 s) costs more than it saves on the one call a group makes. One
        # trace for every block size (0.3-0.5 s each, paid again by every thread that came
        # first to a new shape), as fast as a trace per shape
        @tf.autograph.experimental.do_not_convert
        def infer(x):
            return keras_model(x, training=False)

        spec = tf.TensorSpec([None, len(meta.bands), None, None], tf.float32)
        self._infer = tf.function(infer, input_signature=[spec])

    @property
    def version(self) -> str:
        return self.meta.version

    @property
    def threshold(self) -> float:
        return self.meta.threshold

    def predict(self, reflectance: np.ndarray, tile: int = 1024) -> np.ndarray:
        """Mine probability (H, W) float32 for a (12, H, W) reflectance composite. Margins
        with no data (NaN in every band) farther than the network's context from any data
        are not run and stay 0: a group reaching past its scenes' edge pays only for what
        they cover."""
        reflectance = np.asarray(reflectance, np.float32)
        out = np.zeros(reflectance.shape[1:], np.float32)
        rows, cols = _data_span(~np.isnan(reflectance).all(axis=0))
        if rows.stop > rows.start and cols.stop > cols.start:
            out[rows, cols] = self._predict_tiled(reflectance[:, rows, cols], tile)
        return out

    def _predict_tiled(self, reflectance: np.ndarray, tile: int) -> np.ndarray:
        _, h, w = reflectance.shape
        out = np.zeros((h, w), np.float32)
        (rows, th), (cols, tw) = _tiles(h, tile), _tiles(w, tile)
        for r0, r1 in rows:
            for c0, c1 in cols:
                a0, b0 = max(0, r0 - _HALO), max(0, c0 - _HALO)
                a1, b1 = min(h, r1 + _HALO), min(w, c1 + _HALO)
                block = reflectance[:, a0:a1, b0:b1]
                # every block of an image padded to one shape: one trace per image size
                ph, pw = th - block.shape[1], tw - block.shape[2]
                if ph or pw:
                    mode = "reflect" if min(block.shape[1:]) > max(ph, pw) else "edge"
                    block = np.pad(block, ((0, 0), (0, ph), (0, pw)), mode=mode)
                prob = self._infer(block[None]).numpy()[0, :, :, 0]
                out[r0:r1, c0:c1] = prob[r0 - a0 : r1 - a0, c0 - b0 : c1 - b0]
        return out

    def save(self, path: Path) -> Path:
        """Write the .keras file and its metadata JSON (each via a temporary file)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + ".partial.keras")
        self.keras_model.save(tmp)
        tmp.replace(path)
        meta_tmp = metadata_path(path).with_suffix(".json.partial")
        meta_tmp.write_text(self.meta.to_json())
        meta_tmp.replace(metadata_path(path))
        self.path = path
        return path


def weights_digest(keras_model) -> str:
    """Short hash of a network's weights: part of the model version."""
    h = hashlib.sha1()
    for w in keras_model.get_weights():
        h.update(np.ascontiguousarray(w).tobytes())
    return h.hexdigest()[:8]


def model_meta(path: Path | None = None) -> tuple[Path, ModelMeta]:
    """The model file and its metadata, checked as :func:`load_model` checks them, without
    loading the network: what a run needs to plan (the model's version), without TensorFlow."""
    path = Path(path) if path else SHIPPED_MODEL
    if not path.is_file():
        hint = (
            "train one with `monitor train`" if path != SHIPPED_MODEL else "reinstall the package"
        )
        raise ModelError(f"model {path} not found; {hint} or set `model` in the config")
    meta = ModelMeta.read(metadata_path(path))
    if tuple(meta.bands) != BANDS:
        raise ModelError(f"model {path} expects bands {meta.bands}, this tool gives {BANDS}")
    return path, meta


def load_model(path: Path | None = None) -> MineModel:
    """Load a .keras model and the metadata JSON beside it (None: the shipped model)."""
    path, meta = model_meta(path)
    keras = _keras()
    _custom_layers()
    try:
        km = keras.models.load_model(path, compile=False)
    except Exception as exc:
        raise ModelError(
            f"cannot load model {path} ({exc.__class__.__name__}); it is not a model this tool "
            "wrote: retrain it with monitor train or set `model` to another file"
        ) from None
    return MineModel(km, meta, path)
