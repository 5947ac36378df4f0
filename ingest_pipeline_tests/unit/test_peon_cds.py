"""The peons' class archive: the class path Java can map it for, its key, and its dump put in
place whole or not at all (the dump itself is a JVM: test_stack.py maps the real one)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ingest_pipeline.stack import peon_cds
from ingest_pipeline.stack.peon_cds import ArchiveDump


def test_the_peon_class_path_has_the_jars_in_name_order_and_the_conf_folders_last(
    tmp_path: Path,
) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    for name in ("zookeeper.jar", "druid-core.jar", "guice.jar", "notes.txt"):
        (lib / name).touch()
    conf = tmp_path / "conf"
    jars = [f"{lib}/druid-core.jar", f"{lib}/guice.jar", f"{lib}/zookeeper.jar"]
    assert peon_cds.jar_classpath(lib).split(":") == jars
    # Java maps an archive for a class path that starts with the dumped one, and refuses a
    # non-empty folder among those entries: the conf folders come after the jars.
    assert peon_cds.peon_classpath(peon_cds.jar_classpath(lib), conf).split(":") == [
        f"{lib}/druid-core.jar",
        f"{lib}/guice.jar",
        f"{lib}/zookeeper.jar",
        f"{conf}/_common",
        f"{conf}/middleManager",
    ]


def test_the_archive_is_named_after_its_jars_and_sits_beside_them(
    tmp_path: Path,
) -> None:
    lib = tmp_path / "25.0.0-abc" / "lib"
    one = peon_cds.archive_path(lib, "/a.jar:/b.jar")
    assert one == peon_cds.archive_path(lib, "/a.jar:/b.jar")
    assert one.parent == lib.parent / "peon-cds"
    assert peon_cds.archive_path(lib, "/b.jar:/a.jar") != one  # another jar order: not mappable


def dump_by(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, script: str
) -> tuple[ArchiveDump, Path]:
    # the script's {partial}: the file the dump is told to write
    monkeypatch.setattr(
        peon_cds, "dump_command", lambda cp, to: ["sh", "-c", script.format(partial=to)]
    )
    archive = tmp_path / "peon-cds" / "peon-1.jsa"
    return ArchiveDump(archive, "/a.jar", tmp_path / "peon-cds.log"), archive


def test_a_dump_that_succeeds_is_renamed_into_place_when_finished(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    dump, archive = dump_by(monkeypatch, tmp_path, "echo archive > {partial}")
    assert dump.partial.parent == archive.parent and dump.partial != archive
    assert dump.finish()
    assert archive.read_text() == "archive\n"
    assert not dump.partial.exists()


def test_a_dump_that_fails_leaves_no_archive_and_peons_start_without_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    dump, archive = dump_by(monkeypatch, tmp_path, "echo half > {partial}; exit 1")
    assert not dump.finish()
    assert not archive.exists() and not dump.partial.exists()


def test_an_archive_already_in_place_is_not_dumped_again(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "peon-cds").mkdir()
    (tmp_path / "peon-cds" / "peon-1.jsa").write_text("kept")
    dump, archive = dump_by(monkeypatch, tmp_path, "exit 1")
    assert dump.process is None
    assert dump.finish() and archive.read_text() == "kept"


def test_a_new_archive_replaces_those_of_another_jdk_or_class_list(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "peon-cds").mkdir()
    stale = tmp_path / "peon-cds" / "peon-0.jsa"
    stale.write_text("for another JDK")
    dump, archive = dump_by(monkeypatch, tmp_path, "echo archive > {partial}")
    assert dump.finish()
    assert sorted(p.name for p in archive.parent.iterdir()) == ["peon-1.jsa"]


def test_partial_dumps_of_a_stack_up_no_longer_running_are_removed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = tmp_path / "peon-cds"
    folder.mkdir()
    abandoned = folder / "peon-0.999999999.partial"  # no such process
    abandoned.write_text("85 MB once")
    running = folder / f"peon-0.{os.getppid()}.partial"  # another stack up, still dumping
    running.write_text("being written")
    dump, _ = dump_by(monkeypatch, tmp_path, "echo archive > {partial}")
    assert dump.finish()
    assert not abandoned.exists() and running.exists()
