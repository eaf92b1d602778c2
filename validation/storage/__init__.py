"""Evidence blob store: content-addressed, streamed, atomic; every file checked by a real decoder."""

from validation.storage.blobs import BlobStore, EmptyFile, StoredBlob, TooLarge
from validation.storage.inspect import ALLOWED_TYPES, Checked, ContentRefused, inspect

__all__ = ["ALLOWED_TYPES", "BlobStore", "Checked", "ContentRefused", "EmptyFile", "StoredBlob", "TooLarge", "inspect"]
