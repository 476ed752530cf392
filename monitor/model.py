"""The FCN: architecture, metadata that travels with it, loading and dense inference.

In the style of seeds 002 and 004 (fully convolutional, 12 bands in, free input size), with a
light encoder-decoder so the output is a per-pixel probability at 10 m rather than one per
coarse cell: areas in hectares need the pixel, and the seeds' 7x7 "fully connected" layer would
blur footprints by ~60 m. Two poolings give ~100 m of context (benches, dumps beside pits, pond
beaches), which is what separates a mine from bare land or river sand of the same colour.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from monitor.bands import BANDS
from monitor.errors import ModelError

__all__ = ["ModelMeta", "MineModel", "build_fcn", "load_model", "SHIPPED_MODEL", "metadata_path"]

log = logging.getLogger(__name__)
SHIPPED_MODEL = Path(__file__).parent / "assets" / "mine_fcn.keras"


def metadata_path(model_path: Path) -> Path:
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
    """Suggested probability threshold."""
    training: dict = field(default_factory=dict)
    """Training data description: labels, year, source, pixel counts, whether simulated."""
    metrics: dict = field(default_factory=dict)
    """Validation metrics at the end of training."""

    def to_json(self) -> str:
        return json.dumps(self.__dict__ | {"bands": list(self.bands), "mean": list(self.mean),
                                            "std": list(self.std)}, indent=1)  # fmt: skip

    @classmethod
    def read(cls, path: Path) -> ModelMeta:
        try:
            raw = json.loads(Path(path).read_text())
            return cls(
                version=raw["version"], bands=tuple(raw["bands"]), mean=tuple(raw["mean"]),
                std=tuple(raw["std"]), patch_size=int(raw["patch_size"]),
                threshold=float(raw.get("threshold", 0.5)), training=raw.get("training", {}),
                metrics=raw.get("metrics", {}),
            )  # fmt: skip
        except FileNotFoundError:
            raise ModelError(
                f"model metadata {path} not found; it must sit beside the .keras file "
                "(monitor train writes both)"
            ) from None
        except (KeyError, ValueError, TypeError) as exc:
            raise ModelError(
                f"model metadata {path} is incomplete ({exc}); retrain with monitor train"
            ) from None


def _keras():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    return keras


def build_fcn(n_bands: int = 12, width: int = 12):
    """Encoder-decoder FCN: 10 m in, 10 m mine probability out; any size divisible by 4.

    The first layer is a learned space-to-depth (2x2 kernel, stride 2) and the last a 2x2
    transposed convolution, so every 3x3 convolution runs at 20 m or 40 m: the same 10 m
    output at a third of the cost of full-resolution convolutions (bench/fcn.py).
    """
    keras = _keras()
    L = keras.layers
    inp = keras.Input(shape=(None, None, n_bands), name="reflectance")
    f1 = L.Conv2D(2 * width, 2, strides=2, activation="relu", name="space_to_depth")(inp)
    x = L.Conv2D(2 * width, 3, padding="same", activation="relu", name="conv_20m_a")(f1)
    f2 = L.Conv2D(2 * width, 3, padding="same", activation="relu", name="conv_20m_b")(x)
    x = L.MaxPooling2D(2)(f2)
    x = L.Conv2D(3 * width, 3, padding="same", activation="relu", name="conv_40m_a")(x)
    x = L.Conv2D(
        3 * width, 3, padding="same", dilation_rate=2, activation="relu", name="conv_40m_b"
    )(x)
    x = L.Dropout(0.3)(x)
    x = L.UpSampling2D(2)(x)
    x = L.Concatenate()([x, f2, f1])
    x = L.Conv2D(2 * width, 1, activation="relu", name="fuse_20m")(x)
    out = L.Conv2DTranspose(1, 2, strides=2, activation="sigmoid", name="mine_probability")(x)
    return keras.Model(inp, out, name="mine_fcn")


class MineModel:
    """A loaded model with its metadata; ``predict`` maps a composite to probabilities."""

    def __init__(self, keras_model, meta: ModelMeta, path: Path | None = None):
        self.keras_model = keras_model
        self.meta = meta
        self.path = path
        self._mean = np.asarray(meta.mean, np.float32)[:, None, None]
        import tensorflow as tf

        # a traced graph is ~2x faster than eager calls on CPU
        @tf.autograph.experimental.do_not_convert
        def infer(x):
            return keras_model(x, training=False)

        self._infer = tf.function(infer, reduce_retracing=True)
        self._std = np.asarray(meta.std, np.float32)[:, None, None]

    @property
    def version(self) -> str:
        return self.meta.version

    def normalise(self, reflectance: np.ndarray) -> np.ndarray:
        """(12, H, W) reflectance -> (H, W, 12) model input; NaN becomes the band mean (0)."""
        _, h, w = reflectance.shape
        x = np.empty((h, w, reflectance.shape[0]), np.float32)  # channels-last, one pass
        np.subtract(reflectance.transpose(1, 2, 0), self._mean[:, 0, 0], out=x)
        x /= self._std[:, 0, 0]
        return np.nan_to_num(x, copy=False, nan=0.0)

    def predict(self, reflectance: np.ndarray, tile: int = 1024) -> np.ndarray:
        """Mine probability (H, W) float32 for a (12, H, W) reflectance composite."""
        x = self.normalise(reflectance)
        h, w = x.shape[:2]
        out = np.zeros((h, w), np.float32)
        halo = 16
        for r0 in range(0, h, tile):
            for c0 in range(0, w, tile):
                r1, c1 = min(h, r0 + tile), min(w, c0 + tile)
                a0, b0 = max(0, r0 - halo), max(0, c0 - halo)
                a1, b1 = min(h, r1 + halo), min(w, c1 + halo)
                block = x[a0:a1, b0:b1]
                ph, pw = (-block.shape[0]) % 4, (-block.shape[1]) % 4
                if ph or pw:
                    block = np.pad(
                        block,
                        ((0, ph), (0, pw), (0, 0)),
                        mode="reflect" if min(block.shape[:2]) > 4 else "edge",
                    )
                prob = self._infer(block[None]).numpy()[0, :, :, 0]
                out[r0:r1, c0:c1] = prob[
                    r0 - a0 : r0 - a0 + (r1 - r0), c0 - b0 : c0 - b0 + (c1 - c0)
                ]
        return out

    def save(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + ".partial.keras")
        self.keras_model.save(tmp)
        tmp.replace(path)
        metadata_path(path).write_text(self.meta.to_json())
        self.path = path
        return path


def weights_digest(keras_model) -> str:
    h = hashlib.sha1()
    for w in keras_model.get_weights():
        h.update(np.ascontiguousarray(w).tobytes())
    return h.hexdigest()[:8]


def load_model(path: Path | None = None) -> MineModel:
    """Load a .keras model and the metadata JSON beside it (None: the shipped model)."""
    path = Path(path) if path else SHIPPED_MODEL
    if not path.exists():
        hint = (
            "train one with `monitor train`" if path != SHIPPED_MODEL else "reinstall the package"
        )
        raise ModelError(f"model {path} not found; {hint} or set `model` in the config")
    meta = ModelMeta.read(metadata_path(path))
    if tuple(meta.bands) != BANDS:
        raise ModelError(f"model {path} expects bands {meta.bands}, this tool gives {BANDS}")
    keras = _keras()
    try:
        km = keras.models.load_model(path, compile=False)
    except Exception as exc:
        raise ModelError(f"cannot load model {path}: {exc}") from exc
    return MineModel(km, meta, path)
