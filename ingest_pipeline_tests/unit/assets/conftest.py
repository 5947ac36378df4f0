"""Every in-process run of the real graph here skips Dagster's step-retry waits.

A step that raises an error no verdict explains is retried in the run after STEP_RETRIES'
delays (5 s first, about 2 minutes over all retries): a test, or a mutant under
scripts/mutation.sh, that makes a step raise would otherwise sleep through them for real.
"""

from __future__ import annotations

import pytest
from dagster._core.execution.plan import active

from ingest_pipeline_tests.unit.assets.helpers import SkippingClock


@pytest.fixture(autouse=True)
def retry_wait(monkeypatch: pytest.MonkeyPatch) -> SkippingClock:
    clock = SkippingClock()
    monkeypatch.setattr(active, "time", clock)
    return clock
