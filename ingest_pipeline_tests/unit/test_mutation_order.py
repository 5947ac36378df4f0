"""scripts/mutation.sh's test order: the mutated module's own tests, then fastest first."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ingest_pipeline_tests.mutation_order import killers_first, mutated_module, order_for_mutmut


@pytest.mark.parametrize(
    ("mutant", "module"),
    [
        ("ingest_pipeline.spec.x_build_index_spec__mutmut_12", "spec"),
        ("ingest_pipeline.validation.time_scoring.x_score__mutmut_1", "time_scoring"),
        ("ingest_pipeline.records.x\u01c1Verdict\u01c1rows__mutmut_3", "records"),
        ("stats", None),  # mutmut's stats pass: the suite's own order
        ("", None),  # a normal pytest run
    ],
)
def test_the_mutated_module_is_read_from_mutmut_s_mutant_name(
    mutant: str, module: str | None
) -> None:
    assert mutated_module(mutant) == module


def item(path: str) -> Any:
    return SimpleNamespace(nodeid=f"{path}::t", path=Path(path))


def test_own_tests_come_first_then_the_fastest_and_unknown_durations_last() -> None:
    items = [
        item("unit/test_slow.py"),
        item("unit/test_unknown.py"),
        item("unit/test_spec_time.py"),
        item("unit/test_fast.py"),
        item("unit/test_spec.py"),
    ]
    durations = {
        "unit/test_slow.py::t": 4.0,
        "unit/test_fast.py::t": 0.01,
        "unit/test_spec.py::t": 0.5,
        "unit/test_spec_time.py::t": 0.2,
    }
    killers_first(items, "spec", durations)
    assert [i.path.name for i in items] == [
        "test_spec_time.py",
        "test_spec.py",
        "test_fast.py",
        "test_slow.py",
        "test_unknown.py",
    ]


def test_outside_mutmut_the_order_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MUTANT_UNDER_TEST", raising=False)
    items = [item("unit/test_b.py"), item("unit/test_a.py")]
    order_for_mutmut(items)
    assert [i.path.name for i in items] == ["test_b.py", "test_a.py"]
