"""Key ranges of the reconciliation listing (sensor_state.KeyRange, prefix_range): which
decided keys a listed page speaks for, so a decided key the page lacks counts as deleted only
when the page would have listed it. A bound off by one key either forgets a deletion or takes
a key the page never covered for deleted."""

from __future__ import annotations

from ingest_pipeline.sensor_state import KeyRange, prefix_range


def test_each_bound_holds_its_own_key_only_when_included() -> None:
    assert KeyRange("b", True, "d", True).holds("b")
    assert not KeyRange("b", False, "d", True).holds("b")
    assert KeyRange("b", True, "d", True).holds("d")
    assert not KeyRange("b", True, "d", False).holds("d")
    assert KeyRange("b", False, "d", False).holds("c")
    assert not KeyRange("b", True, "d", True).holds("a")
    assert not KeyRange("b", True, "d", True).holds("e")


def test_a_range_moved_into_a_namespace_keeps_which_bounds_it_includes() -> None:
    moved = KeyRange("b", True, "d", False).within("ns/")
    assert moved == KeyRange("ns/b", True, "ns/d", False)
    assert moved.holds("ns/b") and not moved.holds("ns/d") and not moved.holds("b")


def test_a_whole_prefix_runs_from_the_prefix_itself_to_before_its_next_sibling() -> None:
    whole = prefix_range("uploads/", None, None)
    assert whole.holds("uploads/")  # the first key under the prefix may be the prefix
    assert whole.holds("uploads/a/1.csv") and whole.holds("uploads/\U0010ffff")
    assert not whole.holds("uploads0") and not whole.holds("uploadr/")


def test_a_page_after_a_key_holds_from_the_next_key_through_its_last_included() -> None:
    page = prefix_range("uploads/", "uploads/a/1.csv", "uploads/a/9.csv")
    assert not page.holds("uploads/a/1.csv")
    assert page.holds("uploads/a/10.csv") and page.holds("uploads/a/9.csv")
    assert not page.holds("uploads/a/90.csv")


def test_an_empty_prefix_is_the_whole_bucket() -> None:
    bucket = prefix_range("", None, None)
    assert bucket.holds("") and bucket.holds("a") and bucket.holds("\uffff/x.csv")
    assert prefix_range("", "m", None).holds("n") and not prefix_range("", "m", None).holds("m")
