"""Files the tool writes for people (reports, exports): every write goes to a temporary file
that is renamed into place, so a killed or out-of-disk write leaves the old file whole; and
the tool replaces only files it wrote itself. What it wrote is listed, with size and mtime, in
``.mine-monitor-outputs.json`` in each folder; a file of the same name that is not on that list
is someone else's, and the write is refused (one on the list but changed since, say truncated
by a full disk, is repaired)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from monitor.errors import MonitorError

__all__ = ["OutputFolder", "MANIFEST"]

MANIFEST = ".mine-monitor-outputs.json"


class OutputFolder:
    """A folder the tool writes into, with the manifest of what it wrote there."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._manifest = self.root / MANIFEST
        try:
            self.written: dict[str, list[int]] = json.loads(self._manifest.read_text())
        except (OSError, ValueError):
            self.written = {}

    def _ours(self, path: Path) -> bool:
        """Absent, or listed as written by the tool (a damaged file of ours is repaired)."""
        return (
            not path.exists()
            and not path.is_symlink()
            or (path.relative_to(self.root).as_posix() in self.written)
        )

    def check(self, rel: str) -> Path:
        """The path of ``rel`` inside the folder, if the tool may write it."""
        path = self.root / rel
        if self.root.resolve() not in path.resolve().parents:
            raise MonitorError(f"refusing to write {path}: it lies outside {self.root}")
        if not self._ours(path):
            raise MonitorError(
                f"refusing to replace {path}: this tool did not write it; move it away or "
                "choose another output"
            )
        return path

    def write(self, rel: str, writer: Callable[[Path], None]) -> Path:
        """Write ``rel`` with ``writer(temporary path)``, then rename it into place."""
        path = self.check(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.partial")
        try:
            writer(tmp)
            os.replace(tmp, path)
        except OSError as exc:
            raise MonitorError(
                f"cannot write {path} ({exc.strerror or exc}); check the free "
                "space and permissions (the old file, if any, is untouched)"
            ) from None
        finally:
            tmp.unlink(missing_ok=True)
        st = path.stat()
        self.written[path.relative_to(self.root).as_posix()] = [st.st_size, st.st_mtime_ns]
        return path

    def write_text(self, rel: str, text: str) -> Path:
        return self.write(rel, lambda p: p.write_text(text, encoding="utf-8"))

    def write_bytes(self, rel: str, data: bytes) -> Path:
        return self.write(rel, lambda p: p.write_bytes(data))

    def is_current(self, rel: str) -> bool:
        """The file exists as the tool wrote it (nothing truncated or changed it since)."""
        path = self.root / rel
        if not path.is_file() or rel not in self.written:
            return False
        st = path.stat()
        return self.written[rel] == [st.st_size, st.st_mtime_ns]

    def save(self) -> None:
        """Record what was written (itself written atomically)."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self._manifest.with_name(self._manifest.name + ".partial")
        tmp.write_text(json.dumps(self.written, indent=0, sort_keys=True))
        os.replace(tmp, self._manifest)
