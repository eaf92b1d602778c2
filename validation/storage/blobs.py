"""Files are streamed to a temporary file while hashed, fsynced, renamed to their SHA-256, and the
directory fsynced, all before the database row is written: a row never points at a missing file.
A file without a row (a crash between the two) is harmless and can be swept."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK = 64 * 1024
HEAD = 8 * 1024


class TooLarge(Exception):
    """The stream went past the allowed size; nothing was kept."""


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int
    head: bytes
    path: Path
    existed: bool


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BlobStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path_for(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError("not a SHA-256 hex digest")
        return self.root / sha256[:2] / sha256[2:]

    def put(self, stream: BinaryIO, max_bytes: int) -> StoredBlob:
        """Store the stream's bytes; raises TooLarge past `max_bytes` without keeping anything."""
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        head = b""
        fd, tmp_name = tempfile.mkstemp(dir=tmp_dir)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise TooLarge
                    if len(head) < HEAD:
                        head += chunk[: HEAD - len(head)]
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha = digest.hexdigest()
            final = self.path_for(sha)
            if final.exists():
                tmp.unlink()
                return StoredBlob(sha, size, head, final, existed=True)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)
            _fsync_dir(final.parent)
            return StoredBlob(sha, size, head, final, existed=False)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def discard(self, blob: StoredBlob) -> None:
        """Remove a blob that was just stored for nothing (refused content), unless it was there before."""
        if not blob.existed:
            blob.path.unlink(missing_ok=True)
