"""Naming rules: Druid-safe column names, dataset names and object keys we accept."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from ingest_pipeline.vocabulary import RESERVED_COLUMNS, FileRejected


class InvalidDatasetName(ValueError):
    """A dataset (Druid datasource) name that Druid or this pipeline would not accept."""


# --------------------------------------------------------------------------- columns


def druid_safe_column_names(names: Sequence[str]) -> list[str]:
    """Return unique, non-blank names Druid and Druid SQL handle without quoting surprises.

    Idempotent: feeding the result back returns it unchanged (reading and validation both call it).
    """
    cleaned: list[str] = []
    for position, raw in enumerate(names, start=1):
        name = unicodedata.normalize("NFC", str(raw)).strip()
        # \w keeps unicode letters and digits; punctuation, spaces and control characters go.
        name = re.sub(r"^\W+|\W+$", "", name)
        name = re.sub(r"\W+", "_", name)
        if not name:
            name = f"column_{position}"
        elif name in RESERVED_COLUMNS:
            name = f"{name.lstrip('_')}_original"
        cleaned.append(name)

    # Dedupe without stealing a name that a later column already has: ["a", "a", "a_2"]
    # becomes ["a", "a_3", "a_2"], not ["a", "a_2", "a_2"].
    taken: set[str] = set()
    wanted = set(cleaned)
    result: list[str] = []
    for name in cleaned:
        candidate, suffix = name, 2
        while candidate in taken or (candidate != name and candidate in wanted):
            candidate = f"{name}_{suffix}"
            suffix += 1
        taken.add(candidate)
        result.append(candidate)
    return result


def describe_renames(old: Sequence[str], new: Sequence[str]) -> str | None:
    """A warning listing renamed columns, or None if nothing changed."""
    pairs = [f"{o!r} -> {n!r}" for o, n in zip(old, new, strict=True) if o != n]
    return "renamed columns for Druid: " + ", ".join(pairs) if pairs else None


def resolve_column(wanted: str, columns: Sequence[str]) -> str | None:
    """Find a configured column by its final name or by its name as uploaded (before renaming)."""
    if wanted in columns:
        return wanted
    safe = druid_safe_column_names([wanted])[0]
    return safe if safe in columns else None


# --------------------------------------------------------------------------- datasets and keys

_DATASET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def validate_dataset_name(name: str) -> str:
    """Return `name` if it is a datasource name we accept, else raise `InvalidDatasetName`.

    Druid itself allows more (anything but empty, a leading '.', '/' and odd whitespace), but
    names also end up in URLs, SQL and Dagster asset keys, so we keep to [A-Za-z0-9_-].
    """
    if len(name) <= 255 and _DATASET_NAME.fullmatch(name):
        return name
    suggestion = re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_-")[:255] or "dataset"
    raise InvalidDatasetName(
        f"dataset name {name!r} is not allowed: use 1-255 characters from A-Z, a-z, 0-9, '_' "
        f"and '-', starting with a letter or digit (for example {suggestion!r})"
    )


def has_dot_segment(key: str) -> bool:
    """Whether an object key has a '.' or '..' path segment ("a/../b"; "two..dots" is fine)."""
    return any(segment in (".", "..") for segment in key.split("/"))


def check_upload_key(key: str, dataset: str) -> None:
    """Raise `FileRejected` unless the dataset name is valid and the key has no dot segment."""
    try:
        validate_dataset_name(dataset)
    except InvalidDatasetName as error:
        raise FileRejected(key, str(error), "upload under a prefix with a valid name") from None
    # S3 keeps "a/../b" literally, but URI-based clients (Druid's S3 reader among them) may
    # resolve it to "b" and read another object, or none.
    if has_dot_segment(key):
        raise FileRejected(
            key,
            "the object key has a '.' or '..' path segment, which S3 keeps literally but URI "
            "tools resolve to another path",
            "upload it again under a key without '.' or '..' segments (e.g. <dataset>/<file>)",
        )
