"""Which `weed` the S3 store runs: the wheel's, unless the stack's volumes were written by the
source build from before it (4-byte offsets, which the wheel's large_disk build cannot read)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest_pipeline.stack import s3_store
from ingest_pipeline.stack.base import StackError


def volume_info(data_dir: Path, offset_bytes: int | None) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    info = {"version": 3, "replication": ""}
    if offset_bytes is not None:
        info["bytesOffset"] = offset_bytes
    (data_dir / "ingest-uploads_1.vif").write_text(json.dumps(info))


def executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("INGEST_S3_STORE_BINARY", raising=False)
    monkeypatch.setenv("INGEST_S3_STORE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_a_new_store_runs_the_wheels_weed(tmp_path: Path, cache: Path) -> None:
    binary = s3_store.ensure_weed(tmp_path / "s3data")
    assert binary == s3_store.weed_binary() and binary.name == "weed"
    assert binary.parent.name == "bin"  # the virtualenv's, where pip put it


def test_volumes_of_the_wheels_build_run_the_wheels_weed(tmp_path: Path, cache: Path) -> None:
    volume_info(tmp_path / "s3data", 5)
    executable(cache / s3_store.SOURCE_BUILD / "weed")
    assert s3_store.ensure_weed(tmp_path / "s3data") == s3_store.weed_binary()


@pytest.mark.parametrize("written_with", [4, None])
def test_volumes_of_the_source_build_run_that_build(
    tmp_path: Path, cache: Path, written_with: int | None
) -> None:
    """A .vif without bytesOffset is SeaweedFS's default: 4."""
    volume_info(tmp_path / "s3data", written_with)
    old = executable(cache / s3_store.SOURCE_BUILD / "weed")
    assert s3_store.ensure_weed(tmp_path / "s3data") == old


def test_volumes_of_the_source_build_without_it_fail_saying_what_to_do(
    tmp_path: Path, cache: Path
) -> None:
    volume_info(tmp_path / "s3data", 4)
    with pytest.raises(StackError) as raised:
        s3_store.ensure_weed(tmp_path / "s3data")
    message = str(raised.value)
    assert message.startswith(f"s3: {tmp_path / 's3data'} was written by a SeaweedFS built")
    assert "INGEST_S3_STORE_BINARY" in message and "stack down --wipe" in message
    assert "\n" not in message


def test_a_weed_given_by_environment_is_run_whatever_wrote_the_volumes(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    volume_info(tmp_path / "s3data", 4)
    mine = executable(tmp_path / "mine" / "weed")
    monkeypatch.setenv("INGEST_S3_STORE_BINARY", str(mine))
    assert s3_store.ensure_weed(tmp_path / "s3data") == mine


def test_a_missing_weed_fails_saying_how_to_install_it(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INGEST_S3_STORE_BINARY", str(tmp_path / "nowhere" / "weed"))
    with pytest.raises(StackError, match=r"^s3: SeaweedFS's `weed` is not at .*scripts/setup\.sh"):
        s3_store.ensure_weed(tmp_path / "s3data")
