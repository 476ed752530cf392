"""Domain errors: each message says what went wrong, where, and what to do.

The CLI turns every :class:`MonitorError` into a one-line message and exit code 1.
"""

from __future__ import annotations

__all__ = [
    "MonitorError",
    "ConfigError",
    "SiteError",
    "SourceError",
    "StoreError",
    "ModelError",
    "LockedError",
]


class MonitorError(Exception):
    """A problem the user can fix: bad input, missing data, a locked store."""


class ConfigError(MonitorError):
    """The config file is missing, malformed or has an unknown key."""


class SiteError(MonitorError):
    """A sites file or one of its records cannot be used."""


class SourceError(MonitorError):
    """The imagery source (catalog, STAC API) cannot be read."""


class StoreError(MonitorError):
    """The history store is unreadable, of another schema version, or inconsistent."""


class ModelError(MonitorError):
    """The model file or its metadata is missing or does not fit the data."""


class LockedError(MonitorError):
    """Another run holds the store's lock."""
