"""A class-data-sharing archive for the middleManager's peons (one JVM per Druid task).

A peon spent 2.6 s of a 4.9 s task starting its JVM and Guice (loading ~11,600 classes from
Druid's jars) before it read a row (measured on a 1 MB file). Java's AppCDS maps those classes
from one archive instead: the task took 3.6 s with it (benchmarks/results/latency-*-cds.txt).

- `druid/peon.classlist` names the classes a peon of an `index` task loaded (recorded once
  with `-XX:DumpLoadedClassList=<file>` in the peons' JVM options; a class it does not list is
  loaded from its jar as before).
- The archive is dumped from that list (`java -Xshare:dump`, about 10 s) into the Druid jars'
  cache, once per class list, jar set and JDK, while the stack's other JVMs start. It is
  written under a name of its own and renamed: a peon sees no archive or a whole one.
- Java maps an archive only for a class path that starts with the one it was dumped with, and
  refuses any class path with a non-empty folder among those entries: the archive is dumped
  for the jars alone in a fixed (sorted) order, and the peons get those jars, then the conf
  folders (no jar holds a file of the same name, so the order changes nothing). So one archive
  serves every stack folder on the machine.
- A peon started without the archive (not dumped yet, or not mappable: another JDK) starts as
  before, with a warning in its log; `-Xshare:auto` is Java's default.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ingest_pipeline.stack import processes
from ingest_pipeline.stack.base import log
from ingest_pipeline.stack.settings import DRUID_DIR

CLASS_LIST = DRUID_DIR / "peon.classlist"


@dataclass(frozen=True)
class PeonLaunch:
    """How the middleManager starts a peon: this class path, mapping this archive."""

    classpath: str
    archive: Path


def jar_classpath(lib: Path) -> str:
    """The jars in name order: the class path the archive is dumped for."""
    return ":".join(sorted(str(jar) for jar in lib.glob("*.jar")))


def peon_classpath(jars: str, conf_root: Path) -> str:
    """The archive's class path (`jar_classpath`), then conf/_common and conf/middleManager
    (see the module doc)."""
    return ":".join([jars, str(conf_root / "_common"), str(conf_root / "middleManager")])


def java_version() -> str:
    done = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False)
    return done.stderr


def archive_path(lib: Path, classpath: str) -> Path:
    """Where the archive for this jar class path, class list and JDK lives (the jars' cache)."""
    digest = hashlib.sha256()
    for part in (classpath.encode(), CLASS_LIST.read_bytes(), java_version().encode()):
        digest.update(part)
    return lib.parent / "peon-cds" / f"peon-{digest.hexdigest()[:12]}.jsa"


def dump_command(classpath: str, archive: Path) -> list[str]:
    return [
        "java",
        "-Xshare:dump",
        f"-XX:SharedClassListFile={CLASS_LIST}",
        f"-XX:SharedArchiveFile={archive}",
        "-cp",
        classpath,
    ]


def remove_abandoned(folder: Path) -> None:
    """Partial dumps of a `stack up` no longer running (one that failed, or was killed)."""
    for partial in folder.glob("peon-*.*.partial"):
        pid = partial.suffixes[-2].lstrip(".")
        if not (pid.isdigit() and processes.exists(int(pid))):
            partial.unlink(missing_ok=True)


class ArchiveDump:
    """The dump, started in the background; `finish` waits for it and puts the archive in place."""

    def __init__(self, archive: Path, classpath: str, log_file: Path) -> None:
        self.archive = archive
        # its own name: two stacks starting at once each dump, and the last rename wins whole
        self.partial = archive.with_name(f"{archive.stem}.{os.getpid()}.partial")
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None
        if archive.exists():
            return
        archive.parent.mkdir(parents=True, exist_ok=True)
        remove_abandoned(archive.parent)
        log(f"peons: dumping their class archive once ({archive.name}; {log_file})")
        with log_file.open("ab") as out:
            self.process = subprocess.Popen(
                dump_command(classpath, self.partial), stdout=out, stderr=subprocess.STDOUT
            )

    def finish(self, timeout: float = 180.0) -> bool:
        """True if the archive is in place; peons start without it otherwise."""
        if self.process is not None:
            try:
                code = self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                code = self.process.wait()
            self.process = None
            if code == 0 and self.partial.exists():
                self.partial.rename(self.archive)
                for stale in self.archive.parent.glob("peon-*.jsa"):  # another JDK or list
                    if stale != self.archive:
                        stale.unlink(missing_ok=True)
            else:
                self.partial.unlink(missing_ok=True)
                log(f"peons: no class archive (dump exited {code}; {self.log_file})")
        return self.archive.exists()
