"""S3Storage: the only code that talks to S3.

It knows two views of one store: the endpoint this process uses, and the endpoint Druid's
workers use (they may differ, e.g. `localhost` here and `minio` inside docker-compose).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from pydantic import Field, PrivateAttr

from ingest_pipeline.records import DruidS3Access, ObjectInfo
from ingest_pipeline.resources.object_store import ObjectChanged, ObjectGone, ObjectStore

__all__ = ["ObjectChanged", "ObjectGone", "S3Storage"]

#: Retries of an S3 call after its first attempt (botocore's standard mode: full jitter, each
#: backoff capped at 20 s): on average about a minute of retrying before a call fails.
S3_RETRIES = 10


def is_missing(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")


def clean_etag(etag: str) -> str:
    return etag.strip('"')


class S3Storage(ObjectStore):
    """An S3 API store: AWS, MinIO, or the local stack's SeaweedFS."""

    endpoint_url: str | None = Field(default=None, description="S3 endpoint; None = AWS")
    druid_endpoint_url: str | None = Field(
        default=None, description="the same store as Druid's workers reach it; None = same"
    )
    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: str | None = None
    # Names of the environment variables holding the keys on Druid's workers: the ingestion
    # spec refers to them (password providers) instead of carrying the secrets.
    druid_access_key_env: str = "AWS_ACCESS_KEY_ID"
    druid_secret_key_env: str = "AWS_SECRET_ACCESS_KEY"

    max_retries: int = Field(
        default=S3_RETRIES, description="retries of a call (the default rides out a store restart)"
    )

    _client: Any = PrivateAttr(default=None)

    def client(self) -> Any:
        if self._client is None:
            # boto3 directly rather than dagster-aws's S3Resource: that one cannot force
            # path-style addressing, and a local store (SeaweedFS, MinIO) has no bucket.host names.
            self._client = boto3.client(
                "s3",
                endpoint_url=self.endpoint_url,
                region_name=self.region,
                aws_access_key_id=self.access_key_id,
                aws_secret_access_key=self.secret_access_key,
                config=Config(
                    s3={"addressing_style": "path" if self.endpoint_url else "auto"},
                    # A store restart (6 s in the soak) outlasted 5 retries (backoffs of up
                    # to 1+2+4+8+16 s, with random jitter) and failed two runs' files for good.
                    # (In this dict max_attempts counts retries, not the first attempt.)
                    retries={"max_attempts": self.max_retries, "mode": "standard"},
                ),
            )
        return self._client

    # ------------------------------------------------------------------ uploads

    def head(self, bucket: str, key: str) -> ObjectInfo:
        """The object as it is now; ObjectGone if it no longer exists."""
        try:
            head = self.client().head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if is_missing(error):
                raise ObjectGone(f"s3://{bucket}/{key}") from None
            raise
        return ObjectInfo(
            bucket=bucket,
            key=key,
            size=int(head["ContentLength"]),
            etag=clean_etag(head["ETag"]),
            last_modified=head["LastModified"],
        )

    def list_uploads(self) -> Iterator[ObjectInfo]:
        """Every object under the uploads prefix, page by page (1000 keys a page)."""
        paginator = self.client().get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.uploads_bucket, Prefix=self.uploads_prefix):
            for obj in page.get("Contents", []):
                yield ObjectInfo(
                    bucket=self.uploads_bucket,
                    key=obj["Key"],
                    size=int(obj["Size"]),
                    etag=clean_etag(obj["ETag"]),
                    last_modified=obj["LastModified"],
                )

    def list_uploads_page(
        self, start_after: str | None, max_keys: int
    ) -> tuple[list[ObjectInfo], bool]:
        """One listing request: up to `max_keys` (<= 1000) keys after `start_after`."""
        page = self.client().list_objects_v2(
            Bucket=self.uploads_bucket,
            Prefix=self.uploads_prefix,
            StartAfter=start_after or "",
            MaxKeys=max_keys,
        )
        objects = [
            ObjectInfo(
                bucket=self.uploads_bucket,
                key=obj["Key"],
                size=int(obj["Size"]),
                etag=clean_etag(obj["ETag"]),
                last_modified=obj["LastModified"],
            )
            for obj in page.get("Contents", [])
        ]
        return objects, bool(page.get("IsTruncated"))

    def download(self, obj: ObjectInfo, path: Path) -> None:
        """Stream exactly this version of an object to disk (ObjectGone / ObjectChanged if the
        store no longer has it)."""
        try:
            response = self.client().get_object(
                Bucket=obj.bucket, Key=obj.key, IfMatch=f'"{obj.etag}"'
            )
        except ClientError as error:
            if is_missing(error):
                raise ObjectGone(obj.uri) from None
            if error.response.get("Error", {}).get("Code") in ("412", "PreconditionFailed"):
                raise ObjectChanged(obj.uri) from None
            raise
        with open(path, "wb") as out:
            for chunk in response["Body"].iter_chunks(chunk_size=1 << 20):
                out.write(chunk)

    def read_head(self, bucket: str, key: str, size: int) -> bytes:
        """The first bytes of an object (a ranged GET), to recognise its format cheaply."""
        response = self.client().get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{size - 1}")
        return bytes(response["Body"].read())

    def upload_file(
        self, path: Path, bucket: str, key: str, callback: Callable[[int], None] | None = None
    ) -> str:
        """Upload a local file (multipart when large); `callback(bytes)` as parts are sent."""
        self.client().upload_file(str(path), bucket, key, Callback=callback)
        return f"s3://{bucket}/{key}"

    def put_bytes(self, bucket: str, key: str, body: bytes) -> str:
        self.client().put_object(Bucket=bucket, Key=key, Body=body)
        return f"s3://{bucket}/{key}"

    def get_bytes(self, bucket: str, key: str) -> bytes | None:
        """A whole (small) object, or None when there is none."""
        try:
            response = self.client().get_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if is_missing(error):
                return None
            raise
        return bytes(response["Body"].read())

    # ------------------------------------------------------------------ Druid's view

    @property
    def druid_endpoint(self) -> str:
        aws = f"https://s3.{self.region}.amazonaws.com"
        return self.druid_endpoint_url or self.endpoint_url or aws

    def druid_access(self) -> DruidS3Access:
        """Druid's view of the store; credentials as providers Druid resolves on its workers."""
        return DruidS3Access(
            endpoint_url=self.druid_endpoint,
            region=self.region,
            access_key_id={"type": "environment", "variable": self.druid_access_key_env},
            secret_access_key={"type": "environment", "variable": self.druid_secret_key_env},
        )
