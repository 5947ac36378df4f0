"""Test order under mutmut (scripts/mutation.sh), which runs each mutant's tests with -x.

mutmut hands pytest every fast-suite test that reaches the mutated function, in no useful
order, and the first failure kills the mutant. Running the mutated module's own test files
first, then the rest fastest first, kills most mutants within a second or two instead of after
every slower test before the killing one. Which tests run is unchanged, so is each verdict: a
surviving mutant still runs them all.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path

import pytest

#: mutmut's record of each test's duration, in its working copy (the current directory).
STATS_FILE = Path("mutmut-stats.json")


def mutated_module(mutant: str) -> str | None:
    """'ingest_pipeline.spec.x_build__mutmut_3' -> 'spec' (also for xǁClassǁmethod mutants);
    None outside a mutant's run (mutmut's stats pass, a normal pytest run)."""
    if "__mutmut_" not in mutant:
        return None
    parts = mutant.split(".")
    for i, part in enumerate(parts):
        if i and (part.startswith("x_") or part.startswith("x\u01c1")):
            return parts[i - 1]
    return None


def killers_first(items: list[pytest.Item], module: str, durations: Mapping[str, float]) -> None:
    """The module's own test files (their name holds its name), then fastest first."""
    items.sort(
        key=lambda item: (
            module not in item.path.stem,
            durations.get(item.nodeid, math.inf),
        )
    )


def order_for_mutmut(items: list[pytest.Item]) -> None:
    module = mutated_module(os.environ.get("MUTANT_UNDER_TEST", ""))
    if module is None:
        return
    durations = (
        json.loads(STATS_FILE.read_text())["duration_by_test"] if STATS_FILE.exists() else {}
    )
    killers_first(items, module, durations)
