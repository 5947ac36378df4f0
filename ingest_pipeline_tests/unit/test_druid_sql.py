"""Values and names reach Druid SQL only as typed parameters or quoted identifiers."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from ingest_pipeline.records import SegmentsServed, SourceRows
from ingest_pipeline.resources.druid import DruidResource
from ingest_pipeline.resources.druid_wire import quote_identifier, sql_parameter


@pytest.mark.parametrize(
    ("name", "quoted"),
    [
        ("plain", '"plain"'),
        ('x" OR 1=1 --', '"x"" OR 1=1 --"'),
        ('"; DROP TABLE t; --', '"""; DROP TABLE t; --"'),
        ('a""b', '"a""""b"'),
    ],
)
def test_identifiers_cannot_break_out_of_their_quotes(name: str, quoted: str) -> None:
    result = quote_identifier(name)
    assert result == quoted
    # Inside the outer quotes every quote is doubled: the identifier ends only at the last one.
    assert result[1:-1].replace('""', "").count('"') == 0


def test_values_are_typed_parameters_never_text_in_the_query() -> None:
    assert sql_parameter('it\'s "x"; --') == {"type": "VARCHAR", "value": 'it\'s "x"; --'}
    assert sql_parameter(7) == {"type": "BIGINT", "value": 7}
    assert sql_parameter(2.5) == {"type": "DOUBLE", "value": 2.5}
    assert sql_parameter(True) == {"type": "BOOLEAN", "value": True}


def test_counts_over_a_datasource_whose_segments_were_all_dropped_are_zero() -> None:
    # Druid answers an aggregate over sys.segments that matches nothing with no row at all
    # (seen on the stack after every segment of a datasource was marked unused).
    def no_rows(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[])

    druid = DruidResource(router_url="http://druid")
    druid._client = httpx.Client(transport=httpx.MockTransport(no_rows))
    when = datetime(2024, 1, 1, tzinfo=UTC)
    assert druid.segments_served("gone", when, when) == SegmentsServed(published=0, available=0)
    assert not druid.segments_served("gone", when, when).all_available
    assert druid.broker_serves_all("gone") is False
    assert druid.source_rows("gone", "uploads/gone/a.csv") == SourceRows(0, None, None)
