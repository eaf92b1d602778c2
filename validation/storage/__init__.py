"""Evidence blob store: content-addressed, streamed, atomic; every file checked by a real decoder."""

from validation.storage.blobs import BlobStore, EmptyFile, ReceivingFile, StoredBlob, TooLarge, Writeback
from validation.storage.inspect import ALLOWED_TYPES, Checked, ContentRefused, inspect

__all__ = [
    "ALLOWED_TYPES", "BlobStore", "Checked", "ContentRefused", "EmptyFile", "ReceivingFile", "StoredBlob",
    "TooLarge", "Writeback", "inspect",
]
