"""JSON that is not one object per line, streamed: a top-level array's elements, or the
records of a top-level object that wraps them (an API's `{"meta": {...}, "data": [...]}`).
Memory holds one element and a chunk of text, never the whole document."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, TextIO

from ingest_pipeline.vocabulary import FileRejected

#: Text read at a time from a JSON array; one element may take up to MAX_JSON_ELEMENT.
JSON_CHUNK = 1 << 20
MAX_JSON_ELEMENT = 64 << 20
_JSON_FIX = "fix the JSON (objects separated by commas inside one [...]) or upload NDJSON"


def json_array_elements(
    text: TextIO, key: str, chunk_size: int = JSON_CHUNK, max_element: int = MAX_JSON_ELEMENT
) -> Iterator[tuple[int, Any]]:
    """(line it starts on, value) for each element of a top-level JSON array, streamed: memory
    holds one element and a chunk of text, never the whole array. A syntax error ends the file
    (nothing after it can be trusted): FileRejected with its line."""
    return _JsonArray(text, key, chunk_size, max_element).elements()


def json_wrapped_records(
    text: TextIO,
    key: str,
    notes: list[str],
    chunk_size: int = JSON_CHUNK,
    max_element: int = MAX_JSON_ELEMENT,
) -> Iterator[tuple[int, Any]]:
    """(line it starts on, value) for each element of the array of objects a top-level JSON
    object wraps (`{"meta": {...}, "data": [{...}, ...]}`), streamed like `json_array_elements`.
    Two such arrays reject the file (which is meant?); what else the object holds is named in
    `notes`."""
    return _JsonArray(text, key, chunk_size, max_element).wrapped_records(notes)


def are_records(value: Any) -> bool:
    """Whether a JSON value is an array of records (objects), judged by its first element."""
    return isinstance(value, list) and bool(value) and isinstance(value[0], dict)


class _JsonArray:
    """The reading position in a JSON array's text: a buffer of it from `pos` on, the line
    `pos` is on, and whether the text is all read."""

    def __init__(self, text: TextIO, key: str, chunk_size: int, max_element: int) -> None:
        self._text, self._key = text, key
        self._chunk_size, self._max_element = chunk_size, max_element
        self._decoder = json.JSONDecoder()
        self.buffer, self.pos, self.line, self.done = "", 0, 1, False

    def elements(self) -> Iterator[tuple[int, Any]]:
        self._skip_space()
        if self._next_char() != "[":
            raise self._reject("the file does not start with a JSON array")
        yield from self._array_rest()
        self._end_of_text("the JSON array's closing ']'")

    def wrapped_records(self, notes: list[str]) -> Iterator[tuple[int, Any]]:
        """The elements of the one array of objects in a top-level JSON object; the object's
        other members are read past and named in `notes`."""
        self._skip_space()
        if self._next_char() != "{":
            raise self._reject("the file does not start with a JSON object")
        records, others = None, []
        self._skip_space()
        while self.buffer[self.pos : self.pos + 1] != "}":
            name = self._member_name()
            if records is None and self._array_of_objects_ahead():
                records = name
                self.pos += 1  # the "["
                yield from self._array_rest()
            else:
                value = self._value()
                if are_records(value):
                    raise self._reject(
                        f"the JSON object holds arrays of records under {records!r} and "
                        f"{name!r}: upload each as a file of its own"
                    )
                others.append(name)
            self._skip_space()
            if self.buffer[self.pos : self.pos + 1] == ",":
                self.pos += 1
                self._skip_space()
            elif self.buffer[self.pos : self.pos + 1] != "}":
                raise self._reject("expected ',' or '}' between the JSON object's members")
        self.pos += 1
        self._end_of_text("the JSON object's closing '}'")
        if records is None:
            raise self._reject("the JSON object holds no array of records (objects)")
        skipped = f"; its other members are not rows: {', '.join(others)}" if others else ""
        notes.append(f"rows from the JSON object's {records!r} array{skipped}")

    def _member_name(self) -> str:
        name = self._value()
        if not isinstance(name, str):
            raise self._reject("expected a member name in quotes in the JSON object")
        self._skip_space()
        if self._next_char() != ":":
            raise self._reject(f"expected ':' after the JSON object's member {name!r}")
        self._skip_space()
        return name

    def _value(self) -> Any:
        value, end = self._decode()
        self.line += self.buffer.count("\n", self.pos, end)
        self.pos = end
        return value

    def _array_of_objects_ahead(self) -> bool:
        """Whether `pos` is at "[" and the array's first element is an object."""
        if self.buffer[self.pos : self.pos + 1] != "[":
            return False
        while True:
            rest = self.buffer[self.pos + 1 :].lstrip(" \t\r\n")
            if rest:
                return rest[0] == "{"
            if not self._more(0):  # (keeps the text from `pos` on)
                return False

    def _end_of_text(self, what: str) -> None:
        self._skip_space()
        if self.pos < len(self.buffer):
            raise self._reject(f"text after {what}")

    def _array_rest(self) -> Iterator[tuple[int, Any]]:
        """The elements after an array's "[" up to its "]" (consumed)."""
        self._skip_space()
        if self.buffer[self.pos : self.pos + 1] == "]":
            self.pos += 1
        else:
            while True:
                self._skip_space()
                start = self.line
                yield start, self._value()
                self._skip_space()
                separator = self._next_char()
                if separator == "]":
                    break
                if separator != ",":
                    raise self._reject(
                        "the JSON array is not closed (no ']' at the end)"
                        if not separator
                        else f"expected ',' or ']' after an element of the JSON array, found "
                        f"{separator!r}"
                    )

    def _next_char(self) -> str:
        char = self.buffer[self.pos : self.pos + 1]
        self.pos += 1
        return char

    def _more(self, at_least: int) -> bool:
        """Append text (buffer rebased to pos); False at the end of the file."""
        if self.done:
            return False
        piece = self._text.read(max(self._chunk_size, at_least))
        if not piece:
            self.done = True
            return False
        self.buffer, self.pos = self.buffer[self.pos :] + piece, 0
        return True

    def _skip_space(self) -> None:
        while True:
            start = self.pos
            while self.pos < len(self.buffer) and self.buffer[self.pos] in " \t\r\n":
                self.pos += 1
            self.line += self.buffer.count("\n", start, self.pos)
            if self.pos < len(self.buffer) or not self._more(0):
                return

    def _decode(self) -> tuple[Any, int]:
        """The element at `pos` and where it ends, reading on while the text may cut it."""
        while True:
            try:
                value, end = self._decoder.raw_decode(self.buffer, self.pos)
            except json.JSONDecodeError as error:
                # Cut by the chunk's end, or wrong: more text decides (up to a bound).
                pending = len(self.buffer) - self.pos
                if pending < self._max_element and self._more(pending):
                    continue
                raise self._broken(error) from None
            if end == len(self.buffer) and self._more(0):
                continue  # a number may go on in the next chunk
            return value, end

    def _broken(self, error: json.JSONDecodeError) -> FileRejected:
        at = self.line + self.buffer.count("\n", self.pos, error.pos)
        problem = f"invalid JSON: {error.msg} (line {at})"
        if self.done and error.pos >= len(self.buffer.rstrip()):
            problem = f"the JSON array is not closed: the file ends inside an element (line {at})"
        if len(self.buffer) - self.pos >= self._max_element:
            problem = f"an element over {self._max_element >> 20} MB or {problem}"
        return FileRejected(self._key, problem, _JSON_FIX)

    def _reject(self, problem: str) -> FileRejected:
        return FileRejected(self._key, f"{problem} (line {self.line})", _JSON_FIX)
