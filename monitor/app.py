"""Glue shared by the commands: the loaded config, the demo world on demand, logging."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

from monitor.config import Config, load_config

__all__ = ["AppContext", "ensure_demo", "setup_logging"]

log = logging.getLogger("monitor")


def setup_logging(verbosity: int) -> None:
    """-q: warnings only; default: info; -v: debug and tracebacks."""
    level = logging.WARNING if verbosity < 0 else logging.INFO if verbosity == 0 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(level)
    handler.setFormatter(
        logging.Formatter(
            "%(message)s" if verbosity <= 0 else "%(asctime)s %(name)s %(levelname)s %(message)s"
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    # odc-stac logs every failed read at ERROR; we retry, skip and report those ourselves
    logging.getLogger("odc").setLevel(logging.DEBUG if verbosity > 0 else logging.CRITICAL)
    # the logger passes INFO on so that a run's log file gets it whatever the terminal shows
    logging.getLogger("monitor").setLevel(min(level, logging.INFO))


@dataclass
class AppContext:
    """What every command gets: the config path and verbosity; the config loaded on first use."""

    config_path: Path
    verbosity: int = 0
    _config: Config | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config


def ensure_demo(cfg: Config, progress=None) -> None:
    """Build the demo world when the config points at it and it is missing."""
    if not cfg.uses_demo_catalog or cfg.catalog_path.exists():
        return
    from monitor.demo import build_demo

    log.warning(
        "the demo world is missing at %s: building it now (seed %d, about a minute)",
        cfg.demo_dir,
        cfg.demo.seed,
    )
    build_demo(cfg.demo_dir, cfg.demo.seed, biomes=cfg.demo.biomes, progress=progress)
