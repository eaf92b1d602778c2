"""Files are streamed to a temporary file while hashed, checked (and cleaned) by a decoder, fsynced,
renamed to their SHA-256 and the directory fsynced, all before the database row is written: a row never
points at a missing file, and an upload that is refused or cleaned never reaches the store under its own
hash (the original of a re-encoded photo, with its GPS position, is deleted). A file without a row (a
crash between the two steps) is harmless and can be swept."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from validation.storage.inspect import Checked

#: Streams are read in large blocks: fewer calls (and, from a server's request body, fewer copies).
CHUNK = 1024 * 1024
HEAD = 8 * 1024


class TooLarge(Exception):
    """The stream went past the allowed size; nothing was kept."""


class EmptyFile(Exception):
    """The stream had no bytes; nothing was kept."""


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int
    head: bytes
    path: Path
    existed: bool
    media_type: str | None = None


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in `path` durable: the directory entry itself is synced."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _digest_file(path: Path) -> tuple[str, int, bytes]:
    digest = hashlib.sha256()
    size = 0
    head = b""
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            if len(head) < HEAD:
                head += chunk[: HEAD - len(head)]
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size, head


class BlobStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @property
    def work_dir(self) -> Path:
        """Temporary files live inside the store, so the final rename never crosses file systems."""
        return self.root / "tmp"

    def path_for(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError("not a SHA-256 hex digest")
        return self.root / sha256[:2] / sha256[2:]

    def put(
        self,
        stream: BinaryIO,
        max_bytes: int,
        check: Callable[[Path, bytes, Path], Checked] | None = None,
    ) -> StoredBlob:
        """Store the stream's bytes, or what `check` makes of them; nothing is kept if anything refuses."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        head = b""
        fd, tmp_name = tempfile.mkstemp(dir=self.work_dir)
        upload = Path(tmp_name)
        keep = upload
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
            if size == 0:
                raise EmptyFile
            sha, media_type = digest.hexdigest(), None
            if check is not None:
                checked = check(upload, head, self.work_dir)
                media_type = checked.media_type
                if checked.replacement is not None:
                    keep = checked.replacement
                    upload.unlink()
                    sha, size, head = _digest_file(keep)
            with keep.open("rb+") as handle:
                os.fsync(handle.fileno())
            final = self.path_for(sha)
            if final.exists():
                keep.unlink()
                return StoredBlob(sha, size, head, final, existed=True, media_type=media_type)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(keep, final)
            fsync_dir(final.parent)
            return StoredBlob(sha, size, head, final, existed=False, media_type=media_type)
        except BaseException:
            upload.unlink(missing_ok=True)
            keep.unlink(missing_ok=True)
            raise

    def put_file(
        self,
        path: Path,
        max_bytes: int,
        check: Callable[[Path, bytes, Path], Checked] | None = None,
    ) -> StoredBlob:
        """Store a finished file that already lies in the store's file system, by renaming it: no second copy.

        For resumable uploads, whose parts were fsynced chunk by chunk. The file at `path` is read once (hash
        and head), checked, and moved to its SHA-256 name; when the checker makes a cleaned copy, or the same
        bytes are stored already, `path` is left where it is for the caller to remove (with its metadata)."""
        size = path.stat().st_size
        if size > max_bytes:
            raise TooLarge
        if size == 0:
            raise EmptyFile
        sha, size, head = _digest_file(path)
        keep, media_type = path, None
        try:
            if check is not None:
                checked = check(path, head, self.work_dir)
                media_type = checked.media_type
                if checked.replacement is not None:
                    keep = checked.replacement
                    sha, size, head = _digest_file(keep)
            with keep.open("rb+") as handle:
                os.fsync(handle.fileno())
            final = self.path_for(sha)
            if final.exists():
                if keep is not path:
                    keep.unlink()
                return StoredBlob(sha, size, head, final, existed=True, media_type=media_type)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(keep, final)
            fsync_dir(final.parent)
            return StoredBlob(sha, size, head, final, existed=False, media_type=media_type)
        except BaseException:
            if keep is not path:
                keep.unlink(missing_ok=True)
            raise

    def discard(self, blob: StoredBlob) -> None:
        """Remove a blob that was just stored for nothing, unless it was there before."""
        if not blob.existed:
            blob.path.unlink(missing_ok=True)
