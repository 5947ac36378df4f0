"""Values and names reach Druid SQL only as typed parameters or quoted identifiers."""

from __future__ import annotations

import pytest

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
