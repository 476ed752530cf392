"""One log file per run beside the store, whatever the terminal shows: cron runs leave a
record of what they did."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path

__all__ = ["run_log"]


@contextlib.contextmanager
def run_log(folder: Path, run_id: int) -> Iterator[Path]:
    """Log the `monitor` logger at INFO and above to ``folder``/run-NNNN-<time>.log."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"run-{run_id:04d}-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.log"
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.setLevel(logging.INFO)
    logger = logging.getLogger("monitor")
    logger.addHandler(handler)
    if logger.level == logging.NOTSET or logger.level > logging.INFO:
        logger.setLevel(logging.INFO)
    try:
        yield path
    finally:
        logger.removeHandler(handler)
        handler.close()
