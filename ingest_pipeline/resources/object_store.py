"""ObjectStore: what the pipeline needs of an object store, as an abstract resource.

S3Storage (s3.py) is the one implementation in production; the unit tests run the assets
against an in-memory one (ingest_pipeline_tests/fakes.py), so asset-level behaviour is
tested in seconds without a server.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg

from ingest_pipeline.records import DruidS3Access, ObjectInfo


class ObjectGone(RuntimeError):
    """The object was deleted after it was listed."""


class ObjectChanged(RuntimeError):
    """The object was overwritten after it was listed (its ETag differs)."""


class ObjectStore(dg.ConfigurableResource, ABC):
    uploads_bucket: str = "ingest-uploads"
    uploads_prefix: str = "uploads/"
    validated_bucket: str = "ingest-validated"

    def upload_key(self, partition_key: str) -> str:
        """Partition "<dataset>/<file>" -> object key under the uploads prefix."""
        return f"{self.uploads_prefix}{partition_key}"

    def partition_key(self, object_key: str) -> str:
        return object_key[len(self.uploads_prefix) :]

    @abstractmethod
    def head(self, bucket: str, key: str) -> ObjectInfo:
        """The object as it is now; ObjectGone if it no longer exists."""

    @abstractmethod
    def list_uploads(self) -> Iterator[ObjectInfo]:
        """Every object under the uploads prefix."""

    def list_uploads_page(
        self, start_after: str | None, max_keys: int
    ) -> tuple[list[ObjectInfo], bool]:
        """Up to `max_keys` objects under the uploads prefix after `start_after` in key order,
        and whether more follow (a store that can list from a key overrides this)."""
        after = [o for o in self.list_uploads() if start_after is None or o.key > start_after]
        after.sort(key=lambda o: o.key)
        return after[:max_keys], len(after) > max_keys

    @abstractmethod
    def download(self, obj: ObjectInfo, path: Path) -> None:
        """Exactly this version of the object to disk (ObjectGone / ObjectChanged if not)."""

    @abstractmethod
    def read_head(self, bucket: str, key: str, size: int) -> bytes:
        """The first `size` bytes of an object."""

    @abstractmethod
    def upload_file(
        self, path: Path, bucket: str, key: str, callback: Callable[[int], None] | None = None
    ) -> str:
        """Upload a local file; `callback(bytes)` as parts are sent; returns its s3:// URI."""

    @abstractmethod
    def put_bytes(self, bucket: str, key: str, body: bytes) -> str:
        """Store a small object; returns its s3:// URI."""

    @abstractmethod
    def get_bytes(self, bucket: str, key: str) -> bytes | None:
        """A whole (small) object, or None when there is none."""

    @abstractmethod
    def druid_access(self) -> DruidS3Access:
        """How Druid's workers reach this store (credentials as providers, never secrets)."""
