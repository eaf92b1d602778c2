"""Evidence blob store: content-addressed, streamed, atomic."""

from validation.storage.blobs import BlobStore, StoredBlob, TooLarge
from validation.storage.sniff import ALLOWED_TYPES, sniff

__all__ = ["ALLOWED_TYPES", "BlobStore", "StoredBlob", "TooLarge", "sniff"]
