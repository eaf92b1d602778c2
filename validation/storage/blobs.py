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
#: How many new bytes of a file being written make the kernel start writing them out (see `Writeback`).
WRITEBACK_STEP = 4 * 1024 * 1024


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


class Writeback:
    """Starts the disk writing a file's new bytes every few megabytes while more of it still arrives.

    A file is made durable by one fsync at the end (or one per resumable chunk). Left alone, the kernel
    keeps the bytes in memory until then, so the disk starts only when the network has finished and the
    two times add up. Asking for writeback as the bytes come lets the disk work while the network does,
    and the fsync finds little left to write. `posix_fadvise(DONTNEED)` is the standard library's way to
    ask: on Linux it starts writeback of the range's dirty pages without waiting and drops only pages
    already clean, so what was just written stays cached for the hash and the decoder. Where the call
    does not exist it is skipped: durability never depends on it, the fsync still does that."""

    def __init__(self, fd: int, start: int = 0) -> None:
        self.fd = fd
        self.start = start

    def wrote(self, end: int, flush: Callable[[], object] | None = None) -> None:
        """The file now holds bytes up to `end`; `flush` empties a buffered writer first."""
        if end - self.start < WRITEBACK_STEP or not hasattr(os, "posix_fadvise"):
            return
        if flush is not None:
            flush()
        os.posix_fadvise(self.fd, self.start, end - self.start, os.POSIX_FADV_DONTNEED)
        self.start = end


class ReceivingFile:
    """A file part of a form, written straight into the store's work folder as it arrives, hashed as it is
    written: storing it then takes an fsync and a rename, not a second copy and a second reading.

    It is what werkzeug's form parser writes a file field into (a readable, seekable, writable file). Past
    `max_bytes` it keeps nothing more and empties itself, so an oversized file costs no disk; storing it is
    then refused. Closing it (Flask closes a request's files when the request ends) removes the file unless
    the store has taken it."""

    def __init__(self, work_dir: Path, max_bytes: int) -> None:
        work_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=work_dir)
        self.path = Path(name)
        self.max_bytes = max_bytes
        self.size = 0
        self.head = b""
        self.too_large = False
        self.taken = False
        self._digest = hashlib.sha256()
        self._file = os.fdopen(fd, "w+b")
        self._writeback = Writeback(fd)

    def write(self, data: bytes) -> int:
        if self.too_large:
            return len(data)
        if self.size + len(data) > self.max_bytes:
            self.too_large = True
            self._file.truncate(0)
            return len(data)
        if len(self.head) < HEAD:
            self.head += data[: HEAD - len(self.head)]
        self._digest.update(data)
        self._file.write(data)
        self.size += len(data)
        self._writeback.wrote(self.size, self._file.flush)
        return len(data)

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def read(self, size: int = -1) -> bytes:
        return self._file.read(size)

    def readline(self, size: int = -1) -> bytes:
        return self._file.readline(size)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def flush(self) -> None:
        self._file.flush()

    def fileno(self) -> int:
        return self._file.fileno()

    @property
    def closed(self) -> bool:
        return self._file.closed

    def close(self) -> None:
        self._file.close()
        if not self.taken:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> ReceivingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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

    def receiving_file(self, max_bytes: int) -> ReceivingFile:
        """A file for a form's file part to be written into, inside the store (see `ReceivingFile`)."""
        return ReceivingFile(self.work_dir, max_bytes)

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
        moved = False
        try:
            with os.fdopen(fd, "wb") as out:
                writeback = Writeback(out.fileno())
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise TooLarge
                    if len(head) < HEAD:
                        head += chunk[: HEAD - len(head)]
                    digest.update(chunk)
                    out.write(chunk)
                    writeback.wrote(size, out.flush)
            if size == 0:
                raise EmptyFile
            stored, moved = self._settle(upload, digest.hexdigest(), size, head, check)
            return stored
        finally:
            if not moved:
                upload.unlink(missing_ok=True)

    def put_received(
        self,
        received: ReceivingFile,
        check: Callable[[Path, bytes, Path], Checked] | None = None,
    ) -> StoredBlob:
        """Store a form's file that was written into the store as it arrived: already hashed, so it is
        checked and renamed, never copied. Whatever is not kept under its hash is removed at once (the
        original of a re-encoded photo must not wait for the end of the request)."""
        if received.too_large:
            raise TooLarge
        if received.size == 0:
            raise EmptyFile
        received.flush()
        moved = False
        try:
            stored, moved = self._settle(received.path, received.sha256, received.size, received.head, check)
            return stored
        finally:
            received.taken = moved
            if not moved:
                received.path.unlink(missing_ok=True)

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
        stored, _moved = self._settle(path, sha, size, head, check)
        return stored

    def _settle(
        self,
        source: Path,
        sha: str,
        size: int,
        head: bytes,
        check: Callable[[Path, bytes, Path], Checked] | None,
    ) -> tuple[StoredBlob, bool]:
        """Check `source`, then make it (or the checker's cleaned copy) durable under its hash's name.

        Returns the blob and whether `source` itself was moved there; if not, it is still where it was and
        the caller removes it. A cleaned copy that is not kept is removed here."""
        keep, media_type = source, None
        try:
            if check is not None:
                checked = check(source, head, self.work_dir)
                media_type = checked.media_type
                if checked.replacement is not None:
                    keep = checked.replacement
                    sha, size, head = _digest_file(keep)
            final = self.path_for(sha)
            if final.exists():
                if keep is not source:
                    keep.unlink()
                return StoredBlob(sha, size, head, final, existed=True, media_type=media_type), False
            with keep.open("rb+") as handle:
                os.fsync(handle.fileno())
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(keep, final)
            fsync_dir(final.parent)
            return StoredBlob(sha, size, head, final, existed=False, media_type=media_type), keep is source
        except BaseException:
            if keep is not source:
                keep.unlink(missing_ok=True)
            raise

    def discard(self, blob: StoredBlob) -> None:
        """Remove a blob that was just stored for nothing, unless it was there before."""
        if not blob.existed:
            blob.path.unlink(missing_ok=True)
