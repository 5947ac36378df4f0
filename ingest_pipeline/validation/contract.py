"""A dataset's schema contract (datasets.yaml `columns:` and `types:`) held against the columns
its datasource already has (the caller reads them from Druid: validation does no I/O).

`plan_contract` decides, before any batch, which columns go out and which must keep the
datasource's type; `ContractTally.conform` applies that to each converted batch (rows whose
value contradicts the type are refused or left out); `ContractTally.drift` is the file's
`SchemaDrift`, recorded on its partition. A new datasource (no columns yet) holds a file to
nothing: the first file defines the schema.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import polars as pl

from ingest_pipeline.datasets import ColumnsContract, DatasetConfig, TypesContract
from ingest_pipeline.findings import SchemaDrift, TypeChange
from ingest_pipeline.validation.druid_types import POLARS_DTYPE_OF
from ingest_pipeline.vocabulary import (
    LINE_COLUMN,
    SOURCE_KEY_COLUMN,
    SQL_TO_DRUID_TYPE,
    TIME_COLUMN,
    DruidType,
    FileRejected,
    RejectedRow,
)

#: The datasource's user columns and their types (no __time, no __source_key).
DatasetSchema = Mapping[str, DruidType]
#: How many left-out rows a file's drift quotes (all of them are counted).
DISCARDED_SAMPLE = 20


def dataset_schema_of(sql_columns: Mapping[str, str]) -> dict[str, DruidType]:
    """The datasource's columns as Druid's SQL reports them (INFORMATION_SCHEMA types), as the
    Druid types a file's columns are compared with (FLOAT counts as double)."""
    schema: dict[str, DruidType] = {}
    for name, sql_type in sql_columns.items():
        druid_type = SQL_TO_DRUID_TYPE.get(sql_type.upper())
        if name in (TIME_COLUMN, SOURCE_KEY_COLUMN) or druid_type is None:
            continue
        schema[name] = "double" if druid_type == "float" else druid_type
    return schema


@dataclass(frozen=True)
class ContractPlan:
    """What the contract asks of this file's batches."""

    key: str
    dataset: str
    schema: DatasetSchema | None  # None: a new datasource, nothing to compare with
    dropped: tuple[str, ...] = ()  # new columns left out (columns: discard)
    missing: tuple[str, ...] = ()  # the datasource's columns the file lacks
    pinned: Mapping[str, DruidType] = field(default_factory=dict)  # keep the datasource's type
    types: TypesContract = TypesContract.EVOLVE


def plan_contract(
    key: str,
    dataset: str,
    config: DatasetConfig,
    columns: Sequence[str],
    schema: DatasetSchema | None,
) -> tuple[ContractPlan, list[str]]:
    """The contract's plan for a file with these output `columns`, and the columns to write.
    FileRejected if the file brings new columns to a dataset whose columns are frozen."""
    if not schema:
        return ContractPlan(key, dataset, None), list(columns)
    new = [name for name in columns if name not in schema]
    if new and config.columns is ColumnsContract.FREEZE:
        raise FileRejected(
            key,
            f"column(s) {', '.join(map(repr, new))} are not in the datasource of dataset "
            f"{dataset!r}, whose columns are frozen (columns: freeze)",
            f"remove the column(s) from the file, or give dataset {dataset!r} `columns: evolve` "
            "(add them) or `columns: discard` (leave them out) in datasets.yaml",
            column=new[0],
        )
    dropped = tuple(new) if config.columns is ColumnsContract.DISCARD else ()
    kept = [name for name in columns if name not in dropped]
    pinned = (
        {} if config.types is TypesContract.EVOLVE else {n: schema[n] for n in kept if n in schema}
    )
    plan = ContractPlan(
        key,
        dataset,
        schema,
        dropped=dropped,
        missing=tuple(sorted(set(schema) - set(columns))),
        pinned=pinned,
        types=config.types,
    )
    return plan, kept


def contradicts(values: pl.Expr, in_file: DruidType, wanted: DruidType) -> pl.Expr | None:
    """Rows whose value cannot be stored as `wanted` (None: every value can)."""
    if in_file == wanted or wanted == "string" or (in_file, wanted) == ("long", "double"):
        return None
    if in_file == "double":  # wanted long: a fraction, or beyond Druid's long
        return values.is_not_null() & ((values != values.floor()) | (values.abs() >= 2.0**63))
    as_number = values.str.strip_chars().cast(POLARS_DTYPE_OF[wanted], strict=False)
    unusable = as_number.is_null()
    if wanted == "double":
        unusable = unusable | as_number.is_nan() | as_number.is_infinite()
    return values.is_not_null() & unusable


