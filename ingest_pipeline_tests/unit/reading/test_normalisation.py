"""JSON values flattened to what one Druid dimension holds."""

from __future__ import annotations

from typing import Any

import pytest

from ingest_pipeline.reading.normalisation import json_scalar


@pytest.mark.parametrize(
    ("value", "flat"),
    [
        ({"a": 1, "b": [1, "é"]}, '{"a":1,"b":[1,"é"]}'),  # nested: compact JSON text
        ([1, "x"], '[1,"x"]'),
        (float("nan"), None),
        (float("inf"), None),
        (2**63, str(2**63)),  # beyond Druid's long: the digits as text
        (-(2**63), -(2**63)),
        (True, True),  # a bool is not an int here
        (1.5, 1.5),
        ("text", "text"),
        (None, None),
    ],
)
def test_json_scalar(value: Any, flat: Any) -> None:
    assert json_scalar(value) == flat
    assert type(json_scalar(value)) is type(flat)
