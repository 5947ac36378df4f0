"""Jars the local stack runs, resolved by Maven from Maven Central into a cache outside the repo
(Druid from druid/pom.xml, the queue server from queue/pom.xml)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from ingest_pipeline.stack.base import StackError, log, where
from ingest_pipeline.stack.settings import DRUID_DIR


def copy_dependencies(what: str, pom: Path, lib: Path, maven_log: Path) -> Path:
    """`mvn dependency:copy-dependencies` of `pom` into `lib`, once (a `.complete` marker)."""
    marker = lib / ".complete"
    if marker.exists():
        return lib
    if shutil.which("mvn") is None:
        raise StackError(f"{what}: Maven (mvn) is needed to resolve it: apt-get install maven")
    log(f"resolving {what} with Maven into {lib} (first run only; {maven_log})")
    lib.mkdir(parents=True, exist_ok=True)
    maven_log.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with open(maven_log, "ab") as output:
        result = subprocess.run(
            [
                "mvn",
                "-B",
                "-q",
                # every repository routed to Maven Central (Druid's parent pom names others)
                "-s",
                str(DRUID_DIR / "settings.xml"),
                "-f",
                str(pom),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={lib}",
                "-DincludeScope=runtime",
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    if result.returncode != 0:
        raise StackError(f"{what}: Maven could not resolve its jars{where(maven_log)}")
    marker.write_text(f"resolved in {time.monotonic() - started:.0f}s\n")
    return lib
