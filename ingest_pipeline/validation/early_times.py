"""Time columns parsed in the planner's first pass already, on a guess of how to parse them.

The first pass gathers the statistics the time plans are made of (`time_stat_exprs`,
`candidate_stat_exprs`); the likely time columns are parsed in that same pass by a guessed plan
(`timing.likely_plan`). Once the real plan is known, a column whose guess holds keeps those
values; any other is parsed in a second pass, as before: a wrong guess costs a parse, never a
different result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

from ingest_pipeline.validation.source import BatchSource, KeptColumn, keep
from ingest_pipeline.validation.timing import TimePlan, likely_plan, time_expr


class EarlyTimes:
    """The candidates (by index) parsed in the first pass, and how."""

    def __init__(
        self,
        candidates: Sequence[str],
        dtypes: Mapping[str, pl.DataType],
        time_format: str | None,
        configured: bool,
    ) -> None:
        self.guesses: dict[int, TimePlan] = {}
        self.exprs: dict[str, pl.Expr] = {}  # what the first pass keeps, by str(index)
        for i, name in enumerate(candidates):
            guess = likely_plan(name, dtypes[name], time_format, configured)
            if guess is not None:
                self.guesses[i] = guess
                fmt = time_format if configured else None
                self.exprs[str(i)] = time_expr(name, dtypes[name], fmt, guess)
        self.kept: dict[int, KeptColumn] = {}

    def found(self, kept: Mapping[str, KeptColumn]) -> None:
        """The values the first pass kept (for `exprs`)."""
        self.kept = {int(k): column for k, column in kept.items()}

    def values(
        self, source: BatchSource, plans: Mapping[int, TimePlan], exprs: Mapping[int, pl.Expr]
    ) -> dict[int, KeptColumn]:
        """Candidate i's time values (parsed by plans[i], as exprs[i]): from the first pass if
        it guessed plans[i], else parsed now, in one pass for all of those."""
        early = {i: self.kept[i] for i in plans if i in self.kept and self.guesses[i] == plans[i]}
        later = keep(source, {str(i): e for i, e in exprs.items() if i not in early})
        return early | {int(k): column for k, column in later.items()}
