"""Mine monitor: watch mine sites from space with Sentinel-2 and a fully convolutional network."""

__version__ = "0.1.0"
