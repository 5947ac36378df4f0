"""A title or notes above a CSV's table ("Sales report", "Generated: 2024-03-05"), as report
exports write them: where the header really is (used by the delimiter sniffer and the reader)."""

from __future__ import annotations

from collections.abc import Sequence

#: The lines above the table are skipped when its header is found below them: at most this many
#: records, each of at most 2 non-empty fields and fewer fields than the table; the header names
#: its columns (non-empty, distinct, no number), and the records examined after it all have its
#: field count. Anything less clear stays as it was: the first record is the header, and rows
#: of another width are rejected by line.
PREAMBLE_MAX_RECORDS = 10


def _looks_like_a_header(fields: Sequence[str]) -> bool:
    names = [f.strip() for f in fields]
    if len(names) > 1 and not names[-1]:  # every line ends with a delimiter (World Bank's CSVs)
        names.pop()
    # years may name columns of a wide table ("Country Name",...,"1960","1961"), beside words
    words = [n for n in names if not _is_year(n)]
    return (
        all(names)
        and len(set(names)) == len(names)
        and bool(words)
        and not any(map(_is_number, words))
    )


def _is_year(text: str) -> bool:
    return len(text) == 4 and text.isdigit() and 1000 <= int(text) <= 2999


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True


def quoted_lines(records: Sequence[tuple[int, int, Sequence[str]]]) -> tuple[str, str]:
    """Records that are no rows ((first line, last line, fields), in order) as a person reads
    them in a note: "line 4" or "lines 1-2", and each one's non-empty values quoted."""
    quoted = "; ".join(
        repr(" ".join(v for v in fields if v.strip())[:80]) for *_, fields in records
    )
    first, last = records[0][0], records[-1][1]
    return (f"line {first}" if first == last else f"lines {first}-{last}"), quoted


def is_sep_directive(record: Sequence[str]) -> bool:
    """Excel's first line `sep=;`, which names the delimiter (split by it or not)."""
    text = ";".join(record).strip() if len(record) > 1 else "".join(record).strip()
    return text.lower().startswith("sep=") and len(text) <= 6


def table_start(records: Sequence[Sequence[str]]) -> int:
    """Which of the first non-blank records is the header: 0, unless those before it are a
    preamble (see PREAMBLE_MAX_RECORDS) or Excel's `sep=` line."""
    if records and is_sep_directive(records[0]):
        return 1 + table_start(records[1:])
    for h in range(1, min(PREAMBLE_MAX_RECORDS, len(records) - 2) + 1):
        width = len(records[h])
        if (
            all(len(r) < width and sum(bool(v.strip()) for v in r) <= 2 for r in records[:h])
            and all(len(r) == width for r in records[h + 1 :])
            and _looks_like_a_header(records[h])
        ):
            return h
    return 0
