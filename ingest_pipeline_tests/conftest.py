"""Session fixtures: the real local stack (Postgres, S3 server, Druid), started once.

`stack` brings the stack up if it is not (idempotent, so a stack started by scripts/test.sh is
reused). A stack that cannot start is an ERROR, never a skip: integration tests prove things
against real servers or fail.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingest_pipeline.stack.s3_store import s3_client
from ingest_pipeline.stack.settings import REPO_ROOT, StackSettings, load_settings
from ingest_pipeline.stack.stack import Stack
from ingest_pipeline_tests.mutation_order import order_for_mutmut


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under integration/ needs the real stack: `pytest -m "not stack"` is the fast
    suite (pure modules and the real graph on the in-memory fakes)."""
    for item in items:
        if "integration" in item.path.parts:
            item.add_marker(pytest.mark.stack)
    order_for_mutmut(items)  # only under scripts/mutation.sh


@pytest.fixture(scope="session")
def stack() -> Iterator[StackSettings]:
    settings = load_settings()
    Stack(settings).up()
    previous = dict(os.environ)
    os.environ.update(settings.client_env())
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is not None:  # tests on several workers at once: each its own Dagster database
        os.environ["DAGSTER_PG_DB"] = f"dagster_{worker}"  # runs, partitions, sensor state
        Stack(settings).postgres.create_databases([os.environ["DAGSTER_PG_DB"]])
    yield settings
    os.environ.clear()
    os.environ.update(previous)


@pytest.fixture(scope="session")
def s3(stack: StackSettings) -> Any:  # a boto3 client
    return s3_client(stack)


@pytest.fixture(scope="session")
def dagster_home(stack: StackSettings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DAGSTER_HOME holding the project's dagster.yaml (Postgres storage from the env)."""
    home = tmp_path_factory.mktemp("dagster_home")
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)
    return home