def as_wanted(values: pl.Expr, in_file: DruidType, wanted: DruidType) -> pl.Expr:
    """The values (none contradicting) in the datasource's type."""
    if in_file == "string" and wanted != "string":
        values = values.str.strip_chars()
    return values.cast(POLARS_DTYPE_OF[wanted], strict=False)


@dataclass
class ContractTally:
    """The contract over a file's batches: what was left out and converted, in file order."""

    plan: ContractPlan
    discarded: int = 0
    sample: list[RejectedRow] = field(default_factory=list)
    converted: dict[str, TypeChange] = field(default_factory=dict)

    def refused(
        self, data: pl.DataFrame, output: pl.DataFrame, types: Sequence[DruidType]
    ) -> pl.Series | None:
        """The batch's rows to leave out (True), or None if every value fits; under
        `types: freeze` the first such value rejects the file instead."""
        file_types = dict(zip(output.columns[1:-1], types, strict=True))
        masks: list[tuple[str, pl.Series]] = []
        for name, wanted in self.plan.pinned.items():
            bad = contradicts(pl.col(name), file_types[name], wanted)
            if bad is not None:
                mask = output.select(bad.fill_null(False)).to_series()
                if mask.any():
                    masks.append((name, mask))
        if not masks:
            return None
        self._note(data, output, masks)
        combined = masks[0][1]
        for _, mask in masks[1:]:
            combined = combined | mask
        self.discarded += int(combined.sum())
        return combined

    def _note(
        self, data: pl.DataFrame, output: pl.DataFrame, masks: list[tuple[str, pl.Series]]
    ) -> None:
        """Quote the first refused rows (or reject the file under freeze)."""
        quoted: dict[int, tuple[str, str]] = {}  # line: (column, why)
        for name, mask in masks:
            wanted = self.plan.pinned[name]
            rows = pl.DataFrame({"line": data[LINE_COLUMN], "value": output[name]}).filter(mask)
            for line, value in rows.head(DISCARDED_SAMPLE).iter_rows():
                why = f"column {name!r}: {str(value)[:80]!r} is not a {wanted} as in Druid"
                quoted.setdefault(line, (name, why))
        first_line = min(quoted)
        if self.plan.types is TypesContract.FREEZE:
            column, why = quoted[first_line]
            raise FileRejected(
                self.plan.key,
                f"{why}, and the types of dataset {self.plan.dataset!r} are frozen (types: freeze)",
                f"correct the value, or give dataset {self.plan.dataset!r} `types: discard_row` "
                "(leave such rows out) or `types: evolve` (store them as they are) in "
                "datasets.yaml",
                row=first_line,
                column=column,
            )
        room = DISCARDED_SAMPLE - len(self.sample)
        self.sample += [RejectedRow(line, quoted[line][1]) for line in sorted(quoted)[:room]]

    def conform(
        self, output: pl.DataFrame, types: Sequence[DruidType]
    ) -> tuple[pl.DataFrame, list[DruidType]]:
        """The batch with every pinned column in the datasource's type (after `refused` rows
        are gone), and the column types as written."""
        names = output.columns[1:-1]  # between __time and __source_key
        new_types = list(types)
        casts = []
        for index, (name, in_file) in enumerate(zip(names, types, strict=True)):
            wanted = self.plan.pinned.get(name)
            if wanted is None or wanted == in_file:
                continue
            casts.append(as_wanted(pl.col(name), in_file, wanted).alias(name))
            new_types[index] = wanted
            self.converted.setdefault(name, TypeChange(name, in_file, wanted))
        return (output.with_columns(casts) if casts else output), new_types

    def drift(self, schema: Sequence[tuple[str, DruidType]]) -> SchemaDrift:
        """The file's drift, given the schema it was written with."""
        known = self.plan.schema
        if not known:
            return SchemaDrift()
        return SchemaDrift(
            compared=True,
            added=tuple((n, t) for n, t in schema if n not in known),
            dropped=self.plan.dropped,
            missing=self.plan.missing,
            changed=tuple(
                TypeChange(n, t, known[n]) for n, t in schema if n in known and t != known[n]
            ),
            converted=tuple(self.converted.values()),
            discarded_rows=self.discarded,
            discarded_sample=tuple(self.sample),
        )
