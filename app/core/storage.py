"""Where generated documents' bytes live. A small interface, a filesystem backend under
``instance/documents`` by default (an S3-compatible backend fits the same three calls).

Keys are deterministic (tenant / job request id / file name): a job that runs twice
writes the same key, and the database row that names the key is what makes a
document exist, so a half-finished first attempt leaves nothing visible.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from flask import current_app


class StorageError(Exception):
    pass


class FilesystemStorage:
    def __init__(self, root: Path):
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise StorageError(f"key escapes the storage root: {key!r}")
        return path

    def put(self, key: str, data: bytes) -> str:
        """Write ``data`` under ``key`` atomically; return its SHA-256."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return hashlib.sha256(data).hexdigest()

    def get(self, key: str, sha256: str) -> bytes:
        """The bytes under ``key``, refusing them if they are not the ones recorded."""
        data = self._path(key).read_bytes()
        if hashlib.sha256(data).hexdigest() != sha256:
            raise StorageError(f"{key}: content does not match its recorded SHA-256")
        return data


def get_storage() -> FilesystemStorage:
    root = current_app.config.get("DOCUMENT_ROOT") or Path(current_app.instance_path) / "documents"
    return FilesystemStorage(Path(root))
